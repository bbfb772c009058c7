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

/** Least duration of one timed sample (ms). */
const SAMPLE_MS = 10;
/** Idle time before each sample (ms): longer than a worker thread polls before it sleeps. */
const PAUSE_MS = 2;

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

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
  // Each model's own calls per sample, counted on the warm model so that every sample lasts
  // >= SAMPLE_MS (batch 1 is tens of microseconds; a conditional model at batch 128 can be a
  // tenth of its dense build; a first call is cold and would count too few). Before each sample:
  // a pause in which the other models' worker threads stop polling and sleep (on a machine with
  // as many cores as threads they would take a core from this model's), then one untimed call,
  // so a sample times calls in a loop, caches and this model's workers warm.
  for (let w = 0; w < 3; w++) for (const m of models) await run(m, 1);
  const inner: number[] = [];
  for (const m of models) {
    let calls = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < SAMPLE_MS && calls < 1000) {
      await run(m, 1);
      calls++;
    }
    inner.push(Math.max(1, calls));
  }
  const samples = models.map(() => [] as number[]);
  for (const p of pairs) await resetCountersOf(p.conditional, "eval");
  for (let rep = 0; rep < reps; rep++) {
    const order = rep % 2 === 0 ? models.map((_, i) => i) : models.map((_, i) => models.length - 1 - i);
    for (const i of order) {
      await pause(PAUSE_MS);
      await run(models[i]!, 1);
      samples[i]!.push(await run(models[i]!, inner[i]!));
    }
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
