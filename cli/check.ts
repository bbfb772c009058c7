/**
 * @fileoverview `condc check FILE... [--format text|json]`: runs the front end on each file
 * and prints its diagnostics. Exit 0 clean (warnings allowed), 1 errors, 2 usage.
 */
import {
  DEFAULT_PRINTED_DIAGNOSTICS,
  formatDiagnostics,
  MAX_RECORDED_DIAGNOSTICS,
  summarize,
  toJson,
  type Diagnostic,
  type DiagnosticJson,
} from "../compiler/frontend/diagnostics.js";
import { checkSource } from "../compiler/frontend/frontend.js";
import { parseCommandArgs } from "./args.js";
import type { Command } from "./command.js";
import { CliError, ExitCode, readSource, type CliIO } from "./io.js";
import { positiveInteger } from "./session.js";

const USAGE = `usage: condc check FILE... [--format text|json] [--max-diagnostics N]

Checks each .cond file and prints its diagnostics.
  --format text          file:line:col: error CODE: message, the source line and a caret (default)
  --format json          one JSON array [{code, severity, message, file, line, column, endLine, endColumn}]
  --max-diagnostics N    text: print at most N diagnostics per file (default ${DEFAULT_PRINTED_DIAGNOSTICS}),
                         then how many were left out; a file records at most ${MAX_RECORDED_DIAGNOSTICS} errors

Exit status: 0 no errors (warnings allowed), 1 errors, 2 usage error or unreadable file.`;

async function runCheck(args: string[], io: CliIO): Promise<number> {
  const { positionals: files, values } = parseCommandArgs("check", args, {
    format: { type: "string", default: "text" },
    "max-diagnostics": { type: "string" },
  });
  const format = values.format;
  const limit = positiveInteger("check", "max-diagnostics", values["max-diagnostics"]) ?? DEFAULT_PRINTED_DIAGNOSTICS;
  if (format !== "text" && format !== "json") throw new CliError(`condc check: --format must be 'text' or 'json', got '${String(format)}'`);
  if (files.length === 0) throw new CliError(`condc check: no input files\n${USAGE}`);

  let exitCode: number = ExitCode.ok;
  const all: Diagnostic[] = [];
  const json: DiagnosticJson[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = readSource(io, file);
    } catch (error) {
      if (!(error instanceof CliError)) throw error;
      io.stderr(error.message);
      exitCode = ExitCode.usage;
      continue;
    }
    const result = checkSource(text, file);
    // Loops, not push(...spread): a file may have thousands of diagnostics.
    for (const d of result.diagnostics) {
      all.push(d);
      if (format === "json") json.push(toJson(d));
    }
    if (result.diagnostics.some((d) => d.severity === "error") && exitCode === ExitCode.ok) exitCode = ExitCode.sourceErrors;
    if (format === "text" && result.diagnostics.length > 0) io.stdout(formatDiagnostics(result.diagnostics, result.source, limit));
  }
  if (format === "json") io.stdout(JSON.stringify(json, null, 2));
  else if (all.length > 0) io.stdout(`\n${summarize(all)}`);
  return exitCode;
}

export const checkCommand: Command = {
  name: "check",
  usage: USAGE,
  run: runCheck,
};
