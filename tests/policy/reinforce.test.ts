// REINFORCE unbiasedness on a toy problem (docs/methods/policy.md §12, check 3): one policy of
// 4 blocks with fixed logits Q, cost C(u) a non-linear function of the sampled mask. The
// wasm kernels (policySample from the counter RNG, policyGradient) produce 10^4 single-
// sample estimates (c - β) ∂log π/∂Q; their mean must lie within 3 standard errors of the
// exact ∇_Q E[C] (16 configurations enumerated, central differences in f64). The wasm
// per-example gradient must equal the TypeScript reference formula. Also the regularizer
// gradient (paper and code forms) against finite differences of the regularizers.
import { beforeAll, describe, expect, it } from "vitest";
import { compileKernels, VARIANTS, type KernelModule } from "../kernels/harness.js";

const NB = 4;
const Q = [-1.1, 0.3, 1.4, -0.2];
const sigm = (q: number) => 1 / (1 + Math.exp(-q));
const cost = (u: ArrayLike<number>) => (u[0]! + 2 * u[1]! - 1.5 * u[2]! * u[3]! + 0.5) ** 2 + 0.3 * u[3]!;

function expectedCost(q: number[], s: number): number {
  let total = 0;
  for (let m = 0; m < 1 << NB; m++) {
    const u = Array.from({ length: NB }, (_, j) => (m >> j) & 1);
    let prob = 1;
    for (let j = 0; j < NB; j++) { const p = (1 - 2 * s) * sigm(q[j]!) + s; prob *= u[j] ? p : 1 - p; }
    total += prob * cost(u);
  }
  return total;
}

function exactGradient(s: number): number[] {
  return Q.map((_, j) => {
    const h = 1e-6, a = Q.slice(), b = Q.slice();
    a[j]! += h; b[j]! -= h;
    return (expectedCost(a, s) - expectedCost(b, s)) / (2 * h);
  });
}

for (const variant of VARIANTS) {
  describe(`REINFORCE kernels (${variant})`, () => {
    let mod: KernelModule;
    beforeAll(async () => { mod = await compileKernels(["policy", "rng"], variant); }, 120_000);

    for (const [s, beta] of [[0, 0], [0.01, 0], [0.01, 2.0]] as const) {
      it(`mean of 10^4 estimates within 3 s.e. of the exact gradient (squash ${s}, baseline ${beta})`, () => {
        mod.reset();
        const n = 10_000;
        const sigma = mod.putF32(Float32Array.from({ length: n * NB }, (_, i) => sigm(Q[i % NB]!)));
        const u = mod.alloc(n * NB * 4), list = mod.alloc(n * NB * 4), count = mod.alloc(n * 4);
        mod.exports.policySample(sigma, u, list, count, n, NB, s, -1, 0, 1234, 77, 0);
        const U = mod.f32(u, n * NB).slice();
        const C = Float32Array.from({ length: n }, (_, i) => cost(U.subarray(i * NB, i * NB + NB)));
        const c = mod.putF32(C);
        const mu = mod.alloc(NB * 4), e = mod.alloc(n * NB * 4);
        mod.exports.policyGradient(sigma, u, c, beta, n, NB, s, 0.25, 0, 0, 0, 0, mu, e);
        const E = mod.f32(e, n * NB);
        const truth = exactGradient(s);
        for (let j = 0; j < NB; j++) {
          let sum = 0, sq = 0, worst = 0;
          for (let i = 0; i < n; i++) {
            const g = E[i * NB + j]! * n;
            sum += g; sq += g * g;
            // TS reference of the per-example estimate
            const sg = Math.fround(sigm(Q[j]!)), uj = U[i * NB + j]!;
            const p = (1 - 2 * s) * sg + s;
            const dlog = s === 0 ? uj - sg : (1 - 2 * s) * sg * (1 - sg) * (uj ? 1 / p : -1 / (1 - p));
            worst = Math.max(worst, Math.abs(g - (C[i]! - beta) * dlog) / Math.max(1, Math.abs((C[i]! - beta) * dlog)));
          }
          expect(worst, `wasm vs TS reference, block ${j}`).toBeLessThan(1e-3);
          const mean = sum / n, se = Math.sqrt((sq / n - mean * mean) / n);
          expect(Math.abs(mean - truth[j]!), `block ${j}: mean ${mean}, exact ${truth[j]}, s.e. ${se}`).toBeLessThan(3 * se);
        }
        // the sampled frequencies match p
        for (let j = 0; j < NB; j++) {
          let on = 0;
          for (let i = 0; i < n; i++) on += U[i * NB + j]!;
          const p = (1 - 2 * s) * sigm(Q[j]!) + s;
          expect(Math.abs(on / n - p)).toBeLessThan(4 * Math.sqrt(p * (1 - p) / n));
        }
      });
    }

    it("masks are 1[uniform(seed, stream, i·nb + j) < p] of the counter RNG (keyed by seed, step·64 + layer, example, block)", () => {
      mod.reset();
      const n = 13, nb = 7, s = 0.01, seed = 99, stream = 5 * 64 + 2;
      const sig = Float32Array.from({ length: n * nb }, (_, i) => (Math.sin(i) + 1) / 2);
      const sigma = mod.putF32(sig), u = mod.alloc(n * nb * 4), list = mod.alloc(n * nb * 4), count = mod.alloc(n * 4);
      mod.exports.policySample(sigma, u, list, count, n, nb, s, -1, 0, seed, stream, 0);
      const U = mod.f32(u, n * nb), L = mod.i32(list, n * nb), C = mod.i32(count, n);
      for (let i = 0; i < n; i++) {
        const on: number[] = [];
        for (let j = 0; j < nb; j++) {
          const p = Math.fround(Math.fround(0.98) * sig[i * nb + j]! + 0.01);
          const expected = mod.exports.uniform(seed, stream, i * nb + j) < p ? 1 : 0;
          expect(U[i * nb + j]).toBe(expected);
          if (expected) on.push(j);
        }
        expect(C[i]).toBe(on.length);
        expect(Array.from(L.subarray(i * nb, i * nb + on.length))).toEqual(on);
      }
    });

    for (const form of [0, 1] as const) {
      it(`regularizer gradient (${form === 0 ? "paper" : "code"} form) = finite differences`, () => {
        mod.reset();
        const n = 7, s = 0.01, tau = 0.3, ls = 2.5, lv = 1.7;
        const q = Array.from({ length: n * NB }, (_, i) => Math.sin(i * 1.7) * 2);
        const reg = (qq: number[]) => {
          const v = qq.map((x) => (form === 0 ? sigm(x) : (1 - 2 * s) * sigm(x) + s));
          const mu = Array.from({ length: NB }, (_, j) => { let t = 0; for (let i = 0; i < n; i++) t += v[i * NB + j]!; return t / n; });
          const nu = Array.from({ length: n }, (_, i) => { let t = 0; for (let j = 0; j < NB; j++) t += v[i * NB + j]!; return t / NB; });
          let r = 0;
          if (form === 0) {
            for (let j = 0; j < NB; j++) r += ls * Math.abs(mu[j]! - tau);
            for (let i = 0; i < n; i++) r += (ls / n) * Math.abs(nu[i]! - tau);
            for (let j = 0; j < NB; j++) for (let i = 0; i < n; i++) r -= (lv / n) * (v[i * NB + j]! - mu[j]!) ** 2;
          } else {
            for (let j = 0; j < NB; j++) r += ls * (mu[j]! - tau) ** 2;
            for (let i = 0; i < n; i++) r += 0.001 * ls * (nu[i]! - tau) ** 2;
            for (let j = 0; j < NB; j++) { let t = 0; for (let i = 0; i < n; i++) t += (v[i * NB + j]! - mu[j]!) ** 2; r -= lv * t / n; }
            for (let i = 0; i < n; i++) { let t = 0; for (let j = 0; j < NB; j++) t += (v[i * NB + j]! - nu[i]!) ** 2; r -= 0.1 * lv * t / NB; }
          }
          return r;
        };
        const sigma = mod.putF32(q.map(sigm)), u = mod.putF32(new Float32Array(n * NB)), c = mod.putF32(new Float32Array(n));
        const mu = mod.alloc(NB * 4), e = mod.alloc(n * NB * 4);
        mod.exports.policyGradient(sigma, u, c, 0, n, NB, s, tau, ls, lv, 1, form, mu, e);
        const E = mod.f32(e, n * NB);
        for (let idx = 0; idx < n * NB; idx++) {
          const h = 1e-6, a = q.slice(), b = q.slice();
          a[idx]! += h; b[idx]! -= h;
          const fd = (reg(a) - reg(b)) / (2 * h);
          expect(Math.abs(E[idx]! - fd), `entry ${idx}`).toBeLessThan(2e-4 * Math.max(1, Math.abs(fd)));
        }
      });
    }
  });
}
