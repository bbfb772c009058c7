/**
 * @fileoverview The error for saved weights that cannot be stored or read back: no such
 * record, not a condc record, truncated, corrupt, or the storage itself unavailable.
 */
import { CheckpointError } from "../checkpoint/errors.js";

/** A stored model record that is missing, truncated or corrupt; `file` is the URL. */
export class StorageError extends CheckpointError {
  constructor(url: string, problem: string) {
    super(url, problem);
    this.name = "StorageError";
  }
}
