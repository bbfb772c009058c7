/**
 * @fileoverview Tree layers (layouts shared and per_unit) on the GPU against the wasm build, from
 * the same init(seed): predictions through the buckets or each unit's own path, steps of the
 * method's own SGD with the exact lazy L2 (nodes or rows left untouched for several steps catch up), REINFORCE and noisy gater bits from the
 * same counter RNG, the scaled and bucket level rates, the counted MACs, 200 steps' loss and
 * checkpoints across back ends (flushed first). Small trees on a learnable synthetic set.
 */
import v8 from "node:v8";
v8.setFlagsFromString("--experimental-wasm-relaxed-simd");

import { afterAll, describe, expect, it } from "vitest";
import { collectFigures, resetCounters } from "../../runtime/report.js";
import type { Model } from "../../runtime/model.js";
import type { GpuModel } from "../../runtime/webgpu/model.js";
import { probeGpu, skipNote } from "./gpu.js";
import { build, expectParamsClose, expectPredictionsClose, gpuModel, pair, rows, syntheticData, trainBoth } from "./compare.js";
import { closeness } from "./reference.js";

const probe = await probeGpu();
afterAll(() => probe.device?.destroy());

const BATCH = 16;

function source(tree: string, optimizer = "sgd(lr: 0.1, weight_decay: 0.01)"): string {
  return `model SmallTree {
  input  x: f32[24]
  target y: class[4]
  layer h   = ${tree}
  layer out = dense(h, 4)
  loss = softmax_cross_entropy(out, y)
}
train {
  optimizer = ${optimizer}
  batch     = ${BATCH}
}`;
}

const data = syntheticData(24, 4, 4000, 13);

describe(`tree layers on the GPU against the wasm build${skipNote(probe)}`, () => {
  it.skipIf(!probe.device)("deterministic bits: predictions, five steps (the lazy decay catching nodes up), the counted MACs", async () => {
    const compiled = await build({ file: "small-tree.cond", text: source("tree(x, 20, depth: 3) relu") }, BATCH);
    const { wasm, gpu } = await pair(probe.device!, compiled, 4);
    resetCounters(wasm, "eval");
    await gpu.resetCounters("eval");
    for (const n of [1, 5, BATCH]) await expectPredictionsClose(wasm, gpu, rows(data, 100, n).x, n, `n = ${n}`);
    expect((await gpu.figures("eval")).layers.get("h")!.macsPerExample).toBe(collectFigures(wasm, "eval").layers.get("h")!.macsPerExample);
    // Small batches so that some nodes go untouched for a few steps and catch up later.
    for (let step = 0; step < 5; step++) {
      const { x, y } = rows(data, 40 * step, 3);
      const gpuLoss = (await gpu.trainStep(x, y, 3)).loss;
      const wasmLoss = wasm.trainStep(x, y, 3).loss;
      expect(closeness([gpuLoss], [wasmLoss]), `loss at step ${step + 1}`).toBe("");
    }
    await expectParamsClose(wasm, gpu, "after five steps");
    await expectPredictionsClose(wasm, gpu, rows(data, 300, BATCH).x, BATCH, "after five steps");
    gpu.destroy();
  });

  it.skipIf(!probe.device)("REINFORCE and noisy gater bits, scaled and bucket level rates, tanh: one step's parameters", async () => {
    for (const tree of [
      "tree(x, 12, depth: 2, gater_training: reinforce, level_lr: scaled) tanh",
      "tree(x, 12, depth: 3, gater_training: noisy, sigma: 0.5, level_lr: bucket, level_lr_max: 4) relu",
    ]) {
      const compiled = await build({ file: "small-tree.cond", text: source(tree) }, BATCH);
      const { wasm, gpu } = await pair(probe.device!, compiled, 8);
      for (let step = 0; step < 2; step++) {
        const { x, y } = rows(data, 200 + 16 * step, 13);
        const gpuLoss = (await gpu.trainStep(x, y, 13)).loss;
        const wasmLoss = wasm.trainStep(x, y, 13).loss;
        expect(closeness([gpuLoss], [wasmLoss]), `${tree}: loss at step ${step + 1}`).toBe("");
      }
      await expectParamsClose(wasm, gpu, tree);
      gpu.destroy();
    }
  });

  it.skipIf(!probe.device)("200 steps: the loss ends within 2% of the wasm run's; checkpoints load across back ends", async () => {
    const compiled = await build({ file: "small-tree.cond", text: source("tree(x, 20, depth: 3) relu") }, BATCH);
    const { wasm, gpu } = await pair(probe.device!, compiled, 0);
    const run = await trainBoth(wasm, gpu, data, 200, BATCH);
    console.info(`tree, 200 steps: mean loss of the last 20, wasm ${run.wasm.toFixed(5)}, GPU ${run.gpu.toFixed(5)} (first ${run.first.toFixed(5)})`);
    expect(run.wasm).toBeLessThan(0.8 * run.first);
    expect(Math.abs(run.gpu - run.wasm) / run.wasm).toBeLessThan(0.02);
    const fromGpu = await gpu.save();
    wasm.load(fromGpu, "gpu.safetensors");
    await expectPredictionsClose(wasm, gpu, rows(data, 3000, BATCH).x, BATCH, "wasm loaded from the GPU");
    const fresh = await gpuModel(probe.device!, compiled);
    await fresh.load(wasm.save(), "wasm.safetensors");
    expect(Buffer.from(await fresh.save()).equals(Buffer.from(fromGpu))).toBe(true);
    fresh.destroy();
    gpu.destroy();
  }, 600_000);
});

/** The same values in a parameter of both models: small random ones (a fixed xorshift stream). */
async function randomize(wasm: Model, gpu: GpuModel, name: string, scale: number, seed: number): Promise<void> {
  let s = seed >>> 0 || 1;
  const values = wasm.parameter(name).map(() => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return (s / 2 ** 32 - 0.5) * 2 * scale;
  });
  wasm.setParameter(name, values);
  await gpu.setParameter(name, values);
}

describe(`tree layers of layout per_unit on the GPU against the wasm build${skipNote(probe)}`, () => {
  it.skipIf(!probe.device)("each unit's gater order is the wasm build's; random nodes: predictions at depths 2 and 4; steps at batches 1 and 3; the counted MACs", async () => {
    for (const [tree, seed] of [
      ["tree(x, 12, depth: 2, layout: per_unit) relu", 3],
      ["tree(x, 20, depth: 4, layout: per_unit) sigmoid", 5],
    ] as const) {
      const compiled = await build({ file: "small-tree.cond", text: source(tree) }, BATCH);
      const { wasm, gpu } = await pair(probe.device!, compiled, seed);
      const orders = new Int32Array(wasm.regionView("h.tree_order").slice().buffer);
      expect(new Int32Array((await gpu.region("#h:order")).buffer), tree).toEqual(orders);
      expect(new Set(Array.from({ length: 12 }, (_, j) => orders.subarray(j * 2, j * 2 + 2).join())).size, "the units' orders differ").toBeGreaterThan(1);
      await randomize(wasm, gpu, "h.tree_weight", 0.3, seed);
      await randomize(wasm, gpu, "h.tree_bias", 0.2, seed + 1);
      await randomize(wasm, gpu, "h.gater_weight", 1, seed + 2);
      resetCounters(wasm, "eval");
      await gpu.resetCounters("eval");
      for (const n of [1, 5, BATCH]) await expectPredictionsClose(wasm, gpu, rows(data, 100, n).x, n, `${tree}: n = ${n}`);
      expect((await gpu.figures("eval")).layers.get("h")!.macsPerExample).toBe(collectFigures(wasm, "eval").layers.get("h")!.macsPerExample);
      // Batches of 1 and 3: most rows go untouched for several steps and catch up later.
      for (let step = 0; step < 6; step++) {
        const n = step % 2 === 0 ? 1 : 3;
        const { x, y } = rows(data, 40 * step, n);
        const gpuLoss = (await gpu.trainStep(x, y, n)).loss;
        const wasmLoss = wasm.trainStep(x, y, n).loss;
        expect(closeness([gpuLoss], [wasmLoss]), `${tree}: loss at step ${step + 1}`).toBe("");
      }
      await expectParamsClose(wasm, gpu, `${tree}: after six steps`);
      await expectPredictionsClose(wasm, gpu, rows(data, 300, BATCH).x, BATCH, `${tree}: after six steps`);
      gpu.destroy();
    }
  });

  it.skipIf(!probe.device)("REINFORCE and noisy gater bits, scaled and bucket level rates, a tree feeding a tree: two steps' parameters", async () => {
    for (const tree of [
      "tree(x, 12, depth: 2, layout: per_unit, gater_training: reinforce, level_lr: scaled) tanh",
      "tree(x, 12, depth: 3, layout: per_unit, gater_training: noisy, sigma: 0.5, level_lr: bucket, level_lr_max: 4) relu",
    ]) {
      // A second per_unit tree reads the first: its dX flows into the first one's delta.
      const text = source(tree).replace("layer out = dense(h, 4)", "layer h2  = tree(h, 8, depth: 2, layout: per_unit, level_lr: bucket) relu\n  layer out = dense(h2, 4)");
      const compiled = await build({ file: "small-tree.cond", text }, BATCH);
      const { wasm, gpu } = await pair(probe.device!, compiled, 8);
      await randomize(wasm, gpu, "h2.tree_weight", 0.3, 9);
      for (let step = 0; step < 2; step++) {
        const { x, y } = rows(data, 200 + 16 * step, 13);
        const gpuLoss = (await gpu.trainStep(x, y, 13)).loss;
        const wasmLoss = wasm.trainStep(x, y, 13).loss;
        expect(closeness([gpuLoss], [wasmLoss]), `${tree}: loss at step ${step + 1}`).toBe("");
      }
      await expectParamsClose(wasm, gpu, tree);
      gpu.destroy();
    }
  });

  it.skipIf(!probe.device)("200 steps: the loss ends within 2% of the wasm run's; checkpoints load across back ends", async () => {
    const compiled = await build({ file: "small-tree.cond", text: source("tree(x, 20, depth: 3, layout: per_unit) relu") }, BATCH);
    const { wasm, gpu } = await pair(probe.device!, compiled, 0);
    const run = await trainBoth(wasm, gpu, data, 200, BATCH);
    console.info(`tree per_unit, 200 steps: mean loss of the last 20, wasm ${run.wasm.toFixed(5)}, GPU ${run.gpu.toFixed(5)} (first ${run.first.toFixed(5)})`);
    expect(run.wasm).toBeLessThan(0.8 * run.first);
    expect(Math.abs(run.gpu - run.wasm) / run.wasm).toBeLessThan(0.02);
    const fromGpu = await gpu.save();
    wasm.load(fromGpu, "gpu.safetensors");
    await expectPredictionsClose(wasm, gpu, rows(data, 3000, BATCH).x, BATCH, "wasm loaded from the GPU");
    const fresh = await gpuModel(probe.device!, compiled);
    await fresh.load(wasm.save(), "wasm.safetensors");
    expect(Buffer.from(await fresh.save()).equals(Buffer.from(fromGpu))).toBe(true);
    await expectPredictionsClose(wasm, fresh, rows(data, 3000, BATCH).x, BATCH, "a GPU model never initialised, loaded from wasm");
    fresh.destroy();
    gpu.destroy();
  }, 600_000);
});
