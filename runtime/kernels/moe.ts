// Sparsely-gated mixture-of-experts layer (docs/methods/moe.md): dispatch of the (example, slot)
// pairs by expert (counting sort, optional capacity), one GEMM per non-empty expert, combine; backward.
// The router (logits, gates, balance losses) is in moerouter.ts, re-exported here.
//
// Shapes: x [n x inputs]; k slots per example; pair p = example * k + slot. Experts: one
// layer (hidden = 0) W1 [E x units x inputs], b1 [E x units], y = ACT(W1_i x + b1_i); or
// FFN (hidden > 0) W1 [E x hidden x inputs], b1 [E x hidden], W2 [E x units x hidden],
// b2 [E x units], y = W2_i ACT(W1_i x + b1_i) + b2_i. Every buffer comes from the caller.

import { gemmNN, gemmTN } from "./gemm";
import { addBias, columnSums, reluForward, reluBackward, tanhForward, tanhBackward, sigmoidForward, sigmoidBackward } from "./elementwise";
import { rowsProductNT } from "./moerouter";
import { addF64, addRow, dotSplit, i32At } from "./helpers";
import { MOE_STAT_BALANCE, MOE_STAT_DROPPED, MOE_STAT_ENTROPY, MOE_STAT_EXAMPLES, MOE_STAT_LOAD, MOE_STAT_MACS, MOE_STAT_PAIRS } from "./codes/moe";

export {
  MOE_BALANCE_NONE, MOE_BALANCE_SWITCH, MOE_BALANCE_CV, MOE_RNG_KEY, MOE_CHUNK_ROWS,
  moeRouterWorkBytes, moeRouterLogits, moeRouterLogitsColumns, moeRoute, moeBalanceLoss, moeRouterBackward, moeRouterBackwardLogits,
} from "./moerouter";
export { moeCentreLogits, moeUpdateCentre } from "./moecentre";

/** Activation kinds of the experts (ACT). */
export const MOE_LINEAR: i32 = 0;
export const MOE_RELU: i32 = 1;
export const MOE_TANH: i32 = 2;
export const MOE_SIGMOID: i32 = 3;

// @ts-ignore: decorator
@inline function rowAt(base: usize, row: i32, width: i32): usize { return base + ((<usize>row * <usize>width) << 2); }

function activate(z: usize, count: i32, act: i32): void {
  if (act == MOE_RELU) reluForward(z, z, count);
  else if (act == MOE_TANH) tanhForward(z, z, count);
  else if (act == MOE_SIGMOID) sigmoidForward(z, z, count);
}

/** dz = dh ⊙ ACT'(from the output h), in place over dh. */
function activationBackward(dh: usize, h: usize, count: i32, act: i32): void {
  if (act == MOE_RELU) reluBackward(dh, h, dh, count);
  else if (act == MOE_TANH) tanhBackward(dh, h, dh, count);
  else if (act == MOE_SIGMOID) sigmoidBackward(dh, h, dh, count);
}

/**
 * Tokens per expert for capacity factor c: ceil(c k n / E), computed in f64 with a relative
 * slack of 1e-12 so that the representation error of c adds no slot (1.1 * 10 -> 11, not 12).
 */
export function moeCapacity(c: f64, k: i32, n: i32, experts: i32): i32 {
  const exact = c * <f64>k * <f64>n / <f64>experts;
  return <i32>Math.ceil(exact - 1e-12 * Math.abs(exact));
}

/**
 * Counting sort of the n * k pairs by expert. counts [E] (i32): pairs routed to each expert
 * (the load, before capacity). capacity < 0: dropless; otherwise an expert keeps the first
 * `capacity` of its pairs in (slot, example) order, i.e. every first choice of the batch
 * before any second choice (k = 1: example order); the others are dropped. expertStart
 * [E + 1]: the kept rows of expert i are [expertStart[i], expertStart[i + 1]), in example
 * order (stable). rowPair [kept]: the pair of each row; pairRow [n * k]: the row of each
 * pair, -1 when dropped. Returns the number of dropped pairs.
 */
export function moeDispatch(topIdx: usize, n: i32, k: i32, experts: i32, capacity: i32, counts: usize, expertStart: usize, rowPair: usize, pairRow: usize): i32 {
  memory.fill(counts, 0, <usize>experts << 2);
  memory.fill(expertStart, 0, <usize>(experts + 1) << 2);
  let dropped = 0;
  for (let s = 0; s < k; s++) {
    for (let e = 0; e < n; e++) {
      const p = e * k + s;
      const i = i32At(topIdx, p);
      const c = counts + (<usize>i << 2);
      const seen = load<i32>(c);
      if (capacity >= 0 && seen >= capacity) {
        store<i32>(pairRow + (<usize>p << 2), -1);
        dropped++;
      } else {
        store<i32>(pairRow + (<usize>p << 2), 0);
        const at = expertStart + (<usize>(i + 1) << 2);
        store<i32>(at, load<i32>(at) + 1);
      }
      store<i32>(c, seen + 1);
    }
  }
  for (let i = 1; i <= experts; i++) {
    const at = expertStart + (<usize>i << 2);
    store<i32>(at, load<i32>(at) + load<i32>(at - 4));
  }
  // expertStart[i] is the start of i; placing advances it to the end of i ...
  const pairs = n * k;
  for (let p = 0; p < pairs; p++) {
    if (i32At(pairRow, p) < 0) continue;
    const at = expertStart + (<usize>i32At(topIdx, p) << 2);
    const row = load<i32>(at);
    store<i32>(rowPair + (<usize>row << 2), p);
    store<i32>(pairRow + (<usize>p << 2), row);
    store<i32>(at, row + 1);
  }
  // ... then shift back so that expertStart[i] is again the start of i.
  for (let i = experts; i >= 1; i--) store<i32>(expertStart + (<usize>i << 2), i32At(expertStart, i - 1));
  store<i32>(expertStart, 0);
  return dropped;
}

/** xs [kept x inputs]: row r is x[rowPair[r] / k]. */
export function moeGather(x: usize, inputs: i32, k: i32, rowPair: usize, expertStart: usize, experts: i32, xs: usize): void {
  moeGatherRows(x, inputs, k, rowPair, xs, 0, i32At(expertStart, experts));
}

/** moeGather's rows [r0, r1) of xs (a thread's tile). */
export function moeGatherRows(x: usize, inputs: i32, k: i32, rowPair: usize, xs: usize, r0: i32, r1: i32): void {
  const rowBytes = <usize>inputs << 2;
  for (let r = r0; r < r1; r++) {
    memory.copy(rowAt(xs, r, inputs), rowAt(x, i32At(rowPair, r) / k, inputs), rowBytes);
  }
}

/**
 * Expert outputs ys [kept x units] of the gathered rows xs, one GEMM (gemmNT, beta 0) per
 * non-empty expert (a bucket of at most MOE_CHUNK_ROWS rows, unless it holds every row, as
 * small-m calls of GEMM_SMALL_M rows: rowsProductNT): ACT(xs W1_iᵀ + b1_i), or for FFN experts
 * hs = ACT(xs W1_iᵀ + b1_i) [kept x hidden] then hs W2_iᵀ + b2_i. Empty experts cost nothing.
 * Each expert is its two phases over every column (moeExpertsForwardFirst, ...Second: the
 * pieces a thread's tile runs). Returns the MACs.
 */
export function moeExpertsForward(
  xs: usize, expertStart: usize, experts: i32, inputs: i32, units: i32, hidden: i32, act: i32,
  w1: usize, b1: usize, w2: usize, b2: usize, hs: usize, ys: usize,
): f64 {
  const width = hidden > 0 ? hidden : units;
  const slice1 = <usize>width * <usize>inputs, slice2 = <usize>units * <usize>hidden;
  let macs: f64 = 0;
  for (let i = 0; i < experts; i++) {
    const m = i32At(expertStart, i + 1) - i32At(expertStart, i);
    if (m == 0) continue;
    moeExpertsForwardFirst(xs, expertStart, experts, inputs, units, hidden, act, w1, b1, hs, ys, i, i + 1, 0, width);
    if (hidden > 0) moeExpertsForwardSecond(expertStart, experts, units, hidden, w2, b2, hs, ys, i, i + 1, 0, units);
    macs += <f64>m * <f64>(slice1 + slice2);
  }
  return macs;
}

/**
 * The first product of experts [i0, i1) over its output columns [c0, c1) (of hidden for FFN
 * experts, into hs; of units otherwise, into ys): ACT(xs W1_iᵀ + b1_i). c0 a multiple of 16
 * (and c1 one too, or the width): the GEMM then computes every column as in one call (its
 * path is chosen by the rows; columns group by 16, 8 and 4 from the first).
 */
export function moeExpertsForwardFirst(
  xs: usize, expertStart: usize, experts: i32, inputs: i32, units: i32, hidden: i32, act: i32,
  w1: usize, b1: usize, hs: usize, ys: usize, i0: i32, i1: i32, c0: i32, c1: i32,
): void {
  const width = hidden > 0 ? hidden : units;
  const slice1 = <usize>width * <usize>inputs;
  const out = hidden > 0 ? hs : ys;
  const total = i32At(expertStart, experts);
  for (let i = i0; i < i1; i++) {
    const s = i32At(expertStart, i), m = i32At(expertStart, i + 1) - s;
    if (m == 0) continue;
    const z = rowAt(out, s, width);
    // a bucket of every row is one call: E = 1 is then exactly the dense layer's product
    rowsProductNT(m, c1 - c0, inputs, rowAt(xs, s, inputs), inputs, w1 + ((<usize>i * slice1 + <usize>c0 * <usize>inputs) << 2), inputs, z + (<usize>c0 << 2), width, m == total);
    biasAndActivate(z, b1 + ((<usize>i * <usize>width) << 2), m, width, c0, c1, act);
  }
}

/** The FFN experts' second product, experts [i0, i1), output columns [c0, c1) of units (as ...First): hs W2_iᵀ + b2_i. */
export function moeExpertsForwardSecond(
  expertStart: usize, experts: i32, units: i32, hidden: i32, w2: usize, b2: usize, hs: usize, ys: usize, i0: i32, i1: i32, c0: i32, c1: i32,
): void {
  const slice2 = <usize>units * <usize>hidden;
  const total = i32At(expertStart, experts);
  for (let i = i0; i < i1; i++) {
    const s = i32At(expertStart, i), m = i32At(expertStart, i + 1) - s;
    if (m == 0) continue;
    const y = rowAt(ys, s, units);
    rowsProductNT(m, c1 - c0, hidden, rowAt(hs, s, hidden), hidden, w2 + ((<usize>i * slice2 + <usize>c0 * <usize>hidden) << 2), hidden, y + (<usize>c0 << 2), units, m == total);
    biasAndActivate(y, b2 + ((<usize>i * <usize>units) << 2), m, units, c0, c1, MOE_LINEAR);
  }
}

/** z[:, c0:c1] = ACT(z[:, c0:c1] + bias[c0:c1]) over m rows of `width`: every element as in one flat call. */
function biasAndActivate(z: usize, bias: usize, m: i32, width: i32, c0: i32, c1: i32, act: i32): void {
  if (c0 == 0 && c1 == width) {
    addBias(z, bias, m, width);
    activate(z, m * width, act);
    return;
  }
  const at = <usize>c0 << 2;
  for (let r = 0; r < m; r++) {
    const row = rowAt(z, r, width) + at;
    addBias(row, bias + at, 1, c1 - c0);
    activate(row, c1 - c0, act);
  }
}

/** dz[:, c0:c1] = dh ⊙ ACT'(h) over m rows of `width`, in place over dh (as activationBackward). */
function activationBackwardColumns(dh: usize, h: usize, m: i32, width: i32, c0: i32, c1: i32, act: i32): void {
  if (c0 == 0 && c1 == width) {
    activationBackward(dh, h, m * width, act);
    return;
  }
  const at = <usize>c0 << 2;
  for (let r = 0; r < m; r++) activationBackward(rowAt(dh, r, width) + at, rowAt(h, r, width) + at, c1 - c0, act);
}

/**
 * h [n x units]: h_x = Σ over the kept slots s of x, in slot order, of gates[x, s] * ys[row];
 * the first term is stored (g * y), later ones added; an example with no kept slot gets 0.
 */
export function moeCombine(ys: usize, units: i32, n: i32, k: i32, pairRow: usize, gates: usize, h: usize): void {
  moeCombineRows(ys, units, k, pairRow, gates, h, 0, n);
}

/** moeCombine's examples [e0, e1) (a thread's tile). */
export function moeCombineRows(ys: usize, units: i32, k: i32, pairRow: usize, gates: usize, h: usize, e0: i32, e1: i32): void {
  for (let e = e0; e < e1; e++) {
    const out = rowAt(h, e, units);
    let first = true;
    for (let s = 0; s < k; s++) {
      const r = i32At(pairRow, e * k + s);
      if (r < 0) continue;
      scaledRow(out, load<f32>(gates + (<usize>(e * k + s) << 2)), rowAt(ys, r, units), units, !first);
      first = false;
    }
    if (first) memory.fill(out, 0, <usize>units << 2);
  }
}

/** out = a * src, or out += a * src when accumulate (separate multiply and add). */
function scaledRow(out: usize, a: f32, src: usize, width: i32, accumulate: bool): void {
  const va = f32x4.splat(a);
  let j = 0;
  for (; j + 4 <= width; j += 4) {
    const o = <usize>j << 2;
    const v = f32x4.mul(va, v128.load(src + o));
    v128.store(out + o, accumulate ? f32x4.add(v128.load(out + o), v) : v);
  }
  for (; j < width; j++) {
    const o = <usize>j << 2;
    const v = a * load<f32>(src + o);
    store<f32>(out + o, accumulate ? load<f32>(out + o) + v : v);
  }
}

/**
 * Backward of moeCombine for dh [n x units]: dys[row] = gate * dh_x for every kept pair,
 * dgates [n x k] = dh_x · ys[row] (0 for a dropped pair, whose output is 0).
 */
export function moeCombineBackward(dh: usize, ys: usize, units: i32, n: i32, k: i32, pairRow: usize, gates: usize, dys: usize, dgates: usize): void {
  moeCombineBackwardRows(dh, ys, units, k, pairRow, gates, dys, dgates, 0, n);
}

/** moeCombineBackward's examples [e0, e1) (a thread's tile: an example's pairs and rows are its own). */
export function moeCombineBackwardRows(dh: usize, ys: usize, units: i32, k: i32, pairRow: usize, gates: usize, dys: usize, dgates: usize, e0: i32, e1: i32): void {
  for (let e = e0; e < e1; e++) {
    const d = rowAt(dh, e, units);
    for (let s = 0; s < k; s++) {
      const p = e * k + s;
      const r = i32At(pairRow, p);
      const dg = dgates + (<usize>p << 2);
      if (r < 0) { store<f32>(dg, 0); continue; }
      store<f32>(dg, dotSplit(d, rowAt(ys, r, units), units));
      scaledRow(rowAt(dys, r, units), load<f32>(gates + (<usize>p << 2)), d, units, false);
    }
  }
}

/**
 * Expert gradients over their routed rows only, beta 0 (overwritten): one layer dZ = dys ⊙
 * ACT'(ys) in place, gradW1_i = dZᵀ xs, gradB1_i = colsum dZ; FFN gradW2_i = dysᵀ hs,
 * gradB2_i = colsum dys, dhs = dys W2_i, dZ1 = dhs ⊙ ACT'(hs) in place, gradW1_i, gradB1_i.
 * dxs [kept x inputs] = dZ W1_i when dxs != 0. The gradients of an expert with no kept row
 * are not written (zeroUntouched: written as zeros). Each expert is its two phases over every
 * column (moeExpertsBackwardFirst, ...Second: the pieces a thread's tile runs). Returns the MACs.
 */
export function moeExpertsBackward(
  xs: usize, hs: usize, ys: usize, dys: usize, dhs: usize, expertStart: usize, experts: i32, inputs: i32, units: i32, hidden: i32, act: i32,
  w1: usize, w2: usize, gradW1: usize, gradB1: usize, gradW2: usize, gradB2: usize, dxs: usize, zeroUntouched: bool,
): f64 {
  const width = hidden > 0 ? hidden : units;
  const slice1 = <usize>width * <usize>inputs, slice2 = <usize>units * <usize>hidden;
  let macs: f64 = 0;
  for (let i = 0; i < experts; i++) {
    const m = i32At(expertStart, i + 1) - i32At(expertStart, i);
    moeExpertsBackwardFirst(hs, ys, dys, dhs, expertStart, units, hidden, act, w2, gradW2, gradB2, i, i + 1, 0, width);
    moeExpertsBackwardSecond(xs, dys, dhs, expertStart, inputs, units, hidden, w1, gradW1, gradB1, gradW2, gradB2, dxs, zeroUntouched, i, i + 1, 0, inputs);
    if (m == 0) continue;
    macs += <f64>m * <f64>(slice1 + 2 * slice2);
    if (dxs != 0) macs += <f64>m * <f64>slice1;
  }
  return macs;
}

/**
 * Backward phase 1 of experts [i0, i1) over columns [c0, c1) of the first layer's width (c0 a
 * multiple of 16, c1 one too or the width): FFN gradW2_i[:, c] = dysᵀ hs[:, c], dhs[:, c] =
 * (dys W2_i)[:, c] ⊙ ACT'(hs[:, c]), and in the tile of c0 = 0 gradB2_i = colsum dys; one
 * layer dys[:, c] ⊙= ACT'(ys[:, c]). Each element as in one call.
 */
export function moeExpertsBackwardFirst(
  hs: usize, ys: usize, dys: usize, dhs: usize, expertStart: usize, units: i32, hidden: i32, act: i32,
  w2: usize, gradW2: usize, gradB2: usize, i0: i32, i1: i32, c0: i32, c1: i32,
): void {
  const slice2 = <usize>units * <usize>hidden;
  const at = <usize>c0 << 2;
  for (let i = i0; i < i1; i++) {
    const s = i32At(expertStart, i), m = i32At(expertStart, i + 1) - s;
    if (m == 0) continue;
    const dy = rowAt(dys, s, units);
    if (hidden > 0) {
      const h = rowAt(hs, s, hidden), dz = rowAt(dhs, s, hidden);
      gemmTN(units, c1 - c0, m, dy, units, h + at, hidden, gradW2 + ((<usize>i * slice2) << 2) + at, hidden, 0);
      if (c0 == 0) columnSums(dy, m, units, gradB2 + ((<usize>i * <usize>units) << 2));
      gemmNN(m, c1 - c0, units, dy, units, w2 + ((<usize>i * slice2) << 2) + at, hidden, dz + at, hidden, 0);
      activationBackwardColumns(dz, h, m, hidden, c0, c1, act);
    } else {
      activationBackwardColumns(dy, rowAt(ys, s, units), m, units, c0, c1, act);
    }
  }
}

/**
 * Backward phase 2 of experts [i0, i1) over input columns [c0, c1) (c0 a multiple of 16, c1
 * one too or inputs): gradW1_i[:, c] = dZᵀ xs[:, c], dxs[:, c] = (dZ W1_i)[:, c] when dxs != 0,
 * and in the tile of c0 = 0 gradB1_i = colsum dZ. An expert with no row: its gradients'
 * columns c (all of gradB1, gradW2, gradB2 at c0 = 0) zeroed when zeroUntouched.
 */
export function moeExpertsBackwardSecond(
  xs: usize, dys: usize, dhs: usize, expertStart: usize, inputs: i32, units: i32, hidden: i32,
  w1: usize, gradW1: usize, gradB1: usize, gradW2: usize, gradB2: usize, dxs: usize, zeroUntouched: bool, i0: i32, i1: i32, c0: i32, c1: i32,
): void {
  const width = hidden > 0 ? hidden : units;
  const slice1 = <usize>width * <usize>inputs, slice2 = <usize>units * <usize>hidden;
  const at = <usize>c0 << 2;
  for (let i = i0; i < i1; i++) {
    const s = i32At(expertStart, i), m = i32At(expertStart, i + 1) - s;
    const gw1 = gradW1 + ((<usize>i * slice1) << 2), gb1 = gradB1 + ((<usize>i * <usize>width) << 2);
    if (m == 0) {
      if (zeroUntouched) zeroExpertGradients(gw1, gb1, gradW2 + ((<usize>i * slice2) << 2), gradB2 + ((<usize>i * <usize>units) << 2), inputs, units, hidden, c0, c1);
      continue;
    }
    const dz = hidden > 0 ? rowAt(dhs, s, hidden) : rowAt(dys, s, units);
    gemmTN(width, c1 - c0, m, dz, width, rowAt(xs, s, inputs) + at, inputs, gw1 + at, inputs, 0);
    if (c0 == 0) columnSums(dz, m, width, gb1);
    if (dxs != 0) gemmNN(m, c1 - c0, width, dz, width, w1 + ((<usize>i * slice1) << 2) + at, inputs, rowAt(dxs, s, inputs) + at, inputs, 0);
  }
}

/** Zeros an expert's gradient columns [c0, c1) of W1 (every column: the whole block) and, at c0 = 0, b1, W2 and b2. */
function zeroExpertGradients(gw1: usize, gb1: usize, gw2: usize, gb2: usize, inputs: i32, units: i32, hidden: i32, c0: i32, c1: i32): void {
  const width = hidden > 0 ? hidden : units;
  if (c0 == 0 && c1 == inputs) memory.fill(gw1, 0, (<usize>width * <usize>inputs) << 2);
  else for (let r = 0; r < width; r++) memory.fill(rowAt(gw1, r, inputs) + (<usize>c0 << 2), 0, <usize>(c1 - c0) << 2);
  if (c0 != 0) return;
  memory.fill(gb1, 0, <usize>width << 2);
  if (hidden > 0) {
    memory.fill(gw2, 0, (<usize>units * <usize>hidden) << 2);
    memory.fill(gb2, 0, <usize>units << 2);
  }
}

/**
 * dx [n x inputs] (=, or += when accumulate) Σ over the kept slots of x, in slot order, of
 * dxs[row]; an example with no kept slot gets 0 (or is left as it is when accumulating).
 */
export function moeScatterInput(dxs: usize, inputs: i32, n: i32, k: i32, pairRow: usize, dx: usize, accumulate: bool): void {
  moeScatterInputRows(dxs, inputs, k, pairRow, dx, accumulate, 0, n);
}

/** moeScatterInput's examples [e0, e1) (a thread's tile). */
export function moeScatterInputRows(dxs: usize, inputs: i32, k: i32, pairRow: usize, dx: usize, accumulate: bool, e0: i32, e1: i32): void {
  for (let e = e0; e < e1; e++) {
    const out = rowAt(dx, e, inputs);
    let started = accumulate;
    for (let s = 0; s < k; s++) {
      const r = i32At(pairRow, e * k + s);
      if (r < 0) continue;
      if (started) addRow(out, rowAt(dxs, r, inputs), inputs);
      else memory.copy(out, rowAt(dxs, r, inputs), <usize>inputs << 2);
      started = true;
    }
    if (!started) memory.fill(out, 0, <usize>inputs << 2);
  }
}

/**
 * Adds one forward pass of n examples to stats [MOE_STAT_LOAD + E] (f64, the MOE_STAT_* layout
 * of codes/moe.ts): examples, pairs n k, dropped pairs, MACs (router and experts as counted,
 * plus the combine's units per kept pair), entropy and balance loss weighted by n, and the pairs
 * routed to each expert (counts [E], i32, before the capacity).
 */
export function moeAccumulateStats(stats: usize, counts: usize, experts: i32, n: i32, k: i32, units: i32, dropped: i32, macs: f64, entropy: f64, balance: f64): void {
  const pairs = n * k;
  addF64(stats, MOE_STAT_EXAMPLES, <f64>n);
  addF64(stats, MOE_STAT_PAIRS, <f64>pairs);
  addF64(stats, MOE_STAT_DROPPED, <f64>dropped);
  addF64(stats, MOE_STAT_MACS, macs + <f64>(pairs - dropped) * <f64>units);
  addF64(stats, MOE_STAT_ENTROPY, entropy * <f64>n);
  addF64(stats, MOE_STAT_BALANCE, balance * <f64>n);
  for (let i = 0; i < experts; i++) addF64(stats, MOE_STAT_LOAD + i, <f64>i32At(counts, i));
}
