// MoE kernels, backward: every gradient (experts, router, noise weights, input, balance losses)
// against central differences of the f64 reference objective Σ r ⊙ h + balance, both SIMD builds.
import { beforeAll, describe, expect, it } from "vitest";
import { compileKernels, randomArray, VARIANTS, type KernelModule } from "../kernels/harness.js";
import { moeBackward, moeObjective, type MoeParams, type MoeShape } from "./reference.js";
import { asReferenceParams, randomParams, runKernels, shape, type KernelParams } from "./helpers.js";

type Tensor = "wg" | "wn" | "w1" | "b1" | "w2" | "b2" | "x";

const GRADIENT_CASES: [MoeShape, number][] = [
  [shape({ experts: 4, topK: 2, act: "tanh", noisy: true, balance: { kind: "cv", importance: 0.3, load: 0.4 } }), 9],
  [shape({ experts: 5, topK: 1, hidden: 4, act: "sigmoid", balance: { kind: "switch", alpha: 0.5 } }), 8],
  [shape({ experts: 3, topK: 3, hidden: 3, act: "tanh", noisy: true, balance: { kind: "cv", importance: 0.2, load: 0.3 } }), 5],
  [shape({ experts: 4, topK: 2, hidden: 0, act: "linear", capacity: 2, balance: { kind: "cv", importance: 0.5, load: 0.5 } }), 9],
  [shape({ experts: 6, topK: 2, hidden: 3, act: "tanh", noisy: true, capacity: 2, balance: { kind: "switch", alpha: 0.2 } }), 7],
  [shape({ experts: 8, topK: 3, hidden: 0, act: "sigmoid", noisy: true, balance: { kind: "cv", importance: 1, load: 1 } }), 3],
  [shape({ experts: 4, topK: 1, hidden: 0, act: "tanh", noisy: true, balance: { kind: "cv", importance: 0.3, load: 0.3 } }), 1],
  [shape({ experts: 1, topK: 1, hidden: 3, act: "tanh", noisy: true, balance: { kind: "switch", alpha: 1 } }), 4],
  // the router z-loss and the centred router (x minus the batch mean)
  [shape({ experts: 3, topK: 2, act: "tanh", zLoss: 0.5 }), 5],
  [shape({ experts: 4, topK: 2, act: "tanh", balance: { kind: "switch", alpha: 0.3 }, zLoss: 0.4, centred: true }), 6],
  [shape({ experts: 5, topK: 1, hidden: 3, act: "sigmoid", noisy: true, balance: { kind: "cv", importance: 0.3, load: 0.3 }, zLoss: 0.2, centred: true }), 7],
];

function label(s: MoeShape, n: number): string {
  return `E=${s.experts} k=${s.topK} H=${s.hidden} n=${n} ${s.act} noisy=${s.noisy} ${s.balance.kind} cap=${s.capacity} z=${s.zLoss} centred=${s.centred}`;
}

/** Central differences of the reference objective for every element of every tensor. */
function numericGradients(s: MoeShape, p: KernelParams, x: Float32Array, n: number, r: Float32Array): Record<Tensor, Float64Array> {
  const base: Record<Tensor, Float64Array | null> = {
    wg: Float64Array.from(p.wg), wn: p.wn ? Float64Array.from(p.wn) : null, w1: Float64Array.from(p.w1), b1: Float64Array.from(p.b1),
    w2: p.w2 ? Float64Array.from(p.w2) : null, b2: p.b2 ? Float64Array.from(p.b2) : null, x: Float64Array.from(x),
  };
  const params = (): MoeParams => ({ wg: base.wg!, wn: base.wn, w1: base.w1!, b1: base.b1!, w2: base.w2, b2: base.b2 });
  const reference = moeObjective(s, params(), base.x!, n, r).forward;
  const routing = JSON.stringify([Array.from(reference.topIdx), reference.kept]);
  const eps = 1e-5;
  const out = {} as Record<Tensor, Float64Array>;
  for (const t of Object.keys(base) as Tensor[]) {
    const v = base[t];
    out[t] = new Float64Array(v ? v.length : 0);
    if (!v) continue;
    for (let i = 0; i < v.length; i++) {
      const keep = v[i]!;
      v[i] = keep + eps;
      const plus = moeObjective(s, params(), base.x!, n, r);
      v[i] = keep - eps;
      const minus = moeObjective(s, params(), base.x!, n, r);
      v[i] = keep;
      for (const f of [plus.forward, minus.forward]) {
        if (JSON.stringify([Array.from(f.topIdx), f.kept]) !== routing) throw new Error(`routing changed under the perturbation of ${t}[${i}]`);
      }
      out[t][i] = (plus.value - minus.value) / (2 * eps);
    }
  }
  return out;
}

/** max |a - b| / max(max |b|, floor). */
function gradientError(actual: ArrayLike<number>, expected: ArrayLike<number>, floor = 1e-2): number {
  let diff = 0, scale = floor;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i]! - expected[i]!));
    scale = Math.max(scale, Math.abs(expected[i]!));
  }
  return Number.isNaN(diff) ? Infinity : diff / scale;
}

for (const variant of VARIANTS) {
  describe(`moe backward (${variant})`, () => {
    let mod: KernelModule;
    beforeAll(async () => { mod = await compileKernels(["moe"], variant); });

    it("every kernel gradient matches central differences of the f64 reference (experts, router, noise, input, balance)", () => {
      let seed = 100;
      for (const [s, n] of GRADIENT_CASES) {
        seed += 10;
        const p = randomParams(s, seed), x = randomArray(n * s.inputs, seed + 1, -1.5, 1.5), r = randomArray(n * s.units, seed + 2);
        const run = runKernels(mod, s, p, x, n, r, true);
        const numeric = numericGradients(s, p, x, n, r);
        const grads = run.grads!;
        for (const t of Object.keys(numeric) as Tensor[]) {
          if (numeric[t].length === 0) continue;
          expect(gradientError(grads[t], numeric[t]), `${label(s, n)} d${t}`).toBeLessThan(2e-4);
        }
        expect(run.balanceInBackward, label(s, n)).toBe(run.balance);
      }
    });

    it("the reference backward matches central differences (f64, tight)", () => {
      let seed = 500;
      for (const [s, n] of GRADIENT_CASES) {
        seed += 10;
        const p = randomParams(s, seed), x = randomArray(n * s.inputs, seed + 1, -1.5, 1.5), r = randomArray(n * s.units, seed + 2);
        const rp = asReferenceParams(p);
        const f = moeObjective(s, rp, x, n, r).forward;
        const analytic = moeBackward(s, rp, x, n, f, r);
        const numeric = numericGradients(s, p, x, n, r);
        for (const t of Object.keys(numeric) as Tensor[]) {
          if (numeric[t].length === 0) continue;
          expect(gradientError(analytic[t], numeric[t]), `${label(s, n)} d${t}`).toBeLessThan(1e-6);
        }
      }
    });

    it("kernel gradients match the reference backward at a larger shape (E 16, k 2, FFN, relu, n 40)", () => {
      const s = shape({ experts: 16, topK: 2, hidden: 12, units: 10, inputs: 20, act: "relu", noisy: true, balance: { kind: "cv", importance: 0.1, load: 0.1 } });
      const n = 40, p = randomParams(s, 77), x = randomArray(n * s.inputs, 78), r = randomArray(n * s.units, 79);
      const run = runKernels(mod, s, p, x, n, r, true);
      const rp = asReferenceParams(p);
      const ref = moeBackward(s, rp, x, n, moeObjective(s, rp, x, n, r).forward, r);
      for (const t of ["wg", "wn", "w1", "b1", "w2", "b2", "x"] as Tensor[]) {
        expect(gradientError(run.grads![t], ref[t], 1e-3), `d${t}`).toBeLessThan(1e-4);
      }
    });

    it("untouched experts cost nothing: their gradients are not written (or zeroed on request), MACs count routed rows only", () => {
      // n = 2 examples, k = 1, E = 8: at most two experts touched
      const s = shape({ experts: 8, topK: 1, hidden: 3 });
      const p = randomParams(s, 31), x = randomArray(2 * s.inputs, 32), r = randomArray(2 * s.units, 33);
      const lazy = runKernels(mod, s, p, x, 2, r, false);
      const eager = runKernels(mod, s, p, x, 2, r, true);
      const touched = new Set(Array.from(lazy.topIdx));
      const width = s.hidden, D = s.inputs, U = s.units;
      for (let i = 0; i < s.experts; i++) {
        const slice = (a: Float32Array, size: number) => Array.from(a.subarray(i * size, (i + 1) * size));
        for (const [t, size] of [["w1", width * D], ["b1", width], ["w2", U * width], ["b2", U]] as [Tensor, number][]) {
          const a = slice(lazy.grads![t], size), b = slice(eager.grads![t], size);
          if (touched.has(i)) expect(a).toEqual(b);
          else {
            expect(a.every(Number.isNaN), `expert ${i} ${t} untouched`).toBe(true);
            expect(b.every((v) => v === 0), `expert ${i} ${t} zeroed`).toBe(true);
          }
        }
      }
      expect(lazy.backwardMacs).toBe(2 * (width * D + 2 * U * width + width * D));
    });

    it("an empty batch (n = 0) writes zero router gradients, touches no expert and returns zero loss and entropy", () => {
      const s = shape({ experts: 4, topK: 2, hidden: 3, noisy: true, balance: { kind: "cv", importance: 1, load: 1 } });
      const run = runKernels(mod, s, randomParams(s, 61), new Float32Array(0), 0, new Float32Array(0), false);
      expect(run.entropy).toBe(0);
      expect(run.balance).toBe(0);
      expect(run.dropped).toBe(0);
      expect(run.expertMacs).toBe(0);
      expect(run.backwardMacs).toBe(0);
      expect(Array.from(run.grads!.wg).every((v) => v === 0)).toBe(true);
      expect(Array.from(run.grads!.wn).every((v) => v === 0)).toBe(true);
      expect(Array.from(run.grads!.w1).every(Number.isNaN)).toBe(true);
    });

    it("a dropped pair passes zeros: an example whose only pair is dropped has h = 0 and, with no balance loss, dx = 0", () => {
      const s = shape({ experts: 2, topK: 1, capacity: 1, act: "tanh", balance: { kind: "none" } });
      const n = 6, p = randomParams(s, 41), x = randomArray(n * s.inputs, 42), r = randomArray(n * s.units, 43);
      const run = runKernels(mod, s, p, x, n, r, true);
      expect(run.dropped).toBe(n - [...new Set(Array.from(run.topIdx))].length);
      for (let e = 0; e < n; e++) {
        if (run.pairRow[e]! >= 0) continue;
        expect(Array.from(run.h.subarray(e * s.units, (e + 1) * s.units)).every((v) => v === 0)).toBe(true);
        expect(Array.from(run.grads!.x.subarray(e * s.inputs, (e + 1) * s.inputs)).every((v) => v === 0)).toBe(true);
      }
      expect(run.pairRow.some((row) => row < 0)).toBe(true);
    });
  });
}
