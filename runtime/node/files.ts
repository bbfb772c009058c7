/**
 * @fileoverview Node file helpers: bounded reads of regular files only, atomic writes (temp
 * file, fsync, rename; stale temp files of killed runs removed), output-location checks,
 * and errors that are one line naming the user's path.
 */
import { randomBytes } from "node:crypto";
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from "node:fs";
import { mkdir, open, readdir, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join, sep } from "node:path";

/** What every read accepts at most unless told otherwise: Node's own ceiling for one read. */
export const MAX_READ_BYTES = 2 ** 31 - 1;

/** A read that failed; the message is one line naming what was read, the path and why. */
export class FileAccessError extends Error {
  readonly path: string;
  readonly code: string | undefined;
  readonly reason: string;

  constructor(path: string, what: string, code: string | undefined, reason: string) {
    super(`cannot read ${what} ${path}: ${reason}`);
    this.name = "FileAccessError";
    this.path = path;
    this.code = code;
    this.reason = reason;
  }
}

/** A write (or an output-location check) that failed; names the user's path, never a temp file. */
export class FileWriteError extends Error {
  readonly path: string;
  readonly code: string | undefined;
  readonly reason: string;

  constructor(path: string, what: string, code: string | undefined, reason: string) {
    super(`cannot write ${what} ${path}: ${reason}`);
    this.name = "FileWriteError";
    this.path = path;
    this.code = code;
    this.reason = reason;
  }
}

const REASONS: Record<string, string> = {
  ENOENT: "no such file or directory",
  EISDIR: "is a directory, not a file",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  ENOTDIR: "a parent of the path is not a directory",
  EEXIST: "a parent of the path is a file, not a directory",
  EROFS: "read-only file system",
  ENOSPC: "no space left on device",
  EDQUOT: "disk quota exceeded",
  EFBIG: "file too large for the file system",
  ENAMETOOLONG: "the name is too long",
  ELOOP: "too many symbolic links",
  EMFILE: "too many open files",
  EIO: "input/output error",
};

function codeOf(error: unknown): string | undefined {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/** One line for a Node file-system error. */
export function explainFsError(error: unknown): string {
  const code = codeOf(error);
  return (code && REASONS[code]) ?? (error instanceof Error ? error.message : String(error)).split("\n")[0];
}

/** "2,097,152 bytes"; never "Infinity bytes". */
export function formatByteCount(bytes: number): string {
  if (Number.isSafeInteger(bytes)) return `${bytes.toLocaleString("en-US")} bytes`;
  return Number.isFinite(bytes) ? `about ${bytes.toExponential(2)} bytes` : "an unbounded number of bytes";
}

/** Why a path that is not a regular file cannot be read as one, or undefined for a regular file. */
function notRegular(stats: Stats): string | undefined {
  if (stats.isFile()) return undefined;
  if (stats.isDirectory()) return "is a directory, not a file";
  if (stats.isCharacterDevice()) return "is a character device, not a regular file";
  if (stats.isBlockDevice()) return "is a block device, not a regular file";
  if (stats.isFIFO()) return "is a pipe (FIFO), not a regular file";
  if (stats.isSocket()) return "is a socket, not a regular file";
  return "is not a regular file";
}

// O_NONBLOCK: opening a FIFO must not wait for a writer before fstat can refuse it.
const READ_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0);

/**
 * Reads a whole regular file of at most `maxBytes` (default MAX_READ_BYTES). Devices, pipes
 * and directories are refused before reading (`/dev/zero` never ends); a file larger than
 * the limit is refused from its size, and one that grows while read stops at the limit.
 * Every failure is a one-line FileAccessError.
 */
export async function readFileOrExplain(path: string, what: string, maxBytes = MAX_READ_BYTES): Promise<Uint8Array> {
  let handle;
  try {
    handle = await open(path, READ_FLAGS);
    const stats = await handle.stat();
    checkReadable(path, what, stats, maxBytes);
    const reader = boundedReader(path, what, stats.size, maxBytes);
    for (;;) {
      const { buffer, offset, length } = reader.space();
      const { bytesRead } = await handle.read(buffer, offset, length, null);
      if (!reader.advance(bytesRead)) return reader.result();
    }
  } catch (error) {
    throw asAccessError(error, path, what);
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

/** `readFileOrExplain` for callers that must stay synchronous (the CLI's source reads). */
export function readFileSyncOrExplain(path: string, what: string, maxBytes = MAX_READ_BYTES): Uint8Array {
  let fd: number | undefined;
  try {
    fd = openSync(path, READ_FLAGS);
    const stats = fstatSync(fd);
    checkReadable(path, what, stats, maxBytes);
    const reader = boundedReader(path, what, stats.size, maxBytes);
    for (;;) {
      const { buffer, offset, length } = reader.space();
      if (!reader.advance(readSync(fd, buffer, offset, length, null))) return reader.result();
    }
  } catch (error) {
    throw asAccessError(error, path, what);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function asAccessError(error: unknown, path: string, what: string): FileAccessError {
  if (error instanceof FileAccessError) return error;
  return new FileAccessError(path, what, codeOf(error), explainFsError(error));
}

function checkReadable(path: string, what: string, stats: Stats, maxBytes: number): void {
  const problem = notRegular(stats);
  if (problem) throw new FileAccessError(path, what, "ENOTREG", problem);
  if (stats.size > maxBytes) {
    throw new FileAccessError(path, what, "EFBIG", `is ${formatByteCount(stats.size)}, more than the ${formatByteCount(maxBytes)} a ${what} may have`);
  }
}

/** A growing buffer that never holds more than `maxBytes + 1` bytes (the +1 detects a file grown past the limit). */
function boundedReader(path: string, what: string, expectedSize: number, maxBytes: number) {
  let buffer = new Uint8Array(Math.min(maxBytes, expectedSize) + 1);
  let length = 0;
  const tooLarge = () => new FileAccessError(path, what, "EFBIG", `grew past the ${formatByteCount(maxBytes)} a ${what} may have while it was read`);
  return {
    space() {
      if (length === buffer.length) {
        if (length > maxBytes) throw tooLarge();
        const grown = new Uint8Array(Math.min(maxBytes + 1, Math.max(buffer.length * 2, 65536)));
        grown.set(buffer);
        buffer = grown;
      }
      return { buffer, offset: length, length: buffer.length - length };
    },
    /** False at the end of the file. */
    advance(bytesRead: number): boolean {
      length += bytesRead;
      if (length > maxBytes) throw tooLarge();
      return bytesRead > 0;
    },
    result: () => buffer.subarray(0, length),
  };
}

const TEMP_SUFFIX = /^(\d+)\.[0-9a-f]{12}\.tmp$/;
/** A temp file this old whose writer is gone is left over from a killed run. */
const STALE_AFTER_MS = 60_000;

function tempName(target: string): string {
  return `.${target}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return codeOf(error) === "EPERM";
  }
}

/**
 * Removes `.<name>.<pid>.<random>.tmp` files in `dir` left by writers that were killed:
 * the pid no longer runs and the file has not changed for a minute (a live writer on
 * another machine sharing the folder keeps its file fresh). Best effort.
 */
export async function removeStaleTemps(dir: string, name: string): Promise<string[]> {
  const prefix = `.${name}.`;
  const removed: string[] = [];
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch {
    return removed;
  }
  for (const entry of entries) {
    if (!entry.startsWith(prefix)) continue;
    const match = TEMP_SUFFIX.exec(entry.slice(prefix.length));
    if (!match) continue;
    const pid = Number(match[1]);
    if (pid === process.pid || isRunning(pid)) continue;
    try {
      const info = await stat(join(dir, entry));
      if (Date.now() - info.mtimeMs < STALE_AFTER_MS) continue;
      await rm(join(dir, entry), { force: true });
      removed.push(entry);
    } catch {
      // Gone already, or not ours to remove.
    }
  }
  return removed;
}

/**
 * Writes `bytes` to `path` atomically: a temp file `.<name>.<pid>.<random>.tmp` in the same
 * directory is written, fsynced and renamed over the target (then the directory is fsynced).
 * Readers see the old file or the new one, never a mix; on failure the temp file is removed
 * and a FileWriteError names `path` (never the temp file). Stale temp files of `path` left
 * by killed runs are removed first.
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array, what = "file"): Promise<void> {
  const dir = dirname(path);
  await removeStaleTemps(dir, basename(path));
  const temp = join(dir, tempName(basename(path)));
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
  } catch (error) {
    throw new FileWriteError(path, what, codeOf(error), explainFsError(error));
  } finally {
    if (!renamed) await rm(temp, { force: true }).catch(() => undefined);
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
    await handle?.close().catch(() => undefined);
  }
}

/** Creates `dir` (and parents) and proves a file can be created in it; FileWriteError naming `shownPath` otherwise. */
async function ensureWritableDirectory(dir: string, shownPath: string, what: string): Promise<void> {
  const fail = (error: unknown): never => {
    throw new FileWriteError(shownPath, what, codeOf(error), explainFsError(error));
  };
  try {
    const info = await stat(dir);
    if (!info.isDirectory()) throw new FileWriteError(shownPath, what, "ENOTDIR", `${dir === shownPath ? "it" : `'${dir}'`} is a file, not a directory`);
  } catch (error) {
    if (error instanceof FileWriteError) throw error;
    if (codeOf(error) !== "ENOENT") fail(error);
    await mkdir(dir, { recursive: true }).catch(fail);
  }
  const probe = join(dir, `.condc-probe.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  try {
    const handle = await open(probe, "wx", 0o666);
    await handle.close();
  } catch (error) {
    fail(error);
  } finally {
    await rm(probe, { force: true }).catch(() => undefined);
  }
}

/**
 * Checks, before any long work, that `path` can receive a file: not empty, not a directory
 * or a device, its directory exists (created if needed) and accepts new files.
 */
export async function prepareOutputFile(path: string, what = "file"): Promise<void> {
  if (path === "") throw new FileWriteError("''", what, "ENOENT", "the path is empty");
  if (path.endsWith(sep) || path.endsWith("/")) throw new FileWriteError(path, what, "EISDIR", "the path names a directory, not a file");
  try {
    const info = await stat(path);
    if (info.isDirectory()) throw new FileWriteError(path, what, "EISDIR", "is a directory, not a file");
    if (!info.isFile()) throw new FileWriteError(path, what, "ENOTREG", "exists and is not a regular file");
  } catch (error) {
    if (error instanceof FileWriteError) throw error;
    if (codeOf(error) !== "ENOENT") throw new FileWriteError(path, what, codeOf(error), explainFsError(error));
  }
  await ensureWritableDirectory(dirname(path), path, what);
}

/** Checks (creating it if needed) that the directory `dir` accepts new files, before any long work. */
export async function prepareOutputDirectory(dir: string, what = "into directory"): Promise<void> {
  if (dir === "") throw new FileWriteError("''", what, "ENOENT", "the path is empty");
  await ensureWritableDirectory(dir, dir, what);
}
