/**
 * @fileoverview `condc eval FILE --weights CKPT`: accuracy and speed of trained weights on a data
 * set's test split, with the figures every command shares (docs/reports.md) and each method's
 * extra measurements (e.g. the low-rank estimators' sign agreement), on either back end
 * (`--backend`; on the GPU the methods' extra measurements run on the wasm host with its weights).
 */
import { readFileOrExplain } from "../runtime/node/files.js";
import { analyzeOf, figuresOf, resetCountersOf } from "../runtime/backend.js";
import type { Evaluation } from "../runtime/model.js";
import type { ModelFigures } from "../runtime/report.js";
import { BACKEND_USAGE, parseBackend, release } from "./backend.js";
import { parseCommandArgs } from "./args.js";
import type { Command } from "./command.js";
import { CliError, ExitCode, type CliIO } from "./io.js";
import { applyMethodOptions, checkMethodOptions, methodOptionsConfig, methodOptionsUsage } from "./method-options.js";
import { figuresJson, figuresText, type Analyses } from "./report-format.js";
import { compileAndLoad, loadData, parseDataOption, reportingRuntimeErrors, threadsFlag } from "./session.js";

const USAGE = `usage: condc eval FILE --weights CKPT [--data mnist|fashion-mnist|idx:DIR] [--threads N] [--backend B] [--plain-simd] [--json]

Evaluates trained weights on the test split of a data set (default: the model file's).
  --threads N     threads to run on (default: the cores); the results are the same for any N
${BACKEND_USAGE}
${methodOptionsUsage("eval")}
  --json   print one JSON object: accuracy, loss, count, examples_per_second, the MACs
           figures (macs_per_example, dense_macs_per_example, layers: {...}; docs/reports.md)`;

async function runEval(args: string[], io: CliIO): Promise<number> {
  const { positionals, values } = parseCommandArgs("eval", args, {
    weights: { type: "string", short: "w" },
    data: { type: "string" },
    threads: { type: "string" },
    json: { type: "boolean", default: false },
    "plain-simd": { type: "boolean", default: false },
    backend: { type: "string" },
    ...methodOptionsConfig("eval"),
  });
  if (positionals.length !== 1) throw new CliError(`condc eval: expected one model file\n${USAGE}`);
  if (typeof values.weights !== "string") throw new CliError(`condc eval: missing --weights CKPT\n${USAGE}`);
  checkMethodOptions("eval", values);
  const weights = values.weights;
  const backend = parseBackend("eval", values.backend);
  const dataOption = typeof values.data === "string" ? parseDataOption("eval", values.data) : undefined;
  const threads = threadsFlag("eval", values.threads);

  return reportingRuntimeErrors("eval", async () => {
    const bytes = await readFileOrExplain(weights, "checkpoint");
    const { model, result, simd } = await compileAndLoad(io, "eval", positionals[0]!, { plain: values["plain-simd"] === true, backend, threads });
    try {
      await model.load(bytes, weights);
      applyMethodOptions("eval", values, model);
      const data = await loadData(dataOption ?? result.ir.train.data, result.manifest.input.width, result.manifest.classes);
      await resetCountersOf(model, "eval");
      const evaluation = await model.evaluate(data.test);
      const figures = await figuresOf(model, "eval");
      const analyses: Analyses = await analyzeOf(model, data.test);
      report(io, values.json === true, { model: result.manifest.model, data: data.test.name, simd, backend: model.backend, threads: model.backend === "wasm" ? model.threads : null, evaluation, figures, analyses });
    } finally {
      release(model);
    }
    return ExitCode.ok;
  });
}

/** Prints the evaluation: one JSON object, or a line and the figures. */
function report(
  io: CliIO,
  json: boolean,
  r: { model: string; data: string; simd: string; backend: string; threads: number | null; evaluation: Evaluation; figures: ModelFigures; analyses: Analyses },
): void {
  const { evaluation, figures, analyses } = r;
  if (json) {
    io.stdout(JSON.stringify({
      model: r.model,
      data: r.data,
      simd: r.simd,
      backend: r.backend,
      threads: r.threads,
      accuracy: evaluation.accuracy,
      loss: evaluation.loss,
      count: evaluation.count,
      examples_per_second: evaluation.examplesPerSecond,
      seconds_per_example: 1 / evaluation.examplesPerSecond,
      ...figuresJson(figures, analyses),
    }));
    return;
  }
  io.stdout(`${r.model} on ${r.data} (${evaluation.count} examples): accuracy ${(100 * evaluation.accuracy).toFixed(2)}%, loss ${evaluation.loss.toFixed(4)}, ${Math.round(evaluation.examplesPerSecond)} examples/s${r.threads === null ? " on the GPU" : ` on ${r.threads} thread${r.threads === 1 ? "" : "s"}`}`);
  for (const line of figuresText(figures, analyses)) io.stdout(line);
}

export const evalCommand: Command = {
  name: "eval",
  usage: USAGE,
  run: runEval,
};
