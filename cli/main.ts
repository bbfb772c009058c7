/**
 * @fileoverview The `condc` command line: dispatches to the command table, prints help,
 * and turns every failure into a one-line message and an exit code (never a stack trace).
 */
import "../runtime/node/thread-host.js";
import { suggest } from "../compiler/frontend/suggest.js";
import { COMMANDS } from "./commands.js";
import { CliError, ExitCode, processIO, quotePath, type CliIO } from "./io.js";
import { isExpectedFailure } from "./failures.js";

export function usageText(): string {
  const width = COMMANDS.reduce((widest, c) => Math.max(widest, c.name.length), 0);
  const list = COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join("\n");
  return `usage: condc <command> [options]

commands:
${list}

Run 'condc <command> --help' for a command's options.`;
}

function oneLine(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.split("\n")[0];
}

/** Runs `condc` with `argv` (without node and the script); resolves to the exit code. */
export async function main(argv: string[], io: CliIO = processIO): Promise<number> {
  try {
    const [name, ...rest] = argv;
    if (name === undefined) {
      io.stderr(usageText());
      return ExitCode.usage;
    }
    if (name === "--help" || name === "-h" || name === "help") {
      io.stdout(usageText());
      return ExitCode.ok;
    }
    const entry = COMMANDS.find((c) => c.name === name);
    if (!entry) {
      const suggestion = suggest(name, COMMANDS.map((c) => c.name));
      io.stderr(`condc: unknown command ${quotePath(name)}${suggestion ? `; did you mean '${suggestion}'?` : ""} (see 'condc --help')`);
      return ExitCode.usage;
    }
    const command = await entry.load();
    if (rest.includes("--help") || rest.includes("-h")) {
      io.stdout(command.usage);
      return ExitCode.ok;
    }
    return await command.run(rest, io);
  } catch (error) {
    if (error instanceof CliError) {
      io.stderr(error.message);
      return error.exitCode;
    }
    // A file that cannot be read or written, bad data or a bad checkpoint: the user's to fix.
    if (isExpectedFailure(error)) {
      io.stderr(`condc ${argv[0] ?? ""}: ${error.message.split("\n")[0]}`);
      return ExitCode.sourceErrors;
    }
    try {
      io.stderr(`condc: internal error: ${oneLine(error)}`);
    } catch {
      // Nowhere left to report to.
    }
    return ExitCode.internal;
  }
}
