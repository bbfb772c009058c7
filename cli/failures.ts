/**
 * @fileoverview Which failures are the user's to fix (their data, checkpoint, files or training
 * run): one line and exit 1, never "internal error". Imports only the error classes, so that
 * `cli/main.ts` can tell them apart without loading the compiler or the runtime.
 */
import { CheckpointError } from "../runtime/checkpoint/errors.js";
import { DataError } from "../runtime/data/errors.js";
import { DivergenceError, ModelLoadError, NonFiniteError } from "../runtime/errors.js";
import { FileAccessError, FileWriteError } from "../runtime/node/files.js";
import { GpuDeviceLostError, GpuLimitError, GpuOutOfMemoryError, GpuUnavailableError, GpuUnsupportedModelError } from "../runtime/webgpu/errors.js";

/**
 * Failures of the user's data, checkpoint, files, training run or GPU (none there, a model it
 * cannot run, a device lost): one line, exit 1, not a bug.
 */
export function isExpectedFailure(error: unknown): error is Error {
  return (
    error instanceof DataError ||
    error instanceof CheckpointError ||
    error instanceof NonFiniteError ||
    error instanceof DivergenceError ||
    error instanceof ModelLoadError ||
    error instanceof FileAccessError ||
    error instanceof FileWriteError ||
    error instanceof GpuUnavailableError ||
    error instanceof GpuUnsupportedModelError ||
    error instanceof GpuLimitError ||
    error instanceof GpuOutOfMemoryError ||
    error instanceof GpuDeviceLostError
  );
}
