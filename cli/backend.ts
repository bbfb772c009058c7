/**
 * @fileoverview `--backend wasm|webgpu|auto` of train, eval and bench: the GPU device for it and
 * models on it. In Node the GPU is Dawn (the npm `webgpu` package), with SwiftShader's driver
 * offered when Debian's chromium ships it; `auto` takes the GPU only when a hardware adapter is
 * there and the model fits it (loadModel decides), and says why when it takes wasm.
 */
import type { AnyModel, Backend } from "../runtime/backend.js";
import type { Manifest } from "../runtime/manifest.js";
import { loadModel } from "../runtime/model.js";
import type { GpuDevice } from "../runtime/webgpu/device.js";
import { CliError } from "./io.js";

export const BACKEND_USAGE = `  --backend B     wasm (default), webgpu (the GPU; a software adapter is used if it is the only one)
                  or auto (a hardware GPU when there is one and the model fits it, wasm otherwise)`;

export function parseBackend(command: string, value: string | boolean | undefined): Backend {
  if (value === undefined) return "wasm";
  if (value === "wasm" || value === "webgpu" || value === "auto") return value;
  throw new CliError(`condc ${command}: --backend must be wasm, webgpu or auto, got '${String(value)}'`);
}

/** The GPU for a back end: null for wasm, and for auto when there is none (`note` says why). */
export async function cliDevice(backend: Backend, note: (line: string) => void): Promise<GpuDevice | null> {
  if (backend === "wasm") return null;
  const { acquireNodeGpuDevice, CHROMIUM_SWIFTSHADER_ICD } = await import("../runtime/node/webgpu.js");
  const { GpuUnavailableError } = await import("../runtime/webgpu/errors.js");
  const { existsSync } = await import("node:fs");
  try {
    return await acquireNodeGpuDevice({ vulkanDrivers: existsSync(CHROMIUM_SWIFTSHADER_ICD) ? [CHROMIUM_SWIFTSHADER_ICD] : [] });
  } catch (error) {
    if (backend === "auto" && error instanceof GpuUnavailableError) {
      note(`backend: wasm (${error.message})`);
      return null;
    }
    throw error;
  }
}

/** A compiled model on `backend` (with `device` from cliDevice); `note` is told what runs where. */
export async function loadOn(wasm: Uint8Array, manifest: Manifest, backend: Backend, device: GpuDevice | null, note: (line: string) => void, threads?: number): Promise<AnyModel> {
  const threading = threads === undefined ? {} : { threads };
  if (!device) return loadModel(wasm, manifest, threading);
  const model = await loadModel(wasm, manifest, { ...threading, backend, gpu: device, onFallback: (reason) => note(`backend: wasm (${reason})`) });
  if (model.backend === "webgpu") note(`backend: webgpu, ${device.describe()}`);
  return model;
}

/** The model on `backend`, with a device of its own (released with it by `release`). */
export async function loadOnBackend(wasm: Uint8Array, manifest: Manifest, backend: Backend, note: (line: string) => void, threads?: number): Promise<AnyModel> {
  const device = await cliDevice(backend, note);
  try {
    const model = await loadOn(wasm, manifest, backend, device, note, threads);
    if (model.backend !== "webgpu") device?.destroy();
    return model;
  } catch (error) {
    device?.destroy();
    throw error;
  }
}

/** Frees a GPU model and its device (Dawn keeps the process alive while they live). */
export function release(model: AnyModel): void {
  if (model.backend !== "webgpu") return;
  model.destroy();
  model.gpu.destroy();
}
