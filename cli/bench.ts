/**
 * @fileoverview `condc bench FILE [--weights CKPT] [--batch 1,50,128] [--threads 1,2] [--backend B] [--json]`:
 * inference time of a conditional model against the same model compiled dense (every gate
 * removed, `compile(text, { denseEquivalent: true })`), with the same weights, on each thread
 * count (wasm) or on the GPU, in one run: interleaved timings, medians, and the figures every
 * command shares (docs/reports.md).
 */
import { loadavg } from "node:os";
import { compile } from "../compiler/compile.js";
import { formatDiagnostics } from "../compiler/frontend/diagnostics.js";
import { readFileOrExplain } from "../runtime/node/files.js";
import { copyWeightsByShape, timePairs, type BenchPair, type TimedCase } from "../runtime/bench.js";
import type { AnyModel } from "../runtime/backend.js";
import { BACKEND_USAGE, cliDevice, loadOn, parseBackend } from "./backend.js";
import { pickWasm } from "../runtime/simd.js";
import { applyMethodOptions, checkMethodOptions, methodOptionsConfig, methodOptionsUsage } from "./method-options.js";
import { figuresJson } from "./report-format.js";
import { parseCommandArgs } from "./args.js";
import type { Command } from "./command.js";
import { CliError, ExitCode, readSource, type CliIO } from "./io.js";
import { loadData, parseDataOption, positiveInteger, positiveIntegerList, reportingRuntimeErrors, seedFlag, threadsListFlag } from "./session.js";

const USAGE = `usage: condc bench FILE [--weights CKPT] [--data SET] [--batch 1,50,128] [--threads 1,2] [--reps N] [--seed N] [--backend B] [--plain-simd] [--json]

Times inference (predict) of the conditional model in FILE against the same model compiled
dense (gates removed), with the same weights, interleaved, medians of --reps (default 15).
Inputs are the first examples of the test set of --data (default: the model file's data set;
random pixels if it is unavailable).
  --weights CKPT  trained weights (safetensors); without it: init(seed) and fresh estimators,
                  whose active fractions say nothing about a trained model
  --batch LIST    batch sizes, comma-separated (default 1,50,128)
  --threads LIST  thread counts (wasm), comma-separated (default: the cores); every count is
                  timed in the same interleaved rounds, so their ratios are side by side
${BACKEND_USAGE}
                  (both builds run on it; on the GPU each call includes its readback)
${methodOptionsUsage("bench")}
  --json          {"model", "backend", "load_average", "cases": [{"batch", "threads", "dense_ms",
                  "conditional_ms", "speedup", "macs_per_example", "dense_macs_per_example",
                  "layers": {...}}]} (docs/reports.md; threads is null on the GPU)`;

export interface BenchCase {
  batch: number;
  /** Threads both builds ran on (wasm); null on the GPU. */
  threads: number | null;
  dense_ms: number;
  conditional_ms: number;
  speedup: number;
  /** The shared figures (docs/reports.md) of the conditional build over the timed calls. */
  macs_per_example: number;
  dense_macs_per_example: number;
  mac_ratio: number;
  layers: Record<string, unknown>;
}

/** The 1, 5 and 15 minute load averages (null where the platform has none). */
function loadAverage(): number[] | null {
  const averages = loadavg();
  return averages.every((a) => a === 0) ? null : averages.map((a) => Math.round(a * 100) / 100);
}

function threadsOf(model: AnyModel): number | null {
  return model.backend === "wasm" ? model.threads : null;
}

function benchCase(timed: TimedCase, threads: number | null): BenchCase {
  const figures = figuresJson(timed.figures);
  return {
    batch: timed.batch,
    threads,
    dense_ms: timed.denseMs,
    conditional_ms: timed.conditionalMs,
    speedup: timed.denseMs / timed.conditionalMs,
    macs_per_example: figures["macs_per_example"] as number,
    dense_macs_per_example: figures["dense_macs_per_example"] as number,
    mac_ratio: figures["mac_ratio"] as number,
    layers: figures["layers"] as Record<string, unknown>,
  };
}

/** Times `predict` of both models on the same rows, interleaved; ms per call (medians). */
export async function timeCase(dense: AnyModel, conditional: AnyModel, x: Float32Array, batch: number, reps: number): Promise<BenchCase> {
  return (await timeCases([{ dense, conditional }], x, batch, reps))[0]!;
}

/** Every pair (one per thread count) in the same interleaved rounds; one case per pair. */
export async function timeCases(pairs: readonly BenchPair[], x: Float32Array, batch: number, reps: number): Promise<BenchCase[]> {
  return (await timePairs(pairs, x, batch, reps)).map((t, k) => benchCase(t, threadsOf(pairs[k]!.conditional)));
}

async function runBench(args: string[], io: CliIO): Promise<number> {
  const { positionals, values } = parseCommandArgs("bench", args, {
    weights: { type: "string", short: "w" },
    data: { type: "string" },
    batch: { type: "string" },
    reps: { type: "string" },
    seed: { type: "string" },
    threads: { type: "string" },
    json: { type: "boolean", default: false },
    "plain-simd": { type: "boolean", default: false },
    backend: { type: "string" },
    ...methodOptionsConfig("bench"),
  });
  if (positionals.length !== 1) throw new CliError(`condc bench: expected one model file\n${USAGE}`);
  checkMethodOptions("bench", values);
  const file = positionals[0]!;
  const batches = positiveIntegerList("bench", "batch", values.batch) ?? [1, 50, 128];
  const reps = positiveInteger("bench", "reps", values.reps) ?? 15;
  const seed = seedFlag("bench", values.seed) ?? 0;
  const threadCounts = threadsListFlag("bench", values.threads);
  const backend = parseBackend("bench", values.backend);
  if (backend === "webgpu" && threadCounts !== undefined) throw new CliError("condc bench: --threads is for the wasm back end; drop it with --backend webgpu");
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
    const weights = typeof values.weights === "string" ? await readFileOrExplain(values.weights, "checkpoint") : null;
    const note = (line: string) => io.stderr(line);
    const device = await cliDevice(backend, note);
    const models: AnyModel[] = [];
    try {
      const counts = threadCounts ?? [undefined];
      const first = await loadOn(chosen.wasm, cond.manifest, backend, device, note, counts[0]);
      models.push(first);
      // Both builds where the conditional one runs (auto may have kept it on wasm); on the GPU one pair.
      const onGpu = first.backend === "webgpu";
      if (onGpu && threadCounts !== undefined) note("note: --threads does not apply on the GPU");
      const pairs: BenchPair[] = [];
      for (const [k, threads] of (onGpu ? [undefined] : counts).entries()) {
        const conditional = k === 0 ? first : await loadOn(chosen.wasm, cond.manifest, "wasm", null, note, threads);
        if (k > 0) models.push(conditional);
        const baseline = await loadOn(pick(dense).wasm, dense.manifest, onGpu ? backend : "wasm", onGpu ? device : null, () => undefined, threads);
        models.push(baseline);
        pairs.push({ dense: baseline, conditional });
      }
      const notes: string[] = [];
      if (!weights) notes.push("no --weights: untrained weights (init prepares the methods); active fractions and speedups say nothing about a trained model");
      const apart = new Set<string>();
      for (const { dense: baseline, conditional } of pairs) {
        if (weights) await conditional.load(weights, values.weights as string);
        else await conditional.init(seed);
        applyMethodOptions("bench", values, conditional);
        // The dense build gets the same weights, by name and shape; a layer whose dense stand-in has
        // no tensor of its shape (a tree) keeps the stand-in's initial weights.
        await baseline.init(seed);
        for (const layer of await copyWeightsByShape(conditional, baseline)) apart.add(layer);
      }
      if (apart.size > 0) notes.push(`${[...apart].join(", ")}: timed against a dense layer of the same shape with its own weights (the method has no dense weight of that shape)`);

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
      const cases: BenchCase[] = [];
      for (const b of batches) cases.push(...(await timeCases(pairs, x, b, reps)));
      const load = loadAverage();
      const where = onGpu ? "WebGPU" : `${chosen.simd} SIMD`;
      if (json) {
        io.stdout(JSON.stringify({ model: cond.manifest.model, file, simd: chosen.simd, backend: first.backend, inputs, weights: typeof values.weights === "string" ? values.weights : null, reps, load_average: load, notes, cases }));
      } else {
        io.stdout(`${cond.manifest.model}: conditional vs dense build, same weights, ${where}, ${inputs}, medians of ${reps}${load ? `, load average ${load.join(" ")}` : ""}`);
        for (const n of notes) io.stdout(`note: ${n}`);
        io.stdout("batch   threads   dense ms   conditional ms   speedup   MACs/example dense -> conditional (ratio)");
        for (const c of cases) {
          const macs = `${Math.round(c.dense_macs_per_example)} -> ${Math.round(c.macs_per_example)} (${c.mac_ratio.toFixed(2)}x)`;
          io.stdout(`${String(c.batch).padStart(5)}   ${String(c.threads ?? "gpu").padStart(7)}   ${c.dense_ms.toFixed(4).padStart(8)}   ${c.conditional_ms.toFixed(4).padStart(14)}   ${(c.speedup.toFixed(2) + "x").padStart(7)}   ${macs}`);
        }
      }
      return ExitCode.ok;
    } finally {
      for (const model of models) {
        if (model.backend === "webgpu") model.destroy();
        else model.dispose();
      }
      device?.destroy();
    }
  });
}

export const benchCommand: Command = {
  name: "bench",
  usage: USAGE,
  run: runBench,
};
