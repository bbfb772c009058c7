/**
 * @fileoverview Lookups over a list of method units (the registry, or units given from outside):
 * by layer kind, by (kind, gate), by gate name and by key, and the train settings they own.
 * A list that contradicts itself (two units for one syntax, a diagnostic code used twice) is
 * refused with a TypeError naming the units.
 */
import type { MethodUnit, TrainSettingSpec } from "../../methods/unit.js";
import type { OptionSpec } from "./options.js";
import { Messages } from "./diagnostic-messages.js";

export class MethodTable {
  private readonly byKey = new Map<string, MethodUnit>();
  readonly kindNames: string[];
  readonly gateNames: string[];
  readonly settings: TrainSettingSpec[];

  readonly units: readonly MethodUnit[];

  constructor(units: readonly MethodUnit[]) {
    // A copy: the registry's array grows when methods are registered from outside.
    this.units = [...units];
    const syntax = new Map<string, string>();
    const codes = new Map<string, string>(Object.values(Messages).map((m) => [m.code, "the generic diagnostics"]));
    for (const unit of units) {
      if (this.byKey.has(unit.key)) throw new TypeError(`methods: two units have the key '${unit.key}'`);
      this.byKey.set(unit.key, unit);
      const form = `${unit.kind}/${unit.gate ?? ""}`;
      const other = syntax.get(form);
      if (other) throw new TypeError(`methods: '${unit.key}' and '${other}' both compile ${unit.kind}(...)${unit.gate ? ` gate ${unit.gate}` : ""}`);
      syntax.set(form, unit.key);
      for (const message of Object.values(unit.messages)) {
        const owner = codes.get(message.code);
        if (owner && owner !== unit.key) throw new TypeError(`methods: diagnostic code ${message.code} of '${unit.key}' is also used by ${owner}`);
        codes.set(message.code, unit.key);
      }
    }
    this.kindNames = this.units.filter((u) => u.gate === null).map((u) => u.kind);
    this.gateNames = [...new Set(units.flatMap((u) => (u.gate === null ? [] : [u.gate])))];
    this.settings = units.flatMap((u) => u.trainSettings ?? []);
  }

  /** The plain method of a layer kind. */
  kind(name: string): MethodUnit | undefined {
    return this.units.find((u) => u.kind === name && u.gate === null);
  }

  /** The method compiling `kind(...) gate GATE(...)`. */
  unitFor(kind: string, gate: string): MethodUnit | undefined {
    return this.units.find((u) => u.kind === kind && u.gate === gate);
  }

  /** The options of `gate NAME(...)` (the same for every kind it applies to). */
  gateOptions(name: string): OptionSpec[] | undefined {
    return this.units.find((u) => u.gate === name)?.gateOptions;
  }

  get(key: string): MethodUnit | undefined {
    return this.byKey.get(key);
  }

  /** The unit of a layer's method key; a missing one is a compiler bug (the checker chose it). */
  require(key: string): MethodUnit {
    const unit = this.byKey.get(key);
    if (!unit) throw new TypeError(`no method unit with key '${key}' (was the model checked with other methods?)`);
    return unit;
  }
}
