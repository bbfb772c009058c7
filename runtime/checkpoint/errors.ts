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
