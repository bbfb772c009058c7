/**
 * @fileoverview The seam proven from outside (issue 9): a method defined entirely under tests/
 * (`keep-gate.ts`), registered with `registerMethod`/`registerMethodRuntime`, is checked,
 * inspected, compiled, trained and reported by `check`, `inspect`, `train`, `eval` and `bench`
 * with no edit of generic code; its forward matches a plain reference and its gradients central
 * differences; its figures agree between eval and bench.
 */
import v8 from "node:v8";
v8.setFlagsFromString("--experimental-wasm-relaxed-simd");
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile, registerMethod, checkSource } from "../../compiler/index.js";
import { loadModel, registerMethodRuntime } from "../../runtime/index.js";
import { runCli as run } from "../helpers/cli.js";
import { keepMethod, keepRuntime } from "./keep-gate.js";

registerMethod(keepMethod);
registerMethodRuntime(keepRuntime);

const SOURCE = (t: number) => `model Keep {
  input  x: f32[784]
  target y: class[10]
  layer h   = dense(x, 48) relu gate keep(threshold: ${t})
  layer out = dense(h, 10)
  loss = softmax_cross_entropy(out, y)
}
train { optimizer = sgd(lr: 0.1, momentum: 0.9) batch = 64 epochs = 1 }
`;


let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "condc-keep-"));
  writeFileSync(join(tmp, "keep.cond"), SOURCE(0.5));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("a method registered from outside", () => {
  it("registering a unit that contradicts the registry is a TypeError and registers nothing", () => {
    expect(() => registerMethod({ ...keepMethod, key: "keep2" })).toThrow(TypeError);
    expect(() => registerMethod({ ...keepMethod, key: "keep3", gate: "keep3", messages: { x: { code: "CD3002", severity: "error", template: "x" } } })).toThrow("diagnostic code CD3002");
    expect(() => registerMethodRuntime(keepRuntime)).toThrow("already registered");
    expect(checkSource("model M { input x: f32[4] target y: class[2] layer h = dense(x, 4) relu gate keep3(threshold: 0.5) layer out = dense(h, 2) loss = softmax_cross_entropy(out, y) }", "m.cond").diagnostics.map((d) => d.code)).toEqual(["CD2008"]);
  });

  it("check: the generic option rules and the method's own diagnostic", () => {
    const bad = checkSource(SOURCE(1.5), "k.cond");
    expect(bad.diagnostics.map((d) => `${d.code}: ${d.message}`)).toEqual(["CD3002: option 'threshold' of gate 'keep' must be in [0, 1), got 1.5"]);
    const little = checkSource(SOURCE(0.97), "k.cond");
    expect(little.diagnostics.map((d) => `${d.code} ${d.severity}: ${d.message}`)).toEqual(["CD9101 warning: gate 'keep' with threshold 0.97 is expected to keep only 3% of the units of layer 'h'"]);
  });

  it("inspect: its label, cost model and density", async () => {
    const r = await run(["inspect", join(tmp, "keep.cond"), "--json"]);
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.layers.h).toMatchObject({ method: "keep", label: "keep t=0.5", macs_per_example: 784 * 48 * 0.5, active_fraction: 0.5, gate_parameters: 48 });
  });

  it("compiled: the forward is the dense layer on the kept units, and the gradients are right", async () => {
    const result = await compile(SOURCE(0.5), { file: "keep.cond", maxBatch: 8, simd: "plain" });
    if (!result.ok) throw new Error(result.diagnostics.map((d) => d.message).join("\n"));
    expect(result.listing).toContain("bsForwardGrouped(");
    const model = await loadModel(result.wasm, result.manifest);
    model.init(7);
    const score = model.parameter("h.keep_score");
    const kept = Array.from(score, (s) => s > 0.5);
    expect(kept.filter(Boolean).length).toBeGreaterThan(10);
    expect(kept.filter(Boolean).length).toBeLessThan(38);
    const n = 5;
    const x = Float32Array.from({ length: n * 784 }, (_, i) => ((i * 7919) % 97) / 97);
    const probs = model.predict(x, n);
    const w = model.parameter("h.weight"), b = model.parameter("h.bias"), w2 = model.parameter("out.weight"), b2 = model.parameter("out.bias");
    for (let e = 0; e < n; e++) {
      const h = Array.from({ length: 48 }, (_, j) => {
        if (!kept[j]) return 0;
        let z = b[j]!;
        for (let i = 0; i < 784; i++) z += x[e * 784 + i]! * w[j * 784 + i]!;
        return Math.max(0, z);
      });
      const logits = Array.from({ length: 10 }, (_, c) => h.reduce((s, v, j) => s + v * w2[c * 48 + j]!, b2[c]!));
      const max = Math.max(...logits);
      const sum = logits.reduce((s, v) => s + Math.exp(v - max), 0);
      for (let c = 0; c < 10; c++) expect(probs[e * 10 + c]).toBeCloseTo(Math.exp(logits[c]! - max) / sum, 5);
    }
    // Gradients of h.weight (kept rows) against central differences of the loss; dropped rows get none.
    const labels = new Int32Array([1, 2, 3, 4, 5]);
    model.trainStep(x, labels, n, { lr: 0 });
    const grad = model.regionView("h.weight.grad").slice();
    const loss = (): number => {
      const p = model.predict(x, n);
      let s = 0;
      for (let e = 0; e < n; e++) s -= Math.log(p[e * 10 + labels[e]!]!);
      return s / n;
    };
    const keptRow = kept.indexOf(true), droppedRow = kept.indexOf(false);
    expect(grad.subarray(droppedRow * 784, (droppedRow + 1) * 784).every((g) => g === 0)).toBe(true);
    for (const i of [100, 300, 500]) {
      const at = keptRow * 784 + i;
      const eps = 1e-2;
      const w0 = model.parameter("h.weight");
      const plus = w0.slice(); plus[at]! += eps;
      model.setParameter("h.weight", plus);
      const lp = loss();
      const minus = w0.slice(); minus[at]! -= eps;
      model.setParameter("h.weight", minus);
      const lm = loss();
      model.setParameter("h.weight", w0);
      expect(grad[at]).toBeCloseTo((lp - lm) / (2 * eps), 3);
    }
  });

  it("train, eval and bench through the CLI report it like any method, and agree", async () => {
    const file = join(tmp, "keep.cond");
    const ckpt = join(tmp, "keep.safetensors");
    const train = await run(["train", file, "--json", "--out", ckpt, "--plain-simd"]);
    expect(train.code, train.err).toBe(0);
    const t = JSON.parse(train.out);
    expect(t.test_accuracy).toBeGreaterThan(0.7);
    const evaluated = await run(["eval", file, "--weights", ckpt, "--json", "--plain-simd"]);
    expect(evaluated.code, evaluated.err).toBe(0);
    const e = JSON.parse(evaluated.out);
    const kept = e.layers.h.kept_units as number;
    expect(e.layers.h).toMatchObject({ method: "keep", macs_per_example: kept * 784, active_fraction: kept / 48, macs_source: "counted" });
    expect(e.macs_per_example).toBe(kept * 784 + 480);
    expect(e.dense_macs_per_example).toBe(784 * 48 + 480);
    const bench = await run(["bench", file, "--weights", ckpt, "--batch", "1,16", "--reps", "2", "--json", "--plain-simd"]);
    expect(bench.code, bench.err).toBe(0);
    for (const c of JSON.parse(bench.out).cases) {
      expect(Math.abs(c.macs_per_example - e.macs_per_example) / e.macs_per_example).toBeLessThan(0.01);
      expect(c.layers.h.kept_units).toBe(kept);
    }
  });
});
