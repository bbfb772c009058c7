/**
 * @fileoverview The WebGPU browser test's page module (served as /tests/webgpu/page.js beside
 * /runtime/**): loads a model's wasm build with loadModel's "webgpu" back end (`navigator.gpu`),
 * init(seed) as the wasm build would, then predict, one trainStep, predict and save. Bytes cross
 * the CDP boundary as base64.
 */
import { loadModel, type Manifest } from "../../runtime/index.js";
import { GpuUnavailableError } from "../../runtime/webgpu/index.js";

async function fetchBytes(url: string): Promise<Uint8Array> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`GET ${url}: ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

function base64(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

const asBytes = (values: Float32Array) => new Uint8Array(values.buffer, values.byteOffset, values.byteLength);

export type PageResult =
  | { available: false; reason: string }
  | { available: true; backend: string; adapter: string; before: string; loss: number; after: string; save: string; step: number };

export async function runGpuInPage(name: string, n: number, seed: number): Promise<PageResult> {
  const manifest = (await (await fetch(`/model/${name}.json`)).json()) as Manifest;
  let model;
  try {
    model = await loadModel(await fetchBytes(`/model/${name}.wasm`), manifest, { backend: "webgpu" });
  } catch (error) {
    if (error instanceof GpuUnavailableError) return { available: false, reason: error.message };
    throw error;
  }
  if (model.backend !== "webgpu") throw new Error(`backend "webgpu" gave a ${model.backend} model`);
  try {
    await model.init(seed);
    const x = new Float32Array((await fetchBytes("/model/x.bin")).buffer);
    const y = new Int32Array((await fetchBytes("/model/y.bin")).buffer);
    const before = await model.predict(x, n);
    const { loss } = await model.trainStep(x, y, n);
    const after = await model.predict(x, n);
    const save = await model.save();
    return { available: true, backend: model.backend, adapter: model.gpu.describe(), before: base64(asBytes(before)), loss, after: base64(asBytes(after)), save: base64(save), step: model.step };
  } finally {
    model.destroy();
  }
}
