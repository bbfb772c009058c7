/**
 * @fileoverview The shape of a CLI command; each command lives in its own `cli/<name>.ts`
 * and is listed once, with a one-line summary, in `cli/commands.ts`.
 */
import type { CliIO } from "./io.js";

export interface Command {
  name: string;
  /** The full help text of `condc <name> --help`. */
  usage: string;
  /** Returns the exit code; may throw `CliError` for expected failures. */
  run(args: string[], io: CliIO): Promise<number> | number;
}
