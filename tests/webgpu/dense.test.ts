/**
 * @fileoverview examples/mnist-dense.cond on the GPU against its wasm build, from the same
 * weights (wasm init(0), copied over): predictions within 1e-4 relative, one training step's
 * loss and parameters within 1e-4, 200 steps reaching a loss within 2% of the wasm run,
 * checkpoints moving both ways, bit-identical reruns (no atomics), and the golden BranchyAdam
 * model (Adam, L1 penalties, tanh and sigmoid, a shared source whose delta accumulates, a layer
 * the loss ignores). Batches of 32 (max batch 32): a step at 128 takes about a second on the
 * software adapter, which would make the 200-step run several minutes.
 */
import v8 from "node:v8";
v8.setFlagsFromString("--experimental-wasm-relaxed-simd");

import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile, type CompileSuccess } from "../../compiler/index.js";
import type { Dataset } from "../../runtime/data/dataset.js";
import { loadModel, NonFiniteError, type Model } from "../../runtime/model.js";
import { loadDataset } from "../../runtime/node/data.js";
import type { GpuModel } from "../../runtime/webgpu/model.js";
import { probeGpu, skipNote } from "./gpu.js";
import { closeness } from "./reference.js";

const probe = await probeGpu();
afterAll(() => probe.device?.destroy());

const MAX_BATCH = 32;

async function build(file: string, maxBatch = MAX_BATCH): Promise<CompileSuccess> {
  const compiled = await compile(readFileSync(file, "utf8"), { file, maxBatch, simd: "plain" });
  if (!compiled.ok) throw new Error(`${file}: ${compiled.diagnostics.map((d) => d.message).join("; ")}`);
  return compiled;
}

/** A GPU model from loadModel's "webgpu" back end (no init). */
async function gpuModel(compiled: CompileSuccess): Promise<GpuModel> {
  const model = await loadModel(compiled.wasm, compiled.manifest, { backend: "webgpu", gpu: probe.device! });
  if (model.backend !== "webgpu") throw new Error("expected a GPU model");
  return model;
}

/** A wasm model and a GPU model, both after init(seed). */
async function pair(compiled: CompileSuccess, seed = 0): Promise<{ wasm: Model; gpu: GpuModel }> {
  const wasm = await loadModel(compiled.wasm, compiled.manifest);
  wasm.init(seed);
  const gpu = await gpuModel(compiled);
  await gpu.init(seed);
  return { wasm, gpu };
}

function rows(ds: Dataset, start: number, n: number): { x: Float32Array; y: Int32Array } {
  const width = ds.width;
  return { x: ds.images.slice(start * width, (start + n) * width), y: Int32Array.from(ds.labels.subarray(start, start + n)) };
}

/** Parameters compared element-wise within 1e-4 of max(|wasm|, 1e-3·max|tensor|): see the note at the use. */
async function expectParamsClose(wasm: Model, gpu: GpuModel, what: string): Promise<void> {
  for (const p of wasm.manifest.params) {
    const want = wasm.parameter(p.name);
    const got = await gpu.parameter(p.name);
    const floor = 1e-3 * want.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    expect(closeness(got, want, want.map(() => floor)), `${what}: ${p.name}`).toBe("");
  }
}

describe(`examples/mnist-dense.cond: GPU against the wasm build${skipNote(probe)}`, () => {
  let compiled: CompileSuccess;
  let train: Dataset;
  let test: Dataset;

  beforeAll(async () => {
    if (!probe.device) return;
    compiled = await build("examples/mnist-dense.cond");
    ({ train, test } = await loadDataset({ kind: "mnist" }));
  });

  it.skipIf(!probe.device)("right after init(0), save() is byte-identical to the wasm model's", async () => {
    const { wasm, gpu } = await pair(compiled);
    expect(Buffer.from(await gpu.save()).equals(Buffer.from(wasm.save()))).toBe(true);
    gpu.destroy();
  });

  it.skipIf(!probe.device)("predictions within 1e-4 relative: n = 1 and 3 (small-rows kernel), 32, 75 (chunks of the max batch)", async () => {
    const { wasm, gpu } = await pair(compiled);
    for (const n of [1, 3, MAX_BATCH, 75]) {
      const { x } = rows(test, 100, n);
      expect(closeness(await gpu.predict(x, n), wasm.predict(x, n)), `n = ${n}`).toBe("");
    }
    expect(await gpu.predict(new Float32Array(0), 0)).toEqual(new Float32Array(0));
    gpu.destroy();
  });

  it.skipIf(!probe.device)("one trainStep: the loss and every parameter within 1e-4 relative; the step count follows", async () => {
    const { wasm, gpu } = await pair(compiled);
    const { x, y } = rows(train, 0, MAX_BATCH);
    const gpuLoss = (await gpu.trainStep(x, y, MAX_BATCH)).loss;
    const wasmLoss = wasm.trainStep(x, y, MAX_BATCH).loss;
    expect(closeness([gpuLoss], [wasmLoss]), "loss").toBe("");
    // A bias starts at 0 and moves by lr·Σ_rows δ, a sum that can cancel to almost nothing in
    // either back end's order: each tensor's elements are compared against 1e-4 of at least
    // 1e-3 of the tensor's largest magnitude.
    await expectParamsClose(wasm, gpu, "after one step");
    expect(gpu.step).toBe(wasm.step);
    gpu.destroy();
  });

  it.skipIf(!probe.device)("200 steps (batches of 32, the file's SGD + momentum): the loss ends within 2% of the wasm run's", async () => {
    const { wasm, gpu } = await pair(compiled);
    const wasmLosses: number[] = [];
    const gpuLosses: number[] = [];
    for (let step = 0; step < 200; step++) {
      const { x, y } = rows(train, (step * MAX_BATCH) % (train.count - MAX_BATCH), MAX_BATCH);
      gpuLosses.push((await gpu.trainStep(x, y, MAX_BATCH)).loss);
      wasmLosses.push(wasm.trainStep(x, y, MAX_BATCH).loss);
    }
    const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
    const last = (values: number[]) => mean(values.slice(-20));
    console.info(`200 steps: mean loss of the last 20, wasm ${last(wasmLosses).toFixed(5)}, GPU ${last(gpuLosses).toFixed(5)} (first: ${wasmLosses[0]!.toFixed(5)})`);
    expect(last(wasmLosses)).toBeLessThan(0.5 * wasmLosses[0]!);
    expect(Math.abs(last(gpuLosses) - last(wasmLosses)) / last(wasmLosses)).toBeLessThan(0.02);
    // The held-out loss of the trained weights, computed from each back end's predictions.
    const n = 500;
    const { x, y } = rows(test, 0, n);
    const heldOut = (probs: Float32Array) => mean(Array.from(y, (label, i) => -Math.log(Math.max(probs[i * 10 + label]!, 1e-30))));
    const wasmHeldOut = heldOut(wasm.predict(x, n));
    const gpuHeldOut = heldOut(await gpu.predict(x, n));
    expect(Math.abs(gpuHeldOut - wasmHeldOut) / wasmHeldOut).toBeLessThan(0.02);
    gpu.destroy();
  }, 600_000);

  it.skipIf(!probe.device)("checkpoints move between back ends: GPU save() loads into wasm, wasm save() into the GPU", async () => {
    const { wasm, gpu } = await pair(compiled);
    for (let step = 0; step < 2; step++) {
      const { x, y } = rows(train, step * MAX_BATCH, MAX_BATCH);
      await gpu.trainStep(x, y, MAX_BATCH);
    }
    const { x } = rows(test, 0, 8);
    const fromGpu = await gpu.save();
    wasm.load(fromGpu, "gpu.safetensors");
    expect(wasm.step).toBe(2);
    expect(closeness(wasm.predict(x, 8), await gpu.predict(x, 8)), "wasm loaded from the GPU").toBe("");
    // And back: the wasm model's own save() (of the same weights) into a fresh GPU model.
    const fresh = await gpuModel(compiled);
    await fresh.load(wasm.save(), "wasm.safetensors");
    expect(fresh.step).toBe(2);
    expect(Buffer.from(await fresh.save()).equals(Buffer.from(fromGpu))).toBe(true);
    fresh.destroy();
    gpu.destroy();
  });

  it.skipIf(!probe.device)("deterministic: the same three steps from the same weights give bit-identical losses and parameters", async () => {
    const runs: Array<{ losses: number[]; save: Uint8Array }> = [];
    for (let run = 0; run < 2; run++) {
      const { gpu } = await pair(compiled);
      const losses: number[] = [];
      for (let step = 0; step < 3; step++) {
        const { x, y } = rows(train, 500 + step * MAX_BATCH, MAX_BATCH);
        losses.push((await gpu.trainStep(x, y, MAX_BATCH)).loss);
      }
      runs.push({ losses, save: await gpu.save() });
      gpu.destroy();
    }
    expect(runs[1]!.losses).toEqual(runs[0]!.losses);
    expect(Buffer.from(runs[1]!.save).equals(Buffer.from(runs[0]!.save))).toBe(true);
  });

  it.skipIf(!probe.device)("a diverging run: NonFiniteError naming the same step and layer as the wasm model's", async () => {
    const { wasm, gpu } = await pair(compiled);
    const { x, y } = rows(train, 0, MAX_BATCH);
    const diverge = async (step: () => Promise<unknown>): Promise<Error> => {
      for (let i = 0; i < 10; i++) {
        try {
          await step();
        } catch (error) {
          return error as Error;
        }
      }
      throw new Error("did not diverge in 10 steps");
    };
    const wasmError = await diverge(async () => wasm.trainStep(x, y, MAX_BATCH, { lr: 1e30 }));
    const gpuError = await diverge(() => gpu.trainStep(x, y, MAX_BATCH, { lr: 1e30 }));
    expect(gpuError).toBeInstanceOf(NonFiniteError);
    expect(gpuError.message).toBe(wasmError.message);
    gpu.destroy();
  });

  it.skipIf(!probe.device)("bad input: a RangeError naming the problem, and the model as it was", async () => {
    const { gpu } = await pair(compiled);
    const before = await gpu.save();
    const { x, y } = rows(train, 0, 4);
    await expect(gpu.trainStep(x, y, 0)).rejects.toThrow(/n must be an integer in \[1, 32\], got 0/);
    await expect(gpu.trainStep(x, y, 33)).rejects.toThrow(RangeError);
    await expect(gpu.trainStep(x, Int32Array.from([1, 2, 10, 3]), 4)).rejects.toThrow(/label 10 of example 2 is not a class in \[0, 10\)/);
    await expect(gpu.predict(x, 5)).rejects.toThrow(/x holds 3136 values, 5 examples of width 784 need 3920/);
    // The same messages as the wasm Model's.
    const wasm = await loadModel(compiled.wasm, compiled.manifest);
    const thrown = (call: () => unknown) => { try { call(); return ""; } catch (error) { return (error as Error).message; } };
    await expect(gpu.trainStep(x, y, 0)).rejects.toThrow(thrown(() => wasm.trainStep(x, y, 0)));
    await expect(gpu.predict(x, 5)).rejects.toThrow(thrown(() => wasm.predict(x, 5)));
    await expect(gpu.load(new Uint8Array([1, 2, 3]), "broken.safetensors")).rejects.toThrow(/broken\.safetensors/);
    expect(Buffer.from(await gpu.save()).equals(Buffer.from(before))).toBe(true);
    expect(gpu.step).toBe(0);
    gpu.destroy();
  });
});

describe(`tests/goldens/branchy-adam.cond (Adam, L1, tanh, sigmoid, accumulated deltas, a dead layer): GPU against wasm${skipNote(probe)}`, () => {
  it.skipIf(!probe.device)("predictions, then five steps: each loss and the parameters within 1e-4 relative", async () => {
    const compiled = await build("tests/goldens/branchy-adam.cond", 16);
    const { wasm, gpu } = await pair(compiled, 3);
    const width = compiled.manifest.input.width;
    const n = 13;
    let s = 7;
    const next = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
    const x = new Float32Array(n * width).map(next);
    const y = Int32Array.from({ length: n }, (_, i) => i % compiled.manifest.classes);
    expect(closeness(await gpu.predict(x, n), wasm.predict(x, n)), "predictions").toBe("");
    for (let step = 0; step < 5; step++) {
      const gpuLoss = (await gpu.trainStep(x, y, n)).loss;
      const wasmLoss = wasm.trainStep(x, y, n).loss;
      expect(closeness([gpuLoss], [wasmLoss]), `loss at step ${step + 1}`).toBe("");
    }
    await expectParamsClose(wasm, gpu, "after five Adam steps");
    // The layer the loss ignores is never updated, on either back end.
    expect(await gpu.parameter("dead.weight")).toEqual(wasm.parameter("dead.weight"));
    gpu.destroy();
  });
});
