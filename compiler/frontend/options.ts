/**
 * @fileoverview Typed reading of option lists and call values against small specs: types,
 * ranges, choices, unknown/duplicate/missing options, each reported once with a suggestion.
 */
import type { CallValue, NamedOption, NumberLiteral, Span, Value } from "./ast.js";
import type { DiagnosticBag } from "./diagnostics.js";
import { suggest } from "./suggest.js";

export type OptionKind = "integer" | "number" | "choice" | "boolean" | "string" | "call";

/** The value of a `call` option, e.g. `balance: switch(0.01)`: the form's name and its valid arguments. */
export interface CallOptionValue {
  call: string;
  values: OptionValues;
}

export type OptionValue = number | string | boolean | CallOptionValue;

export interface OptionSpec {
  name: string;
  kind: OptionKind;
  /** For `choice`: the accepted names. */
  choices?: readonly string[];
  required?: boolean;
  min?: number;
  /** Default true: `min` itself is allowed. */
  minInclusive?: boolean;
  max?: number;
  maxInclusive?: boolean;
  /**
   * What the value must not exceed because of how it is represented (a width that fits
   * wasm32 memory, a u32 seed), reported on its own ("<= 4294967295") rather than as a
   * range, since it is not part of the option's meaning.
   */
  ceiling?: number;
  /** For `call`: the accepted forms by name; a bare name is the form called with no arguments. */
  calls?: Readonly<Record<string, CallSpec>>;
}

/** A call form such as `sgd(lr: 0.05)` or `idx("dir")`. */
export interface CallSpec {
  positional: OptionSpec[];
  options: OptionSpec[];
}

export function describeValue(value: Value): string {
  switch (value.kind) {
    case "number":
      return `number ${value.text}`;
    case "name":
      return `name '${value.name}'`;
    case "string":
      return `string "${value.value}"`;
    case "call":
      return `call '${value.callee.name}(...)'`;
  }
}

function expectedDescription(spec: OptionSpec): string {
  switch (spec.kind) {
    case "integer":
      return "an integer";
    case "number":
      return "a number";
    case "boolean":
      return "true or false";
    case "string":
      return "a string";
    case "choice":
      return `one of ${formatChoices(spec.choices ?? [])}`;
    case "call":
      return `one of ${formatChoices(callForms(spec))}`;
  }
}

/** `switch(alpha)`, `none`: how each call form of a `call` option is written. */
function callForms(spec: OptionSpec): string[] {
  return Object.entries(spec.calls ?? {}).map(([name, form]) => (form.positional.length === 0 && form.options.length === 0 ? name : `${name}(${[...form.positional, ...form.options].map((o) => o.name).join(", ")})`));
}

export function formatChoices(choices: readonly string[]): string {
  return choices.map((c) => `'${c}'`).join(", ");
}

/** "> 0", ">= 1", "in (0, 1]" */
export function rangeText(spec: Pick<OptionSpec, "min" | "max" | "minInclusive" | "maxInclusive">): string {
  const minInclusive = spec.minInclusive ?? true;
  const maxInclusive = spec.maxInclusive ?? true;
  if (spec.min !== undefined && spec.max !== undefined) {
    return `in ${minInclusive ? "[" : "("}${spec.min}, ${spec.max}${maxInclusive ? "]" : ")"}`;
  }
  if (spec.min !== undefined) return `${minInclusive ? ">=" : ">"} ${spec.min}`;
  if (spec.max !== undefined) return `${maxInclusive ? "<=" : "<"} ${spec.max}`;
  return "a number";
}

function inRange(x: number, spec: OptionSpec): boolean {
  const minInclusive = spec.minInclusive ?? true;
  const maxInclusive = spec.maxInclusive ?? true;
  if (spec.min !== undefined && (minInclusive ? x < spec.min : x <= spec.min)) return false;
  if (spec.max !== undefined && (maxInclusive ? x > spec.max : x >= spec.max)) return false;
  return true;
}

/** True for values a syntax error already accounts for (see `cst-to-ast.ts`). */
export function isPoisoned(value: Value): boolean {
  return (value.kind === "number" && Number.isNaN(value.value)) || (value.kind === "name" && value.name === "");
}

/**
 * Reads one value against `spec`; reports and returns undefined when it does not fit.
 * `what` names the thing in messages, e.g. "option 'rank' of gate 'lowrank'".
 */
export function readValue(value: Value, spec: OptionSpec, what: string, diagnostics: DiagnosticBag): OptionValue | undefined {
  if (isPoisoned(value)) return undefined;
  const wrongType = () => {
    diagnostics.report("wrongValueType", value.span, { what, expected: expectedDescription(spec), got: describeValue(value) });
    return undefined;
  };
  switch (spec.kind) {
    case "integer":
    case "number": {
      if (value.kind !== "number") return wrongType();
      return readNumber(value, spec, what, diagnostics);
    }
    case "boolean":
      if (value.kind !== "name" || (value.name !== "true" && value.name !== "false")) return wrongType();
      return value.name === "true";
    case "string":
      return value.kind === "string" ? value.value : wrongType();
    case "choice": {
      const choices = spec.choices ?? [];
      if (value.kind !== "name") return wrongType();
      if (!choices.includes(value.name)) {
        const args = { what, choices: formatChoices(choices), value: value.name };
        diagnostics.report("invalidChoice", value.span, args, suggest(value.name, choices));
        return undefined;
      }
      return value.name;
    }
    case "call":
      return readCallOption(value, spec, what, diagnostics);
  }
}

/**
 * A number against its spec. Integers must be integral and in range (every integer spec
 * has a `ceiling`, so no count overflows what the runtime holds); other numbers are used as
 * f32, so their f32 rounding must be finite and in range too (`epsilon: 1e-50` is 0,
 * `beta1: 0.99999999999` is 1 in f32).
 */
function readNumber(value: NumberLiteral, spec: OptionSpec, what: string, diagnostics: DiagnosticBag): number | undefined {
  const x = value.value;
  if (!Number.isFinite(x)) {
    // cst-to-ast reports every non-finite literal; this keeps one that slipped through from passing silently.
    diagnostics.report("numberOutOfRange", value.span, { text: value.text });
    return undefined;
  }
  if (spec.kind === "integer" && !Number.isInteger(x)) {
    diagnostics.report("notAnInteger", value.span, { what, value: value.text });
    return undefined;
  }
  if (!inRange(x, spec)) {
    diagnostics.report("outOfRange", value.span, { what, constraint: rangeText(spec), value: value.text });
    return undefined;
  }
  if (spec.ceiling !== undefined && x > spec.ceiling) {
    diagnostics.report("outOfRange", value.span, { what, constraint: `<= ${spec.ceiling}`, value: value.text });
    return undefined;
  }
  if (spec.kind === "number") {
    const rounded = Math.fround(x);
    if (!Number.isFinite(rounded)) {
      diagnostics.report("beyondFloat32", value.span, { what, value: value.text });
      return undefined;
    }
    if (!inRange(rounded, spec)) {
      diagnostics.report("roundsOutOfRange", value.span, { what, constraint: rangeText(spec), value: value.text, rounded: String(rounded) });
      return undefined;
    }
  }
  return x;
}

/** A `call` option: `name(args)` or a bare `name`, against the spec's forms. */
function readCallOption(value: Value, spec: OptionSpec, what: string, diagnostics: DiagnosticBag): CallOptionValue | undefined {
  const forms = spec.calls ?? {};
  let call: CallValue;
  if (value.kind === "call") call = value;
  else if (value.kind === "name") call = { kind: "call", callee: { name: value.name, span: value.span }, args: [], options: [], span: value.span };
  else {
    diagnostics.report("wrongValueType", value.span, { what, expected: `one of ${formatChoices(callForms(spec))}`, got: describeValue(value) });
    return undefined;
  }
  const name = call.callee.name;
  if (!Object.hasOwn(forms, name)) {
    const args = { what, choices: formatChoices(callForms(spec)), value: name };
    diagnostics.report("invalidChoice", call.callee.span, args, suggest(name, Object.keys(forms)));
    return undefined;
  }
  const before = diagnostics.errorCount;
  const values = readCall(call, forms[name]!, `'${name}' in ${what}`, diagnostics);
  return diagnostics.errorCount === before ? { call: name, values } : undefined;
}

export type OptionValues = Map<string, OptionValue>;

/**
 * Reads named options: unknown names (with a suggestion), duplicates, wrong types and
 * ranges, missing required ones (at `ownerSpan`). Returns only the valid values.
 */
export function readOptions(
  options: NamedOption[],
  specs: OptionSpec[],
  context: string,
  ownerSpan: Span,
  diagnostics: DiagnosticBag,
): OptionValues {
  const values: OptionValues = new Map();
  const seen = new Set<string>();
  for (const option of options) {
    const name = option.name.name;
    if (name === "") continue;
    const spec = specs.find((s) => s.name === name);
    if (!spec) {
      const suggestion = suggest(name, specs.map((s) => s.name));
      diagnostics.report("unknownOption", option.name.span, { option: name, context }, suggestion);
      continue;
    }
    if (seen.has(name)) {
      diagnostics.report("duplicateOption", option.name.span, { option: name });
      continue;
    }
    seen.add(name);
    const value = readValue(option.value, spec, `option '${name}' of ${context}`, diagnostics);
    if (value !== undefined) values.set(name, value);
  }
  for (const spec of specs) {
    if (spec.required && !seen.has(spec.name)) {
      diagnostics.report("missingOption", ownerSpan, { context, option: `option '${spec.name}'` });
    }
  }
  return values;
}

/** Reads a call's positional arguments and options against `spec`. */
export function readCall(call: CallValue, spec: CallSpec, context: string, diagnostics: DiagnosticBag): OptionValues {
  const values: OptionValues = new Map();
  if (call.args.length > spec.positional.length) {
    const expected = spec.positional.length === 0 ? "only named options" : `${spec.positional.length} positional argument(s)`;
    diagnostics.report("argumentCount", call.args[spec.positional.length].span, {
      fn: call.callee.name,
      expected,
      got: `${call.args.length}`,
    });
  }
  spec.positional.forEach((positional, index) => {
    const arg = call.args[index];
    if (!arg) {
      if (positional.required) diagnostics.report("missingOption", call.span, { context, option: `argument '${positional.name}'` });
      return;
    }
    const value = readValue(arg, positional, `argument '${positional.name}' of ${context}`, diagnostics);
    if (value !== undefined) values.set(positional.name, value);
  });
  for (const [name, value] of readOptions(call.options, spec.options, context, call.span, diagnostics)) {
    values.set(name, value);
  }
  return values;
}

export function numberOption(values: OptionValues, name: string, fallback: number): number {
  const value = values.get(name);
  return typeof value === "number" ? value : fallback;
}

export function choiceOption<T extends string>(values: OptionValues, name: string, fallback: T): T {
  const value = values.get(name);
  return typeof value === "string" ? (value as T) : fallback;
}

export function booleanOption(values: OptionValues, name: string, fallback: boolean): boolean {
  const value = values.get(name);
  return typeof value === "boolean" ? value : fallback;
}
