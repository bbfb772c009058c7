// Block-sparse products for block-dropout policies (condnet, docs/methods/policy.md §7): per example,
// only the active output blocks are computed, and (ss) only over the active input blocks
// of a block-masked source. Layout: W is [units, inputs] row-major (row j = unit j,
// contiguous over the inputs), so an output block of B units is B contiguous rows and each
// output is a dot product of contiguous segments: x[i, seg] . W[j, seg], SIMD over the
// segment. Four rows share each load of x. Blocks are [xB, min(N, xB + B)): the last block
// is shorter when N is not a multiple of B (the tail). Active-block lists: i32 [n, nb]
// (row stride nb) with counts i32 [n]; a null list (0) means "all blocks" (dense side).
import { ACTIVATION_LINEAR, ACTIVATION_RELU, ACTIVATION_TANH, ACTIVATION_SIGMOID } from "./codes/activation";
import { reluForward, reluBackward, tanhForward, tanhBackward, sigmoidForward, sigmoidBackward } from "./elementwise";
// The per-example forward dots use maddSplit even in the relaxed build: four accumulator chains
// are latency-bound, and FMA's longer latency made them slower (as in gemm's GEMV).
import { hsumSerial, madd, maddSplit, minI } from "./helpers";

@inline function blockCount(n: i32, b: i32): i32 { return (n + b - 1) / b; }

/**
 * dst[k] += a * src[k] over the active input segments of one row: all of [0, K) when
 * inList is 0, else the blocks inRow[0 .. segs) of bIn columns each.
 */
@inline function axpySegments(dst: usize, src: usize, a: f32, K: i32, segs: i32, inList: usize, inRow: usize, bIn: i32): void {
  const va = f32x4.splat(a);
  for (let s = 0; s < segs; s++) {
    let k0 = 0, k1 = K;
    if (inList != 0) {
      k0 = load<i32>(inRow + (<usize>s << 2)) * bIn;
      k1 = minI(K, k0 + bIn);
    }
    let k = k0;
    for (; k + 4 <= k1; k += 4) {
      const o = <usize>k << 2;
      v128.store(dst + o, madd(va, v128.load(src + o), v128.load(dst + o)));
    }
    for (; k < k1; k++) {
      const o = <usize>k << 2;
      store<f32>(dst + o, load<f32>(dst + o) + a * load<f32>(src + o));
    }
  }
}

/**
 * out[i, block] = x[i, active in] . W[block rows, active in]ᵀ + bias[block] for every active
 * output block of example i; inactive output blocks are set to 0 (when outList != 0).
 * outList/outCount = 0: all N outputs (sf, dense output). inList/inCount = 0: dense input
 * (fs); otherwise only the input blocks of width bIn listed for example i are read (ss).
 * x rows have stride K, out rows stride N, W rows stride K. bias may be 0 (none).
 */
export function bsForward(
  n: i32, N: i32, K: i32, x: usize, w: usize, bias: usize, out: usize,
  B: i32, outList: usize, outCount: usize, nbOut: i32,
  inList: usize, inCount: usize, nbIn: i32, bIn: i32,
): void {
  bsForwardRows(n, N, K, x, w, bias, out, B, outList, outCount, nbOut, inList, inCount, nbIn, bIn, 0, n);
}

/** bsForward for examples [i0, i1) (each output row depends on its example alone). */
export function bsForwardRows(
  n: i32, N: i32, K: i32, x: usize, w: usize, bias: usize, out: usize,
  B: i32, outList: usize, outCount: usize, nbOut: i32,
  inList: usize, inCount: usize, nbIn: i32, bIn: i32, i0: i32, i1: i32,
): void {
  const ldw = <usize>K << 2;
  for (let i = i0; i < i1; i++) {
    const xi = x + ((<usize>i * <usize>K) << 2);
    const oi = out + ((<usize>i * <usize>N) << 2);
    const blocks = outList == 0 ? blockCount(N, B) : load<i32>(outCount + (<usize>i << 2));
    if (outList != 0) memory.fill(oi, 0, <usize>N << 2);
    const segs = inList == 0 ? 1 : load<i32>(inCount + (<usize>i << 2));
    const inRow = inList + ((<usize>i * <usize>nbIn) << 2);
    for (let q = 0; q < blocks; q++) {
      const xb = outList == 0 ? q : load<i32>(outList + ((<usize>i * <usize>nbOut + <usize>q) << 2));
      const j0 = xb * B;
      const j1 = minI(N, j0 + B);
      let j = j0;
      for (; j + 4 <= j1; j += 4) {
        const w0 = w + <usize>j * ldw, w1 = w0 + ldw, w2 = w1 + ldw, w3 = w2 + ldw;
        let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
        let t0: f32 = 0, t1: f32 = 0, t2: f32 = 0, t3: f32 = 0;
        for (let s = 0; s < segs; s++) {
          let k0 = 0, k1 = K;
          if (inList != 0) {
            k0 = load<i32>(inRow + (<usize>s << 2)) * bIn;
            k1 = minI(K, k0 + bIn);
          }
          let k = k0;
          for (; k + 4 <= k1; k += 4) {
            const o = <usize>k << 2;
            const xv = v128.load(xi + o);
            a0 = maddSplit(xv, v128.load(w0 + o), a0);
            a1 = maddSplit(xv, v128.load(w1 + o), a1);
            a2 = maddSplit(xv, v128.load(w2 + o), a2);
            a3 = maddSplit(xv, v128.load(w3 + o), a3);
          }
          for (; k < k1; k++) {
            const o = <usize>k << 2;
            const xs = load<f32>(xi + o);
            t0 += xs * load<f32>(w0 + o); t1 += xs * load<f32>(w1 + o);
            t2 += xs * load<f32>(w2 + o); t3 += xs * load<f32>(w3 + o);
          }
        }
        const oj = oi + (<usize>j << 2);
        let r = f32x4(hsumSerial(a0) + t0, hsumSerial(a1) + t1, hsumSerial(a2) + t2, hsumSerial(a3) + t3);
        if (bias != 0) r = f32x4.add(r, v128.load(bias + (<usize>j << 2)));
        v128.store(oj, r);
      }
      for (; j < j1; j++) {
        const w0 = w + <usize>j * ldw;
        let a0 = f32x4.splat(0);
        let t0: f32 = 0;
        for (let s = 0; s < segs; s++) {
          let k0 = 0, k1 = K;
          if (inList != 0) {
            k0 = load<i32>(inRow + (<usize>s << 2)) * bIn;
            k1 = minI(K, k0 + bIn);
          }
          let k = k0;
          for (; k + 4 <= k1; k += 4) {
            const o = <usize>k << 2;
            a0 = maddSplit(v128.load(xi + o), v128.load(w0 + o), a0);
          }
          for (; k < k1; k++) {
            const o = <usize>k << 2;
            t0 += load<f32>(xi + o) * load<f32>(w0 + o);
          }
        }
        let r = hsumSerial(a0) + t0;
        if (bias != 0) r += load<f32>(bias + (<usize>j << 2));
        store<f32>(oi + (<usize>j << 2), r);
      }
    }
  }
}

/**
 * dx[i, active in] (beta 0: =, beta 1: +=) Σ over active output units j of g[i, j] W[j, active in]:
 * dL/dX over active block pairs. g rows stride N; dx rows stride K. With beta 0 the whole dx
 * row is zeroed first (inactive input blocks get 0). Lists as in bsForward.
 */
export function bsBackwardInput(
  n: i32, N: i32, K: i32, g: usize, w: usize, dx: usize,
  B: i32, outList: usize, outCount: usize, nbOut: i32,
  inList: usize, inCount: usize, nbIn: i32, bIn: i32, beta: f32,
): void {
  bsBackwardInputRows(n, N, K, g, w, dx, B, outList, outCount, nbOut, inList, inCount, nbIn, bIn, beta, 0, n);
}

/** bsBackwardInput for examples [i0, i1) (each dx row depends on its example alone). */
export function bsBackwardInputRows(
  n: i32, N: i32, K: i32, g: usize, w: usize, dx: usize,
  B: i32, outList: usize, outCount: usize, nbOut: i32,
  inList: usize, inCount: usize, nbIn: i32, bIn: i32, beta: f32, i0: i32, i1: i32,
): void {
  const ldw = <usize>K << 2;
  for (let i = i0; i < i1; i++) {
    const gi = g + ((<usize>i * <usize>N) << 2);
    const di = dx + ((<usize>i * <usize>K) << 2);
    if (beta == 0) memory.fill(di, 0, <usize>K << 2);
    const blocks = outList == 0 ? blockCount(N, B) : load<i32>(outCount + (<usize>i << 2));
    const segs = inList == 0 ? 1 : load<i32>(inCount + (<usize>i << 2));
    const inRow = inList + ((<usize>i * <usize>nbIn) << 2);
    for (let q = 0; q < blocks; q++) {
      const xb = outList == 0 ? q : load<i32>(outList + ((<usize>i * <usize>nbOut + <usize>q) << 2));
      const j0 = xb * B;
      const j1 = minI(N, j0 + B);
      let j = j0;
      for (; j + 4 <= j1; j += 4) {
        const s0 = load<f32>(gi + (<usize>j << 2)), s1 = load<f32>(gi + (<usize>j << 2), 4);
        const s2 = load<f32>(gi + (<usize>j << 2), 8), s3 = load<f32>(gi + (<usize>j << 2), 12);
        if (s0 == 0 && s1 == 0 && s2 == 0 && s3 == 0) continue;
        const g0 = f32x4.splat(s0), g1 = f32x4.splat(s1), g2 = f32x4.splat(s2), g3 = f32x4.splat(s3);
        const w0 = w + <usize>j * ldw, w1 = w0 + ldw, w2 = w1 + ldw, w3 = w2 + ldw;
        for (let s = 0; s < segs; s++) {
          let k0 = 0, k1 = K;
          if (inList != 0) {
            k0 = load<i32>(inRow + (<usize>s << 2)) * bIn;
            k1 = minI(K, k0 + bIn);
          }
          let k = k0;
          for (; k + 4 <= k1; k += 4) {
            const o = <usize>k << 2;
            let acc = v128.load(di + o);
            acc = madd(g0, v128.load(w0 + o), acc);
            acc = madd(g1, v128.load(w1 + o), acc);
            acc = madd(g2, v128.load(w2 + o), acc);
            acc = madd(g3, v128.load(w3 + o), acc);
            v128.store(di + o, acc);
          }
          for (; k < k1; k++) {
            const o = <usize>k << 2;
            store<f32>(di + o, load<f32>(di + o) + s0 * load<f32>(w0 + o) + s1 * load<f32>(w1 + o) + s2 * load<f32>(w2 + o) + s3 * load<f32>(w3 + o));
          }
        }
      }
      for (; j < j1; j++) {
        const s0 = load<f32>(gi + (<usize>j << 2));
        if (s0 == 0) continue;
        axpySegments(di, w + <usize>j * ldw, s0, K, segs, inList, inRow, bIn);
      }
    }
  }
}

/**
 * dW[j, active in] (beta 0: =, beta 1: +=) Σ_i g[i, j] x[i, active in] over the examples with
 * j's block active: the block-pair-sparse weight gradient. beta 0 zeroes all of dW first.
 */
export function bsBackwardWeight(
  n: i32, N: i32, K: i32, g: usize, x: usize, dw: usize,
  B: i32, outList: usize, outCount: usize, nbOut: i32,
  inList: usize, inCount: usize, nbIn: i32, bIn: i32, beta: f32,
): void {
  const ldw = <usize>K << 2;
  if (beta == 0) memory.fill(dw, 0, (<usize>N * <usize>K) << 2);
  for (let i = 0; i < n; i++) {
    const gi = g + ((<usize>i * <usize>N) << 2);
    const xi = x + ((<usize>i * <usize>K) << 2);
    const blocks = outList == 0 ? blockCount(N, B) : load<i32>(outCount + (<usize>i << 2));
    const segs = inList == 0 ? 1 : load<i32>(inCount + (<usize>i << 2));
    const inRow = inList + ((<usize>i * <usize>nbIn) << 2);
    for (let q = 0; q < blocks; q++) {
      const xb = outList == 0 ? q : load<i32>(outList + ((<usize>i * <usize>nbOut + <usize>q) << 2));
      const j1 = minI(N, xb * B + B);
      for (let j = xb * B; j < j1; j++) {
        const s0 = load<f32>(gi + (<usize>j << 2));
        if (s0 == 0) continue;
        axpySegments(dw + <usize>j * ldw, xi, s0, K, segs, inList, inRow, bIn);
      }
    }
  }
}

function activateSegment(p: usize, count: i32, kind: i32): void {
  if (kind == ACTIVATION_RELU) reluForward(p, p, count);
  else if (kind == ACTIVATION_TANH) tanhForward(p, p, count);
  else if (kind == ACTIVATION_SIGMOID) sigmoidForward(p, p, count);
}

/** h = f(h) in place on the active blocks of each row (inactive blocks stay as they are: 0). */
export function bsActivate(h: usize, n: i32, N: i32, B: i32, outList: usize, outCount: usize, nbOut: i32, kind: i32): void {
  bsActivateRows(h, n, N, B, outList, outCount, nbOut, kind, 0, n);
}

/** bsActivate for examples [i0, i1). */
export function bsActivateRows(h: usize, n: i32, N: i32, B: i32, outList: usize, outCount: usize, nbOut: i32, kind: i32, i0: i32, i1: i32): void {
  if (kind == ACTIVATION_LINEAR) return;
  for (let i = i0; i < i1; i++) {
    const hi = h + ((<usize>i * <usize>N) << 2);
    const blocks = load<i32>(outCount + (<usize>i << 2));
    for (let q = 0; q < blocks; q++) {
      const j0 = load<i32>(outList + ((<usize>i * <usize>nbOut + <usize>q) << 2)) * B;
      activateSegment(hi + (<usize>j0 << 2), minI(N, j0 + B) - j0, kind);
    }
  }
}

/**
 * delta <- delta ⊙ f'(h) ⊙ M in place: the blocks with u[i, block] != 0 get the activation
 * derivative (from the output h), the others are zeroed. u: f32 [n, nbOut].
 */
export function bsActivationBackward(delta: usize, h: usize, n: i32, N: i32, B: i32, u: usize, nbOut: i32, kind: i32): void {
  bsActivationBackwardRows(delta, h, n, N, B, u, nbOut, kind, 0, n);
}

/** bsActivationBackward for examples [i0, i1). */
export function bsActivationBackwardRows(delta: usize, h: usize, n: i32, N: i32, B: i32, u: usize, nbOut: i32, kind: i32, i0: i32, i1: i32): void {
  for (let i = i0; i < i1; i++) {
    const di = delta + ((<usize>i * <usize>N) << 2);
    const hi = h + ((<usize>i * <usize>N) << 2);
    for (let b = 0; b < nbOut; b++) {
      const j0 = b * B;
      if (j0 >= N) break;
      const len = minI(N, j0 + B) - j0;
      const o = <usize>j0 << 2;
      if (load<f32>(u + ((<usize>i * <usize>nbOut + <usize>b) << 2)) == 0) {
        memory.fill(di + o, 0, <usize>len << 2);
      } else if (kind == ACTIVATION_RELU) reluBackward(di + o, hi + o, di + o, len);
      else if (kind == ACTIVATION_TANH) tanhBackward(di + o, hi + o, di + o, len);
      else if (kind == ACTIVATION_SIGMOID) sigmoidBackward(di + o, hi + o, di + o, len);
    }
  }
}

/**
 * fs forward with weight reuse across examples: the examples are grouped by active output
 * block (groups: i32 scratch of nbOut + nbOut·n), and each block's rows are multiplied
 * with two examples at a time (4 rows × 2 examples register tile), so every weight load
 * serves two examples. Dense input; same result as bsForward with null input lists.
 */
export function bsForwardGrouped(
  n: i32, N: i32, K: i32, x: usize, w: usize, bias: usize, out: usize,
  B: i32, outList: usize, outCount: usize, nbOut: i32, groups: usize,
): void {
  bsGroups(n, outList, outCount, nbOut, groups);
  bsForwardGroupedUnits(n, N, K, x, w, bias, out, B, nbOut, groups, 0, N);
}

/** bsForwardGrouped's groups: per output block, its example count and members (in order). */
export function bsGroups(n: i32, outList: usize, outCount: usize, nbOut: i32, groups: usize): void {
  const members = groups + (<usize>nbOut << 2);
  memory.fill(groups, 0, <usize>nbOut << 2);
  for (let i = 0; i < n; i++) {
    const c = load<i32>(outCount + (<usize>i << 2));
    for (let q = 0; q < c; q++) {
      const xb = load<i32>(outList + ((<usize>i * <usize>nbOut + <usize>q) << 2));
      const at = groups + (<usize>xb << 2);
      const m = load<i32>(at);
      store<i32>(members + ((<usize>xb * <usize>n + <usize>m) << 2), i);
      store<i32>(at, m + 1);
    }
  }
}

/**
 * bsForwardGrouped's products for units [u0, u1), after bsGroups: those output columns zeroed
 * in every row, then each active block's rows in the range, by 4 from the block's first row
 * (u0 and u1 a block's first row plus a multiple of 4, or N), each with the block's example
 * pairs as in one call.
 */
export function bsForwardGroupedUnits(
  n: i32, N: i32, K: i32, x: usize, w: usize, bias: usize, out: usize,
  B: i32, nbOut: i32, groups: usize, u0: i32, u1: i32,
): void {
  const ldw = <usize>K << 2;
  const ldx = <usize>K << 2;
  const members = groups + (<usize>nbOut << 2);
  if (u0 == 0 && u1 == N) memory.fill(out, 0, (<usize>n * <usize>N) << 2);
  else for (let i = 0; i < n; i++) memory.fill(out + ((<usize>i * <usize>N + <usize>u0) << 2), 0, <usize>(u1 - u0) << 2);
  for (let xb = u0 / B; xb < nbOut && xb * B < u1; xb++) {
    const m = load<i32>(groups + (<usize>xb << 2));
    if (m == 0) continue;
    const list = members + ((<usize>xb * <usize>n) << 2);
    const j0 = xb * B > u0 ? xb * B : u0;
    const j1 = minI(minI(N, xb * B + B), u1);
    let j = j0;
    for (; j + 4 <= j1; j += 4) {
      const w0 = w + <usize>j * ldw, w1 = w0 + ldw, w2 = w1 + ldw, w3 = w2 + ldw;
      const bv = bias != 0 ? v128.load(bias + (<usize>j << 2)) : f32x4.splat(0);
      let e = 0;
      for (; e + 2 <= m; e += 2) {
        const ia = load<i32>(list + (<usize>e << 2)), ib = load<i32>(list + (<usize>e << 2), 4);
        const xa = x + <usize>ia * ldx, xbp = x + <usize>ib * ldx;
        let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
        let b0 = f32x4.splat(0), b1 = f32x4.splat(0), b2 = f32x4.splat(0), b3 = f32x4.splat(0);
        let k = 0;
        for (; k + 4 <= K; k += 4) {
          const o = <usize>k << 2;
          const va = v128.load(xa + o), vb = v128.load(xbp + o);
          const v0 = v128.load(w0 + o), v1 = v128.load(w1 + o), v2 = v128.load(w2 + o), v3 = v128.load(w3 + o);
          a0 = madd(va, v0, a0); b0 = madd(vb, v0, b0);
          a1 = madd(va, v1, a1); b1 = madd(vb, v1, b1);
          a2 = madd(va, v2, a2); b2 = madd(vb, v2, b2);
          a3 = madd(va, v3, a3); b3 = madd(vb, v3, b3);
        }
        let ta0: f32 = 0, ta1: f32 = 0, ta2: f32 = 0, ta3: f32 = 0, tb0: f32 = 0, tb1: f32 = 0, tb2: f32 = 0, tb3: f32 = 0;
        for (; k < K; k++) {
          const o = <usize>k << 2;
          const sa = load<f32>(xa + o), sb = load<f32>(xbp + o);
          const s0 = load<f32>(w0 + o), s1 = load<f32>(w1 + o), s2 = load<f32>(w2 + o), s3 = load<f32>(w3 + o);
          ta0 += sa * s0; ta1 += sa * s1; ta2 += sa * s2; ta3 += sa * s3;
          tb0 += sb * s0; tb1 += sb * s1; tb2 += sb * s2; tb3 += sb * s3;
        }
        v128.store(out + ((<usize>ia * <usize>N + <usize>j) << 2), f32x4.add(bv, f32x4(hsumSerial(a0) + ta0, hsumSerial(a1) + ta1, hsumSerial(a2) + ta2, hsumSerial(a3) + ta3)));
        v128.store(out + ((<usize>ib * <usize>N + <usize>j) << 2), f32x4.add(bv, f32x4(hsumSerial(b0) + tb0, hsumSerial(b1) + tb1, hsumSerial(b2) + tb2, hsumSerial(b3) + tb3)));
      }
      if (e < m) {
        const ia = load<i32>(list + (<usize>e << 2));
        const xa = x + <usize>ia * ldx;
        let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
        let k = 0;
        for (; k + 4 <= K; k += 4) {
          const o = <usize>k << 2;
          const va = v128.load(xa + o);
          a0 = maddSplit(va, v128.load(w0 + o), a0); a1 = maddSplit(va, v128.load(w1 + o), a1);
          a2 = maddSplit(va, v128.load(w2 + o), a2); a3 = maddSplit(va, v128.load(w3 + o), a3);
        }
        let t0: f32 = 0, t1: f32 = 0, t2: f32 = 0, t3: f32 = 0;
        for (; k < K; k++) {
          const o = <usize>k << 2;
          const sa = load<f32>(xa + o);
          t0 += sa * load<f32>(w0 + o); t1 += sa * load<f32>(w1 + o); t2 += sa * load<f32>(w2 + o); t3 += sa * load<f32>(w3 + o);
        }
        v128.store(out + ((<usize>ia * <usize>N + <usize>j) << 2), f32x4.add(bv, f32x4(hsumSerial(a0) + t0, hsumSerial(a1) + t1, hsumSerial(a2) + t2, hsumSerial(a3) + t3)));
      }
    }
    for (; j < j1; j++) {
      const w0 = w + <usize>j * ldw;
      const bj: f32 = bias != 0 ? load<f32>(bias + (<usize>j << 2)) : 0;
      for (let e = 0; e < m; e++) {
        const ia = load<i32>(list + (<usize>e << 2));
        const xa = x + <usize>ia * ldx;
        let a0 = f32x4.splat(0);
        let k = 0;
        for (; k + 4 <= K; k += 4) a0 = maddSplit(v128.load(xa + (<usize>k << 2)), v128.load(w0 + (<usize>k << 2)), a0);
        let t0: f32 = 0;
        for (; k < K; k++) t0 += load<f32>(xa + (<usize>k << 2)) * load<f32>(w0 + (<usize>k << 2));
        store<f32>(out + ((<usize>ia * <usize>N + <usize>j) << 2), bj + hsumSerial(a0) + t0);
      }
    }
  }
}
