/**
 * @fileoverview `condc bench FILE [--weights CKPT] [--batch 1,50,128] [--json]`: inference
 * time of a conditional model against the same model compiled dense (every gate removed,
 * `compile(text, { denseEquivalent: true })`), with the same weights, in one run:
 * interleaved timings, medians, and the figures every command shares (docs/reports.md).
 */
import { compile } from "../compiler/compile.js";
import { formatDiagnostics } from "../compiler/frontend/diagnostics.js";
import { readFileOrExplain } from "../runtime/node/files.js";
import { figuresOf, resetCountersOf, type AnyModel } from "../runtime/backend.js";
import { BACKEND_USAGE, cliDevice, loadOn, parseBackend } from "./backend.js";
import { pickWasm } from "../runtime/simd.js";
import { applyMethodOptions, checkMethodOptions, methodOptionsConfig, methodOptionsUsage } from "./method-options.js";
import { figuresJson } from "./report-format.js";
import { parseCommandArgs } from "./args.js";
import type { Command } from "./command.js";
import { CliError, ExitCode, readSource, type CliIO } from "./io.js";
import { loadData, parseDataOption, positiveInteger, positiveIntegerList, reportingRuntimeErrors, seedFlag } from "./session.js";

const USAGE = `usage: condc bench FILE [--weights CKPT] [--data SET] [--batch 1,50,128] [--reps N] [--seed N] [--backend B] [--plain-simd] [--json]

Times inference (predict) of the conditional model in FILE against the same model compiled
dense (gates removed), with the same weights, interleaved, medians of --reps (default 15).
Inputs are the first examples of the test set of --data (default: the model file's data set;
random pixels if it is unavailable).
  --weights CKPT  trained weights (safetensors); without it: init(seed) and fresh estimators,
                  whose active fractions say nothing about a trained model
  --batch LIST    batch sizes, comma-separated (default 1,50,128)
${BACKEND_USAGE}
                  (both builds run on it; on the GPU each call includes its readback)
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

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Times `predict` of both models on the same rows, interleaved; ms per call (medians). */
export async function timeCase(dense: AnyModel, conditional: AnyModel, x: Float32Array, batch: number, reps: number): Promise<BenchCase> {
  // wasm calls are timed synchronously (an await would add to calls of tens of microseconds).
  const predict = async (m: AnyModel): Promise<void> => {
    if (m.backend === "wasm") m.predict(x, batch);
    else await m.predict(x, batch);
  };
  const call = async (m: AnyModel): Promise<number> => {
    const t0 = performance.now();
    await predict(m);
    return performance.now() - t0;
  };
  // Calls per sample so that one sample lasts >= ~5 ms (batch 1 is tens of microseconds).
  for (let w = 0; w < 3; w++) { await call(dense); await call(conditional); }
  const once = Math.max(await call(dense), 1e-3);
  const inner = Math.max(1, Math.min(1000, Math.ceil(5 / once)));
  const sample = async (m: AnyModel): Promise<number> => {
    const t0 = performance.now();
    if (m.backend === "wasm") for (let k = 0; k < inner; k++) m.predict(x, batch);
    else for (let k = 0; k < inner; k++) await m.predict(x, batch);
    return (performance.now() - t0) / inner;
  };
  const d: number[] = [], c: number[] = [];
  await resetCountersOf(conditional, "eval");
  for (let rep = 0; rep < reps; rep++) {
    if (rep % 2 === 0) { d.push(await sample(dense)); c.push(await sample(conditional)); }
    else { c.push(await sample(conditional)); d.push(await sample(dense)); }
  }
  const figures = figuresJson(await figuresOf(conditional, "eval"));
  const denseMs = median(d), condMs = median(c);
  return {
    batch,
    dense_ms: denseMs,
    conditional_ms: condMs,
    speedup: denseMs / condMs,
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
    backend: { type: "string" },
    ...methodOptionsConfig("bench"),
  });
  if (positionals.length !== 1) throw new CliError(`condc bench: expected one model file\n${USAGE}`);
  checkMethodOptions("bench", values);
  const file = positionals[0]!;
  const batches = positiveIntegerList("bench", "batch", values.batch) ?? [1, 50, 128];
  const reps = positiveInteger("bench", "reps", values.reps) ?? 15;
  const seed = seedFlag("bench", values.seed) ?? 0;
  const backend = parseBackend("bench", values.backend);
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
    const device = await cliDevice(backend, (line) => io.stderr(line));
    const models: AnyModel[] = [];
    try {
      const conditional = await loadOn(chosen.wasm, cond.manifest, backend, device, (line) => io.stderr(line));
      models.push(conditional);
      // Both builds where the conditional one runs (auto may have kept it on wasm).
      const onGpu = conditional.backend === "webgpu";
      const baseline = await loadOn(pick(dense).wasm, dense.manifest, onGpu ? backend : "wasm", onGpu ? device : null, () => undefined);
      models.push(baseline);
      return await benchModels(io, { file, json, reps, seed, batches, maxBatch, dataOption, values, cond, simd: chosen.simd, conditional, baseline });
    } finally {
      for (const model of models) if (model.backend === "webgpu") model.destroy();
      device?.destroy();
    }
  });
}

interface BenchSetup {
  file: string;
  json: boolean;
  reps: number;
  seed: number;
  batches: number[];
  maxBatch: number;
  dataOption: ReturnType<typeof parseDataOption> | undefined;
  values: Record<string, unknown>;
  cond: Awaited<ReturnType<typeof compile>> & { ok: true };
  simd: string;
  conditional: AnyModel;
  baseline: AnyModel;
}

async function benchModels(io: CliIO, setup: BenchSetup): Promise<number> {
  const { file, json, reps, seed, batches, maxBatch, dataOption, values, cond, conditional, baseline } = setup;
  const notes: string[] = [];
  if (typeof values["weights"] === "string") {
    await conditional.load(await readFileOrExplain(values["weights"], "checkpoint"), values["weights"]);
  } else {
    await conditional.init(seed);
    notes.push("no --weights: untrained weights (init prepares the methods); active fractions and speedups say nothing about a trained model");
  }
  applyMethodOptions("bench", values, conditional);
  // The dense build gets the same weights, by name and shape; a layer whose dense stand-in has
  // no tensor of its shape (a tree) keeps the stand-in's initial weights.
  await baseline.init(seed);
  const own = new Map(conditional.manifest.params.map((p) => [p.name, p.shape.join("x")]));
  const apart = new Set<string>();
  for (const p of baseline.manifest.params) {
    if (own.get(p.name) === p.shape.join("x")) await baseline.setParameter(p.name, await conditional.parameter(p.name));
    else apart.add(p.layer);
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
  for (const b of batches) cases.push(await timeCase(baseline, conditional, x, b, reps));
  const where = conditional.backend === "webgpu" ? "WebGPU" : `${setup.simd} SIMD`;
  if (json) {
    io.stdout(JSON.stringify({ model: cond.manifest.model, file, simd: setup.simd, backend: conditional.backend, inputs, weights: typeof values["weights"] === "string" ? values["weights"] : null, reps, notes, cases }));
  } else {
    io.stdout(`${cond.manifest.model}: conditional vs dense build, same weights, ${where}, ${inputs}, medians of ${reps}`);
    for (const n of notes) io.stdout(`note: ${n}`);
    io.stdout("batch   dense ms   conditional ms   speedup   MACs/example dense -> conditional (ratio)");
    for (const c of cases) {
      const macs = `${Math.round(c.dense_macs_per_example)} -> ${Math.round(c.macs_per_example)} (${c.mac_ratio.toFixed(2)}x)`;
      io.stdout(`${String(c.batch).padStart(5)}   ${c.dense_ms.toFixed(4).padStart(8)}   ${c.conditional_ms.toFixed(4).padStart(14)}   ${(c.speedup.toFixed(2) + "x").padStart(7)}   ${macs}`);
    }
  }
  return ExitCode.ok;
}

export const benchCommand: Command = {
  name: "bench",
  summary: "time a conditional model against the same model compiled dense",
  usage: USAGE,
  run: runBench,
};
