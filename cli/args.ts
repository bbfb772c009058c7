/**
 * @fileoverview Command-line parsing for commands: Node's `util.parseArgs` in strict mode,
 * with its errors turned into one-line usage errors.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { CliError } from "./io.js";

export type OptionsConfig = NonNullable<ParseArgsConfig["options"]>;

export interface ParsedArgs {
  positionals: string[];
  values: Record<string, string | boolean | undefined>;
}

export function parseCommandArgs(command: string, args: string[], options: OptionsConfig): ParsedArgs {
  try {
    const parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
    return { positionals: parsed.positionals, values: parsed.values as ParsedArgs["values"] };
  } catch (error) {
    const message = error instanceof Error ? error.message.split("\n")[0] : String(error);
    throw new CliError(`condc ${command}: ${message} (see 'condc ${command} --help')`);
  }
}
