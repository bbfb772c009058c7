/**
 * @fileoverview Issue 16, class 1: recursion and spread on unbounded input. Deep nesting,
 * very long tokens, files over the size limit and models over the layer limit each give a
 * located diagnostic; `checkSource` never throws, `condc` never reports an internal error.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compile } from "../../compiler/compile.js";
import { checkSource } from "../../compiler/frontend/frontend.js";
import { inspectModel } from "../../compiler/frontend/inspect.js";
import { inspectJson, inspectTable } from "../../cli/inspect-format.js";
import { methodTable } from "../../compiler/frontend/frontend.js";
import { MAX_LAYERS, MAX_NESTING_DEPTH, MAX_SOURCE_CHARS } from "../../compiler/frontend/language-spec.js";
import type { CheckedLayer, CheckedModel } from "../../compiler/frontend/model.js";
import { chainModel, expectNoCrash, runBin, runCli, tempDir, tinyModel } from "./helpers.js";

const codes = (text: string) => checkSource(text, "t.cond").diagnostics.map((d) => d.code);

/** Calls `body` from `depth` frames down, as a caller deep in its own recursion would. */
function atStackDepth<T>(depth: number, body: () => T): T {
  return depth === 0 ? body() : atStackDepth(depth - 1, body);
}

describe("deep nesting", () => {
  const deepSgd = (depth: number) => tinyModel(`optimizer = ${"sgd(".repeat(depth)}${")".repeat(depth)}`);

  it("the issue's example: sgd(sgd(...)) 400 deep in a 2 KB file is one CD1008, not a stack overflow", async () => {
    const text = deepSgd(400);
    expect(text.length).toBeLessThan(4096);
    const result = checkSource(text, "deep.cond");
    expect(result.diagnostics.map((d) => d.code)).toEqual(["CD1008"]);
    const [d] = result.diagnostics;
    expect(d!.message).toBe(`brackets nested more than ${MAX_NESTING_DEPTH} deep; nothing in the language nests deeper than 2`);
    // Points at the first bracket past the limit: `train {` is level 1, so the 32nd '(' of the call chain.
    const line = result.source.lineText(d!.span.start.line);
    expect(line.slice(0, d!.span.start.column - 1).split("(").length - 1).toBe(MAX_NESTING_DEPTH - 1);
    const run = await runCli(["check", "deep.cond"], { "deep.cond": text });
    expect(run.code).toBe(1);
    expectNoCrash(run);
  });

  it.each([
    ["parentheses 100,000 deep", `model M { input x: f32[4] ${"(".repeat(100_000)} }`],
    ["square brackets 100,000 deep, never closed", `model M { input x: f32${"[".repeat(100_000)}`],
    ["braces 100,000 deep", `${"{".repeat(100_000)}${"}".repeat(100_000)}`],
    ["mixed brackets inside a layer's options", `model M { layer h = dense(x, 4, a: ${"b([{".repeat(20_000)}) }`],
    ["nested calls in a gate", `model M { layer h = dense(x, 4) relu gate lowrank(rank: ${"f(".repeat(5000)}1${")".repeat(5000)}) }`],
  ])("%s: reported, never thrown", (_, text) => {
    const result = checkSource(text, "deep.cond");
    expect(result.diagnostics.some((d) => d.code === "CD1008")).toBe(true);
    expect(result.model).toBeUndefined();
  });

  it("a nest just inside the limit parses (and is then a plain type error)", () => {
    // `train {` is level 1; 31 nested calls reach level 32, the limit itself.
    const text = deepSgd(MAX_NESTING_DEPTH - 1);
    expect(codes(text)).not.toContain("CD1008");
    expect(codes(deepSgd(MAX_NESTING_DEPTH))).toContain("CD1008");
  });

  it("keeps checking the rest of the file after a too-deep region", () => {
    const text = `model M {
  input x: f32[4]
  target y: class[2]
  layer out = dense(x, 2)
  loss = softmax_cross_entropy(out, y)
}
train {
  optimizer = ${"sgd(".repeat(50)}${")".repeat(50)}
  epohcs = 2
}`;
    expect(codes(text)).toEqual(["CD1008", "CD2024"]);
  });

  it("leaves stack to spare: a caller already 5,000 frames deep can check the 400-deep file", () => {
    const result = atStackDepth(5000, () => checkSource(deepSgd(400), "deep.cond"));
    expect(result.diagnostics.map((d) => d.code)).toEqual(["CD1008"]);
  });
});

describe("very long tokens", () => {
  const long = 1_000_000;
  it.each([
    ["a name", tinyModel(`optimizer = ${"a".repeat(long)}`), "CD2027"],
    ["a layer name", `model M { input x: f32[4] target y: class[2] layer ${"h".repeat(long)} = dense(x, 2) layer out = dense(q, 2) loss = softmax_cross_entropy(out, y) }`, "CD2005"],
    ["a number", tinyModel(`seed = ${"9".repeat(long)}`), "CD1006"],
    ["a malformed number", tinyModel(`seed = 1${".2".repeat(long / 2)}`), "CD1004"],
    ["a string", tinyModel(`data = idx("${"d".repeat(long)}") seed = x`), "CD3003"],
    ["an unterminated string", tinyModel(`data = idx("${"d".repeat(long)}`), "CD1003"],
    ["a run of unknown characters", tinyModel(`seed = ${"@".repeat(long)}`), "CD1001"],
  ])("%s of a million characters: a short diagnostic, a short printout", async (_, text, code) => {
    const result = checkSource(text, "long.cond");
    expect(result.diagnostics.map((d) => d.code)).toContain(code);
    for (const d of result.diagnostics) expect(d.message.length).toBeLessThan(400);
    const run = await runCli(["check", "long.cond"], { "long.cond": text });
    expect(run.code).toBe(1);
    expectNoCrash(run);
    expect(run.stdout.length).toBeLessThan(4000);
    for (const line of run.stdout.split("\n")) expect(line.length).toBeLessThan(500);
  });

  it("a million-character comment or run of spaces is just skipped", () => {
    expect(codes(`// ${"c".repeat(1_000_000)}\n${tinyModel()}`)).toEqual([]);
    expect(codes(`/* ${"c\n".repeat(500_000)} */\n${tinyModel()}`)).toEqual([]);
    expect(codes(`${" ".repeat(1_000_000)}${tinyModel()}`)).toEqual([]);
  });
});

describe("file size limit", () => {
  it("text over MAX_SOURCE_CHARS is one CD1007 at 1:1, without lexing it", () => {
    const text = tinyModel() + " ".repeat(MAX_SOURCE_CHARS);
    const result = checkSource(text, "big.cond");
    expect(result.diagnostics).toHaveLength(1);
    expect(result.diagnostics[0]).toMatchObject({
      code: "CD1007",
      message: `the file has ${text.length.toLocaleString("en-US")} characters, more than the 2,097,152 a model file may have`,
      span: { start: { line: 1, column: 1 } },
    });
    expect(result.model).toBeUndefined();
    // Exactly at the limit is still checked.
    const atLimit = tinyModel() + " ".repeat(MAX_SOURCE_CHARS - tinyModel().length);
    expect(checkSource(atLimit, "at.cond").diagnostics).toEqual([]);
  });

  it("condc refuses a model file over 2 MiB from its size (exit 2), before reading it", async () => {
    const dir = tempDir("big");
    const file = join(dir, "big.cond");
    writeFileSync(file, tinyModel() + "/*" + "x".repeat(3 << 20) + "*/");
    const run = await runCli(["check", file]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^condc: cannot read '.*big\.cond': is 3,145,[0-9]{3} bytes, more than the 2,097,152 bytes a model file may have$/);
  });
});

describe("layer-count limit", () => {
  it(`the issue's example: a 20,000-layer chain is one CD3015 (limit ${MAX_LAYERS.toLocaleString("en-US")}), in check and in compile`, async () => {
    const text = chainModel(20_000);
    const result = checkSource(text, "chain.cond");
    expect(result.diagnostics).toHaveLength(1);
    const [d] = result.diagnostics;
    expect(d).toMatchObject({ code: "CD3015", message: "the model has 20,000 layers, more than the 10,000 condc compiles; this is layer 10,001" });
    expect(result.source.lineText(d!.span.start.line).trim()).toBe("layer h10001 = dense(h10000, 2)");
    const compiled = await compile(text, { file: "chain.cond" });
    expect(compiled.ok).toBe(false);
    expect(compiled.diagnostics.map((x) => x.code)).toEqual(["CD3015"]);
  });

  it("exactly MAX_LAYERS layers check clean; one more is refused", () => {
    const atLimit = checkSource(chainModel(MAX_LAYERS), "at.cond");
    expect(atLimit.diagnostics).toEqual([]);
    expect(atLimit.model?.layers).toHaveLength(MAX_LAYERS);
    expect(codes(chainModel(MAX_LAYERS + 1))).toEqual(["CD3015"]);
  });

  it("counts every layer declaration, even broken ones, and still checks the train block", () => {
    const layers = Array.from({ length: MAX_LAYERS + 5 }, (_, i) => `layer l${i} = dense(nowhere, 0)`).join("\n");
    const text = `model M { input x: f32[4] target y: class[2]\n${layers}\nloss = softmax_cross_entropy(l0, y) }\ntrain { epohcs = 1 }`;
    expect(codes(text)).toEqual(["CD3015", "CD2024"]);
  });

  it("condc check, inspect and build of the 20,000-layer chain: exit 1 with the diagnostic", async () => {
    const files = { "chain.cond": chainModel(20_000) };
    for (const args of [["check", "chain.cond"], ["inspect", "chain.cond"], ["build", "chain.cond", "--emit", "wat"]]) {
      const run = await runCli(args, files);
      expect(run.code, args.join(" ")).toBe(1);
      expectNoCrash(run);
      expect(`${run.stdout}\n${run.stderr}`).toContain("error CD3015: the model has 20,000 layers");
    }
  });
});

describe("presentation of very large models", () => {
  /** A checked model of `count` layers, built directly (past the layer limit on purpose). */
  function wideModel(count: number): CheckedModel {
    const span = { start: { offset: 0, line: 1, column: 1 }, end: { offset: 0, line: 1, column: 1 } };
    const layers: CheckedLayer[] = Array.from({ length: count }, (_, i) => ({
      name: `h${i}`,
      method: "dense",
      options: {},
      source: i === 0 ? "x" : `h${i - 1}`,
      inputs: 2,
      units: 2,
      activation: "relu",
      isOutput: i === count - 1,
      span,
    }));
    const base = checkSource(tinyModel(), "t.cond").model!;
    return { ...base, layers, loss: { ...base.loss, logits: `h${count - 1}` } };
  }

  it("inspect's table and JSON of 130,000 layers: no Math.max(...spread) overflow", () => {
    const model = wideModel(130_000);
    const report = inspectModel(model, methodTable(undefined));
    const table = inspectTable(report, `h${130_000 - 1}`, new Map(model.layers.map((l) => [l.name, l.activation])));
    expect(table.split("\n").length).toBeGreaterThan(130_000);
    expect(Object.keys(inspectJson(report).layers as object)).toHaveLength(130_000);
  });
});

describe("checkSource never throws", () => {
  it.each([
    ["a BOM alone", "\ufeff"],
    ["only a BOM and a deep nest", `\ufeff${"(".repeat(10_000)}`],
    ["lone surrogates", "model M { \ud800 \udc00 }"],
    ["NUL bytes", "model\0M { input x: f32[4\0] }"],
    ["a million newlines", "\n".repeat(1_000_000)],
    ["a million carriage returns", "\r".repeat(1_000_000)],
    ["500,000 unknown characters", "@ ".repeat(250_000)],
    ["every token kind repeated", "model train input target layer loss gate x 1 1.2.3 \"s\" { } ( ) [ ] : , = + - * / ".repeat(5000)],
  ])("%s", (_, text) => {
    expect(() => checkSource(text, "x.cond")).not.toThrow();
  });

  it("the real bin on the deep and the long files: exit 1, no stack trace", () => {
    const dir = tempDir("hostile");
    writeFileSync(join(dir, "deep.cond"), tinyModel(`optimizer = ${"sgd(".repeat(400)}${")".repeat(400)}`));
    writeFileSync(join(dir, "long.cond"), tinyModel(`optimizer = ${"a".repeat(1_000_000)}`));
    const run = runBin(["check", join(dir, "deep.cond"), join(dir, "long.cond")]);
    expect(run.code).toBe(1);
    expectNoCrash(run);
  });
});
