/**
 * @fileoverview The WebGPU back end's public API (`condc/webgpu`): acquire a device, build a model
 * on it from a wasm model of the same build, run it; the types a method's GPU program is written
 * against. No Node-only imports; in Node, get the entry point from `condc/webgpu/node`
 * (runtime/node/webgpu.ts). Most apps call `loadModel(wasm, manifest, { backend })` instead.
 */
export { acquireGpuDevice, GpuDevice } from "./device.js";
export type { AcquireOptions, GpuAdapterSummary, GpuLimits } from "./device.js";
export { GpuModel } from "./model.js";
export { defineGpuMethod } from "./method.js";
export type { GpuCall, GpuContext, GpuLayer, GpuMethod, GpuParam, GpuPhase, GpuRegionRequest, GpuSourceDelta } from "./method.js";
export type { Step } from "./executor.js";
export type { Kernel, KernelBinding } from "./kernels/wgsl.js";
export {
  GpuDeviceLostError,
  GpuInternalError,
  GpuLimitError,
  GpuOutOfMemoryError,
  GpuUnavailableError,
  GpuUnsupportedModelError,
  GpuValidationError,
} from "./errors.js";
