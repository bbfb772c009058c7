/**
 * @fileoverview Plain TypeScript references (float64) for the WGSL kernels, written from the
 * wasm kernels' documented semantics, plus the comparison the tests use: |got - want| within
 * 1e-4 of the magnitude the float32 error scales with (|want|, or Σ|terms| for sums, where
 * cancellation can make |want| itself arbitrarily small).
 */
import type { GemmShape } from "../../runtime/webgpu/kernels/gemm.js";
import type { Activation } from "../../runtime/webgpu/kernels/elementwise.js";

export const REL = 1e-4;

/** Deterministic values in [-1, 1) (xorshift32), with a few exact zeros when `zeros` is set. */
export function randomArray(count: number, seed: number, zeros = false): Float32Array {
  let s = (seed * 2654435761) >>> 0 || 1;
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = zeros && s % 7 === 0 ? 0 : (s / 2 ** 32) * 2 - 1;
  }
  return out;
}

/**
 * Returns "" when every element is within REL of its scale, else a description of the worst
 * element (index, got, want, scale) and how many failed.
 */
export function closeness(got: ArrayLike<number>, want: ArrayLike<number>, scale?: ArrayLike<number>): string {
  if (got.length !== want.length) return `length ${got.length}, expected ${want.length}`;
  let failures = 0;
  let worst = -1;
  let worstRatio = 0;
  for (let i = 0; i < want.length; i++) {
    const s = Math.max(Math.abs(want[i]!), scale ? scale[i]! : 0);
    const diff = Math.abs(got[i]! - want[i]!);
    const ok = Number.isFinite(got[i]!) && diff <= REL * s;
    if (!ok) failures++;
    const ratio = s === 0 ? (diff === 0 ? 0 : Infinity) : diff / s;
    if (!ok && (worst < 0 || ratio > worstRatio || Number.isNaN(got[i]!))) {
      worst = i;
      worstRatio = ratio;
    }
  }
  if (failures === 0) return "";
  return `${failures} of ${want.length} elements off; worst [${worst}]: got ${got[worst]}, want ${want[worst]}, relative ${worstRatio}`;
}

export interface GemmCase {
  shape: GemmShape;
  m: number;
  n: number;
  k: number;
  lda: number;
  ldb: number;
  ldc: number;
}

/** C = op(A)·op(B) + beta·C and Σ|terms| per element (the error scale). */
export function gemmReference(c: GemmCase, a: Float32Array, b: Float32Array, cIn: Float32Array, beta: 0 | 1) {
  const out = Float64Array.from(cIn);
  const scale = new Float64Array(cIn.length);
  const aAt = (i: number, p: number) => (c.shape === "TN" ? a[p * c.lda + i]! : a[i * c.lda + p]!);
  const bAt = (p: number, j: number) => (c.shape === "NT" ? b[j * c.ldb + p]! : b[p * c.ldb + j]!);
  for (let i = 0; i < c.m; i++) {
    for (let j = 0; j < c.n; j++) {
      let sum = beta ? cIn[i * c.ldc + j]! : 0;
      let abs = Math.abs(sum);
      for (let p = 0; p < c.k; p++) {
        const term = aAt(i, p) * bAt(p, j);
        sum += term;
        abs += Math.abs(term);
      }
      out[i * c.ldc + j] = sum;
      scale[i * c.ldc + j] = abs;
    }
  }
  return { out, scale };
}

export function activate(activation: Activation, z: number): number {
  switch (activation) {
    case "relu":
      return z > 0 ? z : 0;
    case "tanh":
      return Math.tanh(z);
    case "sigmoid":
      return 1 / (1 + Math.exp(-z));
    case "linear":
      return z;
  }
}

/** dz = dh · f'(z) written from h = f(z), as the wasm kernels define it. */
export function activationBackward(activation: Exclude<Activation, "linear">, dh: number, h: number): number {
  if (activation === "relu") return h > 0 ? dh : 0;
  if (activation === "tanh") return dh * (1 - h * h);
  return dh * h * (1 - h);
}

/** Softmax cross-entropy of rows (f64): probs, dlogits, the mean loss over valid labels / rows. */
export function softmaxCrossEntropy(logits: Float32Array, labels: Int32Array, rows: number, classes: number) {
  const probs = new Float64Array(rows * classes);
  const dlogits = new Float64Array(rows * classes);
  const rowLoss = new Float64Array(rows);
  let total = 0;
  for (let r = 0; r < rows; r++) {
    let max = -Infinity;
    for (let j = 0; j < classes; j++) max = Math.max(max, logits[r * classes + j]!);
    let sum = 0;
    for (let j = 0; j < classes; j++) sum += Math.exp(logits[r * classes + j]! - max);
    const label = labels[r]!;
    const valid = label >= 0 && label < classes;
    for (let j = 0; j < classes; j++) {
      const p = Math.exp(logits[r * classes + j]! - max) / sum;
      probs[r * classes + j] = p;
      dlogits[r * classes + j] = (p - (valid && j === label ? 1 : 0)) / rows;
    }
    rowLoss[r] = valid ? Math.log(sum) - (logits[r * classes + label]! - max) : 0;
    total += rowLoss[r]!;
  }
  return { probs, dlogits, rowLoss, loss: total / rows };
}
