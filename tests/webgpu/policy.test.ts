/**
 * @fileoverview Block-dropout policies on the GPU against the wasm build, from the same init(seed):
 * the masks come from the same counter RNG (training streams by step, test-time streams by call),
 * so predictions (sampled and thresholded), one step's parameters (network, policy, its L2 and
 * regularizers, the moving-average baseline), 200 steps' loss, the statistics and checkpoints
 * agree. Small models (24 inputs) on a learnable synthetic set; a source gated too (ss), blocks
 * of 8 and 7 units, uniform block dropout, both regularizer forms.
 */
import v8 from "node:v8";
v8.setFlagsFromString("--experimental-wasm-relaxed-simd");

import { afterAll, describe, expect, it } from "vitest";
import { collectFigures, resetCounters } from "../../runtime/report.js";
import { getPolicyMode, setPolicyMode } from "../../methods/policy/runtime.js";
import { probeGpu, skipNote } from "./gpu.js";
import type { Model } from "../../runtime/model.js";
import { addUpdateScales, build, expectParamsClose, expectPredictionsClose, pair, rows, syntheticData, trainBoth } from "./compare.js";
import { closeness } from "./reference.js";

const probe = await probeGpu();
afterAll(() => probe.device?.destroy());

const BATCH = 16;

function source(options: { baseline: string; regularizer: string; squash: string; uniform?: boolean }): string {
  const gate2 = options.uniform ? "policy(blocks: 3, tau: 0.5, uniform: true)" : `policy(blocks: 3, tau: 0.5, squash: ${options.squash})`;
  return `model SmallPolicy {
  input  x: f32[24]
  target y: class[4]
  layer h1  = dense(x, 32) tanh  gate policy(blocks: 4, tau: 0.5)
  layer h2  = dense(h1, 21) relu gate ${gate2}
  layer out = dense(h2, 4)
  loss = softmax_cross_entropy(out, y)
}
train {
  optimizer = sgd(lr: 0.1, momentum: 0.9)
  policy    = reinforce(lr: ${POLICY_LR}, lambda_s: 0.5, lambda_v: 0.5, l2: 0.01, baseline: ${options.baseline}, regularizer: ${options.regularizer})
  batch     = ${BATCH}
}`;
}

const data = syntheticData(24, 4, 4000, 5);
const POLICY_LR = 0.05;

/**
 * The policy parameters' gradient is a sum over examples of advantage-weighted terms that cancel
 * to orders of magnitude below the terms: their error scale is Σ|terms| (addUpdateScales).
 */
function addPolicyScales(wasm: Model, scales: Record<string, Float64Array>, n: number): void {
  for (const layer of wasm.manifest.layers) {
    if (layer.method !== "policy" || layer.params["policy_weight"] === undefined) continue;
    const blocks = (layer.options as { blocks: number }).blocks;
    const x = layer.source === null ? "input" : wasm.manifest.layers.find((l) => l.name === layer.source)!.output;
    addUpdateScales(wasm, scales, layer.params["policy_weight"]!, layer.params["policy_bias"]!, x, layer.regions["policy_e"]!, n, layer.inputs, blocks, POLICY_LR);
  }
}

describe(`policy gates on the GPU against the wasm build${skipNote(probe)}`, () => {
  it.skipIf(!probe.device)("predictions (sampled and thresholded), three steps' losses and parameters, the statistics; moving-average baseline, the paper's regularizers", async () => {
    const compiled = await build({ file: "small-policy.cond", text: source({ baseline: "moving_average", regularizer: "paper", squash: "0.01" }) }, BATCH);
    const { wasm, gpu } = await pair(probe.device!, compiled, 3);
    for (const n of [1, 5, BATCH]) await expectPredictionsClose(wasm, gpu, rows(data, 100, n).x, n, `sampled, n = ${n}`);
    setPolicyMode(wasm, "threshold");
    setPolicyMode(gpu, "threshold");
    expect(getPolicyMode(gpu)).toBe("threshold");
    await expectPredictionsClose(wasm, gpu, rows(data, 200, BATCH).x, BATCH, "thresholded");
    setPolicyMode(wasm, "sample");
    setPolicyMode(gpu, "sample");
    resetCounters(wasm, "train");
    await gpu.resetCounters("train");
    const scales: Record<string, Float64Array> = {};
    for (let step = 0; step < 3; step++) {
      const { x, y } = rows(data, step * BATCH, BATCH);
      const gpuLoss = (await gpu.trainStep(x, y, BATCH)).loss;
      const wasmLoss = wasm.trainStep(x, y, BATCH).loss;
      addPolicyScales(wasm, scales, BATCH);
      expect(closeness([gpuLoss], [wasmLoss]), `loss at step ${step + 1}`).toBe("");
    }
    await expectParamsClose(wasm, gpu, "after three steps", scales);
    const want = collectFigures(wasm, "train");
    const got = await gpu.figures("train");
    for (const [name, figures] of want.layers) {
      if (figures.method !== "policy") continue;
      expect(got.layers.get(name)!.activeFraction, `${name} active fraction`).toBe(figures.activeFraction);
      expect(closeness(got.layers.get(name)!.metrics["block_mean"] as number[], figures.metrics["block_mean"] as number[]), `${name} block means`).toBe("");
    }
    gpu.destroy();
  });

  it.skipIf(!probe.device)("one step with the authors' regularizer form, no squash on the gated source, a batch-min baseline; uniform block dropout", async () => {
    for (const options of [
      { baseline: "batch_min", regularizer: "code", squash: "0" },
      { baseline: "batch_mean", regularizer: "paper", squash: "0.01", uniform: true },
    ]) {
      const compiled = await build({ file: "small-policy.cond", text: source(options) }, BATCH);
      const { wasm, gpu } = await pair(probe.device!, compiled, 11);
      const { x, y } = rows(data, 500, 13);
      const gpuLoss = (await gpu.trainStep(x, y, 13)).loss;
      const wasmLoss = wasm.trainStep(x, y, 13).loss;
      const scales: Record<string, Float64Array> = {};
      addPolicyScales(wasm, scales, 13);
      expect(closeness([gpuLoss], [wasmLoss]), `${JSON.stringify(options)}: loss`).toBe("");
      await expectParamsClose(wasm, gpu, JSON.stringify(options), scales);
      await expectPredictionsClose(wasm, gpu, rows(data, 700, 9).x, 9, `${JSON.stringify(options)}: predictions`);
      gpu.destroy();
    }
  });

  it.skipIf(!probe.device)("200 steps: the loss ends within 2% of the wasm run's; checkpoints load across back ends", async () => {
    const compiled = await build({ file: "small-policy.cond", text: source({ baseline: "batch_mean", regularizer: "paper", squash: "0.01" }) }, BATCH);
    const { wasm, gpu } = await pair(probe.device!, compiled, 0);
    const run = await trainBoth(wasm, gpu, data, 200, BATCH);
    console.info(`policy, 200 steps: mean loss of the last 20, wasm ${run.wasm.toFixed(5)}, GPU ${run.gpu.toFixed(5)} (first ${run.first.toFixed(5)})`);
    expect(run.wasm).toBeLessThan(0.8 * run.first);
    expect(Math.abs(run.gpu - run.wasm) / run.wasm).toBeLessThan(0.02);
    const fromGpu = await gpu.save();
    wasm.load(fromGpu, "gpu.safetensors");
    setPolicyMode(wasm, "threshold");
    setPolicyMode(gpu, "threshold");
    await expectPredictionsClose(wasm, gpu, rows(data, 3000, BATCH).x, BATCH, "wasm loaded from the GPU");
    await gpu.load(wasm.save(), "wasm.safetensors");
    expect(Buffer.from(await gpu.save()).equals(Buffer.from(fromGpu))).toBe(true);
    gpu.destroy();
  }, 600_000);
});
