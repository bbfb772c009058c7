/**
 * @fileoverview `condc bench FILE [--weights CKPT] [--batch 1,50,128] [--json]`: inference
 * time of a conditional model against the same model compiled dense (every gate removed,
 * `compile(text, { denseEquivalent: true })`), with the same weights, in one run:
 * interleaved timings, medians. Method-specific parts (preparing untrained weights, the
 * active fraction) are the small `BenchMethodHooks` table below.
 */
import { compile } from "../compiler/compile.js";
import { formatDiagnostics } from "../compiler/frontend/diagnostics.js";
import { loadModel, type Model } from "../runtime/model.js";
import { hasLowRank, lowrankLayers, readCounters, refreshEstimators, resetCounters } from "../runtime/lowrank.js";
import { readFileOrExplain } from "../runtime/node/files.js";
import { hasPolicy, measuredMacs, readPolicyStats, setPolicySeed } from "../runtime/policy.js";
import { pickWasm } from "../runtime/simd.js";
import { measuredMacsPerExample, resetTreeCounters, treeLayers } from "../runtime/tree.js";
import { parseCommandArgs } from "./args.js";
import type { Command } from "./command.js";
import { CliError, ExitCode, readSource, type CliIO } from "./io.js";
import { loadData, positiveInteger, positiveIntegerList, reportingRuntimeErrors, seedFlag } from "./session.js";

const USAGE = `usage: condc bench FILE [--weights CKPT] [--batch 1,50,128] [--reps N] [--seed N] [--plain-simd] [--json]

Times inference (predict) of the conditional model in FILE against the same model compiled
dense (gates removed), with the same weights, interleaved, medians of --reps (default 15).
Inputs are the first examples of the model's test set (random pixels if it is unavailable).
  --weights CKPT  trained weights (safetensors); without it: init(seed) and fresh estimators,
                  whose active fractions say nothing about a trained model
  --batch LIST    batch sizes, comma-separated (default 1,50,128)
  --json          {"model", "cases": [{"batch", "dense_ms", "conditional_ms", "speedup", "active_fraction"}]}`;

/** What bench needs from a conditional method beyond the common runtime. */
interface BenchMethodHooks {
  applies(model: Model): boolean;
  /** Make untrained weights usable (e.g. compute estimator factors). */
  prepare(model: Model): void;
  /** Start counting, and the fraction of gated units computed since. */
  resetActivity(model: Model): void;
  activeFraction(model: Model): number | null;
  /** MACs per example the module counted since `resetActivity`, when it counts them. */
  macsPerExample?(model: Model): number;
}

const HOOKS: BenchMethodHooks[] = [
  {
    applies: hasLowRank,
    prepare: (model) => refreshEstimators(model),
    resetActivity: resetCounters,
    activeFraction(model) {
      let computed = 0, total = 0;
      for (const { layer } of lowrankLayers(model)) {
        const [examples, active] = readCounters(model, layer.name) as [number, number];
        computed += active;
        total += examples * layer.units;
      }
      return total > 0 ? computed / total : null;
    },
    macsPerExample(model) {
      // Gated layers as counted by the module (estimator + exact part), the others dense.
      const counted = new Map(lowrankLayers(model).map(({ layer }) => {
        const [examples, , macs] = readCounters(model, layer.name) as [number, number, number];
        return [layer.name, examples > 0 ? macs / examples : layer.macs] as const;
      }));
      return model.manifest.layers.filter((l) => l.delta !== null).reduce((sum, l) => sum + (counted.get(l.name) ?? l.macs), 0);
    },
  },
  {
    // Policy gates (docs/policy.md): masks sampled at test time (the model's test mode);
    // the active fraction is the mean over gated layers of the blocks computed.
    applies: hasPolicy,
    prepare: (model) => setPolicySeed(model, 0),
    resetActivity: (model) => void readPolicyStats(model, "eval"),
    activeFraction(model) {
      const stats = readPolicyStats(model, "eval", false).filter((s) => s.examples > 0);
      return stats.length > 0 ? stats.reduce((a, s) => a + s.meanActivation, 0) / stats.length : null;
    },
    macsPerExample: (model) => measuredMacs(model, readPolicyStats(model, "eval", false)).conditional,
  },
  {
    // Tree layers (docs/tree.md): the dense build has a dense layer of the same shape, so
    // the "speedup" is below 1 by about k + 1; the counted MACs show what ran.
    applies: (model) => treeLayers(model).length > 0,
    prepare: () => {},
    resetActivity: resetTreeCounters,
    activeFraction: () => null,
    macsPerExample: measuredMacsPerExample,
  },
];

export interface BenchCase {
  batch: number;
  dense_ms: number;
  conditional_ms: number;
  speedup: number;
  active_fraction: number | null;
  /** MACs per example: the dense build's (cost model) and the conditional one's as counted, when counted. */
  dense_macs_per_example: number;
  conditional_macs_per_example: number | null;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Times `predict` of both models on the same rows, interleaved; ms per call (medians). */
export function timeCase(dense: Model, conditional: Model, x: Float32Array, batch: number, reps: number, hooks: BenchMethodHooks[]): BenchCase {
  const call = (m: Model): number => {
    const t0 = performance.now();
    m.predict(x, batch);
    return performance.now() - t0;
  };
  // Calls per sample so that one sample lasts >= ~5 ms (batch 1 is tens of microseconds).
  for (let w = 0; w < 3; w++) { call(dense); call(conditional); }
  const once = Math.max(call(dense), 1e-3);
  const inner = Math.max(1, Math.min(1000, Math.ceil(5 / once)));
  const sample = (m: Model): number => {
    const t0 = performance.now();
    for (let k = 0; k < inner; k++) m.predict(x, batch);
    return (performance.now() - t0) / inner;
  };
  const d: number[] = [], c: number[] = [];
  hooks.forEach((h) => h.resetActivity(conditional));
  for (let rep = 0; rep < reps; rep++) {
    if (rep % 2 === 0) { d.push(sample(dense)); c.push(sample(conditional)); }
    else { c.push(sample(conditional)); d.push(sample(dense)); }
  }
  const fractions = hooks.map((h) => h.activeFraction(conditional)).filter((f): f is number => f !== null);
  const counted = hooks.find((h) => h.macsPerExample)?.macsPerExample?.(conditional) ?? null;
  const denseMs = median(d), condMs = median(c);
  return {
    batch,
    dense_ms: denseMs,
    conditional_ms: condMs,
    speedup: denseMs / condMs,
    active_fraction: fractions.length > 0 ? fractions[0]! : null,
    dense_macs_per_example: dense.manifest.cost.macsPerExample,
    conditional_macs_per_example: counted,
  };
}

async function runBench(args: string[], io: CliIO): Promise<number> {
  const { positionals, values } = parseCommandArgs("bench", args, {
    weights: { type: "string", short: "w" },
    batch: { type: "string" },
    reps: { type: "string" },
    seed: { type: "string" },
    json: { type: "boolean", default: false },
    "plain-simd": { type: "boolean", default: false },
  });
  if (positionals.length !== 1) throw new CliError(`condc bench: expected one model file\n${USAGE}`);
  const file = positionals[0]!;
  const batches = positiveIntegerList("bench", "batch", values.batch) ?? [1, 50, 128];
  const reps = positiveInteger("bench", "reps", values.reps) ?? 15;
  const seed = seedFlag("bench", values.seed) ?? 0;
  const json = values.json === true;
  const maxBatch = Math.max(...batches);

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
    const hooks = HOOKS.filter((h) => h.applies(conditional));
    const notes: string[] = [];
    if (typeof values.weights === "string") {
      conditional.load(await readFileOrExplain(values.weights, "checkpoint"), values.weights);
    } else {
      conditional.init(seed);
      hooks.forEach((h) => h.prepare(conditional));
      notes.push("no --weights: untrained weights (init + fresh estimators); active fractions and speedups say nothing about a trained model");
    }
    // The dense build gets the same weights, by name; a tree layer's dense stand-in keeps
    // its own initial weights (no tensor of the tree has its shape).
    baseline.init(seed);
    const shared = new Set(conditional.manifest.params.map((p) => p.name));
    for (const p of baseline.manifest.params) if (shared.has(p.name)) baseline.setParameter(p.name, conditional.parameter(p.name));
    if (treeLayers(conditional).length > 0) notes.push("tree layers run against a dense layer of the same shape: expect the tree to be about k + 1 times slower");

    const width = cond.manifest.input.width;
    let x: Float32Array;
    let inputs: string;
    try {
      const data = await loadData(cond.ir.train.data, width, cond.manifest.classes);
      x = data.test.images.slice(0, maxBatch * width);
      inputs = `${data.test.name} test examples`;
    } catch {
      let s = 12345;
      x = new Float32Array(maxBatch * width).map(() => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296));
      inputs = "uniform random inputs (the test set is unavailable)";
      notes.push("the model's data set is unavailable: random inputs, active fractions are not representative");
    }
    const cases = batches.map((b) => timeCase(baseline, conditional, x, b, reps, hooks));
    if (json) {
      io.stdout(JSON.stringify({ model: cond.manifest.model, file, simd: chosen.simd, inputs, weights: typeof values.weights === "string" ? values.weights : null, reps, notes, cases }));
    } else {
      io.stdout(`${cond.manifest.model}: conditional vs dense build, same weights, ${chosen.simd} SIMD, ${inputs}, medians of ${reps}`);
      for (const n of notes) io.stdout(`note: ${n}`);
      io.stdout("batch   dense ms   conditional ms   speedup   active fraction   MACs/example dense -> conditional");
      for (const c of cases) {
        const macs = `${c.dense_macs_per_example} -> ${c.conditional_macs_per_example === null ? "-" : Math.round(c.conditional_macs_per_example)}`;
        io.stdout(`${String(c.batch).padStart(5)}   ${c.dense_ms.toFixed(4).padStart(8)}   ${c.conditional_ms.toFixed(4).padStart(14)}   ${(c.speedup.toFixed(2) + "x").padStart(7)}   ${(c.active_fraction === null ? "-" : c.active_fraction.toFixed(4)).padStart(15)}   ${macs}`);
      }
    }
    return ExitCode.ok;
  });
}

export const benchCommand: Command = {
  name: "bench",
  summary: "time a conditional model against the same model compiled dense",
  usage: USAGE,
  run: runBench,
};
