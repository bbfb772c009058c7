// Mixture-of-experts router (docs/methods/moe.md): logits, noisy top-k gating (Shazeer et al.
// 2017), gates, Switch / CV balance losses and the router's backward pass; per-example math in f64.

import { gemmNN, gemmNT, gemmTN, GEMM_SMALL_M } from "./gemm";
import { philox4x32 } from "./rng";
import { addF64, i32At, sigmoidF64, uniformOpenF64 } from "./helpers";
import { centreColumns } from "./moecentre";
// Balance-loss kinds of moeBalanceLoss / moeRouterBackward: none; Switch c1 * E * Σ_i f_i P̄_i
// (Fedus et al. 2021, c1 = alpha); CV c1 * CV(importance)² + c2 * CV(load)² (Shazeer et al. 2017).
import { MOE_BALANCE_NONE, MOE_BALANCE_SWITCH, MOE_BALANCE_CV } from "./codes/moe";
export { MOE_BALANCE_NONE, MOE_BALANCE_SWITCH, MOE_BALANCE_CV };

/** Philox key word 1 of the gating noise is MOE_RNG_KEY ^ layer ("MoE\0"). */
export const MOE_RNG_KEY: u32 = 0x4d6f4500;
/** ε of CV² = var / (mean² + ε) (as tensor2tensor's cv_squared). */
const CV_EPS: f64 = 1e-10;
const SQRT_HALF: f64 = 0.7071067811865476;
const INV_SQRT_2PI: f64 = 0.3989422804014327;

// Router work buffer (8-byte aligned): a 48-byte header (the Philox block at 0, smoothLoad's
// three partial derivatives at 16), then WORK_ARRAYS arrays of E f64.
const WORK_HEADER: i32 = 48;
const WORK_ARRAYS: i32 = 10;
const W_FRACTION = 0, W_MEAN_PROB = 1, W_IMPORTANCE = 2, W_LOAD = 3, W_D_IMPORTANCE = 4, W_D_LOAD = 5;
const W_D_GATE_LOGIT = 6, W_D_LOGIT = 7, W_D_NOISE_LOGIT = 8, W_D_GATE = 9;

/** Bytes of the `work` buffer the router kernels take (per thread). */
export function moeRouterWorkBytes(experts: i32): i32 {
  return WORK_HEADER + WORK_ARRAYS * 8 * experts;
}

// @ts-ignore: decorator
@inline function arr(work: usize, which: i32, experts: i32): usize {
  return work + <usize>WORK_HEADER + ((<usize>which * <usize>experts) << 3);
}
// @ts-ignore: decorator
@inline function getF(p: usize, i: i32): f64 { return load<f64>(p + (<usize>i << 3)); }
// @ts-ignore: decorator
@inline function setF(p: usize, i: i32, v: f64): void { store<f64>(p + (<usize>i << 3), v); }
// @ts-ignore: decorator
@inline function f32At(p: usize, i: i32): f64 { return <f64>load<f32>(p + (<usize>i << 2)); }

/** log(1 + e^x) without overflow. */
// @ts-ignore: decorator
@inline function softplus(x: f64): f64 {
  return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
}

/** erfc (Numerical Recipes' Chebyshev fit, relative error < 1.2e-7 everywhere). */
function erfc(x: f64): f64 {
  const z = Math.abs(x);
  const t = 1.0 / (1.0 + 0.5 * z);
  const r = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
    t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? r : 2.0 - r;
}

/** Standard normal CDF Φ. */
// @ts-ignore: decorator
@inline function normalCdf(u: f64): f64 { return 0.5 * erfc(-u * SQRT_HALF); }

/** Whether expert j is among the first `count` selected of the row. */
// @ts-ignore: decorator
@inline function selected(top: usize, count: i32, j: i32): bool {
  for (let s = 0; s < count; s++) if (i32At(top, s) == j) return true;
  return false;
}

/** The largest G not among the `count` selected (ties: lower index); -1 if none is left. */
function nextLargest(g: usize, experts: i32, top: usize, count: i32): i32 {
  let best = -1;
  let bestValue: f32 = 0;
  for (let j = 0; j < experts; j++) {
    if (selected(top, count, j)) continue;
    const v = load<f32>(g + (<usize>j << 2));
    if (best < 0 || v > bestValue) { best = j; bestValue = v; }
  }
  return best;
}

/**
 * logits [n x E] = x Wgᵀ (Wg [E x inputs], nn.Linear orientation); noiseLogits = x Wnᵀ as
 * well when wn != 0 (noisy gating, training). Past GEMM_SMALL_M examples the product runs
 * as Wg xᵀ into scratch [E x n] and is transposed, so that the GEMM does not pack (and
 * splat) the whole batch for a few outputs (3x faster at E = 4, n = 128). Returns the MACs.
 */
export function moeRouterLogits(x: usize, n: i32, inputs: i32, experts: i32, wg: usize, wn: usize, logits: usize, noiseLogits: usize, scratch: usize): f64 {
  return moeRouterLogitsColumns(x, n, inputs, experts, wg, wn, logits, noiseLogits, scratch, 0, n);
}

/**
 * moeRouterLogits for the examples [e0, e1) (a thread's tile): past GEMM_SMALL_M examples they
 * are the columns of Wg xᵀ, so e0 is a multiple of 16 (and e1 one too, or n) for the GEMM to
 * compute them as in one call; up to GEMM_SMALL_M, only the whole batch (e0 = 0, e1 = n).
 * Returns the whole call's MACs.
 */
export function moeRouterLogitsColumns(x: usize, n: i32, inputs: i32, experts: i32, wg: usize, wn: usize, logits: usize, noiseLogits: usize, scratch: usize, e0: i32, e1: i32): f64 {
  routerProduct(x, n, inputs, experts, wg, logits, scratch, e0, e1);
  let macs = <f64>n * <f64>experts * <f64>inputs;
  if (wn != 0) {
    routerProduct(x, n, inputs, experts, wn, noiseLogits, scratch, e0, e1);
    macs += macs;
  }
  return macs;
}

function routerProduct(x: usize, n: i32, inputs: i32, experts: i32, w: usize, out: usize, scratch: usize, e0: i32, e1: i32): void {
  if (n <= GEMM_SMALL_M) {
    gemmNT(n, experts, inputs, x, inputs, w, inputs, out, experts, 0);
    return;
  }
  rowsProductNT(experts, e1 - e0, inputs, w, inputs, x + ((<usize>e0 * <usize>inputs) << 2), inputs, scratch + (<usize>e0 << 2), n, false);
  for (let e = e0; e < e1; e++) {
    for (let j = 0; j < experts; j++) {
      store<f32>(out + (<usize>(e * experts + j) << 2), load<f32>(scratch + (<usize>(j * n + e) << 2)));
    }
  }
}

/** Row counts up to this run as gemmNT calls of GEMM_SMALL_M rows (see rowsProductNT). */
export const MOE_CHUNK_ROWS: i32 = 4 * GEMM_SMALL_M;

/**
 * C = A Bᵀ (beta 0) for a few rows m: when m <= MOE_CHUNK_ROWS and not `whole`, as gemmNT
 * calls of GEMM_SMALL_M rows from the first row, which take the GEMM's unpacked small-m
 * path: at n = 64..512, k = 784 that was 1.1-1.5x faster than one packed call for m = 12..32
 * (bench notes in docs/methods/moe.md). The chunks are fixed by m, not by any thread count.
 */
export function rowsProductNT(m: i32, n: i32, k: i32, a: usize, lda: i32, b: usize, ldb: i32, c: usize, ldc: i32, whole: bool): void {
  if (whole || m > MOE_CHUNK_ROWS) {
    gemmNT(m, n, k, a, lda, b, ldb, c, ldc, 0);
    return;
  }
  for (let r = 0; r < m; r += GEMM_SMALL_M) {
    const rows = m - r < GEMM_SMALL_M ? m - r : GEMM_SMALL_M;
    gemmNT(rows, n, k, a + ((<usize>r * <usize>lda) << 2), lda, b, ldb, c + ((<usize>r * <usize>ldc) << 2), ldc, 0);
  }
}

/**
 * Routing of each example. Gate logits G = l, or when `noisy` (training with noisy gating)
 * G = f32(l + z ⊙ softplus(nl)), z ~ N(0, 1) written to noise [n x E]: Philox counter
 * (example, expert >> 1, step, layer), key (seed, MOE_RNG_KEY ^ layer), Box-Muller on words
 * 0 and 1 (cos for an even expert, sin for an odd one). probs [n x E] = softmax(G) over all
 * E. topIdx [n x k]: the k largest G, descending, ties to the lower expert index. gates
 * [n x k]: k > 1, softmax of G over the k selected; k = 1, probs of the selected (Switch).
 * work: moeRouterWorkBytes(E). Returns the mean router entropy -Σ_j P_j ln P_j (nats).
 */
export function moeRoute(
  logits: usize, noiseLogits: usize, n: i32, experts: i32, k: i32, noisy: bool, seed: u32, step: u32, layer: u32,
  work: usize, noise: usize, gateLogits: usize, probs: usize, topIdx: usize, gates: usize,
): f64 {
  let entropy: f64 = 0;
  for (let e = 0; e < n; e++) {
    const base = <usize>(e * experts) << 2;
    const l = logits + base, g = gateLogits + base, p = probs + base;
    if (noisy) {
      const z = noise + base, nl = noiseLogits + base;
      for (let j = 0; j < experts; j += 2) {
        philox4x32(<u32>e, <u32>(j >> 1), step, layer, seed, MOE_RNG_KEY ^ layer, work);
        const r = Math.sqrt(-2.0 * Math.log(uniformOpenF64(load<u32>(work))));
        const theta = 2.0 * Math.PI * uniformOpenF64(load<u32>(work, 4));
        store<f32>(z + (<usize>j << 2), <f32>(r * Math.cos(theta)));
        if (j + 1 < experts) store<f32>(z + (<usize>(j + 1) << 2), <f32>(r * Math.sin(theta)));
      }
      for (let j = 0; j < experts; j++) {
        store<f32>(g + (<usize>j << 2), <f32>(f32At(l, j) + f32At(z, j) * softplus(f32At(nl, j))));
      }
    } else {
      memory.copy(g, l, <usize>experts << 2);
    }
    // softmax in f64; exps kept in the work array; entropy = ln Σ - Σ_j P_j (G_j - max)
    const ex = arr(work, W_D_GATE_LOGIT, experts);
    let max = f32At(g, 0);
    for (let j = 1; j < experts; j++) max = Math.max(max, f32At(g, j));
    let sum: f64 = 0;
    for (let j = 0; j < experts; j++) { const v = Math.exp(f32At(g, j) - max); setF(ex, j, v); sum += v; }
    let expected: f64 = 0;
    for (let j = 0; j < experts; j++) {
      const pj = getF(ex, j) / sum;
      store<f32>(p + (<usize>j << 2), <f32>pj);
      expected += pj * (f32At(g, j) - max);
    }
    entropy += Math.log(sum) - expected;
    const top = topIdx + (<usize>(e * k) << 2);
    for (let s = 0; s < k; s++) store<i32>(top + (<usize>s << 2), nextLargest(g, experts, top, s));
    const gt = gates + (<usize>(e * k) << 2);
    if (k == 1) {
      store<f32>(gt, <f32>(getF(ex, i32At(top, 0)) / sum));
    } else {
      let sel: f64 = 0;
      for (let s = 0; s < k; s++) sel += getF(ex, i32At(top, s));
      for (let s = 0; s < k; s++) store<f32>(gt + (<usize>s << 2), <f32>(getF(ex, i32At(top, s)) / sel));
    }
  }
  return n > 0 ? entropy / <f64>n : 0;
}

/**
 * Shazeer's smooth load estimate of expert i for one example: Φ((l_i - t) / softplus(nl_i)),
 * t = the k-th largest G excluding i (index `threshold`); with its partial derivatives
 * written to out[0..3) as (d/dl_i, d/dt, d/dnl_i).
 */
function smoothLoad(li: f64, t: f64, nli: f64, out: usize): f64 {
  const s = softplus(nli);
  const u = (li - t) / s;
  const density = INV_SQRT_2PI * Math.exp(-0.5 * u * u) / s;
  store<f64>(out, density);
  store<f64>(out, -density, 8);
  store<f64>(out, -density * u * sigmoidF64(nli), 16);
  return normalCdf(u);
}

/** Index of the k-th largest G excluding expert i: the (k+1)-th overall if i is selected. */
// @ts-ignore: decorator
@inline function thresholdIndex(top: usize, k: i32, next: i32, i: i32): i32 {
  return selected(top, k, i) ? next : i32At(top, k - 1);
}

/** CV² = var / (mean² + ε) of v [E] (population variance); dcv [E] = its gradient, when != 0. */
function cvSquared(v: usize, experts: i32, dcv: usize): f64 {
  const e = <f64>experts;
  let mean: f64 = 0;
  for (let i = 0; i < experts; i++) mean += getF(v, i);
  mean /= e;
  let variance: f64 = 0;
  for (let i = 0; i < experts; i++) { const d = getF(v, i) - mean; variance += d * d; }
  variance /= e;
  const denom = mean * mean + CV_EPS;
  if (dcv != 0) {
    for (let i = 0; i < experts; i++) {
      setF(dcv, i, (2.0 / e) * (getF(v, i) - mean) / denom - variance * (2.0 * mean / e) / (denom * denom));
    }
  }
  return variance / denom;
}

/**
 * Batch statistics of the balance loss into work (f_i, P̄_i, importance_i, load_i) and its
 * value; with `grad`, also c1 dCV²(importance) and c2 dCV²(load) (kind CV). load_i: the
 * smooth estimate Σ_x Φ(..) when `noisy` and k < E, otherwise the routed count (constant).
 */
function balanceStats(
  kind: i32, c1: f64, c2: f64, n: i32, experts: i32, k: i32, noisy: bool,
  logits: usize, noiseLogits: usize, gateLogits: usize, probs: usize, topIdx: usize, gates: usize, work: usize, grad: bool,
): f64 {
  if (kind == MOE_BALANCE_NONE || n <= 0) return 0;
  const fraction = arr(work, W_FRACTION, experts), meanProb = arr(work, W_MEAN_PROB, experts);
  const importance = arr(work, W_IMPORTANCE, experts), load = arr(work, W_LOAD, experts);
  memory.fill(fraction, 0, <usize>(4 * experts) << 3);
  const smooth = noisy && k < experts;
  for (let e = 0; e < n; e++) {
    const top = topIdx + (<usize>(e * k) << 2);
    const base = <usize>(e * experts) << 2;
    for (let s = 0; s < k; s++) {
      const i = i32At(top, s);
      addF64(fraction, i, 1);
      addF64(importance, i, f32At(gates + (<usize>(e * k) << 2), s));
      if (!smooth) addF64(load, i, 1);
    }
    for (let j = 0; j < experts; j++) addF64(meanProb, j, f32At(probs + base, j));
    if (kind == MOE_BALANCE_CV && smooth) {
      const next = nextLargest(gateLogits + base, experts, top, k);
      for (let i = 0; i < experts; i++) {
        const t = f32At(gateLogits + base, thresholdIndex(top, k, next, i));
        addF64(load, i, smoothLoad(f32At(logits + base, i), t, f32At(noiseLogits + base, i), work + 16));
      }
    }
  }
  for (let i = 0; i < experts; i++) {
    setF(fraction, i, getF(fraction, i) / <f64>n);
    setF(meanProb, i, getF(meanProb, i) / <f64>n);
  }
  if (kind == MOE_BALANCE_SWITCH) {
    let dot: f64 = 0;
    for (let i = 0; i < experts; i++) dot += getF(fraction, i) * getF(meanProb, i);
    return c1 * <f64>experts * dot;
  }
  const dImportance = grad ? arr(work, W_D_IMPORTANCE, experts) : 0;
  const dLoad = grad ? arr(work, W_D_LOAD, experts) : 0;
  const value = c1 * cvSquared(importance, experts, dImportance) + c2 * cvSquared(load, experts, dLoad);
  if (grad) {
    for (let i = 0; i < experts; i++) {
      setF(dImportance, i, c1 * getF(dImportance, i));
      setF(dLoad, i, smooth ? c2 * getF(dLoad, i) : 0);
    }
  }
  return value;
}

/**
 * Balance loss of the batch (kind MOE_BALANCE_*; switch: c1 = alpha; cv: c1 = w_importance,
 * c2 = w_load). f_i = the fraction of the n examples whose k selected include i (before
 * capacity); P̄_i = mean probs; importance_i = Σ gates of the pairs that selected i (dropped
 * ones included); load: see balanceStats. Plus the router z-loss with coefficient zLoss (0:
 * none). Returns 0 for none, zLoss = 0, or n = 0.
 */
export function moeBalanceLoss(
  kind: i32, c1: f64, c2: f64, zLoss: f64, n: i32, experts: i32, k: i32, noisy: bool,
  logits: usize, noiseLogits: usize, gateLogits: usize, probs: usize, topIdx: usize, gates: usize, work: usize,
): f64 {
  return balanceStats(kind, c1, c2, n, experts, k, noisy, logits, noiseLogits, gateLogits, probs, topIdx, gates, work, false) +
    routerZLoss(zLoss, n, experts, gateLogits);
}

/** ln Σ_j exp(G_j) of one example's gate logits g [E], in f64. */
function logSumExp(g: usize, experts: i32): f64 {
  let max = f32At(g, 0);
  for (let j = 1; j < experts; j++) max = Math.max(max, f32At(g, j));
  let sum: f64 = 0;
  for (let j = 0; j < experts; j++) sum += Math.exp(f32At(g, j) - max);
  return max + Math.log(sum);
}

/**
 * The router z-loss of ST-MoE (Zoph et al. 2022): z (1/n) Σ_x (ln Σ_j exp G_j(x))², over the
 * gate logits G (the noisy ones in a noisy training pass). 0 when z = 0, E = 1 or n = 0.
 */
function routerZLoss(z: f64, n: i32, experts: i32, gateLogits: usize): f64 {
  if (z == 0 || experts == 1 || n <= 0) return 0;
  let total: f64 = 0;
  for (let e = 0; e < n; e++) {
    const lse = logSumExp(gateLogits + (<usize>(e * experts) << 2), experts);
    total += lse * lse;
  }
  return z * total / <f64>n;
}

/**
 * Router backward. dgates [n x k] (dL/dgate from moeCombineBackward) plus the balance loss and
 * the z-loss give dLogits = dL/dl and, when noisy, dNoiseLogits = dL/dnl [n x E]; `centred`
 * (the forward centred the logits over the batch, moeCentreLogits) then subtracts their
 * column means; then gradWg = dLogitsᵀ x, gradWn = dNoiseLogitsᵀ x (zeroed when not noisy)
 * and, when dx != 0, dx += dLogits Wg + dNoiseLogits Wn. With E = 1 the router does not affect
 * the output: its gradients are written as zeros and dx is left as it is. Returns the balance
 * loss (z-loss included).
 */
export function moeRouterBackward(
  kind: i32, c1: f64, c2: f64, zLoss: f64, centred: bool, x: usize, inputs: i32, n: i32, experts: i32, k: i32, noisy: bool,
  wg: usize, wn: usize, logits: usize, noiseLogits: usize, noise: usize, gateLogits: usize, probs: usize,
  topIdx: usize, gates: usize, dgates: usize, dLogits: usize, dNoiseLogits: usize, gradWg: usize, gradWn: usize, dx: usize, work: usize,
): f64 {
  const value = moeRouterBackwardLogits(kind, c1, c2, zLoss, centred, x, inputs, n, experts, k, noisy, wg, wn, logits, noiseLogits, noise, gateLogits, probs,
    topIdx, gates, dgates, dLogits, dNoiseLogits, gradWg, gradWn, dx, work);
  if (experts == 1 || n <= 0) return value;
  gemmTN(experts, inputs, n, dLogits, experts, x, inputs, gradWg, inputs, 0);
  if (noisy) gemmTN(experts, inputs, n, dNoiseLogits, experts, x, inputs, gradWn, inputs, 0);
  if (dx != 0) {
    gemmNN(n, inputs, experts, dLogits, experts, wg, inputs, dx, inputs, 1);
    if (noisy) gemmNN(n, inputs, experts, dNoiseLogits, experts, wn, inputs, dx, inputs, 1);
  }
  return value;
}

/**
 * moeRouterBackward up to its products (which a thread dispatcher splits as any GEMM's): the
 * balance loss, dLogits and dNoiseLogits (centred when `centred`), gradWn zeroed when not
 * noisy; with E = 1 or n = 0 both weight gradients zeroed. Same arguments; returns the loss.
 */
export function moeRouterBackwardLogits(
  kind: i32, c1: f64, c2: f64, zLoss: f64, centred: bool, x: usize, inputs: i32, n: i32, experts: i32, k: i32, noisy: bool,
  wg: usize, wn: usize, logits: usize, noiseLogits: usize, noise: usize, gateLogits: usize, probs: usize,
  topIdx: usize, gates: usize, dgates: usize, dLogits: usize, dNoiseLogits: usize, gradWg: usize, gradWn: usize, dx: usize, work: usize,
): f64 {
  const value = balanceStats(kind, c1, c2, n, experts, k, noisy, logits, noiseLogits, gateLogits, probs, topIdx, gates, work, true) +
    routerZLoss(zLoss, n, experts, gateLogits);
  const weightBytes = <usize>(experts * inputs) << 2;
  if (experts == 1 || n <= 0) {
    memory.fill(gradWg, 0, weightBytes);
    if (gradWn != 0) memory.fill(gradWn, 0, weightBytes);
    return value;
  }
  for (let e = 0; e < n; e++) routerRowBackward(kind, c1, zLoss, e, experts, k, noisy, n, logits, noiseLogits, noise, gateLogits, probs, topIdx, gates, dgates, dLogits, dNoiseLogits, work);
  // Centred in training, l = W (x - x̄): dW = dLᵀ (X - 1 x̄ᵀ) and dX = (dL - 1 mean(dL)) W,
  // both the products of the column-centred dL.
  if (centred) {
    centreColumns(dLogits, n, experts);
    if (noisy) centreColumns(dNoiseLogits, n, experts);
  }
  if (!noisy && gradWn != 0) memory.fill(gradWn, 0, weightBytes);
  return value;
}

/** One example's dL/dl and dL/dnl (rows of dLogits, dNoiseLogits), accumulated in f64. */
function routerRowBackward(
  kind: i32, c1: f64, zLoss: f64, e: i32, experts: i32, k: i32, noisy: bool, n: i32,
  logits: usize, noiseLogits: usize, noise: usize, gateLogits: usize, probs: usize,
  topIdx: usize, gates: usize, dgates: usize, dLogits: usize, dNoiseLogits: usize, work: usize,
): void {
  const base = <usize>(e * experts) << 2;
  const top = topIdx + (<usize>(e * k) << 2), gt = gates + (<usize>(e * k) << 2), dgt = dgates + (<usize>(e * k) << 2);
  const p = probs + base, g = gateLogits + base, nl = noiseLogits + base;
  const dG = arr(work, W_D_GATE_LOGIT, experts), dl = arr(work, W_D_LOGIT, experts);
  const dnl = arr(work, W_D_NOISE_LOGIT, experts), dGate = arr(work, W_D_GATE, experts);
  memory.fill(dG, 0, <usize>(3 * experts) << 3);
  if (kind == MOE_BALANCE_SWITCH) {
    // dB/dP_i = alpha E f_i / n, through P = softmax(G)
    const scale = c1 * <f64>experts / <f64>n, fraction = arr(work, W_FRACTION, experts);
    let mean: f64 = 0;
    for (let i = 0; i < experts; i++) mean += scale * getF(fraction, i) * f32At(p, i);
    for (let j = 0; j < experts; j++) addF64(dG, j, f32At(p, j) * (scale * getF(fraction, j) - mean));
  }
  if (zLoss != 0) {
    // d/dG_j of z lse² / n = (2 z / n) lse softmax(G)_j, the softmax recomputed in f64
    const lse = logSumExp(g, experts), scale = 2.0 * zLoss * lse / <f64>n;
    for (let j = 0; j < experts; j++) addF64(dG, j, scale * Math.exp(f32At(g, j) - lse));
  }
  const dImportance = arr(work, W_D_IMPORTANCE, experts);
  for (let s = 0; s < k; s++) {
    let d = f32At(dgt, s);
    if (kind == MOE_BALANCE_CV) d += getF(dImportance, i32At(top, s));
    setF(dGate, s, d);
  }
  if (k == 1) {
    const i = i32At(top, 0);
    const pi = f32At(p, i), d = getF(dGate, 0);
    for (let j = 0; j < experts; j++) addF64(dG, j, d * pi * ((j == i ? 1.0 : 0.0) - f32At(p, j)));
  } else {
    let mean: f64 = 0;
    for (let s = 0; s < k; s++) mean += f32At(gt, s) * getF(dGate, s);
    for (let s = 0; s < k; s++) addF64(dG, i32At(top, s), f32At(gt, s) * (getF(dGate, s) - mean));
  }
  if (kind == MOE_BALANCE_CV && noisy && k < experts) {
    const dLoad = arr(work, W_D_LOAD, experts);
    const next = nextLargest(g, experts, top, k);
    for (let i = 0; i < experts; i++) {
      const c = getF(dLoad, i);
      if (c == 0) continue;
      const m = thresholdIndex(top, k, next, i);
      smoothLoad(f32At(logits + base, i), f32At(g, m), f32At(nl, i), work + 16);
      addF64(dl, i, c * load<f64>(work, 16));
      addF64(dG, m, c * load<f64>(work, 24));
      addF64(dnl, i, c * load<f64>(work, 32));
    }
  }
  for (let j = 0; j < experts; j++) {
    const d = getF(dG, j);
    store<f32>(dLogits + base + (<usize>j << 2), <f32>(d + getF(dl, j)));
    if (noisy) {
      const chain = f32At(noise + base, j) * sigmoidF64(f32At(nl, j));
      store<f32>(dNoiseLogits + base + (<usize>j << 2), <f32>(d * chain + getF(dnl, j)));
    }
  }
}
