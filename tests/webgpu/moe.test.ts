/**
 * @fileoverview Mixtures of experts on the GPU against the wasm build, from the same init(seed):
 * predictions through routing and the grouped expert products, one step's parameters and loss
 * (with the balance loss: Switch, and CV with noisy gating, whose noise comes from the same
 * counter RNG), FFN experts, a capacity that drops pairs, one expert, a centred router (its
 * running centre after the steps), the refused z-loss, the counted figures,
 * 200 steps' loss and checkpoints across back ends. Small layers on a learnable synthetic set.
 */
import v8 from "node:v8";
v8.setFlagsFromString("--experimental-wasm-relaxed-simd");

import { afterAll, describe, expect, it } from "vitest";
import { loadModel } from "../../runtime/model.js";
import { GpuUnsupportedModelError } from "../../runtime/webgpu/errors.js";
import { collectFigures, resetCounters } from "../../runtime/report.js";
import { probeGpu, skipNote } from "./gpu.js";
import { build, expectParamsClose, expectPredictionsClose, gpuModel, pair, rows, syntheticData, trainBoth } from "./compare.js";
import { closeness } from "./reference.js";

const probe = await probeGpu();
afterAll(() => probe.device?.destroy());

const BATCH = 16;

function source(moe: string, extra = ""): string {
  return `model SmallMoe {
  input  x: f32[24]
  target y: class[4]
  layer h   = moe(x, 20, ${moe}) relu${extra}
  layer out = dense(h, 4)
  loss = softmax_cross_entropy(out, y)
}
train {
  optimizer = sgd(lr: 0.1, momentum: 0.9)
  batch     = ${BATCH}
}`;
}

const data = syntheticData(24, 4, 4000, 17);

describe(`mixtures of experts on the GPU against the wasm build${skipNote(probe)}`, () => {
  it.skipIf(!probe.device)("predictions, two steps' losses and parameters and the figures, for Switch, CV with noisy gating, FFN experts, a capacity, one expert, a centred router", async () => {
    for (const moe of [
      "experts: 4, top_k: 2, balance: switch(0.1)",
      "experts: 5, top_k: 2, gating: noisy, balance: cv(0.1, 0.1)",
      "experts: 3, top_k: 1, hidden: 8, capacity: 0.5",
      "experts: 1, top_k: 1",
      "experts: 4, top_k: 2, balance: switch(0.1), router: centred",
      "experts: 5, top_k: 1, hidden: 6, gating: noisy, balance: cv(0.1, 0.1), router: centred",
    ]) {
      const compiled = await build({ file: "small-moe.cond", text: source(moe) }, BATCH);
      const { wasm, gpu } = await pair(probe.device!, compiled, 6);
      resetCounters(wasm, "eval");
      await gpu.resetCounters("eval");
      for (const n of [1, BATCH]) await expectPredictionsClose(wasm, gpu, rows(data, 100, n).x, n, `${moe}: n = ${n}`);
      const want = collectFigures(wasm, "eval").layers.get("h")!;
      const got = (await gpu.figures("eval")).layers.get("h")!;
      expect(got.macsPerExample, `${moe}: MACs`).toBe(want.macsPerExample);
      expect(got.activeFraction, `${moe}: active fraction`).toBe(want.activeFraction);
      expect(closeness(got.metrics["expert_load"] as number[], want.metrics["expert_load"] as number[]), `${moe}: load`).toBe("");
      for (let step = 0; step < 2; step++) {
        const { x, y } = rows(data, 16 * step, BATCH);
        const gpuLoss = (await gpu.trainStep(x, y, BATCH)).loss;
        const wasmLoss = wasm.trainStep(x, y, BATCH).loss;
        expect(closeness([gpuLoss], [wasmLoss]), `${moe}: loss at step ${step + 1}`).toBe("");
      }
      await expectParamsClose(wasm, gpu, moe);
      // after training steps (a centred router's running centre is no longer zero)
      await expectPredictionsClose(wasm, gpu, rows(data, 200, BATCH).x, BATCH, `${moe}: after the steps`);
      gpu.destroy();
    }
  });

  it.skipIf(!probe.device)("the router z-loss (not built on the GPU) is refused, naming the layer and the option; auto takes wasm", async () => {
    for (const [moe, option] of [["experts: 4, top_k: 2, z_loss: 0.001", "z_loss"], ["experts: 4, top_k: 2, router: centred, z_loss: 0.01", "z_loss"]] as const) {
      const compiled = await build({ file: "small-moe.cond", text: source(moe) }, BATCH);
      const attempt = loadModel(compiled.wasm, compiled.manifest, { backend: "webgpu", gpu: probe.device! });
      await expect(attempt, moe).rejects.toThrow(GpuUnsupportedModelError);
      await expect(attempt, moe).rejects.toThrow(`layer 'h': moe option '${option}' is not built on the GPU`);
      const auto = await loadModel(compiled.wasm, compiled.manifest, { backend: "auto", gpu: probe.device! });
      expect(auto.backend, moe).toBe("wasm");
    }
  });

  it.skipIf(!probe.device)("200 steps: the loss ends within 2% of the wasm run's; checkpoints load across back ends", async () => {
    const compiled = await build({ file: "small-moe.cond", text: source("experts: 4, top_k: 2, balance: switch(0.1)") }, BATCH);
    const { wasm, gpu } = await pair(probe.device!, compiled, 0);
    const run = await trainBoth(wasm, gpu, data, 200, BATCH);
    console.info(`moe, 200 steps: mean loss of the last 20, wasm ${run.wasm.toFixed(5)}, GPU ${run.gpu.toFixed(5)} (first ${run.first.toFixed(5)})`);
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
