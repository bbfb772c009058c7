/**
 * @fileoverview `condc bench FILE [--weights CKPT] [--batch 1,50,128] [--json]`: inference
 * time of a conditional model against the same model compiled dense (every gate removed,
 * `compile(text, { denseEquivalent: true })`), with the same weights, in one run:
 * interleaved timings, medians, and the figures every command shares (docs/reports.md).
 */
import { compile } from "../compiler/compile.js";
import { formatDiagnostics } from "../compiler/frontend/diagnostics.js";
import { loadModel, type Model } from "../runtime/model.js";
import { readFileOrExplain } from "../runtime/node/files.js";
import { copyWeightsByShape, timeDenseAgainstConditional } from "../runtime/bench.js";
import { pickWasm } from "../runtime/simd.js";
import { applyMethodOptions, checkMethodOptions, methodOptionsConfig, methodOptionsUsage } from "./method-options.js";
import { figuresJson } from "./report-format.js";
import { parseCommandArgs } from "./args.js";
import type { Command } from "./command.js";
import { CliError, ExitCode, readSource, type CliIO } from "./io.js";
import { loadData, parseDataOption, positiveInteger, positiveIntegerList, reportingRuntimeErrors, seedFlag } from "./session.js";

const USAGE = `usage: condc bench FILE [--weights CKPT] [--data SET] [--batch 1,50,128] [--reps N] [--seed N] [--plain-simd] [--json]

Times inference (predict) of the conditional model in FILE against the same model compiled
dense (gates removed), with the same weights, interleaved, medians of --reps (default 15).
Inputs are the first examples of the test set of --data (default: the model file's data set;
random pixels if it is unavailable).
  --weights CKPT  trained weights (safetensors); without it: init(seed) and fresh estimators,
                  whose active fractions say nothing about a trained model
  --batch LIST    batch sizes, comma-separated (default 1,50,128)
${methodOptionsUsage("bench")}
  --json          {"model", "cases": [{"batch", "dense_ms", "conditional_ms", "speedup",
                  "macs_per_example", "dense_macs_per_example", "layers": {...}}]} (docs/reports.md)`;

export interface BenchCase {
  batch: number;
  dense_ms: number;
  conditional_ms: number;
  speedup: number;
  /** The shared figures (docs/reports.md) of the conditional build over the timed calls. */
  macs_per_example: number;
  dense_macs_per_example: number;
  mac_ratio: number;
  layers: Record<string, unknown>;
}

/** Times `predict` of both models on the same rows, interleaved; ms per call (medians). */
export function timeCase(dense: Model, conditional: Model, x: Float32Array, batch: number, reps: number): BenchCase {
  const timed = timeDenseAgainstConditional(dense, conditional, x, batch, reps);
  const figures = figuresJson(timed.figures);
  return {
    batch,
    dense_ms: timed.denseMs,
    conditional_ms: timed.conditionalMs,
    speedup: timed.denseMs / timed.conditionalMs,
    macs_per_example: figures["macs_per_example"] as number,
    dense_macs_per_example: figures["dense_macs_per_example"] as number,
    mac_ratio: figures["mac_ratio"] as number,
    layers: figures["layers"] as Record<string, unknown>,
  };
}

async function runBench(args: string[], io: CliIO): Promise<number> {
  const { positionals, values } = parseCommandArgs("bench", args, {
    weights: { type: "string", short: "w" },
    data: { type: "string" },
    batch: { type: "string" },
    reps: { type: "string" },
    seed: { type: "string" },
    json: { type: "boolean", default: false },
    "plain-simd": { type: "boolean", default: false },
    ...methodOptionsConfig("bench"),
  });
  if (positionals.length !== 1) throw new CliError(`condc bench: expected one model file\n${USAGE}`);
  checkMethodOptions("bench", values);
  const file = positionals[0]!;
  const batches = positiveIntegerList("bench", "batch", values.batch) ?? [1, 50, 128];
  const reps = positiveInteger("bench", "reps", values.reps) ?? 15;
  const seed = seedFlag("bench", values.seed) ?? 0;
  const json = values.json === true;
  const maxBatch = Math.max(...batches);
  const dataOption = typeof values.data === "string" ? parseDataOption("bench", values.data) : undefined;

  return reportingRuntimeErrors("bench", async () => {
    const text = readSource(io, file);
    const simd = values["plain-simd"] === true ? "plain" : "both";
    const [cond, dense] = await Promise.all([
      compile(text, { file, maxBatch, simd }),
      compile(text, { file, maxBatch, simd, denseEquivalent: true }),
    ]);
    if (cond.diagnostics.length > 0) io.stderr(formatDiagnostics(cond.diagnostics, cond.source));
    if (!cond.ok || !dense.ok) throw new CliError(`condc bench: ${file} has errors`, ExitCode.sourceErrors);
    const pick = (r: typeof cond & { ok: true }) => (simd === "plain" ? { wasm: r.wasm, simd: "plain" as const } : pickWasm(r.wasm, r.relaxedWasm));
    const chosen = pick(cond);
    const conditional = await loadModel(chosen.wasm, cond.manifest);
    const baseline = await loadModel(pick(dense).wasm, dense.manifest);
    const notes: string[] = [];
    if (typeof values.weights === "string") {
      conditional.load(await readFileOrExplain(values.weights, "checkpoint"), values.weights);
    } else {
      conditional.init(seed);
      notes.push("no --weights: untrained weights (init prepares the methods); active fractions and speedups say nothing about a trained model");
    }
    applyMethodOptions("bench", values, conditional);
    // The dense build gets the same weights, by name and shape; a layer whose dense stand-in has
    // no tensor of its shape (a tree) keeps the stand-in's initial weights.
    baseline.init(seed);
    const apart = copyWeightsByShape(conditional, baseline);
    if (apart.length > 0) notes.push(`${apart.join(", ")}: timed against a dense layer of the same shape with its own weights (the method has no dense weight of that shape)`);

    const width = cond.manifest.input.width;
    let x: Float32Array;
    let inputs: string;
    try {
      const data = await loadData(dataOption ?? cond.ir.train.data, width, cond.manifest.classes);
      x = data.test.images.slice(0, maxBatch * width);
      inputs = `${data.test.name} test examples`;
    } catch {
      let s = 12345;
      x = new Float32Array(maxBatch * width).map(() => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296));
      inputs = "uniform random inputs (the test set is unavailable)";
      notes.push("the model's data set is unavailable: random inputs, active fractions are not representative");
    }
    const cases = batches.map((b) => timeCase(baseline, conditional, x, b, reps));
    if (json) {
      io.stdout(JSON.stringify({ model: cond.manifest.model, file, simd: chosen.simd, inputs, weights: typeof values.weights === "string" ? values.weights : null, reps, notes, cases }));
    } else {
      io.stdout(`${cond.manifest.model}: conditional vs dense build, same weights, ${chosen.simd} SIMD, ${inputs}, medians of ${reps}`);
      for (const n of notes) io.stdout(`note: ${n}`);
      io.stdout("batch   dense ms   conditional ms   speedup   MACs/example dense -> conditional (ratio)");
      for (const c of cases) {
        const macs = `${Math.round(c.dense_macs_per_example)} -> ${Math.round(c.macs_per_example)} (${c.mac_ratio.toFixed(2)}x)`;
        io.stdout(`${String(c.batch).padStart(5)}   ${c.dense_ms.toFixed(4).padStart(8)}   ${c.conditional_ms.toFixed(4).padStart(14)}   ${(c.speedup.toFixed(2) + "x").padStart(7)}   ${macs}`);
      }
    }
    return ExitCode.ok;
  });
}

export const benchCommand: Command = {
  name: "bench",
  usage: USAGE,
  run: runBench,
};
