/**
 * @fileoverview Issue 16, classes 10 and 13: training whose loss explodes while staying finite
 * stops with the step and the layer whose weights grew most (no checkpoint written, exit 1 from
 * the CLI); a policy gate with 200,000 blocks trains and reports without any spread of its
 * per-block arrays.
 */
import v8 from "node:v8";
v8.setFlagsFromString("--experimental-wasm-relaxed-simd");
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compile } from "../../compiler/index.js";
import { DivergenceError, loadModel, trainModel, type Dataset } from "../../runtime/index.js";
import { figuresJson, figuresText } from "../../cli/report-format.js";
import { runCli, tempDir } from "./helpers.js";

function synthetic(count: number, width: number, classes: number): Dataset {
  const images = Float32Array.from({ length: count * width }, (_, i) => ((i * 2654435761) % 1000) / 1000);
  const labels = Uint8Array.from({ length: count }, (_, i) => i % classes);
  return { name: "synthetic", count, width, classes, images, labels };
}

describe("divergence with a finite loss", () => {
  it("the CLI stops at the step, names the layer, exits 1 and writes no checkpoint (--lr 1e6)", async () => {
    const out = join(tempDir("diverge"), "w.safetensors");
    const run = await runCli(["train", "examples/mnist-dense.cond", "--lr", "1e6", "--epochs", "1", "--plain-simd", "--out", out]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^condc train: training diverged at step \d+: loss \S+ stayed above 230; the largest weights are in layer '(h1|out)' \(lower the learning rate\)$/);
    expect(existsSync(out)).toBe(false);
  });

  it("trainModel throws DivergenceError after the configured run of exploding steps; off when asked", async () => {
    const r = await compile(`model D { input x: f32[8] target y: class[4] layer h = dense(x, 16) relu layer out = dense(h, 4) loss = softmax_cross_entropy(out, y) }`, { maxBatch: 8, simd: "plain" });
    if (!r.ok) throw new Error("unexpected");
    const data = synthetic(64, 8, 4);
    const model = await loadModel(r.wasm, r.manifest);
    model.init(0);
    let error: unknown;
    try {
      trainModel(model, data, data, { epochs: 3, batch: 8, seed: 0, lr: 1e4, schedule: { kind: "constant" }, divergence: { factor: 10, steps: 2 } });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DivergenceError);
    const d = error as DivergenceError;
    expect(d.limit).toBeCloseTo(10 * Math.log(4), 9);
    expect(d.loss).toBeGreaterThan(d.limit);
    expect(["h", "out"]).toContain(d.layer);
    expect(d.step).toBe(model.step);
    // With divergence detection off, the same run trains on (or ends in a non-finite step, which is refused).
    const other = await loadModel(r.wasm, r.manifest);
    other.init(0);
    const run = (): unknown => trainModel(other, data, data, { epochs: 1, batch: 8, seed: 0, lr: 0.01, schedule: { kind: "constant" }, divergence: false });
    expect(run).not.toThrow();
  });
});

describe("a policy gate with 200,000 blocks", () => {
  it("trains one epoch and reports per-block figures as text and JSON", async () => {
    const r = await compile(`model Wide { input x: f32[2] target y: class[2]
      layer h = dense(x, 200000) tanh gate policy(blocks: 200000, tau: 0.5)
      layer out = dense(h, 2)
      loss = softmax_cross_entropy(out, y) }
      train { policy = reinforce(lr: 0.001) }`, { maxBatch: 2, simd: "plain" });
    if (!r.ok) throw new Error(r.diagnostics.map((d) => d.message).join("\n"));
    const model = await loadModel(r.wasm, r.manifest);
    model.init(0);
    const data = synthetic(4, 2, 2);
    const result = trainModel(model, data, data, { epochs: 1, batch: 2, seed: 0, lr: 0.01, schedule: { kind: "constant" } });
    const figures = result.epochs[0]!.trainFigures;
    const h = figures.layers.get("h")!;
    expect((h.metrics["block_mean"] as number[]).length).toBe(200_000);
    const text = figuresText(figures);
    expect(text[0]).toMatch(/^ {2}h \(policy\): \d+\.\d% active, [\d,]+ MACs\/example of 400,000 dense, blocks 200000, block mean \[/);
    expect(JSON.parse(JSON.stringify(figuresJson(figures))).layers.h.block_variance).toHaveLength(200_000);
  });
});
