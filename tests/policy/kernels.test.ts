// Block-sparse kernels (runtime/kernels/blocksparse.ts) against dense-then-mask in f64:
// the authors' sparse_dot self-test (docs/methods/policy.md §12, check 1): 64 examples,
// 1024 x 1024, B = 32, block-mask density ~0.105, ss / fs / sf and the gradients
// (A, W, c), mean abs diff < 1e-4; sf and tails with widths 1008 and 1000.
import { beforeAll, describe, expect, it } from "vitest";
import { compileKernels, randomArray, VARIANTS, type KernelModule } from "../kernels/harness.js";

interface Case { n: number; N: number; K: number; B: number; bIn: number; outMasked: boolean; inMasked: boolean }

function blockMask(n: number, nb: number, density: number, seed: number): Uint8Array {
  const r = randomArray(n * nb, seed, 0, 1);
  return Uint8Array.from(r, (v) => (v < density ? 1 : 0));
}

function lists(mask: Uint8Array, n: number, nb: number): { list: Int32Array; count: Int32Array } {
  const list = new Int32Array(n * nb), count = new Int32Array(n);
  for (let i = 0; i < n; i++) for (let b = 0; b < nb; b++) if (mask[i * nb + b]) list[i * nb + count[i]!++] = b;
  return { list, count };
}

function put(mod: KernelModule, a: Int32Array): number {
  const p = mod.alloc(Math.max(4, a.length * 4));
  mod.i32(p, a.length).set(a);
  return p;
}

function meanAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < b.length; i++) s += Math.abs(a[i]! - b[i]!);
  return s / b.length;
}

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < b.length; i++) s = Math.max(s, Math.abs(a[i]! - b[i]!));
  return Number.isNaN(s) ? Infinity : s;
}

function runCase(mod: KernelModule, c: Case, seed: number) {
  mod.reset();
  const { n, N, K, B, bIn } = c;
  const nbOut = Math.ceil(N / B), nbIn = Math.ceil(K / bIn);
  const om = c.outMasked ? blockMask(n, nbOut, 0.105, seed) : new Uint8Array(n * nbOut).fill(1);
  const am = c.inMasked ? blockMask(n, nbIn, 0.105, seed + 1) : new Uint8Array(n * nbIn).fill(1);
  const A = randomArray(n * K, seed + 2);
  const W = randomArray(N * K, seed + 3, -0.1, 0.1);
  const bias = randomArray(N, seed + 4);
  const G = randomArray(n * N, seed + 5);
  // A ⊙ Am as the kernels see it (the source's inactive blocks hold zeros in the model; here
  // they hold garbage to show that ss never reads them)
  const am1 = (i: number, k: number) => am[i * nbIn + Math.floor(k / bIn)]!;
  const om1 = (i: number, j: number) => om[i * nbOut + Math.floor(j / B)]!;
  // references in f64
  const O = new Float64Array(n * N), dA = new Float64Array(n * K), dW = new Float64Array(N * K), dc = new Float64Array(N);
  for (let i = 0; i < n; i++) for (let j = 0; j < N; j++) {
    if (!om1(i, j)) continue;
    let s = bias[j]!;
    for (let k = 0; k < K; k++) if (am1(i, k)) s += A[i * K + k]! * W[j * K + k]!;
    O[i * N + j] = s;
    const g = G[i * N + j]!;
    dc[j] += g;
    for (let k = 0; k < K; k++) if (am1(i, k)) { dA[i * K + k] += g * W[j * K + k]!; dW[j * K + k] += g * A[i * K + k]!; }
  }
  const pA = mod.putF32(A), pW = mod.putF32(W), pb = mod.putF32(bias), pG = mod.putF32(G);
  const out = lists(om, n, nbOut), inp = lists(am, n, nbIn);
  const pOl = put(mod, out.list), pOc = put(mod, out.count), pIl = put(mod, inp.list), pIc = put(mod, inp.count);
  const pU = mod.putF32(Float32Array.from(om));
  const pO = mod.putF32(new Float32Array(n * N).fill(NaN));
  const e = mod.exports;
  const outArgs = c.outMasked ? [pOl, pOc, nbOut] : [0, 0, nbOut];
  const inArgs = c.inMasked ? [pIl, pIc, nbIn, bIn] : [0, 0, nbIn, bIn];
  e.bsForward(n, N, K, pA, pW, pb, pO, B, ...outArgs, ...inArgs);
  let grouped = 0;
  if (!c.inMasked) {
    const pO2 = mod.putF32(new Float32Array(n * N).fill(NaN));
    const groups = mod.alloc((nbOut + nbOut * n) * 4);
    e.bsForwardGrouped(n, N, K, pA, pW, pb, pO2, B, ...outArgs, groups);
    grouped = meanAbs(mod.f32(pO2, n * N), O) + (maxAbs(mod.f32(pO2, n * N), O) > 1e-3 ? 1 : 0);
  }
  // G ⊙ Om (linear activation) then colsum; dA over active pairs; dW block-pair-sparse
  e.bsActivationBackward(pG, pO, n, N, B, pU, nbOut, 0);
  const pdc = mod.alloc(N * 4);
  e.columnSums(pG, n, N, pdc);
  const pdA = mod.putF32(new Float32Array(n * K).fill(NaN));
  e.bsBackwardInput(n, N, K, pG, pW, pdA, B, ...outArgs, ...inArgs, 0);
  const pdW = mod.putF32(new Float32Array(N * K).fill(NaN));
  e.bsBackwardWeight(n, N, K, pG, pA, pdW, B, ...outArgs, ...inArgs, 0);
  // dA is only meaningful on active input blocks (the source masks the rest)
  const gotA = Float64Array.from(mod.f32(pdA, n * K), (v, idx) => (am1(Math.floor(idx / K), idx % K) ? v : 0));
  // the dense dW reference: (A ⊙ Am)ᵀ (G ⊙ Om) via gemmTN on masked copies
  const Am = Float32Array.from(A, (v, idx) => (am1(Math.floor(idx / K), idx % K) ? v : 0));
  const pAm = mod.putF32(Am);
  const pdW2 = mod.alloc(N * K * 4);
  e.gemmTN(N, K, n, pG, N, pAm, K, pdW2, K, 0);
  return {
    grouped, O: meanAbs(mod.f32(pO, n * N), O), Omax: maxAbs(mod.f32(pO, n * N), O),
    dA: meanAbs(gotA, dA), dW: meanAbs(mod.f32(pdW, N * K), dW), dWgemm: meanAbs(mod.f32(pdW2, N * K), dW),
    dc: meanAbs(mod.f32(pdc, N), dc),
  };
}

for (const variant of VARIANTS) {
  describe(`block-sparse kernels (${variant})`, () => {
    let mod: KernelModule;
    beforeAll(async () => { mod = await compileKernels(["blocksparse", "gemm", "elementwise"], variant); }, 120_000);

    const self: [string, Case][] = [
      ["ss", { n: 64, N: 1024, K: 1024, B: 32, bIn: 32, outMasked: true, inMasked: true }],
      ["fs", { n: 64, N: 1024, K: 1024, B: 32, bIn: 32, outMasked: true, inMasked: false }],
      ["sf", { n: 64, N: 1024, K: 1024, B: 32, bIn: 32, outMasked: false, inMasked: true }],
      ["sf n_out 1008", { n: 64, N: 1008, K: 1024, B: 32, bIn: 32, outMasked: false, inMasked: true }],
      ["sf n_out 1000", { n: 64, N: 1000, K: 1024, B: 32, bIn: 32, outMasked: false, inMasked: true }],
      ["ss widths 1008 x 1000 (tails on both sides)", { n: 64, N: 1008, K: 1000, B: 32, bIn: 32, outMasked: true, inMasked: true }],
      ["fs 1000 x 1000, odd tail rows", { n: 17, N: 1000, K: 1000, B: 32, bIn: 32, outMasked: true, inMasked: false }],
      ["ss small odd shapes", { n: 5, N: 37, K: 23, B: 6, bIn: 5, outMasked: true, inMasked: true }],
    ];
    for (const [name, c] of self) {
      it(`${name}: forward and gradients (A, W, c) equal dense-then-mask`, () => {
        const r = runCase(mod, c, c.N + c.K + c.n);
        expect(r.O, "O mean abs").toBeLessThan(1e-4);
        expect(r.grouped, "fs grouped by output block").toBeLessThan(1e-4);
        expect(r.Omax, "O max abs").toBeLessThan(1e-3);
        expect(r.dA, "dA").toBeLessThan(1e-4);
        expect(r.dW, "dW block-sparse").toBeLessThan(1e-4);
        expect(r.dWgemm, "dW dense gemm on masked operands").toBeLessThan(1e-4);
        expect(r.dc, "dc").toBeLessThan(1e-4);
      });
    }
  });
}
