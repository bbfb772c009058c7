/**
 * @fileoverview The error raised for unusable checkpoint files: the message names the file
 * and says what is wrong (every mismatch at once, when comparing against a model).
 */

/** A checkpoint that cannot be read or does not fit the model; `file` labels the message. */
export class CheckpointError extends Error {
  readonly file: string;

  constructor(file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = "CheckpointError";
    this.file = file;
  }
}

/** Where a tensor first holds NaN or ±Infinity, and how many such values it holds. */
export interface NonFiniteTensor {
  name: string;
  /** Flat (row-major) index of the first non-finite value. */
  index: number;
  value: number;
  count: number;
}

/**
 * A checkpoint whose weights are not all finite (or F64 values beyond the f32 range): loading
 * it would make every prediction NaN. Lists each such tensor with its first index.
 */
export class NonFiniteCheckpointError extends CheckpointError {
  /** The tensors holding NaN or ±Infinity (F64 values out of f32 range are only in the message). */
  readonly tensors: readonly NonFiniteTensor[];

  constructor(file: string, problems: readonly string[], tensors: readonly NonFiniteTensor[]) {
    const what = problems.length === 1 ? "1 tensor" : `${problems.length} tensors`;
    super(file, `non-finite weights in ${what} (refused; allowNonFinite loads them for debugging):\n  ${problems.join("\n  ")}`);
    this.name = "NonFiniteCheckpointError";
    this.tensors = tensors;
  }
}
