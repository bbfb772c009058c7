/**
 * @fileoverview The CLI's connection to the outside world, injectable so tests run
 * commands in-process and capture what they print.
 */
import { readFileSync } from "node:fs";

export interface CliIO {
  /** Writes one line (a newline is added) to standard output. */
  stdout(line: string): void;
  /** Writes one line (a newline is added) to standard error. */
  stderr(line: string): void;
  /** Reads a UTF-8 text file; throws like `fs.readFileSync` when it cannot. */
  readFile(path: string): string;
}

export const processIO: CliIO = {
  stdout: (line) => void process.stdout.write(`${line}\n`),
  stderr: (line) => void process.stderr.write(`${line}\n`),
  readFile: (path) => readFileSync(path, "utf8"),
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
  return error instanceof Error ? error.message.split("\n")[0] : String(error);
}

/** Reads a source file or throws a one-line usage error. */
export function readSource(io: CliIO, path: string): string {
  try {
    return io.readFile(path);
  } catch (error) {
    throw new CliError(`condc: cannot read '${path}': ${describeFsError(error)}`);
  }
}
