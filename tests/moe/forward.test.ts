// MoE kernels, forward: routing, noise, gates, dispatch, capacity and combine against the f64
// reference (tests/moe/reference.ts), on both SIMD builds.
import { beforeAll, describe, expect, it } from "vitest";
import { compileKernels, elementwiseRelativeError, randomArray, relativeMaxError, VARIANTS, type KernelModule } from "../kernels/harness.js";
import { moeForward, type MoeShape } from "./reference.js";
import { asReferenceParams, randomParams, runKernels, shape } from "./helpers.js";

// [experts, topK, hidden, n, activation, noisy, balance, capacity]
const CASES: MoeShape[] = [
  shape({ experts: 1, topK: 1, hidden: 0, act: "relu" }),
  shape({ experts: 2, topK: 1, hidden: 0, act: "tanh", balance: { kind: "switch", alpha: 0.01 } }),
  shape({ experts: 4, topK: 2, hidden: 0, act: "sigmoid", noisy: true, balance: { kind: "cv", importance: 0.1, load: 0.1 } }),
  shape({ experts: 8, topK: 2, hidden: 5, act: "relu", balance: { kind: "cv", importance: 0.1, load: 0.2 } }),
  shape({ experts: 8, topK: 1, hidden: 6, act: "tanh", noisy: true, balance: { kind: "switch", alpha: 0.05 } }),
  shape({ experts: 16, topK: 3, hidden: 0, act: "linear", inputs: 33, units: 19 }),
  shape({ experts: 5, topK: 5, hidden: 3, act: "tanh", noisy: true, balance: { kind: "cv", importance: 1, load: 1 } }),
  shape({ experts: 6, topK: 2, hidden: 0, act: "relu", capacity: 2, balance: { kind: "switch", alpha: 1 } }),
  shape({ experts: 4, topK: 2, hidden: 4, act: "sigmoid", noisy: true, capacity: 3, balance: { kind: "cv", importance: 0.5, load: 0.5 } }),
  shape({ experts: 4, topK: 2, hidden: 0, act: "tanh", balance: { kind: "switch", alpha: 0.1 }, zLoss: 0.3, centred: true }),
  shape({ experts: 5, topK: 1, hidden: 3, act: "relu", noisy: true, balance: { kind: "cv", importance: 0.2, load: 0.2 }, zLoss: 0.05, centred: true }),
];
const BATCHES = [1, 3, 17, 40];

function check(mod: KernelModule, s: MoeShape, n: number, seed: number): void {
  const label = `E=${s.experts} k=${s.topK} H=${s.hidden} n=${n} ${s.act} noisy=${s.noisy} ${s.balance.kind} cap=${s.capacity} z=${s.zLoss} centred=${s.centred}`;
  const p = randomParams(s, seed);
  const x = randomArray(n * s.inputs, seed + 99, -2, 2);
  const got = runKernels(mod, s, p, x, n, null);
  const ref = moeForward(s, asReferenceParams(p), x, n);
  expect(Array.from(got.topIdx), label).toEqual(Array.from(ref.topIdx));
  if (s.noisy) expect(elementwiseRelativeError(got.noise, ref.noise, 1e-3), label).toBeLessThan(1e-6);
  expect(relativeMaxError(got.gateLogits, ref.gateLogits), label).toBeLessThan(1e-6);
  expect(elementwiseRelativeError(got.probs, ref.probs, 1e-6), label).toBeLessThan(1e-5);
  expect(elementwiseRelativeError(got.gates, ref.gates, 1e-6), label).toBeLessThan(1e-5);
  expect(Array.from(got.counts), label).toEqual(Array.from(ref.counts));
  expect(got.dropped, label).toBe(ref.dropped);
  expect(Array.from(got.pairRow).map((r) => r >= 0), label).toEqual(ref.kept);
  expect(relativeMaxError(got.h, ref.h), label).toBeLessThan(1e-5);
  expect(Math.abs(got.entropy - ref.entropy), label).toBeLessThan(1e-5 * Math.max(1, ref.entropy));
  expect(Math.abs(got.balance - ref.balance), label).toBeLessThan(1e-5 * Math.max(1e-3, Math.abs(ref.balance)));
  expect(got.expertMacs, label).toBe(ref.macs);
  expect(got.routerMacs, label).toBe(n * s.experts * s.inputs * (s.noisy ? 2 : 1));
  // stable layout: each expert's rows hold its kept pairs in example order
  const start = got.expertStart;
  expect(start[0]).toBe(0);
  expect(start[s.experts], label).toBe(n * s.topK - ref.dropped);
  for (let i = 0; i < s.experts; i++) {
    const rows: number[] = [];
    got.pairRow.forEach((r, q) => { if (r >= 0 && got.topIdx[q] === i) rows.push(r); });
    expect(rows, label).toEqual(Array.from({ length: start[i + 1]! - start[i]! }, (_, j) => start[i]! + j));
  }
}

for (const variant of VARIANTS) {
  describe(`moe forward (${variant})`, () => {
    let mod: KernelModule;
    beforeAll(async () => { mod = await compileKernels(["moe"], variant); });

    it("matches the f64 reference: routing, noise, gates, dispatch, combine, counters (E 1..16, k 1..5, n 1..40, n < E)", () => {
      let seed = 1;
      for (const s of CASES) for (const n of BATCHES) check(mod, s, n, seed++ * 10);
    });

    it("counting sort: (slot, example) priority under a capacity, example order within an expert", () => {
      mod.reset();
      const n = 5, k = 2, E = 3;
      // pairs (example: first, second choice)
      const top = [0, 1, /**/ 1, 0, /**/ 0, 2, /**/ 0, 1, /**/ 2, 0];
      const pTop = mod.alloc(n * k * 4);
      mod.i32(pTop, n * k).set(top);
      const counts = mod.alloc(E * 4), start = mod.alloc((E + 1) * 4), rowPair = mod.alloc(n * k * 4), pairRow = mod.alloc(n * k * 4);
      const dropped = mod.exports.moeDispatch(pTop, n, k, E, 2, counts, start, rowPair, pairRow);
      // expert 0: first choices of examples 0, 2, 3 (capacity 2: example 3 dropped although
      // second choices of 1 and 4 also target it: first choices go first); expert 1: second
      // choices of 0 and 3 and first of 1 -> first of 1 and second of 0 kept; expert 2: 2nd of 2, 1st of 4.
      expect(Array.from(mod.i32(counts, E))).toEqual([5, 3, 2]);
      expect(dropped).toBe(4);
      expect(Array.from(mod.i32(start, E + 1))).toEqual([0, 2, 4, 6]);
      expect(Array.from(mod.i32(rowPair, 6))).toEqual([0, 4, 1, 2, 5, 8]);
      expect(Array.from(mod.i32(pairRow, n * k))).toEqual([0, 2, 3, -1, 1, 4, -1, -1, 5, -1]);
      // dropless: everything kept, stable by example
      const d2 = mod.exports.moeDispatch(pTop, n, k, E, -1, counts, start, rowPair, pairRow);
      expect(d2).toBe(0);
      expect(Array.from(mod.i32(start, E + 1))).toEqual([0, 5, 8, 10]);
      expect(Array.from(mod.i32(rowPair, 10))).toEqual([0, 3, 4, 6, 9, 1, 2, 7, 5, 8]);
    });

    it("moeCapacity is ceil(c k n / E) without representation slack", () => {
      const cap = mod.exports.moeCapacity;
      expect(cap(1.1, 1, 10, 1)).toBe(11);
      expect(cap(1.0, 2, 128, 8)).toBe(32);
      expect(cap(1.25, 1, 17, 4)).toBe(6);
      expect(cap(2, 1, 3, 8)).toBe(1);
      expect(cap(0.3, 1, 10, 1)).toBe(3);
      expect(cap(1.5, 2, 7, 3)).toBe(7);
    });

    it("noise follows (seed, step, layer, example, expert); without noise the gate logits are the logits", () => {
      const s = shape({ experts: 6, topK: 2, noisy: true, seed: 11, step: 5, layer: 2 });
      const p = randomParams(s, 3), x = randomArray(4 * s.inputs, 4);
      const a = runKernels(mod, s, p, x, 4, null);
      const nextStep = runKernels(mod, { ...s, step: 6 }, p, x, 4, null);
      const otherLayer = runKernels(mod, { ...s, layer: 3 }, p, x, 4, null);
      const otherSeed = runKernels(mod, { ...s, seed: 12 }, p, x, 4, null);
      for (const other of [nextStep, otherLayer, otherSeed]) {
        let same = 0;
        other.noise.forEach((v, i) => { if (v === a.noise[i]) same++; });
        expect(same).toBe(0);
      }
      // the first example's noise does not depend on the batch size
      const one = runKernels(mod, s, p, x.subarray(0, s.inputs), 1, null);
      expect(Array.from(one.noise)).toEqual(Array.from(a.noise.subarray(0, s.experts)));
      // standard normal moments over many samples
      const big = runKernels(mod, shape({ experts: 16, topK: 1, noisy: true, inputs: 4 }), randomParams(shape({ experts: 16, noisy: true, inputs: 4 }), 5), randomArray(512 * 4, 6), 512, null);
      const z = Array.from(big.noise), mean = z.reduce((q, v) => q + v, 0) / z.length;
      const variance = z.reduce((q, v) => q + (v - mean) ** 2, 0) / z.length;
      expect(Math.abs(mean)).toBeLessThan(0.05);
      expect(Math.abs(variance - 1)).toBeLessThan(0.05);
      const clean = runKernels(mod, { ...s, noisy: false }, { ...p, wn: null }, x, 4, null);
      expect(Array.from(clean.gateLogits)).toEqual(Array.from(clean.logits));
    });

    it("top-k ties go to the lower expert index", () => {
      // zero router weights: all logits equal, so the selection is 0..k-1 and the gates uniform
      const s = shape({ experts: 5, topK: 3 });
      const p = randomParams(s, 8);
      p.wg.fill(0);
      const r = runKernels(mod, s, p, randomArray(3 * s.inputs, 9), 3, null);
      expect(Array.from(r.topIdx)).toEqual([0, 1, 2, 0, 1, 2, 0, 1, 2]);
      for (const g of r.gates) expect(g).toBeCloseTo(1 / 3, 6);
      expect(r.entropy).toBeCloseTo(Math.log(5), 6);
    });
  });
}
