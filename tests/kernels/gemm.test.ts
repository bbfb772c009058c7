// GEMM family (gemmNN, gemmNT, gemmTN, gemv) against an f64 TypeScript reference, both builds.
import { beforeAll, describe, expect, it } from "vitest";
import { compileKernels, randomArray, relativeMaxError, VARIANTS, type KernelModule } from "./harness.js";
import { referenceGemm } from "./gemm-reference.js";

type Op = "NN" | "NT" | "TN";
const OPS: Op[] = ["NN", "NT", "TN"];

// [m, n, k]: edges of the 4x8 tile, of KC (256), MC (128), NC (1024), the small-m path (m <= 8).
const SHAPES: [number, number, number][] = [
  [1, 1, 1], [1, 3, 5], [1, 1000, 784], [1, 17, 1001], [2, 9, 7], [2, 33, 300], [3, 5, 17], [3, 64, 64], [7, 19, 23], [8, 40, 9], [9, 12, 11],
  [4, 8, 1], [4, 8, 4], [5, 7, 3], [5, 13, 17], [8, 16, 32], [17, 33, 65], [31, 9, 257],
  [64, 1025, 20], [129, 24, 513], [130, 70, 600], [13, 1030, 40], [128, 10, 1000], [10, 784, 128],
  // packed path edges of the pre-splatted A panels: m % 4 in 1..3, k % 4 in 1..3, tiny and odd n
  [1001, 3, 5], [17, 1001, 3], [12, 5, 1001], [11, 1, 17], [21, 17, 1],
];

function run(mod: KernelModule, op: Op, m: number, n: number, k: number, beta: number, pad: number, seed: number): number {
  mod.reset();
  const transA = op === "TN", transB = op === "NT";
  // storage shapes with padded leading dimensions
  const aRows = transA ? k : m, aCols = transA ? m : k, lda = aCols + pad;
  const bRows = transB ? n : k, bCols = transB ? k : n, ldb = bCols + pad;
  const ldc = n + pad;
  const aData = randomArray(aRows * lda, seed), bData = randomArray(bRows * ldb, seed + 1);
  const cData = beta === 0 ? new Float32Array(m * ldc).fill(NaN) : randomArray(m * ldc, seed + 2);
  const a = mod.putF32(aData), b = mod.putF32(bData), c = mod.putF32(cData);
  mod.exports[`gemm${op}`](m, n, k, a, lda, b, ldb, c, ldc, beta);
  const ref = referenceGemm(transA, transB, m, n, k, aData, lda, bData, ldb, cData, ldc, beta);
  const got = mod.f32(c, m * ldc);
  const actual: number[] = [], expected: number[] = [];
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) { actual.push(got[i * ldc + j]!); expected.push(ref[i * ldc + j]!); }
  // the padding columns of C must be untouched
  for (let i = 0; i < m; i++) for (let j = n; j < ldc; j++) {
    const before = cData[i * ldc + j]!, after = got[i * ldc + j]!;
    if (!(Object.is(before, after) || (Number.isNaN(before) && Number.isNaN(after)))) return Infinity;
  }
  return relativeMaxError(actual, expected);
}

for (const variant of VARIANTS) {
  describe(`gemm (${variant})`, () => {
    let mod: KernelModule;
    beforeAll(async () => { mod = await compileKernels(["gemm"], variant, true); });

    for (const op of OPS) {
      it(`gemm${op} matches the f64 reference on edge shapes (beta 0 ignores NaN in C, tight ld)`, () => {
        for (const [m, n, k] of SHAPES) {
          const err = run(mod, op, m, n, k, 0, 0, m * 7 + n * 13 + k);
          expect(err, `${op} ${m}x${n}x${k}`).toBeLessThan(1e-5);
        }
      });
      it(`gemm${op} accumulates with beta 1 and padded leading dimensions`, () => {
        for (const [m, n, k] of SHAPES) {
          expect(run(mod, op, m, n, k, 1, 3, m + n + k), `${op} ${m}x${n}x${k}`).toBeLessThan(1e-5);
        }
      });
    }

    it("handles beta other than 0/1 and k = 0", () => {
      for (const op of OPS) {
        expect(run(mod, op, 6, 10, 9, 0.5, 1, 11)).toBeLessThan(1e-5);
        expect(run(mod, op, 2, 10, 9, -2, 0, 12)).toBeLessThan(1e-5);
        expect(run(mod, op, 5, 7, 0, 0, 0, 13)).toBe(0); // C = 0 (NaN garbage replaced)
        expect(run(mod, op, 5, 7, 0, 1, 2, 14)).toBe(0); // C unchanged
      }
    });

    it("gemv computes y = W x (batch-1 forward)", () => {
      mod.reset();
      const n = 37, k = 53, ldw = 60;
      const w = randomArray(n * ldw, 5), x = randomArray(k, 6);
      const pw = mod.putF32(w), px = mod.putF32(x), py = mod.putF32(new Float32Array(n).fill(NaN));
      mod.exports.gemv(n, k, pw, ldw, px, py, 0);
      const ref = referenceGemm(false, true, 1, n, k, x, k, w, ldw, [], n, 0);
      expect(relativeMaxError(mod.f32(py, n), ref)).toBeLessThan(1e-5);
    });

    it("is deterministic: same inputs give bit-identical outputs", () => {
      for (const op of OPS) {
        const outs: Uint32Array[] = [];
        for (let rep = 0; rep < 2; rep++) {
          mod.reset();
          const m = 70, n = 45, k = 300;
          const a = mod.putF32(randomArray(m * k, 1)), b = mod.putF32(randomArray(n * k, 2));
          const c = mod.alloc(m * n * 4);
          mod.exports[`gemm${op}`](m, n, k, a, op === "TN" ? m : k, b, op === "NT" ? k : n, c, n, 0);
          outs.push(mod.u32(c, m * n).slice());
        }
        expect(Buffer.from(outs[0]!.buffer).equals(Buffer.from(outs[1]!.buffer))).toBe(true);
      }
    });

    it(variant === "plain" ? "plain build has no relaxed-SIMD instruction" : "relaxed build uses relaxed_madd", () => {
      expect(/relaxed/.test(mod.text!)).toBe(variant === "relaxed");
    });
  });
}
