/**
 * @fileoverview The WebGPU back end's public API (`condc/webgpu`): acquire a device, build a
 * dense model on it from a compiled model, run it. No Node-only imports; in Node, get the entry
 * point from `condc/webgpu/node` (runtime/node/webgpu.ts).
 */
export { acquireGpuDevice, GpuDevice } from "./device.js";
export type { AcquireOptions, GpuAdapterSummary, GpuLimits } from "./device.js";
export { GpuModel } from "./model.js";
export { gpuModelSpec, checkSupported } from "./dense.js";
export type { GpuModelSpec, GpuParamSpec } from "./dense.js";
export {
  GpuDeviceLostError,
  GpuInternalError,
  GpuLimitError,
  GpuOutOfMemoryError,
  GpuUnavailableError,
  GpuUnsupportedModelError,
  GpuValidationError,
} from "./errors.js";
