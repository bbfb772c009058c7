/**
 * @fileoverview The error raised for unusable data files: its message always names the file
 * (or data set) and says what is wrong, so it can be printed to a user as is.
 */

/** A data set file or directory that cannot be used; `file` is the label used in the message. */
export class DataError extends Error {
  readonly file: string;

  constructor(file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = "DataError";
    this.file = file;
  }
}
