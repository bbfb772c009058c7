/**
 * @fileoverview What the GPU-against-wasm tests share: compiling a model, a wasm model and a GPU
 * model after the same init(seed), learnable synthetic data for small models, and the element-wise
 * comparisons (predictions within 1e-4 relative; parameters within 1e-4 of at least 1e-3 of the
 * tensor's largest magnitude, since a bias moves by sums that cancel differently in each order).
 */
import { readFileSync } from "node:fs";
import { expect } from "vitest";
import { compile, type CompileSuccess } from "../../compiler/index.js";
import type { Dataset } from "../../runtime/data/dataset.js";
import { loadModel, type Model } from "../../runtime/model.js";
import type { GpuDevice } from "../../runtime/webgpu/device.js";
import type { GpuModel } from "../../runtime/webgpu/model.js";
import { closeness } from "./reference.js";

export async function build(source: { file: string; text?: string }, maxBatch: number): Promise<CompileSuccess> {
  const text = source.text ?? readFileSync(source.file, "utf8");
  const compiled = await compile(text, { file: source.file, maxBatch, simd: "plain" });
  if (!compiled.ok) throw new Error(`${source.file}: ${compiled.diagnostics.map((d) => d.message).join("; ")}`);
  return compiled;
}

export async function gpuModel(device: GpuDevice, compiled: CompileSuccess): Promise<GpuModel> {
  const model = await loadModel(compiled.wasm, compiled.manifest, { backend: "webgpu", gpu: device });
  if (model.backend !== "webgpu") throw new Error("expected a GPU model");
  return model;
}

/** A wasm model and a GPU model, both after init(seed). */
export async function pair(device: GpuDevice, compiled: CompileSuccess, seed = 0): Promise<{ wasm: Model; gpu: GpuModel }> {
  const wasm = await loadModel(compiled.wasm, compiled.manifest);
  wasm.init(seed);
  const gpu = await gpuModel(device, compiled);
  await gpu.init(seed);
  return { wasm, gpu };
}

/**
 * A learnable synthetic set: inputs uniform in [0, 1) with a fifth of them 0 (ReLU-like
 * sparsity), labels the argmax of a fixed random linear map of the centred input.
 */
export function syntheticData(width: number, classes: number, count: number, seed: number): Dataset {
  let s = (seed * 2654435761) >>> 0 || 1;
  const next = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
  const map = Float64Array.from({ length: classes * width }, () => next() * 2 - 1);
  const images = new Float32Array(count * width);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    for (let k = 0; k < width; k++) images[i * width + k] = next() < 0.2 ? 0 : next();
    let best = 0;
    let bestValue = -Infinity;
    for (let c = 0; c < classes; c++) {
      let v = 0;
      for (let k = 0; k < width; k++) v += map[c * width + k]! * (images[i * width + k]! - 0.4);
      if (v > bestValue) {
        bestValue = v;
        best = c;
      }
    }
    labels[i] = best;
  }
  return { name: `synthetic-${width}x${classes}`, count, width, classes, images, labels };
}

export function rows(ds: Dataset, start: number, n: number): { x: Float32Array; y: Int32Array } {
  const width = ds.width;
  return { x: ds.images.slice(start * width, (start + n) * width), y: Int32Array.from(ds.labels.subarray(start, start + n)) };
}

/**
 * Every parameter within 1e-4 of its scale: max(|value|, 1e-3 · the tensor's largest magnitude,
 * and, where `scales` has the tensor, its element there: e.g. Σ|terms| of its updates, where the
 * gradient is a sum that cancels to far below its terms and f32 rounding in either order is that large).
 */
export async function expectParamsClose(wasm: Model, gpu: GpuModel, what: string, scales: Record<string, Float64Array> = {}): Promise<void> {
  for (const p of wasm.manifest.params) {
    const want = wasm.parameter(p.name);
    const got = await gpu.parameter(p.name);
    const floor = 1e-3 * want.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    const own = scales[p.name];
    expect(closeness(got, want, own ? own.map((v) => Math.max(v, floor)) : want.map(() => floor)), `${what}: ${p.name}`).toBe("");
  }
}

/**
 * Adds, for a layer's policy-like parameters W [inputs x cols] and b [cols] updated by lr · (Xᵀ E)
 * and lr · colsum E, each element's Σ|terms| (lr · Σ_i |x_ik e_ij| and lr · Σ_i |e_ij|) from the
 * wasm model's regions after a step: the scale f32 rounding of those sums is relative to.
 */
export function addUpdateScales(wasm: Model, scales: Record<string, Float64Array>, weight: string, bias: string, x: string, e: string, n: number, inputs: number, cols: number, lr: number): void {
  const xs = wasm.regionView(x);
  const es = wasm.regionView(e);
  const w = (scales[weight] ??= new Float64Array(inputs * cols));
  const b = (scales[bias] ??= new Float64Array(cols));
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < cols; j++) {
      const ev = Math.abs(es[i * cols + j]!);
      b[j] += lr * ev;
      for (let k = 0; k < inputs; k++) w[k * cols + j] += lr * ev * Math.abs(xs[i * inputs + k]!);
    }
  }
}

export async function expectPredictionsClose(wasm: Model, gpu: GpuModel, x: Float32Array, n: number, what: string): Promise<void> {
  expect(closeness(await gpu.predict(x, n), wasm.predict(x, n)), what).toBe("");
}

export const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;

/**
 * `steps` training steps on both back ends over the same batches; returns the mean loss of the
 * last 20 steps on each, and the first loss.
 */
export async function trainBoth(wasm: Model, gpu: GpuModel, data: Dataset, steps: number, batch: number): Promise<{ wasm: number; gpu: number; first: number }> {
  const wasmLosses: number[] = [];
  const gpuLosses: number[] = [];
  for (let step = 0; step < steps; step++) {
    const { x, y } = rows(data, (step * batch) % (data.count - batch), batch);
    gpuLosses.push((await gpu.trainStep(x, y, batch)).loss);
    wasmLosses.push(wasm.trainStep(x, y, batch).loss);
  }
  return { wasm: mean(wasmLosses.slice(-20)), gpu: mean(gpuLosses.slice(-20)), first: wasmLosses[0]! };
}

/**
 * Σ|terms| scales of a tree layer's node gradients after one step (tree_weight and tree_bias),
 * from the wasm model's sorted rows and buckets: lr · Σ over the node's rows of |δ_ru| (biases)
 * and |δ_ru x_ri| (weights); the root over every row. Node biases and weights are sums over a
 * bucket's rows that cancel like any column sum.
 */
export function addTreeScales(wasm: Model, scales: Record<string, Float64Array>, n: number, lr: number): void {
  for (const layer of wasm.manifest.layers) {
    const weight = layer.params["tree_weight"];
    if (weight === undefined || layer.delta === null) continue;
    const { depth: k, levelLrMax, levelLr } = layer.options as { depth: number; levelLrMax: number; levelLr: string };
    const rate = lr * (levelLr === "uniform" ? 1 : levelLrMax);
    const { units, inputs } = layer;
    const nodes = 2 ** (k + 1) - 1;
    const ds = wasm.regionView(layer.regions["tree_ds"]!);
    const xs = wasm.regionView(layer.regions["tree_xs"]!);
    const leafStart = new Int32Array(wasm.wasmMemory.buffer, wasm.manifest.memory.regions.find((r) => r.name === layer.regions["tree_leafstart"])!.offset, 2 ** k + 1);
    const w = (scales[weight] ??= new Float64Array(nodes * units * inputs));
    const b = (scales[layer.params["tree_bias"]!] ??= new Float64Array(nodes * units));
    for (let l = 0; l <= k; l++) {
      for (let p = 0; p < 2 ** l; p++) {
        const node = 2 ** l - 1 + p;
        const [s, e] = l === 0 ? [0, n] : [leafStart[p << (k - l)]!, leafStart[(p + 1) << (k - l)]!];
        for (let r = s; r < e; r++) {
          for (let u = 0; u < units; u++) {
            const d = Math.abs(ds[r * units + u]!);
            b[node * units + u] += rate * d;
            for (let i = 0; i < inputs; i++) w[(node * units + u) * inputs + i] += rate * d * Math.abs(xs[r * inputs + i]!);
          }
        }
      }
    }
  }
}

/**
 * Σ|terms| scales of the layers' `bias` updates after one step: lr · Σ_rows |δ_rj| from the wasm
 * model's delta regions (a bias gradient is the column sum of δ, which cancels like any sum).
 */
export function addBiasScales(wasm: Model, scales: Record<string, Float64Array>, n: number, lr: number): void {
  for (const layer of wasm.manifest.layers) {
    const bias = layer.params["bias"];
    if (bias === undefined || layer.delta === null) continue;
    const delta = wasm.regionView(layer.delta);
    const b = (scales[bias] ??= new Float64Array(layer.units));
    for (let i = 0; i < n; i++) for (let j = 0; j < layer.units; j++) b[j] += lr * Math.abs(delta[i * layer.units + j]!);
  }
}
