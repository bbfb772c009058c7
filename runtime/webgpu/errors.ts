/**
 * @fileoverview The errors the WebGPU back end rejects with: one class per cause, so a caller
 * can tell "no GPU here" (fall back to wasm) from "the device went away" (reload from the last
 * save()) from "this model does not fit" (use wasm or a smaller batch).
 */

/** No WebGPU here: no `navigator.gpu`, no adapter, or the Node bindings are missing. */
export class GpuUnavailableError extends Error {
  constructor(reason: string) {
    super(`WebGPU is not available: ${reason}`);
    this.name = "GpuUnavailableError";
  }
}

/** The device was lost (driver reset, destroy(), GPU removed); the model must be reloaded. */
export class GpuDeviceLostError extends Error {
  constructor(readonly reason: string, detail: string, readonly during: string) {
    super(`the GPU device was lost during ${during} (${reason}${detail ? `: ${detail}` : ""}); reload the model from its last save()`);
    this.name = "GpuDeviceLostError";
  }
}

/** The GPU ran out of memory during an operation. */
export class GpuOutOfMemoryError extends Error {
  constructor(detail: string, readonly during: string) {
    super(`the GPU ran out of memory during ${during}: ${detail}`);
    this.name = "GpuOutOfMemoryError";
  }
}

/**
 * WebGPU rejected an operation (a shader that does not compile, a binding that does not fit):
 * a bug in the back end, reported with the implementation's own message.
 */
export class GpuValidationError extends Error {
  constructor(detail: string, readonly during: string) {
    super(`WebGPU validation failed during ${during}: ${detail}`);
    this.name = "GpuValidationError";
  }
}

/** The implementation failed internally (e.g. a shader too large for the driver). */
export class GpuInternalError extends Error {
  constructor(detail: string, readonly during: string) {
    super(`the WebGPU implementation failed during ${during}: ${detail}`);
    this.name = "GpuInternalError";
  }
}

/** A model or buffer that exceeds what the device allows (checked before anything is allocated). */
export class GpuLimitError extends RangeError {
  constructor(message: string) {
    super(message);
    this.name = "GpuLimitError";
  }
}

/** A model the WebGPU back end cannot run yet (a gated or tree layer, an unknown optimizer). */
export class GpuUnsupportedModelError extends Error {
  constructor(model: string, problems: string[]) {
    super(`model '${model}' cannot run on the WebGPU back end yet: ${problems.join("; ")}`);
    this.name = "GpuUnsupportedModelError";
  }
}
