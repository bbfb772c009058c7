/**
 * @fileoverview `condc eval FILE --weights CKPT`: accuracy and speed of trained weights on
 * a data set's test split.
 */
import { readFileOrExplain } from "../runtime/node/files.js";
import { parseCommandArgs } from "./args.js";
import type { Command } from "./command.js";
import { CliError, ExitCode, type CliIO } from "./io.js";
import { compileAndLoad, loadData, parseDataOption, reportingRuntimeErrors } from "./session.js";
import { hasLowRank, measureLowRank, metricsJson } from "../runtime/lowrank.js";
import { measuredMacsPerExample, resetTreeCounters, treeCounters, treeLayers } from "../runtime/tree.js";
import { getPolicyMode, hasPolicy, measuredMacs, readPolicyStats, resetPolicyStats, setPolicyMode, setPolicySeed } from "../runtime/policy.js";

const USAGE = `usage: condc eval FILE --weights CKPT [--data mnist|fashion-mnist|idx:DIR] [--plain-simd] [--json]
                 [--policy sample|threshold]

Evaluates trained weights on the test split of a data set (default: the model file's).
  --policy MODE  policy gates at test time: sample masks (the paper's) or threshold p > 0.5
  --json   print one JSON object (accuracy, loss, count, examples_per_second)`;

async function runEval(args: string[], io: CliIO): Promise<number> {
  const { positionals, values } = parseCommandArgs("eval", args, {
    weights: { type: "string", short: "w" },
    data: { type: "string" },
    json: { type: "boolean", default: false },
    "plain-simd": { type: "boolean", default: false },
    policy: { type: "string" },
  });
  const policyMode = values.policy;
  if (policyMode !== undefined && policyMode !== "sample" && policyMode !== "threshold") {
    throw new CliError(`condc eval: --policy must be sample or threshold, got '${String(policyMode)}'\n${USAGE}`);
  }
  if (positionals.length !== 1) throw new CliError(`condc eval: expected one model file\n${USAGE}`);
  if (typeof values.weights !== "string") throw new CliError(`condc eval: missing --weights CKPT\n${USAGE}`);
  const weights = values.weights;
  const dataOption = typeof values.data === "string" ? parseDataOption("eval", values.data) : undefined;

  return reportingRuntimeErrors("eval", async () => {
    const bytes = await readFileOrExplain(weights, "checkpoint");
    const { model, result, simd } = await compileAndLoad(io, "eval", positionals[0]!, { plain: values["plain-simd"] === true });
    model.load(bytes, weights);
    const data = await loadData(dataOption ?? result.ir.train.data, result.manifest.input.width, result.manifest.classes);
    const gated = hasPolicy(model);
    if (gated) {
      setPolicySeed(model, result.ir.train.seed);
      if (policyMode !== undefined) setPolicyMode(model, policyMode);
      resetPolicyStats(model);
    } else if (policyMode !== undefined) {
      throw new CliError(`condc eval: --policy: model '${result.manifest.model}' has no policy gates`);
    }
    const trees = treeLayers(model).length > 0;
    if (trees) resetTreeCounters(model);
    const evaluation = model.evaluate(data.test);
    // Tree layers: MACs counted inside the module (gaters + executed bucket GEMMs).
    const treeStats = trees ? treeCounters(model) : [];
    const policyStats = gated ? readPolicyStats(model, "eval") : [];
    const macs = gated ? measuredMacs(model, policyStats) : null;
    // Low-rank gates: per-layer sign agreement, false negatives, alpha, MACs; accuracy without the estimators.
    const lowrank = hasLowRank(model) ? measureLowRank(model, data.test) : null;
    if (values.json === true) {
      io.stdout(JSON.stringify({
        model: result.manifest.model,
        data: data.test.name,
        simd,
        accuracy: evaluation.accuracy,
        loss: evaluation.loss,
        count: evaluation.count,
        examples_per_second: evaluation.examplesPerSecond,
        ...(gated
          ? {
              policy: getPolicyMode(model),
              mean_activation: Object.fromEntries(policyStats.map((p) => [p.layer, p.meanActivation])),
              macs_per_example: macs!.conditional,
              dense_macs_per_example: macs!.dense,
              mac_ratio: macs!.dense / macs!.conditional,
            }
          : {}),
        ...(lowrank ? { ...metricsJson(lowrank), accuracy: evaluation.accuracy } : {}),
        ...(trees
          ? {
              tree_macs_per_example: Object.fromEntries(treeStats.map((t) => [t.layer, t.macsPerExample])),
              model_macs_per_example: measuredMacsPerExample(model),
              seconds_per_example: 1 / evaluation.examplesPerSecond,
            }
          : {}),
      }));
    } else {
      io.stdout(`${result.manifest.model} on ${data.test.name} (${evaluation.count} examples): accuracy ${(100 * evaluation.accuracy).toFixed(2)}%, loss ${evaluation.loss.toFixed(4)}, ${Math.round(evaluation.examplesPerSecond)} examples/s`);
      for (const t of treeStats) {
        io.stdout(`tree ${t.layer}: depth ${t.depth}, ${t.nodes} nodes, ${Math.round(t.macsPerExample)} MACs/example measured; ${(1e6 / evaluation.examplesPerSecond).toFixed(1)} µs/example`);
      }
      if (gated) {
        io.stdout(`policy ${getPolicyMode(model)}: ${policyStats.map((p) => `${p.layer} ${(100 * p.meanActivation).toFixed(1)}% active`).join(", ")}; ${Math.round(macs!.conditional)} MACs/example vs ${macs!.dense} dense (${(macs!.dense / macs!.conditional).toFixed(2)}x)`);
      }
      if (lowrank) {
        io.stdout(`without the low-rank estimators (dense): accuracy ${(100 * lowrank.accuracyDense).toFixed(2)}%`);
        for (const l of lowrank.layers) {
          io.stdout(`${l.name} (rank ${l.rank}): sign agreement ${l.signAgreement.toFixed(3)}, false negatives ${l.falseNegativeRate.toFixed(3)}, alpha ${l.alpha.toFixed(3)}, ${Math.round(l.macsPerExample)} MACs/example (dense ${l.inputs * l.units})`);
        }
        io.stdout(`whole model: ${Math.round(lowrank.conditionalMacsPerExample)} MACs/example (cost model) vs ${lowrank.denseMacsPerExample} dense (${(lowrank.denseMacsPerExample / lowrank.conditionalMacsPerExample).toFixed(2)}x)`);
      }
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
