/**
 * @fileoverview `condc eval FILE --weights CKPT`: accuracy and speed of trained weights on
 * a data set's test split.
 */
import { readFileOrExplain } from "../runtime/node/files.js";
import { parseCommandArgs } from "./args.js";
import type { Command } from "./command.js";
import { CliError, ExitCode, type CliIO } from "./io.js";
import { compileAndLoad, loadData, parseDataOption, reportingRuntimeErrors } from "./session.js";

const USAGE = `usage: condc eval FILE --weights CKPT [--data mnist|fashion-mnist|idx:DIR] [--plain-simd] [--json]

Evaluates trained weights on the test split of a data set (default: the model file's).
  --json   print one JSON object (accuracy, loss, count, examples_per_second)`;

async function runEval(args: string[], io: CliIO): Promise<number> {
  const { positionals, values } = parseCommandArgs("eval", args, {
    weights: { type: "string", short: "w" },
    data: { type: "string" },
    json: { type: "boolean", default: false },
    "plain-simd": { type: "boolean", default: false },
  });
  if (positionals.length !== 1) throw new CliError(`condc eval: expected one model file\n${USAGE}`);
  if (typeof values.weights !== "string") throw new CliError(`condc eval: missing --weights CKPT\n${USAGE}`);
  const weights = values.weights;
  const dataOption = typeof values.data === "string" ? parseDataOption("eval", values.data) : undefined;

  return reportingRuntimeErrors("eval", async () => {
    const bytes = await readFileOrExplain(weights, "checkpoint");
    const { model, result, simd } = await compileAndLoad(io, "eval", positionals[0]!, { plain: values["plain-simd"] === true });
    model.load(bytes, weights);
    const data = await loadData(dataOption ?? result.ir.train.data, result.manifest.input.width, result.manifest.classes);
    const evaluation = model.evaluate(data.test);
    if (values.json === true) {
      io.stdout(JSON.stringify({
        model: result.manifest.model,
        data: data.test.name,
        simd,
        accuracy: evaluation.accuracy,
        loss: evaluation.loss,
        count: evaluation.count,
        examples_per_second: evaluation.examplesPerSecond,
      }));
    } else {
      io.stdout(`${result.manifest.model} on ${data.test.name} (${evaluation.count} examples): accuracy ${(100 * evaluation.accuracy).toFixed(2)}%, loss ${evaluation.loss.toFixed(4)}, ${Math.round(evaluation.examplesPerSecond)} examples/s`);
    }
    return ExitCode.ok;
  });
}

export const evalCommand: Command = {
  name: "eval",
  summary: "evaluate trained weights on a data set",
  usage: USAGE,
  run: runEval,
};
