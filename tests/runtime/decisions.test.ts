/**
 * @fileoverview `gateDecisions` against plain TypeScript references: a tree layer's leaf is the
 * code of its gater bits, a thresholded policy gate's blocks are those with p > 0.5, a low-rank
 * gate's units are those whose estimate (x U) V + b exceeds the threshold, each computed from
 * the layer's actual input, a mixture of experts' experts are the top k of its router logits
 * less those its capacity dropped; counts are the sums of the per-example lists; the probabilities
 * are predict's; bad arguments throw naming them; an estimator switched off reports nothing.
 */
import v8 from "node:v8";
v8.setFlagsFromString("--experimental-wasm-relaxed-simd");

import { beforeAll, describe, expect, it } from "vitest";
import { compile, type CompileSuccess } from "../../compiler/compile.js";
import { gateDecisions } from "../../runtime/decisions.js";
import { collectFigures, resetCounters } from "../../runtime/report.js";
import { loadModel, type Model } from "../../runtime/model.js";
import { setEstimatorsEnabled } from "../../methods/runtime-registry.js";
import { rng } from "./reference.js";

const SOURCE = `
model Gates {
  input  x: f32[12]
  target y: class[3]
  layer t   = tree(x, 8, depth: 2) relu
  layer p   = dense(t, 8) tanh gate policy(blocks: 4, tau: 0.5, test: threshold)
  layer h   = dense(p, 6) relu gate lowrank(rank: 2, threshold: 0.05)
  layer out = dense(h, 3)
  loss = softmax_cross_entropy(out, y)
}`;

const MAX_BATCH = 8;
const COUNT = 21; // three chunks of the max batch, the last one partial
/** Values this close to a decision boundary may fall either way in f32 kernels; they are skipped. */
const MARGIN = 1e-4;

let compiled: CompileSuccess;
let model: Model;
let x: Float32Array;

beforeAll(async () => {
  const result = await compile(SOURCE, { file: "gates.cond", maxBatch: MAX_BATCH, simd: "plain" });
  if (!result.ok) throw new Error(result.diagnostics.map((d) => d.message).join("\n"));
  compiled = result;
  model = await loadModel(result.wasm, result.manifest);
  model.init(11);
  // Spread the gates' inputs so that decisions vary and few sit on a boundary.
  const random = rng(5);
  const spread = (name: string, scale: number) => model.setParameter(name, model.parameter(name).map(() => (random() * 2 - 1) * scale));
  spread("t.gater_weight", 1);
  spread("p.policy_weight", 2);
  spread("p.policy_bias", 1);
  x = Float32Array.from({ length: COUNT * 12 }, () => random());
});

/** Row r of a layer's input, as the module computed it in the last forward pass. */
function layerInput(layer: string, r: number): Float32Array {
  const l = model.manifest.layers.find((m) => m.name === layer)!;
  const source = l.source === null ? "input" : model.manifest.layers.find((m) => m.name === l.source)!.output;
  return model.regionView(source).slice(r * l.inputs, (r + 1) * l.inputs);
}

const dot = (a: ArrayLike<number>, aOffset: number, aStride: number, b: ArrayLike<number>, length: number): number => {
  let s = 0;
  for (let k = 0; k < length; k++) s += a[aOffset + k * aStride]! * b[k]!;
  return s;
};

/** Expected decisions of the examples of one chunk [start, start + rows), null where a value is on a boundary. */
function reference(start: number, rows: number): Map<string, (number[] | null)[]> {
  model.predict(x.subarray(start * 12, (start + rows) * 12), rows);
  const out = new Map<string, (number[] | null)[]>();
  const gw = model.parameter("t.gater_weight"), gb = model.parameter("t.gater_bias");
  const pw = model.parameter("p.policy_weight"), pb = model.parameter("p.policy_bias");
  const u = model.parameter("h.lowrank_u"), v = model.parameter("h.lowrank_v"), hb = model.parameter("h.bias");
  const tree: (number[] | null)[] = [], policy: (number[] | null)[] = [], lowrank: (number[] | null)[] = [];
  for (let r = 0; r < rows; r++) {
    const xt = layerInput("t", r);
    let code = 0, near = false;
    for (let i = 0; i < 2; i++) {
      const g = dot(gw, i * 12, 1, xt, 12) + gb[i]!;
      near ||= Math.abs(g) < MARGIN;
      code = (code << 1) | (g > 0 ? 1 : 0);
    }
    tree.push(near ? null : [code]);
    const xp = layerInput("p", r);
    const blocks: number[] = [];
    near = false;
    for (let j = 0; j < 4; j++) {
      const p = 0.98 / (1 + Math.exp(-(dot(pw, j, 4, xp, 8) + pb[j]!))) + 0.01;
      near ||= Math.abs(p - 0.5) < MARGIN;
      if (p > 0.5) blocks.push(j);
    }
    policy.push(near ? null : blocks);
    const xh = layerInput("h", r);
    const t = [0, 1].map((q) => dot(u, q, 2, xh, 8));
    const units: number[] = [];
    near = false;
    for (let j = 0; j < 6; j++) {
      const z = t[0]! * v[j]! + t[1]! * v[6 + j]! + hb[j]!;
      near ||= Math.abs(z - 0.05) < MARGIN;
      if (z > 0.05) units.push(j);
    }
    lowrank.push(near ? null : units);
  }
  out.set("t", tree).set("p", policy).set("h", lowrank);
  return out;
}

describe("gateDecisions", () => {
  it("reports each gated layer's choices per example, equal to the references, and counts them", () => {
    const report = gateDecisions(model, x, COUNT, { keep: COUNT });
    expect(report.layers.map((l) => [l.layer, l.method, l.of, l.total, l.examples])).toEqual([
      ["t", "tree", "leaf", 4, COUNT],
      ["p", "policy", "block", 4, COUNT],
      ["h", "lowrank", "unit", 6, COUNT],
    ]);
    expect(Array.from(report.probs)).toEqual(Array.from(model.predict(x, COUNT)));
    let compared = 0;
    const seen = new Map<string, Set<string>>();
    for (let start = 0; start < COUNT; start += MAX_BATCH) {
      const rows = Math.min(MAX_BATCH, COUNT - start);
      const expected = reference(start, rows);
      for (const layer of report.layers) {
        expected.get(layer.layer)!.forEach((want, r) => {
          if (want === null) return;
          const got = Array.from(layer.perExample[start + r]!);
          expect(got, `${layer.layer}, example ${start + r}`).toEqual(want);
          compared++;
          if (!seen.has(layer.layer)) seen.set(layer.layer, new Set());
          seen.get(layer.layer)!.add(got.join(","));
        });
      }
    }
    // Not vacuous: nearly every example compared, and the choices differ between examples.
    expect(compared).toBeGreaterThan(3 * COUNT - 3);
    for (const layer of ["t", "p", "h"]) expect(seen.get(layer)!.size, layer).toBeGreaterThan(1);
    for (const layer of report.layers) {
      const sums = new Float64Array(layer.total);
      for (const list of layer.perExample) for (const j of list) sums[j]++;
      expect(Array.from(layer.counts), layer.layer).toEqual(Array.from(sums));
    }
  });

  it("keeps only the first `keep` examples' lists but counts all", () => {
    const all = gateDecisions(model, x, COUNT, { keep: COUNT });
    const some = gateDecisions(model, x, COUNT, { keep: 3 });
    for (const [i, layer] of some.layers.entries()) {
      expect(layer.perExample.length).toBe(3);
      expect(layer.perExample.map((a) => Array.from(a))).toEqual(all.layers[i]!.perExample.slice(0, 3).map((a) => Array.from(a)));
      expect(Array.from(layer.counts)).toEqual(Array.from(all.layers[i]!.counts));
    }
  });

  it("leaves out a low-rank layer whose estimator is switched off", () => {
    setEstimatorsEnabled(model, false);
    try {
      expect(gateDecisions(model, x, 4).layers.map((l) => l.layer)).toEqual(["t", "p"]);
    } finally {
      setEstimatorsEnabled(model, true);
    }
    expect(gateDecisions(model, x, 4).layers.map((l) => l.layer)).toEqual(["t", "p", "h"]);
  });

  it("refuses bad arguments naming them", () => {
    expect(() => gateDecisions(model, [1, 2] as unknown as Float32Array, 1)).toThrow(/gateDecisions: x must be a Float32Array/);
    expect(() => gateDecisions(model, x, -1)).toThrow(/gateDecisions: n must be an integer >= 0, got -1/);
    expect(() => gateDecisions(model, x, COUNT + 1)).toThrow(/gateDecisions: x holds 252 values, 22 examples of width 12 need 264/);
    expect(() => gateDecisions(model, x, 2, { keep: 1.5 })).toThrow(/options.keep must be an integer >= 0/);
    expect(compiled.manifest.model).toBe("Gates");
  });
});

describe("gateDecisions of a mixture of experts", () => {
  const source = (capacity: string) => `
model Experts {
  input  x: f32[12]
  target y: class[3]
  layer m   = moe(x, 6, experts: 4, top_k: 2${capacity}) relu
  layer out = dense(m, 3)
  loss = softmax_cross_entropy(out, y)
}`;

  async function experts(capacity: string): Promise<Model> {
    const result = await compile(source(capacity), { file: "experts.cond", maxBatch: MAX_BATCH, simd: "plain" });
    if (!result.ok) throw new Error(result.diagnostics.map((d) => d.message).join("\n"));
    const m = await loadModel(result.wasm, result.manifest);
    m.init(3);
    return m;
  }

  it("dropless: each example's experts are the top 2 of its router logits", async () => {
    const m = await experts("");
    const report = gateDecisions(m, x, COUNT, { keep: COUNT });
    expect(report.layers.map((l) => [l.layer, l.method, l.of, l.total, l.examples])).toEqual([["m", "moe", "expert", 4, COUNT]]);
    const w = m.parameter("m.router_weight"); // [E, inputs]
    let compared = 0;
    for (let e = 0; e < COUNT; e++) {
      const logits = [0, 1, 2, 3].map((i) => dot(w, i * 12, 1, x.subarray(e * 12, (e + 1) * 12), 12));
      const order = [0, 1, 2, 3].sort((a, b) => logits[b]! - logits[a]!);
      if (logits[order[1]!]! - logits[order[2]!]! < MARGIN) continue;
      expect(Array.from(report.layers[0]!.perExample[e]!), `example ${e}`).toEqual(order.slice(0, 2).sort());
      compared++;
    }
    expect(compared).toBeGreaterThan(COUNT - 3);
    expect(Array.from(report.layers[0]!.counts).reduce((a, b) => a + b, 0)).toBe(2 * COUNT);
  });

  it("with a capacity: dropped choices are left out, as many as the layer's counters say", async () => {
    const m = await experts(", capacity: 0.5");
    resetCounters(m, "eval");
    const report = gateDecisions(m, x, COUNT, { keep: COUNT });
    const figures = collectFigures(m, "eval").layers.get("m")!;
    const dropped = figures.metrics["dropped_fraction"] as number;
    expect(dropped).toBeGreaterThan(0);
    const kept = Array.from(report.layers[0]!.counts).reduce((a, b) => a + b, 0);
    expect(kept).toBe(Math.round(2 * COUNT * (1 - dropped)));
    expect(report.layers[0]!.perExample.some((l) => l.length < 2)).toBe(true);
  });
});
