/**
 * @fileoverview One set of numbers for any model (issue 9, docs/reports.md): on
 * examples/mixed.cond (a tree, a policy gate and a low-rank gate in one network) `eval --json`
 * and `bench --json` each report one whole-model `macs_per_example`, equal to the sum of their
 * per-layer figures, and equal to each other within 1% on the same data; `inspect --json` uses
 * the same field names with the cost model's figures.
 */
import v8 from "node:v8";
v8.setFlagsFromString("--experimental-wasm-relaxed-simd");
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile } from "../../compiler/index.js";
import { loadModel } from "../../runtime/index.js";
import { runCli as run } from "../helpers/cli.js";

const FILE = "examples/mixed.cond";


type Figures = { macs_per_example: number; dense_macs_per_example: number; layers: Record<string, { method: string; macs_per_example: number; dense_macs_per_example: number; active_fraction?: number }> };

function sumOfLayers(f: Figures): { macs: number; dense: number } {
  const layers = Object.values(f.layers);
  return { macs: layers.reduce((s, l) => s + l.macs_per_example, 0), dense: layers.reduce((s, l) => s + l.dense_macs_per_example, 0) };
}

let tmp: string;
let weights: string;
beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "condc-reports-"));
  weights = join(tmp, "mixed.safetensors");
  const r = await compile(readFileSync(FILE, "utf8"), { file: FILE, simd: "plain" });
  if (!r.ok) throw new Error("mixed.cond does not compile");
  const model = await loadModel(r.wasm, r.manifest);
  model.init(7);
  writeFileSync(weights, model.save());
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("the shared report fields on a model of every method", () => {
  it("eval and bench: one whole-model figure each, the sum of the layers', equal within 1%", async () => {
    const evaluated = await run(["eval", FILE, "--weights", weights, "--data", "mnist", "--json", "--plain-simd"]);
    expect(evaluated.code, evaluated.err).toBe(0);
    const e = JSON.parse(evaluated.out) as Figures;
    expect(Object.keys(e.layers)).toEqual(["t", "p", "h", "out"]);
    expect(Object.values(e.layers).map((l) => l.method)).toEqual(["tree", "policy", "lowrank", "dense"]);
    const sums = sumOfLayers(e);
    expect(e.macs_per_example).toBeCloseTo(sums.macs, 6);
    expect(e.dense_macs_per_example).toBe(sums.dense);
    expect(e.dense_macs_per_example).toBe(784 * 256 + 256 * 512 + 512 * 256 + 256 * 10);
    for (const name of ["p", "h"]) expect(e.layers[name]!.active_fraction).toBeGreaterThan(0);

    // bench times predict on the whole test set (2,000 rows), as eval runs it; the policy's
    // test-time masks are sampled afresh on each timed call, so the fractions agree within 1%.
    const bench = await run(["bench", FILE, "--weights", weights, "--data", "mnist", "--batch", "2000", "--reps", "2", "--json", "--plain-simd"]);
    expect(bench.code, bench.err).toBe(0);
    const b = (JSON.parse(bench.out) as { cases: Figures[] }).cases[0]!;
    expect(b.macs_per_example).toBeCloseTo(sumOfLayers(b).macs, 6);
    expect(b.dense_macs_per_example).toBe(e.dense_macs_per_example);
    expect(Math.abs(b.macs_per_example - e.macs_per_example) / e.macs_per_example).toBeLessThan(0.01);
  });

  it("inspect uses the same field names (the cost model's figures)", async () => {
    const inspected = await run(["inspect", FILE, "--json"]);
    expect(inspected.code, inspected.err).toBe(0);
    const i = JSON.parse(inspected.out) as Figures;
    expect(i.macs_per_example).toBeCloseTo(sumOfLayers(i).macs, 6);
    expect(i.dense_macs_per_example).toBe(sumOfLayers(i).dense);
  });
});
