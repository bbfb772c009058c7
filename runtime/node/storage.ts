/**
 * @fileoverview The file backend of saveModel / loadWeights in Node: plain paths and file://
 * URLs, written atomically (temp file, fsync, rename), read with one-line errors that name
 * the user's path (never the temp file).
 */
import { fileURLToPath } from "node:url";
import { StorageError } from "../storage/errors.js";
import { setFileStorage, type StorageBackend, type StorageLocation } from "../storage/storage.js";
import { readFileOrExplain, writeFileAtomic } from "./files.js";

const pathOf = (location: StorageLocation): string => (location.url.toLowerCase().startsWith("file://") ? fileURLToPath(location.url) : location.name);

const WRITE_REASONS: Record<string, string> = {
  ENOENT: "its directory does not exist",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EISDIR: "is a directory",
  ENOTDIR: "a parent of the path is not a directory",
  EROFS: "read-only file system",
  ENOSPC: "no space left on the device",
};

export const fileStorage: StorageBackend = {
  async save(location, bytes) {
    try {
      await writeFileAtomic(pathOf(location), bytes);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new StorageError(location.url, `cannot write: ${(code && WRITE_REASONS[code]) ?? (error as Error).message.split("\n")[0]}`);
    }
  },
  load: (location) => readFileOrExplain(pathOf(location), "weights"),
};

setFileStorage(fileStorage);
