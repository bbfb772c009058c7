/**
 * @fileoverview `condc inspect FILE [--json]`: the cost model of a checked model, per layer
 * and in total (parameters, MACs dense and conditional, ratio, memory).
 */
import { formatDiagnostics } from "../compiler/frontend/diagnostics.js";
import { checkSource, methodTable } from "../compiler/frontend/frontend.js";
import { inspectModel } from "../compiler/frontend/inspect.js";
import { inspectJson, inspectTable } from "./inspect-format.js";
import { parseCommandArgs } from "./args.js";
import type { Command } from "./command.js";
import { CliError, ExitCode, readSource, type CliIO } from "./io.js";

const USAGE = `usage: condc inspect FILE [--json]

Prints, per layer and for the whole model: parameters; MACs per example for the dense
equivalent, the gate's overhead and the conditional layer at its expected density; the
capacity-to-computation ratio (parameters / MACs); memory in bytes.
  --json   print the figures as JSON instead of a table

Exit status: 0 ok, 1 the file has errors (printed instead), 2 usage error or unreadable file.`;

async function runInspect(args: string[], io: CliIO): Promise<number> {
  const { positionals, values } = parseCommandArgs("inspect", args, { json: { type: "boolean", default: false } });
  if (positionals.length !== 1) throw new CliError(`condc inspect: expected exactly one FILE\n${USAGE}`);
  const file = positionals[0];
  const result = checkSource(readSource(io, file), file);
  if (result.diagnostics.length > 0) io.stderr(formatDiagnostics(result.diagnostics, result.source));
  if (!result.model) return ExitCode.sourceErrors;
  const model = result.model;
  const report = inspectModel(model, methodTable(undefined));
  const output = model.layers.find((l) => l.isOutput)?.name ?? "";
  io.stdout(values.json ? JSON.stringify(inspectJson(report), null, 2) : inspectTable(report, output, new Map(model.layers.map((l) => [l.name, l.activation]))));
  return ExitCode.ok;
}

export const inspectCommand: Command = {
  name: "inspect",
  usage: USAGE,
  run: runInspect,
};
