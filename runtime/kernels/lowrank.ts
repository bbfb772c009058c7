// Low-rank sign-estimated layers (Davis & Arel): a rank-r factor U V of the weights
// estimates each pre-activation, Zhat = (X U) V + b; only units with Zhat > theta are
// computed exactly (SIMD dot products over contiguous rows of W [units x inputs], skipping
// the input's zeros), ReLU on those, zeros elsewhere. See docs/lowrank.md.
//
// Counters (f64, at `stats`): 0 examples, 1 computed (example, unit) pairs, 2 MACs performed,
// 3 agree, 4 truly positive, 5 false negatives, 6 pairs measured, 7 estimated positive
// (3..7 only from lowrankSignStats).

import { gemmNN, gemmNT } from "./gemm";
import { addBias, reluForward } from "./elementwise";

// @ts-ignore: decorator
@inline function fma4(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

// @ts-ignore: decorator
@inline function hsum(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

// @ts-ignore: decorator
@inline function addStat(stats: usize, k: i32, value: f64): void {
  const p = stats + (<usize>k << 3);
  store<f64>(p, load<f64>(p) + value);
}

/** Nonzero entries of x[0 .. len) into idx (i32) / val (f32); returns their count. */
export function lowrankGatherNonzeros(x: usize, len: i32, idx: usize, val: usize): i32 {
  let count = 0;
  const zero = f32x4.splat(0);
  let k = 0;
  for (; k + 4 <= len; k += 4) {
    const v = v128.load(x + (<usize>k << 2));
    let bits = i32x4.bitmask(f32x4.ne(v, zero));
    while (bits != 0) {
      const lane = ctz(bits);
      bits &= bits - 1;
      const kk = k + lane;
      store<i32>(idx + (<usize>count << 2), kk);
      store<f32>(val + (<usize>count << 2), load<f32>(x + (<usize>kk << 2)));
      count++;
    }
  }
  for (; k < len; k++) {
    const s = load<f32>(x + (<usize>k << 2));
    if (s != 0) {
      store<i32>(idx + (<usize>count << 2), k);
      store<f32>(val + (<usize>count << 2), s);
      count++;
    }
  }
  return count;
}

/** Dense SIMD dot of two f32 vectors of length len. */
// @ts-ignore: decorator
@inline function dotDense(a: usize, b: usize, len: i32): f32 {
  let s0 = f32x4.splat(0), s1 = f32x4.splat(0), s2 = f32x4.splat(0), s3 = f32x4.splat(0);
  let k = 0;
  for (; k + 16 <= len; k += 16) {
    const o = <usize>k << 2;
    s0 = fma4(v128.load(a + o), v128.load(b + o), s0);
    s1 = fma4(v128.load(a + o + 16), v128.load(b + o + 16), s1);
    s2 = fma4(v128.load(a + o + 32), v128.load(b + o + 32), s2);
    s3 = fma4(v128.load(a + o + 48), v128.load(b + o + 48), s3);
  }
  for (; k + 4 <= len; k += 4) {
    const o = <usize>k << 2;
    s0 = fma4(v128.load(a + o), v128.load(b + o), s0);
  }
  let s = hsum(f32x4.add(f32x4.add(s0, s1), f32x4.add(s2, s3)));
  for (; k < len; k++) s += load<f32>(a + (<usize>k << 2)) * load<f32>(b + (<usize>k << 2));
  return s;
}

/** Gathered dot: sum_t val[t] * row[idx[t]]. */
// @ts-ignore: decorator
@inline function dotGathered(row: usize, idx: usize, val: usize, nnz: i32): f32 {
  let s0: f32 = 0, s1: f32 = 0, s2: f32 = 0, s3: f32 = 0;
  let t = 0;
  for (; t + 4 <= nnz; t += 4) {
    const o = <usize>t << 2;
    s0 += load<f32>(val + o) * load<f32>(row + (<usize>load<i32>(idx + o) << 2));
    s1 += load<f32>(val + o + 4) * load<f32>(row + (<usize>load<i32>(idx + o + 4) << 2));
    s2 += load<f32>(val + o + 8) * load<f32>(row + (<usize>load<i32>(idx + o + 8) << 2));
    s3 += load<f32>(val + o + 12) * load<f32>(row + (<usize>load<i32>(idx + o + 12) << 2));
  }
  for (; t < nnz; t++) s0 += load<f32>(val + (<usize>t << 2)) * load<f32>(row + (<usize>load<i32>(idx + (<usize>t << 2)) << 2));
  return (s0 + s1) + (s2 + s3);
}

/** t[r] = sum_t val[t] * U[idx[t], :] (U [nin x r] row-major): the sparse estimator input. */
function projectSparse(u: usize, r: i32, idx: usize, val: usize, nnz: i32, t: usize): void {
  const rowBytes = <usize>r << 2;
  let c = 0;
  for (; c + 8 <= r; c += 8) {
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0);
    const col = u + (<usize>c << 2);
    for (let q = 0; q < nnz; q++) {
      const o = <usize>q << 2;
      const xv = f32x4.splat(load<f32>(val + o));
      const p = col + <usize>load<i32>(idx + o) * rowBytes;
      a0 = fma4(xv, v128.load(p), a0);
      a1 = fma4(xv, v128.load(p + 16), a1);
    }
    v128.store(t + (<usize>c << 2), a0);
    v128.store(t + (<usize>c << 2) + 16, a1);
  }
  for (; c + 4 <= r; c += 4) {
    let a0 = f32x4.splat(0);
    const col = u + (<usize>c << 2);
    for (let q = 0; q < nnz; q++) {
      const o = <usize>q << 2;
      a0 = fma4(f32x4.splat(load<f32>(val + o)), v128.load(col + <usize>load<i32>(idx + o) * rowBytes), a0);
    }
    v128.store(t + (<usize>c << 2), a0);
  }
  for (; c < r; c++) {
    let s: f32 = 0;
    const col = u + (<usize>c << 2);
    for (let q = 0; q < nnz; q++) {
      const o = <usize>q << 2;
      s += load<f32>(val + o) * load<f32>(col + <usize>load<i32>(idx + o) * rowBytes);
    }
    store<f32>(t + (<usize>c << 2), s);
  }
}

/** Indices j with zhat[j] > theta into active (i32); returns their count. */
function compact(zhat: usize, nout: i32, theta: f32, active: usize): i32 {
  let count = 0;
  const th = f32x4.splat(theta);
  let j = 0;
  for (; j + 4 <= nout; j += 4) {
    let bits = i32x4.bitmask(f32x4.gt(v128.load(zhat + (<usize>j << 2)), th));
    while (bits != 0) {
      store<i32>(active + (<usize>count << 2), j + ctz(bits));
      bits &= bits - 1;
      count++;
    }
  }
  for (; j < nout; j++) {
    if (load<f32>(zhat + (<usize>j << 2)) > theta) {
      store<i32>(active + (<usize>count << 2), j);
      count++;
    }
  }
  return count;
}

/**
 * Exact part, unit-major: transposes the per-example active lists into per-unit example
 * lists (unitStart [nout + 1], unitLists [n * nout]), then for each unit dots its weight row
 * with the examples that selected it, four examples per pass over the row.
 */
function exactByUnit(n: i32, nin: i32, nout: i32, x: usize, w: usize, b: usize, h: usize, active: usize, counts: usize, unitLists: usize, unitStart: usize): void {
  memory.fill(unitStart, 0, <usize>(nout + 1) * 4);
  for (let i = 0; i < n; i++) {
    const list = active + <usize>i * <usize>nout * 4;
    const c = load<i32>(counts + (<usize>i << 2));
    for (let q = 0; q < c; q++) {
      const p = unitStart + (<usize>(load<i32>(list + (<usize>q << 2)) + 1) << 2);
      store<i32>(p, load<i32>(p) + 1);
    }
  }
  for (let j = 0; j < nout; j++) {
    const p = unitStart + (<usize>(j + 1) << 2);
    store<i32>(p, load<i32>(p) + load<i32>(p - 4));
  }
  // Fill (examples in increasing order per unit), using unitStart[j] as a cursor, then shift back.
  for (let i = 0; i < n; i++) {
    const list = active + <usize>i * <usize>nout * 4;
    const c = load<i32>(counts + (<usize>i << 2));
    for (let q = 0; q < c; q++) {
      const p = unitStart + (<usize>load<i32>(list + (<usize>q << 2)) << 2);
      const at = load<i32>(p);
      store<i32>(unitLists + (<usize>at << 2), i);
      store<i32>(p, at + 1);
    }
  }
  for (let j = nout; j > 0; j--) store<i32>(unitStart + (<usize>j << 2), load<i32>(unitStart + (<usize>(j - 1) << 2)));
  store<i32>(unitStart, 0);
  const rowBytes = <usize>nin * 4;
  for (let j = 0; j < nout; j++) {
    const begin = load<i32>(unitStart + (<usize>j << 2));
    const end = load<i32>(unitStart + (<usize>(j + 1) << 2));
    if (begin == end) continue;
    const wj = w + <usize>j * rowBytes;
    const bj = load<f32>(b + (<usize>j << 2));
    let q = begin;
    for (; q + 4 <= end; q += 4) {
      const i0 = load<i32>(unitLists + (<usize>q << 2));
      const i1 = load<i32>(unitLists + (<usize>(q + 1) << 2));
      const i2 = load<i32>(unitLists + (<usize>(q + 2) << 2));
      const i3 = load<i32>(unitLists + (<usize>(q + 3) << 2));
      const x0 = x + <usize>i0 * rowBytes, x1 = x + <usize>i1 * rowBytes, x2 = x + <usize>i2 * rowBytes, x3 = x + <usize>i3 * rowBytes;
      let s0 = f32x4.splat(0), s1 = f32x4.splat(0), s2 = f32x4.splat(0), s3 = f32x4.splat(0);
      let k = 0;
      for (; k + 4 <= nin; k += 4) {
        const o = <usize>k << 2;
        const wv = v128.load(wj + o);
        s0 = fma4(wv, v128.load(x0 + o), s0);
        s1 = fma4(wv, v128.load(x1 + o), s1);
        s2 = fma4(wv, v128.load(x2 + o), s2);
        s3 = fma4(wv, v128.load(x3 + o), s3);
      }
      let z0 = hsum(s0), z1 = hsum(s1), z2 = hsum(s2), z3 = hsum(s3);
      for (; k < nin; k++) {
        const o = <usize>k << 2;
        const wk = load<f32>(wj + o);
        z0 += wk * load<f32>(x0 + o); z1 += wk * load<f32>(x1 + o);
        z2 += wk * load<f32>(x2 + o); z3 += wk * load<f32>(x3 + o);
      }
      z0 += bj; z1 += bj; z2 += bj; z3 += bj;
      store<f32>(h + (<usize>i0 * <usize>nout + <usize>j) * 4, z0 > 0 ? z0 : <f32>0);
      store<f32>(h + (<usize>i1 * <usize>nout + <usize>j) * 4, z1 > 0 ? z1 : <f32>0);
      store<f32>(h + (<usize>i2 * <usize>nout + <usize>j) * 4, z2 > 0 ? z2 : <f32>0);
      store<f32>(h + (<usize>i3 * <usize>nout + <usize>j) * 4, z3 > 0 ? z3 : <f32>0);
    }
    for (; q < end; q++) {
      const i0 = load<i32>(unitLists + (<usize>q << 2));
      const z = bj + dotDense(wj, x + <usize>i0 * rowBytes, nin);
      store<f32>(h + (<usize>i0 * <usize>nout + <usize>j) * 4, z > 0 ? z : <f32>0);
    }
  }
}

/** Computed pairs above which the batch runs the dense GEMM and masks it instead. */
const DENSE_SWITCH: f64 = 0.4;

/**
 * The conditional forward of rows [0, n): h = S ⊙ relu(X Wᵀ + b), S = 1[(X U) V + b > theta].
 * Leaves zhat [n x nout], the active lists (active [n x nout] i32, row stride nout, counts [n])
 * for the backward and the metrics.
 */
export function lowrankForward(
  n: i32, nin: i32, nout: i32, r: i32,
  x: usize, w: usize, b: usize, u: usize, v: usize, theta: f32,
  h: usize, t: usize, zhat: usize, active: usize, counts: usize,
  nzIdx: usize, nzVal: usize, stats: usize, unitLists: usize, unitStart: usize,
): void {
  if (n <= 0) return;
  let macs: f64 = 0;
  // T = X U: sparse per example, or one GEMM when the batch's input is mostly nonzero.
  let nnzTotal: i32 = 0;
  for (let i = 0; i < n; i++) {
    const xi = x + <usize>i * <usize>nin * 4;
    const nnz = lowrankGatherNonzeros(xi, nin, nzIdx, nzVal);
    nnzTotal += nnz;
    if (n < 8) projectSparse(u, r, nzIdx, nzVal, nnz, t + <usize>i * <usize>r * 4);
  }
  if (n >= 8) {
    if (<f64>nnzTotal > 0.5 * <f64>n * <f64>nin) {
      gemmNN(n, r, nin, x, nin, u, r, t, r, 0);
      macs += <f64>n * <f64>nin * <f64>r;
    } else {
      for (let i = 0; i < n; i++) {
        const nnz = lowrankGatherNonzeros(x + <usize>i * <usize>nin * 4, nin, nzIdx, nzVal);
        projectSparse(u, r, nzIdx, nzVal, nnz, t + <usize>i * <usize>r * 4);
      }
      macs += <f64>nnzTotal * <f64>r;
    }
  } else {
    macs += <f64>nnzTotal * <f64>r;
  }
  // Zhat = T V + b.
  gemmNN(n, nout, r, t, r, v, nout, zhat, nout, 0);
  addBias(zhat, b, n, nout);
  macs += <f64>n * <f64>r * <f64>nout;
  // Masks as per-example active lists.
  let computed: i32 = 0;
  for (let i = 0; i < n; i++) {
    const c = compact(zhat + <usize>i * <usize>nout * 4, nout, theta, active + <usize>i * <usize>nout * 4);
    store<i32>(counts + (<usize>i << 2), c);
    computed += c;
  }
  if (<f64>computed >= DENSE_SWITCH * <f64>n * <f64>nout) {
    // Dense and masked: exactly the dense layer on the selected units.
    gemmNT(n, nout, nin, x, nin, w, nin, h, nout, 0);
    addBias(h, b, n, nout);
    reluForward(h, h, n * nout);
    const th = f32x4.splat(theta);
    const count = n * nout;
    let k = 0;
    for (; k + 4 <= count; k += 4) {
      const o = <usize>k << 2;
      v128.store(h + o, v128.and(v128.load(h + o), f32x4.gt(v128.load(zhat + o), th)));
    }
    for (; k < count; k++) {
      const o = <usize>k << 2;
      if (!(load<f32>(zhat + o) > theta)) store<f32>(h + o, 0);
    }
    macs += <f64>n * <f64>nin * <f64>nout;
  } else if (n >= 4 && <f64>nnzTotal * 8 > <f64>n * <f64>nin) {
    // Dense-ish input, several examples: unit-major, so each active weight row is loaded
    // once per batch and shared by the examples that need it (4 at a time).
    memory.fill(h, 0, <usize>n * <usize>nout * 4);
    exactByUnit(n, nin, nout, x, w, b, h, active, counts, unitLists, unitStart);
    macs += <f64>computed * <f64>nin;
  } else {
    memory.fill(h, 0, <usize>n * <usize>nout * 4);
    for (let i = 0; i < n; i++) {
      const xi = x + <usize>i * <usize>nin * 4;
      const hi = h + <usize>i * <usize>nout * 4;
      const list = active + <usize>i * <usize>nout * 4;
      const c = load<i32>(counts + (<usize>i << 2));
      if (c == 0) continue;
      const nnz = lowrankGatherNonzeros(xi, nin, nzIdx, nzVal);
      if (nnz * 8 > nin) {
        for (let q = 0; q < c; q++) {
          const j = load<i32>(list + (<usize>q << 2));
          const z = load<f32>(b + (<usize>j << 2)) + dotDense(w + <usize>j * <usize>nin * 4, xi, nin);
          store<f32>(hi + (<usize>j << 2), z > 0 ? z : <f32>0);
        }
        macs += <f64>c * <f64>nin;
      } else {
        for (let q = 0; q < c; q++) {
          const j = load<i32>(list + (<usize>q << 2));
          const z = load<f32>(b + (<usize>j << 2)) + dotGathered(w + <usize>j * <usize>nin * 4, nzIdx, nzVal, nnz);
          store<f32>(hi + (<usize>j << 2), z > 0 ? z : <f32>0);
        }
        macs += <f64>c * <f64>nnz;
      }
    }
  }
  addStat(stats, 0, <f64>n);
  addStat(stats, 1, <f64>computed);
  addStat(stats, 2, macs);
}

/**
 * The masked backward. On entry delta holds D = dL/dH' ⊙ S ⊙ 1[Z > 0] (the ReLU backward on
 * the layer's output, zero off the computed units). dW and db are overwritten; dX is written
 * (dxBeta 0) or accumulated (1) when dx != 0. Work only over the active lists.
 */
export function lowrankBackward(
  n: i32, nin: i32, nout: i32,
  x: usize, w: usize, delta: usize, active: usize, counts: usize,
  dw: usize, db: usize, dx: usize, dxBeta: i32,
): void {
  memory.fill(dw, 0, <usize>nout * <usize>nin * 4);
  memory.fill(db, 0, <usize>nout * 4);
  if (dx != 0 && dxBeta == 0) memory.fill(dx, 0, <usize>n * <usize>nin * 4);
  for (let i = 0; i < n; i++) {
    const xi = x + <usize>i * <usize>nin * 4;
    const di = delta + <usize>i * <usize>nout * 4;
    const dxi = dx + <usize>i * <usize>nin * 4;
    const list = active + <usize>i * <usize>nout * 4;
    const c = load<i32>(counts + (<usize>i << 2));
    for (let q = 0; q < c; q++) {
      const j = load<i32>(list + (<usize>q << 2));
      const d = load<f32>(di + (<usize>j << 2));
      if (d == 0) continue;
      store<f32>(db + (<usize>j << 2), load<f32>(db + (<usize>j << 2)) + d);
      const dv = f32x4.splat(d);
      const dwj = dw + <usize>j * <usize>nin * 4;
      const wj = w + <usize>j * <usize>nin * 4;
      let k = 0;
      if (dx != 0) {
        for (; k + 4 <= nin; k += 4) {
          const o = <usize>k << 2;
          v128.store(dwj + o, fma4(dv, v128.load(xi + o), v128.load(dwj + o)));
          v128.store(dxi + o, fma4(dv, v128.load(wj + o), v128.load(dxi + o)));
        }
        for (; k < nin; k++) {
          const o = <usize>k << 2;
          store<f32>(dwj + o, load<f32>(dwj + o) + d * load<f32>(xi + o));
          store<f32>(dxi + o, load<f32>(dxi + o) + d * load<f32>(wj + o));
        }
      } else {
        for (; k + 4 <= nin; k += 4) {
          const o = <usize>k << 2;
          v128.store(dwj + o, fma4(dv, v128.load(xi + o), v128.load(dwj + o)));
        }
        for (; k < nin; k++) {
          const o = <usize>k << 2;
          store<f32>(dwj + o, load<f32>(dwj + o) + d * load<f32>(xi + o));
        }
      }
    }
  }
}

/**
 * Sign statistics of the last forward: zhat (estimate incl. bias) against ztrue (the exact
 * pre-activation on the same, conditional, input). Adds to counters 3..7.
 */
export function lowrankSignStats(n: i32, nout: i32, zhat: usize, ztrue: usize, theta: f32, stats: usize): void {
  let agree: i32 = 0, positive: i32 = 0, falseNeg: i32 = 0, estimated: i32 = 0;
  const count = n * nout;
  for (let k = 0; k < count; k++) {
    const o = <usize>k << 2;
    const s = load<f32>(zhat + o) > theta;
    const p = load<f32>(ztrue + o) > 0;
    if (s == p) agree++;
    if (p) positive++;
    if (p && !s) falseNeg++;
    if (s) estimated++;
  }
  addStat(stats, 3, <f64>agree);
  addStat(stats, 4, <f64>positive);
  addStat(stats, 5, <f64>falseNeg);
  addStat(stats, 6, <f64>count);
  addStat(stats, 7, <f64>estimated);
}
