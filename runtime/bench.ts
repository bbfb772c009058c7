/**
 * @fileoverview Inference time of a conditional model against the same model compiled dense
 * (`compile(text, { denseEquivalent: true })`) with the same weights: interleaved calls, medians,
 * and the conditional build's figures over the timed calls. `condc bench` and the playground's
 * speed panel both time through here.
 */
import type { Model } from "./model.js";
import { collectFigures, resetCounters, type ModelFigures } from "./report.js";

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

/** Both builds of one model, loaded alike (the same thread count, the same weights). */
export interface BenchPair {
  dense: Model;
  conditional: Model;
}

/** Times `predict` of both models on the same rows, interleaved; medians of `reps` samples. */
export function timeDenseAgainstConditional(dense: Model, conditional: Model, x: Float32Array, batch: number, reps: number): TimedCase {
  return timePairs([{ dense, conditional }], x, batch, reps)[0]!;
}

/**
 * Times `predict` of every model of `pairs` (say one pair per thread count) on the same rows, in
 * the same rounds (each round samples every model once, in alternating order), so that a busy
 * machine's drifts hit all alike; medians of `reps` samples, one case per pair.
 */
export function timePairs(pairs: readonly BenchPair[], x: Float32Array, batch: number, reps: number): TimedCase[] {
  if (!Number.isInteger(reps) || reps < 1) throw new RangeError(`timeDenseAgainstConditional: reps must be a positive integer, got ${reps}`);
  if (pairs.length === 0) throw new RangeError("timePairs: pairs must not be empty");
  const models = pairs.flatMap((p) => [p.dense, p.conditional]);
  const call = (m: Model): number => {
    const t0 = performance.now();
    m.predict(x, batch);
    return performance.now() - t0;
  };
  // Calls per sample so that one sample lasts >= ~5 ms (batch 1 is tens of microseconds).
  for (let w = 0; w < 3; w++) models.forEach(call);
  const once = Math.max(call(pairs[0]!.dense), 1e-3);
  const inner = Math.max(1, Math.min(1000, Math.ceil(5 / once)));
  const sample = (m: Model): number => {
    const t0 = performance.now();
    for (let k = 0; k < inner; k++) m.predict(x, batch);
    return (performance.now() - t0) / inner;
  };
  const samples = models.map(() => [] as number[]);
  for (const p of pairs) resetCounters(p.conditional, "eval");
  for (let rep = 0; rep < reps; rep++) {
    const order = rep % 2 === 0 ? models.map((_, i) => i) : models.map((_, i) => models.length - 1 - i);
    for (const i of order) samples[i]!.push(sample(models[i]!));
  }
  return pairs.map((p, k) => ({ batch, denseMs: median(samples[2 * k]!), conditionalMs: median(samples[2 * k + 1]!), figures: collectFigures(p.conditional, "eval") }));
}

/**
 * Gives the dense build the conditional model's weights, by name and shape. Returns the layers
 * whose dense stand-in has no tensor of that shape in the conditional model (a tree layer): they
 * keep the dense build's own weights.
 */
export function copyWeightsByShape(from: Model, to: Model): string[] {
  const own = new Map(from.manifest.params.map((p) => [p.name, p.shape.join("x")]));
  const apart = new Set<string>();
  for (const p of to.manifest.params) {
    if (own.get(p.name) === p.shape.join("x")) to.setParameter(p.name, from.parameter(p.name));
    else apart.add(p.layer);
  }
  return [...apart];
}
