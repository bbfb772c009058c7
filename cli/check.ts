/**
 * @fileoverview `condc check FILE... [--format text|json]`: runs the front end on each file
 * and prints its diagnostics. Exit 0 clean (warnings allowed), 1 errors, 2 usage.
 */
import { toJson, formatDiagnostics, summarize, type Diagnostic, type DiagnosticJson } from "../compiler/frontend/diagnostics.js";
import { checkSource } from "../compiler/frontend/frontend.js";
import { parseCommandArgs } from "./args.js";
import type { Command } from "./command.js";
import { CliError, ExitCode, readSource, type CliIO } from "./io.js";

const USAGE = `usage: condc check FILE... [--format text|json]

Checks each .cond file and prints its diagnostics.
  --format text   file:line:col: error CODE: message, the source line and a caret (default)
  --format json   one JSON array [{code, severity, message, file, line, column, endLine, endColumn}]

Exit status: 0 no errors (warnings allowed), 1 errors, 2 usage error or unreadable file.`;

async function runCheck(args: string[], io: CliIO): Promise<number> {
  const { positionals: files, values } = parseCommandArgs("check", args, { format: { type: "string", default: "text" } });
  const format = values.format;
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
    all.push(...result.diagnostics);
    if (result.diagnostics.some((d) => d.severity === "error") && exitCode === ExitCode.ok) exitCode = ExitCode.sourceErrors;
    if (format === "json") json.push(...result.diagnostics.map(toJson));
    else if (result.diagnostics.length > 0) io.stdout(formatDiagnostics(result.diagnostics, result.source));
  }
  if (format === "json") io.stdout(JSON.stringify(json, null, 2));
  else if (all.length > 0) io.stdout(`\n${summarize(all)}`);
  return exitCode;
}

export const checkCommand: Command = {
  name: "check",
  summary: "check .cond files and print their diagnostics",
  usage: USAGE,
  run: runCheck,
};
