/**
 * @fileoverview The low-rank gate on the GPU against the wasm build, from the same init(seed)
 * (the factors are the host's f64 SVD, uploaded): estimated predictions, the dense layer when the
 * estimator is off, one in_loop step through the masked backward (and a test_only layer trained
 * dense), the counted figures, the per-epoch refresh on the host, 200 steps' loss, checkpoints
 * across back ends (with and without the factors). A small model on a learnable synthetic set.
 */
import v8 from "node:v8";
v8.setFlagsFromString("--experimental-wasm-relaxed-simd");

import { afterAll, describe, expect, it } from "vitest";
import { collectFigures, resetCounters } from "../../runtime/report.js";
import { lowrankRuntime, setEstimatorsEnabled } from "../../methods/lowrank/runtime.js";
import { decodeSafetensors, encodeSafetensors } from "../../runtime/checkpoint/safetensors.js";
import { probeGpu, skipNote } from "./gpu.js";
import { build, expectParamsClose, expectPredictionsClose, pair, rows, syntheticData, trainBoth } from "./compare.js";
import { closeness } from "./reference.js";

const probe = await probeGpu();
afterAll(() => probe.device?.destroy());

const BATCH = 16;
const SOURCE = `model SmallLowRank {
  input  x: f32[24]
  target y: class[4]
  layer h1  = dense(x, 40) relu  gate lowrank(rank: 6, mode: in_loop)
  layer h2  = dense(h1, 30) relu gate lowrank(rank: 5, threshold: -0.05)
  layer out = dense(h2, 4)
  loss = softmax_cross_entropy(out, y) + 1e-3 * l1(h1, h2)
}
train {
  optimizer = sgd(lr: 0.1, momentum: 0.9)
  batch     = ${BATCH}
}`;

const data = syntheticData(24, 4, 4000, 9);

describe(`low-rank gates on the GPU against the wasm build${skipNote(probe)}`, () => {
  it.skipIf(!probe.device)("estimated and dense predictions, one in_loop step, the counted figures", async () => {
    const compiled = await build({ file: "small-lowrank.cond", text: SOURCE }, BATCH);
    const { wasm, gpu } = await pair(probe.device!, compiled, 2);
    resetCounters(wasm, "eval");
    await gpu.resetCounters("eval");
    for (const n of [1, 5, BATCH]) await expectPredictionsClose(wasm, gpu, rows(data, 100, n).x, n, `estimated, n = ${n}`);
    const want = collectFigures(wasm, "eval");
    const got = await gpu.figures("eval");
    for (const name of ["h1", "h2"]) {
      const w = want.layers.get(name)!;
      const g = got.layers.get(name)!;
      expect(g.activeFraction, `${name} active fraction`).toBe(w.activeFraction);
      expect(g.macsCounted).toBe(true);
    }
    setEstimatorsEnabled(wasm, false);
    setEstimatorsEnabled(gpu, false);
    await expectPredictionsClose(wasm, gpu, rows(data, 100, BATCH).x, BATCH, "estimators off");
    setEstimatorsEnabled(wasm, true);
    setEstimatorsEnabled(gpu, true);
    const { x, y } = rows(data, 0, 13);
    const gpuLoss = (await gpu.trainStep(x, y, 13)).loss;
    const wasmLoss = wasm.trainStep(x, y, 13).loss;
    expect(closeness([gpuLoss], [wasmLoss]), "loss").toBe("");
    await expectParamsClose(wasm, gpu, "after one step");
    gpu.destroy();
  });

  it.skipIf(!probe.device)("200 steps with a refresh of the factors after each 50 (on the host): the loss ends within 2% of the wasm run's; checkpoints load across back ends", async () => {
    const compiled = await build({ file: "small-lowrank.cond", text: SOURCE }, BATCH);
    const { wasm, gpu } = await pair(probe.device!, compiled, 0);
    let wasmLast = 0;
    let gpuLast = 0;
    let first = 0;
    for (let round = 0; round < 4; round++) {
      const part = syntheticData(24, 4, 50 * BATCH + BATCH, 100 + round);
      const run = await trainBoth(wasm, gpu, part, 50, BATCH);
      if (round === 0) first = run.first;
      wasmLast = run.wasm;
      gpuLast = run.gpu;
      await gpu.afterEpoch({ index: round, last: round === 3 });
      lowrankRuntime.afterEpoch!(wasm, wasm.layersOf("lowrank"), { index: round, last: round === 3 });
    }
    console.info(`lowrank, 200 steps: mean loss of the last 20, wasm ${wasmLast.toFixed(5)}, GPU ${gpuLast.toFixed(5)} (first ${first.toFixed(5)})`);
    expect(wasmLast).toBeLessThan(0.9 * first);
    expect(Math.abs(gpuLast - wasmLast) / wasmLast).toBeLessThan(0.02);
    await expectPredictionsClose(wasm, gpu, rows(data, 2000, BATCH).x, BATCH, "after the refresh");
    const fromGpu = await gpu.save();
    wasm.load(fromGpu, "gpu.safetensors");
    await expectPredictionsClose(wasm, gpu, rows(data, 3000, BATCH).x, BATCH, "wasm loaded from the GPU");
    // A checkpoint without the factors: both hosts recompute them by SVD.
    const decoded = decodeSafetensors(wasm.save(), "wasm");
    const bare = encodeSafetensors([...decoded.tensors].filter(([name]) => !name.includes("lowrank")).map(([name, t]) => ({ name, shape: t.shape, data: t.data as Float32Array })), decoded.metadata);
    await gpu.load(bare, "bare.safetensors");
    wasm.load(bare, "bare.safetensors");
    await expectPredictionsClose(wasm, gpu, rows(data, 3100, BATCH).x, BATCH, "factors recomputed");
    gpu.destroy();
  }, 600_000);
});
