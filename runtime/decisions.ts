/**
 * @fileoverview What the gates chose, example by example: runs `predict` and asks each method's
 * runtime (`decisions`) which units, blocks, leaves or experts every gated layer computed, then
 * counts, per index, how many examples used it (a tree's leaf occupancy, an expert's load).
 */
import type { Model } from "./model.js";
import type { DecisionUnit } from "../methods/runtime-unit.js";

export interface GateDecisions {
  layer: string;
  method: string;
  of: DecisionUnit;
  total: number;
  /** Examples that used index j, j < total (over every example run). */
  counts: Float64Array;
  /** Examples run through the gate (those of a pass the gate ran on). */
  examples: number;
  /** Each of the first `keep` examples' active indices. */
  perExample: Int32Array[];
}

export interface DecisionsReport {
  /** Class probabilities, row-major n x classes (as `predict`). */
  probs: Float32Array;
  /** Every layer whose method reports decisions, in source order. */
  layers: GateDecisions[];
}

export interface DecisionsOptions {
  /** How many leading examples keep their own lists (default 16). */
  keep?: number;
}

/**
 * Runs `predict` over n rows of x (in chunks of maxBatch) and collects every gated layer's
 * decisions. The forward passes are ordinary predictions: test-time sampling (policy gates)
 * draws from its streams as any `predict` does.
 */
export function gateDecisions(model: Model, x: Float32Array, n: number, options: DecisionsOptions = {}): DecisionsReport {
  if (typeof options !== "object" || options === null) throw new TypeError("gateDecisions: options must be an object");
  const keep = options.keep ?? 16;
  if (!Number.isInteger(keep) || keep < 0) throw new RangeError(`gateDecisions: options.keep must be an integer >= 0, got ${String(keep)}`);
  const width = model.manifest.input.width;
  const classes = model.manifest.classes;
  if (!(x instanceof Float32Array)) throw new TypeError(`gateDecisions: x must be a Float32Array, got ${x === null ? "null" : typeof x}`);
  if (typeof n !== "number" || !Number.isInteger(n) || n < 0) throw new RangeError(`gateDecisions: n must be an integer >= 0, got ${String(n)}`);
  if (x.length < n * width) throw new RangeError(`gateDecisions: x holds ${x.length} values, ${n} examples of width ${width} need ${n * width}`);
  const gated = model.methodGroups().flatMap((g) => (g.runtime.decisions ? g.layers.filter((l) => l.delta !== null).map((layer) => ({ layer, decide: g.runtime.decisions! })) : []));
  const byLayer = new Map<string, GateDecisions>();
  const probs = new Float32Array(n * classes);
  for (let start = 0; start < n; start += model.maxBatch) {
    const rows = Math.min(model.maxBatch, n - start);
    probs.set(model.predict(x.subarray(start * width, (start + rows) * width), rows), start * classes);
    for (const { layer, decide } of gated) {
      const chosen = decide(model, layer, rows);
      if (!chosen) continue;
      let entry = byLayer.get(layer.name);
      if (!entry) {
        entry = { layer: layer.name, method: layer.method, of: chosen.of, total: chosen.total, counts: new Float64Array(chosen.total), examples: 0, perExample: [] };
        byLayer.set(layer.name, entry);
      }
      chosen.active.forEach((list, r) => {
        for (const j of list) entry!.counts[j]!++;
        // A copy: a method may hand out views of the model's memory, which the next pass overwrites.
        if (start + r < keep) entry!.perExample.push(Int32Array.from(list));
      });
      entry.examples += rows;
    }
  }
  const order = model.manifest.layers.map((l) => l.name);
  const layers = [...byLayer.values()].sort((a, b) => order.indexOf(a.layer) - order.indexOf(b.layer));
  return { probs, layers };
}
