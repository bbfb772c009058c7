/**
 * @fileoverview Node file helpers: atomic writes (temp file, fsync, rename) so a crash never
 * leaves a half-written checkpoint, and reads whose errors are one readable line.
 */
import { randomBytes } from "node:crypto";
import { open, readFile, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/** A read that failed; the message is one line naming what was read, the path and why. */
export class FileAccessError extends Error {
  readonly path: string;
  readonly code: string | undefined;

  constructor(path: string, what: string, code: string | undefined, reason: string) {
    super(`cannot read ${what} ${path}: ${reason}`);
    this.name = "FileAccessError";
    this.path = path;
    this.code = code;
  }
}

const REASONS: Record<string, string> = {
  ENOENT: "no such file or directory",
  EISDIR: "is a directory, not a file",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  ENOTDIR: "a parent of the path is not a directory",
};

/** Reads a whole file; ENOENT, EISDIR, EACCES and the like become a one-line FileAccessError. */
export async function readFileOrExplain(path: string, what: string): Promise<Uint8Array> {
  try {
    const buffer = await readFile(path);
    return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = (code && REASONS[code]) ?? (error as Error).message.split("\n")[0];
    throw new FileAccessError(path, what, code, reason);
  }
}

/**
 * Writes `bytes` to `path` atomically: a temp file `.<name>.<pid>.<random>.tmp` in the same
 * directory is written, fsynced and renamed over the target (then the directory is fsynced).
 * Readers see the old file or the new one, never a mix; on failure the temp file is removed.
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  let renamed = false;
  try {
    const handle = await open(temp, "wx", 0o666);
    try {
      let written = 0;
      while (written < bytes.length) {
        const { bytesWritten } = await handle.write(bytes, written, bytes.length - written);
        written += bytesWritten;
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
    renamed = true;
  } finally {
    if (!renamed) await rm(temp, { force: true });
  }
  await syncDirectory(dir);
}

/** Makes the rename durable; some platforms (Windows) cannot open directories, which is fine. */
async function syncDirectory(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, "r");
    await handle.sync();
  } catch {
    // Best effort only: the rename itself already happened.
  } finally {
    await handle?.close();
  }
}
