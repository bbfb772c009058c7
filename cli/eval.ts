/**
 * @fileoverview `condc eval FILE --weights CKPT`: accuracy and speed of trained weights on a data
 * set's test split, with the figures every command shares (docs/reports.md) and each method's
 * extra measurements (e.g. the low-rank estimators' sign agreement).
 */
import { readFileOrExplain } from "../runtime/node/files.js";
import { collectFigures, resetCounters } from "../runtime/report.js";
import { parseCommandArgs } from "./args.js";
import type { Command } from "./command.js";
import { CliError, ExitCode, type CliIO } from "./io.js";
import { applyMethodOptions, checkMethodOptions, methodOptionsConfig, methodOptionsUsage } from "./method-options.js";
import { figuresJson, figuresText, type Analyses } from "./report-format.js";
import { compileAndLoad, loadData, parseDataOption, reportingRuntimeErrors, threadsFlag } from "./session.js";

const USAGE = `usage: condc eval FILE --weights CKPT [--data mnist|fashion-mnist|idx:DIR] [--threads N] [--plain-simd] [--json]

Evaluates trained weights on the test split of a data set (default: the model file's).
  --threads N  threads to run on (default: the cores); the results are the same for any N
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
    ...methodOptionsConfig("eval"),
  });
  if (positionals.length !== 1) throw new CliError(`condc eval: expected one model file\n${USAGE}`);
  if (typeof values.weights !== "string") throw new CliError(`condc eval: missing --weights CKPT\n${USAGE}`);
  checkMethodOptions("eval", values);
  const weights = values.weights;
  const dataOption = typeof values.data === "string" ? parseDataOption("eval", values.data) : undefined;
  const threads = threadsFlag("eval", values.threads);

  return reportingRuntimeErrors("eval", async () => {
    const bytes = await readFileOrExplain(weights, "checkpoint");
    const { model, result, simd } = await compileAndLoad(io, "eval", positionals[0]!, { plain: values["plain-simd"] === true, threads });
    model.load(bytes, weights);
    applyMethodOptions("eval", values, model);
    const data = await loadData(dataOption ?? result.ir.train.data, result.manifest.input.width, result.manifest.classes);
    resetCounters(model, "eval");
    const evaluation = model.evaluate(data.test);
    const figures = collectFigures(model, "eval");
    const analyses: Analyses = { layers: {}, model: {} };
    for (const g of model.methodGroups()) {
      const a = g.runtime.analyze?.(model, g.layers, data.test);
      if (!a) continue;
      Object.assign(analyses.model, a.model);
      for (const [layer, metrics] of Object.entries(a.layers)) analyses.layers[layer] = { ...analyses.layers[layer], ...metrics };
    }
    if (values.json === true) {
      io.stdout(JSON.stringify({
        model: result.manifest.model,
        data: data.test.name,
        simd,
        threads: model.threads,
        accuracy: evaluation.accuracy,
        loss: evaluation.loss,
        count: evaluation.count,
        examples_per_second: evaluation.examplesPerSecond,
        seconds_per_example: 1 / evaluation.examplesPerSecond,
        ...figuresJson(figures, analyses),
      }));
    } else {
      io.stdout(`${result.manifest.model} on ${data.test.name} (${evaluation.count} examples): accuracy ${(100 * evaluation.accuracy).toFixed(2)}%, loss ${evaluation.loss.toFixed(4)}, ${Math.round(evaluation.examplesPerSecond)} examples/s on ${model.threads} thread${model.threads === 1 ? "" : "s"}`);
      for (const line of figuresText(figures, analyses)) io.stdout(line);
    }
    return ExitCode.ok;
  });
}

export const evalCommand: Command = {
  name: "eval",
  usage: USAGE,
  run: runEval,
};
