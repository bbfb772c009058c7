/**
 * @fileoverview Issue 16, class 2: values that are not finite or out of range. Every
 * number the language reads is checked where it is read: NaN and infinities (as doubles)
 * at the literal, integers against their ceilings, and numbers used as f32 against their
 * range after rounding to f32. The sweeps run over the option tables themselves, so an
 * option added later is covered without a new test.
 */
import { describe, expect, it } from "vitest";
import { compile } from "../../compiler/compile.js";
import type { Diagnostic } from "../../compiler/frontend/diagnostics.js";
import { checkSource } from "../../compiler/frontend/frontend.js";
import { OPTIMIZERS, SCHEDULES } from "../../compiler/frontend/language-spec.js";
import { METHODS } from "../../methods/registry.js";

/** The option tables of the registry's methods, by key (the methods own them). */
const unit = (key: string) => METHODS.find((m) => m.key === key)!;
const LAYER_OPTIONS = { tree: unit("tree").kindOptions };
const GATE_OPTIONS = { lowrank: unit("lowrank").gateOptions, policy: unit("policy").gateOptions };
const POLICY_TRAINERS = { reinforce: unit("policy").trainSettings![0]!.calls["reinforce"]! };
import type { OptionSpec } from "../../compiler/frontend/options.js";
import { runCli } from "./helpers.js";

/** A clean model with every kind of layer and gate; `{...}` holes take the values under test. */
function model(parts: Partial<Record<"width" | "classes" | "units" | "coefficient" | "tree" | "lowrank" | "policy" | "train", string>> = {}): string {
  return `model M {
  input x: f32[${parts.width ?? "16"}]
  target y: class[${parts.classes ?? "4"}]
  layer t = tree(x, 8, ${parts.tree ?? "depth: 2"}) relu
  layer l = dense(t, ${parts.units ?? "8"}) relu gate lowrank(${parts.lowrank ?? "rank: 2"})
  layer p = dense(l, 8) relu gate policy(${parts.policy ?? "blocks: 2, tau: 0.5"})
  layer out = dense(p, 4)
  loss = softmax_cross_entropy(out, y) + ${parts.coefficient ?? "0.001"} * l1(l)
}
train { data = idx("d") ${parts.train ?? ""} }
`;
}

/** Every numeric position of the language, as a function of the text written there. */
const POSITIONS: Array<[string, (v: string) => string]> = [
  ["input width", (v) => model({ width: v })],
  ["class count", (v) => model({ classes: v })],
  ["layer units", (v) => model({ units: v })],
  ["loss coefficient", (v) => model({ coefficient: v })],
  ["tree depth", (v) => model({ tree: `depth: ${v}` })],
  ["tree sigma", (v) => model({ tree: `depth: 2, sigma: ${v}` })],
  ["lowrank rank", (v) => model({ lowrank: `rank: ${v}` })],
  ["lowrank threshold", (v) => model({ lowrank: `rank: 2, threshold: ${v}` })],
  ["policy blocks", (v) => model({ policy: `blocks: ${v}, tau: 0.5` })],
  ["policy tau", (v) => model({ policy: `blocks: 2, tau: ${v}` })],
  ["sgd lr", (v) => model({ train: `optimizer = sgd(lr: ${v})` })],
  ["adam epsilon", (v) => model({ train: `optimizer = adam(epsilon: ${v})` })],
  ["reinforce lr", (v) => model({ train: `policy = reinforce(lr: ${v})` })],
  ["batch", (v) => model({ train: `batch = ${v}` })],
  ["epochs", (v) => model({ train: `epochs = ${v}` })],
  ["seed", (v) => model({ train: `seed = ${v}` })],
  ["step every", (v) => model({ train: `schedule = step(every: ${v}, factor: 0.5)` })],
  ["step factor", (v) => model({ train: `schedule = step(every: 2, factor: ${v})` })],
];

/** Not finite as a double, or made of a literal that is not: always an error at the value. */
const NON_FINITE = ["1e400/1e400", "1e400", "-1e400", "1e999/2", "2/1e400", "1e300/1e-300", "-1e300/1e-300"];

function errorsAt(text: string, written: string): { errors: Diagnostic[]; located: Diagnostic[] } {
  const result = checkSource(text, "v.cond");
  expect(result.model, "a model must not come back").toBeUndefined();
  const start = text.lastIndexOf(written);
  const end = start + written.length;
  const errors = result.diagnostics.filter((d) => d.severity === "error");
  return { errors, located: errors.filter((d) => d.span.start.offset >= start && d.span.end.offset <= end) };
}

describe("the baseline model of these tests is clean", () => {
  it("checks without errors", () => {
    const result = checkSource(model(), "m.cond");
    expect(result.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
    expect(result.model).toBeDefined();
  });
});

describe("values that are not finite", () => {
  it("the issue's examples: 1e400/1e400 (NaN) as width, units, coefficient, lr, batch and seed", () => {
    for (const [what, text] of [
      ["input width", model({ width: "1e400/1e400" })],
      ["layer units", model({ units: "1e400/1e400" })],
      ["loss coefficient", model({ coefficient: "1e400/1e400" })],
      ["learning rate", model({ train: "optimizer = sgd(lr: 1e400/1e400)" })],
      ["batch", model({ train: "batch = 1e400/1e400" })],
      ["seed", model({ train: "seed = 1e400/1e400" })],
    ] as const) {
      const { located } = errorsAt(text, "1e400/1e400");
      expect(located.map((d) => d.message), what).toEqual(["number '1e400' is too large to represent", "number '1e400' is too large to represent"]);
    }
  });

  for (const [position, text] of POSITIONS) {
    it.each(NON_FINITE)(`${position} = %s is an error at the value`, (value) => {
      const { located } = errorsAt(text(value), value);
      expect(located.length).toBeGreaterThan(0);
      expect(located.every((d) => d.code === "CD1006")).toBe(true);
    });
  }

  it("compile() returns the diagnostic instead of building an empty model or failing later", async () => {
    for (const text of [model({ width: "1e400/1e400" }), model({ train: "seed = 1e400/1e400" })]) {
      const result = await compile(text, { file: "v.cond" });
      expect(result.ok).toBe(false);
      expect(result.diagnostics.map((d) => d.code)).toContain("CD1006");
    }
  });
});

describe("integers against their ceilings", () => {
  it("the issue's example: seed = 4294967296 is refused by check (seeds are u32); 4294967295 is accepted", async () => {
    const { located } = errorsAt(model({ train: "seed = 4294967296" }), "4294967296");
    expect(located.map((d) => d.message)).toEqual(["setting 'seed' must be <= 4294967295, got 4294967296"]);
    expect(checkSource(model({ train: "seed = 4294967295" }), "s.cond").model?.train.seed).toBe(4294967295);
    const compiled = await compile(model({ train: "seed = 4294967296" }), { file: "s.cond" });
    expect(compiled.ok).toBe(false);
  });

  it.each([
    ["input width", (v: string) => model({ width: v }), "1073741825", "the width of input 'x' must be <= 1073741824, got 1073741825"],
    ["class count", (v: string) => model({ classes: v }), "1e10", "the class count of target 'y' must be <= 1073741824, got 1e10"],
    ["layer units", (v: string) => model({ units: v }), "2e9", "the units of layer 'l' must be <= 1073741824, got 2e9"],
    ["batch", (v: string) => model({ train: `batch = ${v}` }), "2147483648", "setting 'batch' must be <= 2147483647, got 2147483648"],
    ["epochs", (v: string) => model({ train: `epochs = ${v}` }), "1e300", "setting 'epochs' must be <= 2147483647, got 1e300"],
    ["tree depth", (v: string) => model({ tree: `depth: ${v}` }), "1000", "option 'depth' of layer kind 'tree' must be <= 29, got 1000"],
    ["policy blocks", (v: string) => model({ policy: `blocks: ${v}, tau: 0.5` }), "9007199254740993", "option 'blocks' of gate 'policy' must be <= 1073741824, got 9007199254740993"],
  ])("%s over its ceiling", (_, text, value, message) => {
    const { located } = errorsAt(text(value), value);
    expect(located.map((d) => d.message)).toEqual([message]);
  });

  it("every integer option in the tables has a ceiling", () => {
    const tables = [
      ...METHODS.flatMap((m) => [m.kindOptions, m.gateOptions, ...(m.trainSettings ?? []).flatMap((t) => Object.values(t.calls).map((c) => c.options))]),
      ...Object.values(SCHEDULES).map((c) => c.options),
    ];
    const integers = tables.flat().filter((spec) => spec.kind === "integer");
    expect(integers.length).toBeGreaterThan(0);
    for (const spec of integers) expect(spec.ceiling, spec.name).toBeDefined();
  });
});

/** Where each option table's options are written, as a function of `name: value`. */
const OPTION_CONTEXTS: Array<[string, OptionSpec[], (option: string, name: string) => string]> = [
  ["tree", LAYER_OPTIONS.tree, (o, n) => model({ tree: n === "depth" ? o : `depth: 2, ${o}` })],
  ["lowrank", GATE_OPTIONS.lowrank, (o, n) => model({ lowrank: n === "rank" ? o : `rank: 2, ${o}` })],
  ["policy", GATE_OPTIONS.policy, (o, n) => model({ policy: n === "blocks" ? `${o}, tau: 0.5` : n === "tau" ? `blocks: 2, ${o}` : `blocks: 2, tau: 0.5, ${o}` })],
  ["sgd", OPTIMIZERS.sgd.options, (o) => model({ train: `optimizer = sgd(${o})` })],
  ["adam", OPTIMIZERS.adam.options, (o) => model({ train: `optimizer = adam(${o})` })],
  ["reinforce", POLICY_TRAINERS.reinforce.options, (o) => model({ train: `policy = reinforce(${o})` })],
  ["step", SCHEDULES.step.options, (o, n) => model({ train: `schedule = step(${n === "every" ? o : `every: 2, ${o}`}${n === "factor" ? "" : ", factor: 0.5"})` })],
];

/** For an option's range, the values whose f32 rounding leaves it (with the f32 they round to). */
function roundingCases(spec: OptionSpec): Array<[string, string]> {
  const cases: Array<[string, string]> = [];
  if (spec.min === 0 && spec.minInclusive === false) cases.push(["1e-50", "0"], ["1e-46", "0"]);
  if (spec.max !== undefined && spec.maxInclusive === false) cases.push([String(spec.max - spec.max * 1e-12), String(spec.max)]);
  return cases;
}

describe("numbers used as f32", () => {
  it("the issue's examples: adam(epsilon: 1e-50) and beta1: 0.99999999999 round to 0 and 1", () => {
    const epsilon = errorsAt(model({ train: "optimizer = adam(epsilon: 1e-50)" }), "1e-50").located;
    expect(epsilon.map((d) => d.message)).toEqual(["option 'epsilon' of 'adam' must be > 0, got 1e-50, which is 0 in 32-bit floating point"]);
    const beta1 = errorsAt(model({ train: "optimizer = adam(beta1: 0.99999999999)" }), "0.99999999999").located;
    expect(beta1.map((d) => d.message)).toEqual(["option 'beta1' of 'adam' must be in [0, 1), got 0.99999999999, which is 1 in 32-bit floating point"]);
  });

  for (const [context, specs, place] of OPTION_CONTEXTS) {
    for (const spec of specs.filter((s) => s.kind === "number")) {
      // Past a range's own maximum it is the plain range error; without one, the f32 limit.
      const beyond = spec.max === undefined ? "CD3017" : "CD3002";
      it(`${context}(${spec.name}: 1e39) is ${beyond}`, () => {
        const { located } = errorsAt(place(`${spec.name}: 1e39`, spec.name), "1e39");
        expect(located.map((d) => d.code)).toEqual([beyond]);
      });
      for (const [value, rounded] of roundingCases(spec)) {
        it(`${context}(${spec.name}: ${value}) rounds to ${rounded} in f32: CD3016`, () => {
          const { located } = errorsAt(place(`${spec.name}: ${value}`, spec.name), value);
          expect(located.map((d) => d.code)).toEqual(["CD3016"]);
          expect(located[0]!.message).toContain(`which is ${rounded} in 32-bit floating point`);
        });
      }
    }
  }

  it("values that stay in range after rounding are accepted unchanged (no silent rounding of the double)", () => {
    const checked = checkSource(model({ train: "optimizer = adam(epsilon: 1e-40, beta1: 0.9999999)" }), "ok.cond").model;
    expect(checked?.train.optimizer).toMatchObject({ kind: "adam", epsilon: 1e-40, beta1: 0.9999999 });
    const loss = checkSource(model({ coefficient: "3e38" }), "ok.cond").model?.loss.penalties[0];
    expect(loss?.coefficient).toBe(3e38);
  });
});

describe("the --lr flag follows the same rule", () => {
  it.each([
    ["1e-50", "condc train: --lr must be a positive number, got '1e-50' (0 in 32-bit floating point)"],
    ["1e39", "condc train: --lr must be a positive number, got '1e39' (too large for 32-bit floating point)"],
    ["NaN", "condc train: --lr must be a positive number, got 'NaN'"],
    ["Infinity", "condc train: --lr must be a positive number, got 'Infinity'"],
    ["1e400", "condc train: --lr must be a positive number, got '1e400'"],
    ["-0.1", "condc train: --lr must be a positive number, got '-0.1'"],
    ["0x10", "condc train: --lr must be a positive number, got '0x10'"],
  ])("--lr %s", async (value, message) => {
    const run = await runCli(["train", "m.cond", `--lr=${value}`], { "m.cond": model() });
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(message);
  });
});
