/**
 * @fileoverview The WebGPU browser test's page module (served as /tests/webgpu/page.js beside
 * /runtime/**): loads the wasm build, initialises it, acquires `navigator.gpu`'s device, copies
 * the weights to a GpuModel and runs predict, one trainStep, predict, save. Bytes cross the CDP
 * boundary as base64.
 */
import { loadModel } from "../../runtime/index.js";
import { acquireGpuDevice, GpuModel, GpuUnavailableError, type GpuModelSpec } from "../../runtime/webgpu/index.js";

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
  | { available: true; adapter: string; before: string; loss: number; after: string; save: string; step: number };

export async function runGpuInPage(n: number, seed: number): Promise<PageResult> {
  const spec = (await (await fetch("/model/spec.json")).json()) as GpuModelSpec;
  const wasm = await loadModel(await fetchBytes("/model/plain.wasm"), spec.manifest);
  wasm.init(seed);
  let device;
  try {
    device = await acquireGpuDevice();
  } catch (error) {
    if (error instanceof GpuUnavailableError) return { available: false, reason: error.message };
    throw error;
  }
  try {
    const gpu = await GpuModel.create(device, spec);
    await gpu.copyFrom(wasm);
    const x = new Float32Array((await fetchBytes("/model/x.bin")).buffer);
    const y = new Int32Array((await fetchBytes("/model/y.bin")).buffer);
    const before = await gpu.predict(x, n);
    const { loss } = await gpu.trainStep(x, y, n);
    const after = await gpu.predict(x, n);
    const save = await gpu.save();
    gpu.destroy();
    return { available: true, adapter: device.describe(), before: base64(asBytes(before)), loss, after: base64(asBytes(after)), save: base64(save), step: gpu.step };
  } finally {
    device.destroy();
  }
}
