/**
 * @fileoverview The CLI's connection to the outside world, injectable so tests run
 * commands in-process and capture what they print. What reaches the terminal has its
 * control characters escaped; model files are read bounded, regular files only.
 */
import { Buffer } from "node:buffer";
import { escapeForTerminal } from "../compiler/frontend/display-text.js";
import { MAX_SOURCE_CHARS } from "../compiler/frontend/language-spec.js";
import { FileAccessError, readFileSyncOrExplain } from "../runtime/node/files.js";

export interface CliIO {
  /** Writes one line (a newline is added) to standard output. */
  stdout(line: string): void;
  /** Writes one line (a newline is added) to standard error. */
  stderr(line: string): void;
  /** Reads a UTF-8 text file; throws (a FileAccessError, or like `fs.readFileSync`) when it cannot. */
  readFile(path: string): string;
}

/** Reads a model file: a regular file of at most MAX_SOURCE_CHARS bytes, decoded as UTF-8. */
export function readModelFile(path: string): string {
  const bytes = readFileSyncOrExplain(path, "model file", MAX_SOURCE_CHARS);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8");
}

/**
 * The real terminal. Every line is escaped again as a last line of defence: a path or
 * name that reaches a message unescaped still cannot move the cursor or recolour it.
 */
export const processIO: CliIO = {
  stdout: (line) => void process.stdout.write(`${escapeForTerminal(line, true)}\n`),
  stderr: (line) => void process.stderr.write(`${escapeForTerminal(line, true)}\n`),
  readFile: readModelFile,
};

/** Exit codes shared by every command. */
export const ExitCode = {
  ok: 0,
  /** The input has errors (diagnostics were printed). */
  sourceErrors: 1,
  /** Bad command line, or a file that cannot be read. */
  usage: 2,
  /** A bug in condc; reported in one line, never a stack trace. */
  internal: 3,
} as const;

/** An expected failure that ends the command with a one-line message and an exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = ExitCode.usage,
  ) {
    super(message);
  }
}

/** "ENOENT: no such file or directory, open 'x'" -> "no such file or directory". */
export function describeFsError(error: unknown): string {
  const code = (error as { code?: string } | null)?.code;
  const reasons: Record<string, string> = {
    ENOENT: "no such file",
    EACCES: "permission denied",
    EISDIR: "is a directory",
    ENOTDIR: "a path component is not a directory",
    EEXIST: "a path component exists and is not a directory",
    EROFS: "read-only file system",
  };
  if (code && reasons[code]) return reasons[code];
  if (error instanceof FileAccessError) return error.reason;
  return error instanceof Error ? error.message.split("\n")[0] : String(error);
}

/** `'path'` for a one-line message: quoted, control characters escaped. */
export function quotePath(path: string): string {
  return `'${escapeForTerminal(path)}'`;
}

/** Reads a source file or throws a one-line usage error. */
export function readSource(io: CliIO, path: string): string {
  try {
    return io.readFile(path);
  } catch (error) {
    throw new CliError(`condc: cannot read ${quotePath(path)}: ${describeFsError(error)}`);
  }
}
