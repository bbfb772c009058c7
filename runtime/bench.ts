/**
 * @fileoverview Inference time of a conditional model against the same model compiled dense
 * (`compile(text, { denseEquivalent: true })`) with the same weights: interleaved calls, medians,
 * and the conditional build's figures over the timed calls, on either back end. `condc bench`
 * and the playground's speed panel both time through here.
 */
import type { ModelFigures } from "./report.js";
import { figuresOf, resetCountersOf, type AnyModel } from "./backend.js";

export interface TimedCase {
  batch: number;
  /** Median milliseconds per `predict` call of `batch` rows. */
  denseMs: number;
  conditionalMs: number;
  /** The conditional build's figures over the timed calls (docs/reports.md). */
  figures: ModelFigures;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Both builds of one model, loaded alike (the same back end and thread count, the same weights). */
export interface BenchPair {
  dense: AnyModel;
  conditional: AnyModel;
}

/** Times `predict` of both models on the same rows, interleaved; medians of `reps` samples. */
export async function timeDenseAgainstConditional(dense: AnyModel, conditional: AnyModel, x: Float32Array, batch: number, reps: number): Promise<TimedCase> {
  return (await timePairs([{ dense, conditional }], x, batch, reps))[0]!;
}

/**
 * Times `predict` of every model of `pairs` (say one pair per thread count) on the same rows, in
 * the same rounds (each round samples every model once, in alternating order), so that a busy
 * machine's drifts hit all alike; medians of `reps` samples, one case per pair. Calls of a wasm
 * model are timed synchronously (an await would add to calls of tens of microseconds); a GPU
 * model's calls include their readback.
 */
export async function timePairs(pairs: readonly BenchPair[], x: Float32Array, batch: number, reps: number): Promise<TimedCase[]> {
  if (!Number.isInteger(reps) || reps < 1) throw new RangeError(`timePairs: reps must be a positive integer, got ${reps}`);
  if (pairs.length === 0) throw new RangeError("timePairs: pairs must not be empty");
  const models = pairs.flatMap((p) => [p.dense, p.conditional]);
  const run = async (m: AnyModel, calls: number): Promise<number> => {
    const t0 = performance.now();
    if (m.backend === "wasm") for (let k = 0; k < calls; k++) m.predict(x, batch);
    else for (let k = 0; k < calls; k++) await m.predict(x, batch);
    return (performance.now() - t0) / calls;
  };
  // Calls per sample so that one sample lasts >= ~5 ms (batch 1 is tens of microseconds).
  for (let w = 0; w < 3; w++) for (const m of models) await run(m, 1);
  const once = Math.max(await run(pairs[0]!.dense, 1), 1e-3);
  const inner = Math.max(1, Math.min(1000, Math.ceil(5 / once)));
  const samples = models.map(() => [] as number[]);
  for (const p of pairs) await resetCountersOf(p.conditional, "eval");
  for (let rep = 0; rep < reps; rep++) {
    const order = rep % 2 === 0 ? models.map((_, i) => i) : models.map((_, i) => models.length - 1 - i);
    for (const i of order) samples[i]!.push(await run(models[i]!, inner));
  }
  const cases: TimedCase[] = [];
  for (const [k, p] of pairs.entries()) {
    cases.push({ batch, denseMs: median(samples[2 * k]!), conditionalMs: median(samples[2 * k + 1]!), figures: await figuresOf(p.conditional, "eval") });
  }
  return cases;
}

/**
 * Gives the dense build the conditional model's weights, by name and shape (either back end).
 * Returns the layers whose dense stand-in has no tensor of that shape in the conditional model
 * (a tree layer): they keep the dense build's own weights.
 */
export async function copyWeightsByShape(from: AnyModel, to: AnyModel): Promise<string[]> {
  const own = new Map(from.manifest.params.map((p) => [p.name, p.shape.join("x")]));
  const apart = new Set<string>();
  for (const p of to.manifest.params) {
    if (own.get(p.name) === p.shape.join("x")) await to.setParameter(p.name, await from.parameter(p.name));
    else apart.add(p.layer);
  }
  return [...apart];
}
