/// <reference types="@webgpu/types" preserve="true" />
/**
 * @fileoverview Back-end selection for loadModel: `wasm` (the default), `webgpu` (the model on
 * the GPU; failures reject), or `auto` (WebGPU when a hardware adapter exists and the model fits
 * the device's limits, wasm otherwise: a software adapter is far slower than the wasm kernels).
 * Loaded on demand by loadModel, so a wasm-only app does not carry the GPU back end. Also the helpers that drive either kind of model (`AnyModel`).
 */
import type { Model } from "./model.js";
import type { GpuModel } from "./webgpu/model.js";
import type { GpuDevice } from "./webgpu/device.js";
import type { Dataset } from "./data/dataset.js";
import { analyzeModel, collectFigures, resetCounters, type ModelAnalyses, type ModelFigures, type Phase } from "./report.js";

export type Backend = "wasm" | "webgpu" | "auto";
const BACKENDS: readonly Backend[] = ["wasm", "webgpu", "auto"];

/** A model on either back end: the same methods, the GPU one's results as promises. */
export type AnyModel = Model | GpuModel;

export interface BackendOptions {
  /** Where the model runs; default "wasm". */
  backend?: Backend;
  /**
   * The GPU for "webgpu"/"auto": a GpuDevice (condc/webgpu's acquireGpuDevice, or in Node
   * condc/webgpu/node's acquireNodeGpuDevice), or a WebGPU entry point; `navigator.gpu` when omitted.
   * A device passed in stays the caller's; one acquired here is destroyed with the model.
   */
  gpu?: GpuDevice | GPU;
  /** "auto" only: told why the model runs on wasm when it does. */
  onFallback?: (reason: string) => void;
}

/** Checks the backend options (TypeError/RangeError naming the argument, before any work). */
export function checkBackendOptions(options: BackendOptions): void {
  if (options.backend !== undefined && !BACKENDS.includes(options.backend)) {
    throw new RangeError(`loadModel: options.backend must be "wasm", "webgpu" or "auto", got ${JSON.stringify(options.backend)}`);
  }
  if (options.onFallback !== undefined && typeof options.onFallback !== "function") throw new TypeError("loadModel: options.onFallback must be a function");
  if (options.gpu !== undefined && (typeof options.gpu !== "object" || options.gpu === null)) throw new TypeError("loadModel: options.gpu must be a GpuDevice or a WebGPU entry point (GPU)");
}

/**
 * The model on the requested back end, from its wasm build already loaded (`host`): "webgpu"
 * rejects with the GPU error (GpuUnavailableError, GpuUnsupportedModelError, GpuLimitError,
 * GpuOutOfMemoryError); "auto" returns `host` itself after any of those, telling `onFallback` why.
 */
export async function onBackend(host: Model, options: BackendOptions): Promise<AnyModel> {
  const backend = options.backend ?? "wasm";
  if (backend === "wasm") return host;
  const [{ GpuModel }, { GpuDevice, acquireGpuDevice }, errors] = await Promise.all([
    import("./webgpu/model.js"),
    import("./webgpu/device.js"),
    import("./webgpu/errors.js"),
  ]);
  const given = options.gpu instanceof GpuDevice ? options.gpu : null;
  let acquired: GpuDevice | null = null;
  try {
    const device = given ?? (acquired = await acquireGpuDevice({ gpu: options.gpu as GPU | undefined }));
    // A software adapter emulates the GPU on the CPU, far slower than the wasm kernels.
    if (backend === "auto" && device.adapter.isFallbackAdapter) {
      acquired?.destroy();
      options.onFallback?.(`the WebGPU adapter is a software one (${device.describe()})`);
      return host;
    }
    return await GpuModel.create(device, host, { ownsDevice: acquired !== null });
  } catch (error) {
    acquired?.destroy();
    const fallback =
      error instanceof errors.GpuUnavailableError ||
      error instanceof errors.GpuUnsupportedModelError ||
      error instanceof errors.GpuLimitError ||
      error instanceof errors.GpuOutOfMemoryError;
    if (backend === "auto" && fallback) {
      options.onFallback?.((error as Error).message);
      return host;
    }
    throw error;
  }
}

/** True for a model on the GPU. */
export function isGpuModel(model: AnyModel): model is GpuModel {
  return model.backend === "webgpu";
}

/** Zeroes the methods' counters of a phase (before an epoch or an evaluation). */
export async function resetCountersOf(model: AnyModel, phase: Phase): Promise<void> {
  if (isGpuModel(model)) await model.resetCounters(phase);
  else resetCounters(model, phase);
}

/** The shared figures (docs/reports.md) since the last reset, from either back end. */
export async function figuresOf(model: AnyModel, phase: Phase): Promise<ModelFigures> {
  return isGpuModel(model) ? model.figures(phase) : collectFigures(model, phase);
}

/** The methods' after-epoch hooks (the low-rank refresh runs on the host with the GPU's weights). */
export async function afterEpochOf(model: AnyModel, epoch: { index: number; last: boolean }): Promise<void> {
  if (isGpuModel(model)) await model.afterEpoch(epoch);
  else for (const g of model.methodGroups()) g.runtime.afterEpoch?.(model, g.layers, epoch);
}

/**
 * The methods' extra measurements (`condc eval`): on a GPU model they run on its wasm host with
 * the GPU's weights copied in (they are properties of the weights, measured by the wasm kernels).
 */
export async function analyzeOf(model: AnyModel, data: Dataset): Promise<ModelAnalyses> {
  return isGpuModel(model) ? model.withHost((host) => analyzeModel(host, data)) : analyzeModel(model, data);
}
