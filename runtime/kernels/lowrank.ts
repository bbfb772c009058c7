// Low-rank sign-estimated layers (Davis & Arel): a rank-r factor U V of the weights
// estimates each pre-activation, Zhat = (X U) V + b; only units with Zhat > theta are
// computed exactly (SIMD dot products over contiguous rows of W [units x inputs], skipping
// the input's zeros), ReLU on those, zeros elsewhere. See docs/lowrank.md.
//
// Counters (f64, at `stats`): 0 examples, 1 computed (example, unit) pairs, 2 MACs performed,
// 3 agree, 4 truly positive, 5 false negatives, 6 pairs measured, 7 estimated positive
// (3..7 only from lowrankSignStats).
import { scratchAt, SCRATCH_GATHER, SCRATCH_GATHER_BYTES, SCRATCH_SMALL } from "./scratch";

import { gemmNN, gemmNT } from "./gemm";
import { addF64, hsumPairwise, madd } from "./helpers";
import { LOWRANK_EXACT_BY_EXAMPLE, LOWRANK_EXACT_BY_UNIT, LOWRANK_EXACT_DENSE, LOWRANK_PROJECT_GEMM, LOWRANK_PROJECT_SPARSE, LOWRANK_STAT_AGREE, LOWRANK_STAT_COMPUTED, LOWRANK_STAT_ESTIMATED, LOWRANK_STAT_EXAMPLES, LOWRANK_STAT_FALSE_NEGATIVE, LOWRANK_STAT_MACS, LOWRANK_STAT_MEASURED, LOWRANK_STAT_POSITIVE } from "./codes/lowrank";

// Left-packing shuffles for lowrankGatherNonzeros: entry m (16 bytes) moves the f32 lanes set
// in the 4-bit mask m to the front, in order (index 128: a zero byte).
const PACK_LANES: usize = memory.data<u8>([
  128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128,
  0, 1, 2, 3, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128,
  4, 5, 6, 7, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128,
  0, 1, 2, 3, 4, 5, 6, 7, 128, 128, 128, 128, 128, 128, 128, 128,
  8, 9, 10, 11, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128,
  0, 1, 2, 3, 8, 9, 10, 11, 128, 128, 128, 128, 128, 128, 128, 128,
  4, 5, 6, 7, 8, 9, 10, 11, 128, 128, 128, 128, 128, 128, 128, 128,
  0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 128, 128, 128, 128,
  12, 13, 14, 15, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128,
  0, 1, 2, 3, 12, 13, 14, 15, 128, 128, 128, 128, 128, 128, 128, 128,
  4, 5, 6, 7, 12, 13, 14, 15, 128, 128, 128, 128, 128, 128, 128, 128,
  0, 1, 2, 3, 4, 5, 6, 7, 12, 13, 14, 15, 128, 128, 128, 128,
  8, 9, 10, 11, 12, 13, 14, 15, 128, 128, 128, 128, 128, 128, 128, 128,
  0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 15, 128, 128, 128, 128,
  4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 128, 128, 128, 128,
  0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
], 16);

/**
 * Nonzero entries of x[0 .. len) into idx (i32) / val (f32); returns their count. Each group of
 * 4 with a nonzero is left-packed with a shuffle and stored whole at the running count (no branch
 * per lane), so it writes up to 3 entries past the count, never past entry len - 1.
 */
export function lowrankGatherNonzeros(x: usize, len: i32, idx: usize, val: usize): i32 {
  let count = 0;
  const zero = f32x4.splat(0);
  const lanes = i32x4(0, 1, 2, 3);
  let k = 0;
  for (; k + 4 <= len; k += 4) {
    const v = v128.load(x + (<usize>k << 2));
    const bits = i32x4.bitmask(f32x4.ne(v, zero));
    if (bits == 0) continue; // all-zero groups are common in ReLU outputs
    const pack = v128.load(PACK_LANES + (<usize>bits << 4));
    v128.store(val + (<usize>count << 2), i8x16.swizzle(v, pack));
    v128.store(idx + (<usize>count << 2), i8x16.swizzle(i32x4.add(i32x4.splat(k), lanes), pack));
    count += <i32>popcnt(bits);
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
    s0 = madd(v128.load(a + o), v128.load(b + o), s0);
    s1 = madd(v128.load(a + o + 16), v128.load(b + o + 16), s1);
    s2 = madd(v128.load(a + o + 32), v128.load(b + o + 32), s2);
    s3 = madd(v128.load(a + o + 48), v128.load(b + o + 48), s3);
  }
  for (; k + 4 <= len; k += 4) {
    const o = <usize>k << 2;
    s0 = madd(v128.load(a + o), v128.load(b + o), s0);
  }
  let s = hsumPairwise(f32x4.add(f32x4.add(s0, s1), f32x4.add(s2, s3)));
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

/** Nonzero count of x[0 .. len). */
function countNonzeros(x: usize, len: i32): i32 {
  let count = 0;
  const zero = f32x4.splat(0);
  let k = 0;
  for (; k + 4 <= len; k += 4) count += <i32>popcnt(i32x4.bitmask(f32x4.ne(v128.load(x + (<usize>k << 2)), zero)));
  for (; k < len; k++) if (load<f32>(x + (<usize>k << 2)) != 0) count++;
  return count;
}

// Accumulators of projectSparse's current chunk (up to 16 columns), before they are stored.

/**
 * t[c] = sum_q val[q] * U[idx[q], c] (U [nin x r] row-major): the sparse estimator input. One
 * pass over the nonzeros per 16 columns, held in up to 4 f32x4 accumulators (one pass of 8
 * accumulators over 32 columns measured slower). A chunk of w columns reads 16, 8 or 4 floats
 * per row (the least that covers w), so it may read past the chunk into the next row of U; the
 * rows whose read would leave U (the last ones, idx ascending) are added in scalar code. Only
 * the w columns are stored.
 */
function projectSparse(u: usize, r: i32, nin: i32, idx: usize, val: usize, nnz: i32, t: usize): void {
  const rowBytes = <usize>r << 2;
  const uEnd = u + <usize>nin * rowBytes;
  for (let c = 0; c < r; c += 16) {
    const w = min(16, r - c);
    const span: i32 = w > 8 ? 4 : w > 4 ? 2 : 1; // f32x4 loads per row
    const col = u + (<usize>c << 2);
    let safe = nnz;
    while (safe > 0 && col + <usize>load<i32>(idx + (<usize>(safe - 1) << 2)) * rowBytes + (<usize>span << 4) > uEnd) safe--;
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    if (span == 4) {
      for (let q = 0; q < safe; q++) {
        const o = <usize>q << 2;
        const xv = v128.load32_splat(val + o);
        const p = col + <usize>load<i32>(idx + o) * rowBytes;
        a0 = madd(xv, v128.load(p), a0); a1 = madd(xv, v128.load(p, 16), a1);
        a2 = madd(xv, v128.load(p, 32), a2); a3 = madd(xv, v128.load(p, 48), a3);
      }
    } else if (span == 2) {
      for (let q = 0; q < safe; q++) {
        const o = <usize>q << 2;
        const xv = v128.load32_splat(val + o);
        const p = col + <usize>load<i32>(idx + o) * rowBytes;
        a0 = madd(xv, v128.load(p), a0); a1 = madd(xv, v128.load(p, 16), a1);
      }
    } else {
      for (let q = 0; q < safe; q++) {
        const o = <usize>q << 2;
        a0 = madd(v128.load32_splat(val + o), v128.load(col + <usize>load<i32>(idx + o) * rowBytes), a0);
      }
    }
    v128.store(scratchAt(SCRATCH_SMALL), a0); v128.store(scratchAt(SCRATCH_SMALL), a1, 16);
    v128.store(scratchAt(SCRATCH_SMALL), a2, 32); v128.store(scratchAt(SCRATCH_SMALL), a3, 48);
    for (let q = safe; q < nnz; q++) {
      const o = <usize>q << 2;
      const xs = load<f32>(val + o);
      const p = col + <usize>load<i32>(idx + o) * rowBytes;
      for (let cc = 0; cc < w; cc++) {
        const a = scratchAt(SCRATCH_SMALL) + (<usize>cc << 2);
        store<f32>(a, load<f32>(a) + xs * load<f32>(p + (<usize>cc << 2)));
      }
    }
    memory.copy(t + (<usize>c << 2), scratchAt(SCRATCH_SMALL), <usize>w << 2);
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
 * Transposes the per-example active lists into per-unit example lists: unit j's examples
 * (increasing) are unitLists[unitStart[j] .. unitStart[j + 1]).
 */
function buildUnitLists(n: i32, nout: i32, active: usize, counts: usize, unitLists: usize, unitStart: usize): void {
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
}

/**
 * Exact part, unit-major, dense-ish input, units [j0, j1): each unit's weight row is dotted
 * with the examples that selected it, four examples per pass over the row (three: the fourth
 * slot repeats the third, stored once), then two, then one.
 */
function exactUnits(nin: i32, nout: i32, x: usize, w: usize, b: usize, h: usize, unitLists: usize, unitStart: usize, j0: i32, j1: i32): void {
  for (let j = j0; j < j1; j++) {
    const begin = load<i32>(unitStart + (<usize>j << 2));
    const end = load<i32>(unitStart + (<usize>(j + 1) << 2));
    exactUnit(nin, nout, x, w, b, h, j, unitLists + (<usize>begin << 2), end - begin);
  }
}

/** Unit j against the `count` examples listed (increasing) at `list`: h[i][j] for each. */
// @ts-ignore: decorator
@inline function exactUnit(nin: i32, nout: i32, x: usize, w: usize, b: usize, h: usize, j: i32, list: usize, count: i32): void {
  if (count == 0) return;
  const rowBytes = <usize>nin * 4;
  const hStride = <usize>nout * 4;
  const wj = w + <usize>j * rowBytes;
  const bj = load<f32>(b + (<usize>j << 2));
  const hj = h + (<usize>j << 2);
  let q = 0;
  for (; q + 4 <= count; q += 4) rowDot4(wj, bj, nin, x, rowBytes, list + (<usize>q << 2), 4, hj, hStride);
  if (count - q == 3) {
    rowDot4(wj, bj, nin, x, rowBytes, list + (<usize>q << 2), 3, hj, hStride);
    q += 3;
  } else if (count - q == 2) {
    rowDot2(wj, bj, nin, x, rowBytes, list + (<usize>q << 2), hj, hStride);
    q += 2;
  }
  for (; q < count; q++) {
    const i0 = load<i32>(list + (<usize>q << 2));
    const z = bj + dotDense(wj, x + <usize>i0 * rowBytes, nin);
    store<f32>(hj + <usize>i0 * hStride, z > 0 ? z : <f32>0);
  }
}

// @ts-ignore: decorator
@inline function storeRelu(hj: usize, hStride: usize, i: i32, z: f32): void {
  store<f32>(hj + <usize>i * hStride, z > 0 ? z : <f32>0);
}

/**
 * The dot products of v (n floats) with p0..p3, as lanes 0..3: one load of v shared by the
 * four rows; SIMD over n & ~3, then the scalar tail (the order the exact part relies on).
 */
// @ts-ignore: decorator
@inline function dots4(v: usize, p0: usize, p1: usize, p2: usize, p3: usize, n: i32): v128 {
  let s0 = f32x4.splat(0), s1 = f32x4.splat(0), s2 = f32x4.splat(0), s3 = f32x4.splat(0);
  let k = 0;
  for (; k + 4 <= n; k += 4) {
    const o = <usize>k << 2;
    const vv = v128.load(v + o);
    s0 = madd(vv, v128.load(p0 + o), s0); s1 = madd(vv, v128.load(p1 + o), s1);
    s2 = madd(vv, v128.load(p2 + o), s2); s3 = madd(vv, v128.load(p3 + o), s3);
  }
  let z0 = hsumPairwise(s0), z1 = hsumPairwise(s1), z2 = hsumPairwise(s2), z3 = hsumPairwise(s3);
  for (; k < n; k++) {
    const o = <usize>k << 2;
    const vk = load<f32>(v + o);
    z0 += vk * load<f32>(p0 + o); z1 += vk * load<f32>(p1 + o);
    z2 += vk * load<f32>(p2 + o); z3 += vk * load<f32>(p3 + o);
  }
  return f32x4.replace_lane(f32x4.replace_lane(f32x4.replace_lane(f32x4.splat(z0), 1, z1), 2, z2), 3, z3);
}

/**
 * Weight row wj against the rows of x of the examples list[0 .. count) (count 3 or 4; with 3 the
 * fourth slot repeats the third and is stored once): h[i][j] = relu(bj + wj . x_i).
 */
function rowDot4(wj: usize, bj: f32, nin: i32, x: usize, rowBytes: usize, list: usize, count: i32, hj: usize, hStride: usize): void {
  const i0 = load<i32>(list), i1 = load<i32>(list, 4), i2 = load<i32>(list, 8);
  const i3 = count == 4 ? load<i32>(list, 12) : i2;
  const z = dots4(wj, x + <usize>i0 * rowBytes, x + <usize>i1 * rowBytes, x + <usize>i2 * rowBytes, x + <usize>i3 * rowBytes, nin);
  storeRelu(hj, hStride, i0, f32x4.extract_lane(z, 0) + bj); storeRelu(hj, hStride, i1, f32x4.extract_lane(z, 1) + bj);
  storeRelu(hj, hStride, i2, f32x4.extract_lane(z, 2) + bj);
  if (count == 4) storeRelu(hj, hStride, i3, f32x4.extract_lane(z, 3) + bj);
}

/** As rowDot4 for 2 examples. */
function rowDot2(wj: usize, bj: f32, nin: i32, x: usize, rowBytes: usize, list: usize, hj: usize, hStride: usize): void {
  const i0 = load<i32>(list), i1 = load<i32>(list, 4);
  const x0 = x + <usize>i0 * rowBytes, x1 = x + <usize>i1 * rowBytes;
  let s0 = f32x4.splat(0), s1 = f32x4.splat(0), t0 = f32x4.splat(0), t1 = f32x4.splat(0);
  let k = 0;
  for (; k + 8 <= nin; k += 8) {
    const o = <usize>k << 2;
    const wa = v128.load(wj + o), wb = v128.load(wj + o, 16);
    s0 = madd(wa, v128.load(x0 + o), s0); s1 = madd(wa, v128.load(x1 + o), s1);
    t0 = madd(wb, v128.load(x0 + o, 16), t0); t1 = madd(wb, v128.load(x1 + o, 16), t1);
  }
  for (; k + 4 <= nin; k += 4) {
    const o = <usize>k << 2;
    const wa = v128.load(wj + o);
    s0 = madd(wa, v128.load(x0 + o), s0); s1 = madd(wa, v128.load(x1 + o), s1);
  }
  let z0 = hsumPairwise(f32x4.add(s0, t0)), z1 = hsumPairwise(f32x4.add(s1, t1));
  for (; k < nin; k++) {
    const o = <usize>k << 2;
    const wk = load<f32>(wj + o);
    z0 += wk * load<f32>(x0 + o); z1 += wk * load<f32>(x1 + o);
  }
  storeRelu(hj, hStride, i0, z0 + bj); storeRelu(hj, hStride, i1, z1 + bj);
}

/**
 * One example against 4 weight rows (units j0..j3 of its active list), x dense: one x load
 * shared by 4 rows. hi is the example's output row.
 */
function unitsDot4(w: usize, b: usize, nin: i32, xi: usize, list: usize, hi: usize): void {
  const rowBytes = <usize>nin * 4;
  const j0 = load<i32>(list), j1 = load<i32>(list, 4), j2 = load<i32>(list, 8), j3 = load<i32>(list, 12);
  const z = dots4(xi, w + <usize>j0 * rowBytes, w + <usize>j1 * rowBytes, w + <usize>j2 * rowBytes, w + <usize>j3 * rowBytes, nin);
  let z0 = f32x4.extract_lane(z, 0), z1 = f32x4.extract_lane(z, 1), z2 = f32x4.extract_lane(z, 2), z3 = f32x4.extract_lane(z, 3);
  z0 += load<f32>(b + (<usize>j0 << 2)); z1 += load<f32>(b + (<usize>j1 << 2));
  z2 += load<f32>(b + (<usize>j2 << 2)); z3 += load<f32>(b + (<usize>j3 << 2));
  store<f32>(hi + (<usize>j0 << 2), z0 > 0 ? z0 : <f32>0); store<f32>(hi + (<usize>j1 << 2), z1 > 0 ? z1 : <f32>0);
  store<f32>(hi + (<usize>j2 << 2), z2 > 0 ? z2 : <f32>0); store<f32>(hi + (<usize>j3 << 2), z3 > 0 ? z3 : <f32>0);
}

/**
 * One example's gathered nonzeros (idx, val; nnz) against 4 weight rows of its active list:
 * each index and value is loaded once for the 4 rows.
 */
function unitsGathered4(w: usize, b: usize, nin: i32, idx: usize, val: usize, nnz: i32, list: usize, hi: usize): void {
  const rowBytes = <usize>nin * 4;
  const j0 = load<i32>(list), j1 = load<i32>(list, 4), j2 = load<i32>(list, 8), j3 = load<i32>(list, 12);
  const w0 = w + <usize>j0 * rowBytes, w1 = w + <usize>j1 * rowBytes, w2 = w + <usize>j2 * rowBytes, w3 = w + <usize>j3 * rowBytes;
  let z0: f32 = 0, z1: f32 = 0, z2: f32 = 0, z3: f32 = 0;
  for (let t = 0; t < nnz; t++) {
    const o = <usize>t << 2;
    const k = <usize>load<i32>(idx + o) << 2;
    const xv = load<f32>(val + o);
    z0 += xv * load<f32>(w0 + k); z1 += xv * load<f32>(w1 + k);
    z2 += xv * load<f32>(w2 + k); z3 += xv * load<f32>(w3 + k);
  }
  z0 += load<f32>(b + (<usize>j0 << 2)); z1 += load<f32>(b + (<usize>j1 << 2));
  z2 += load<f32>(b + (<usize>j2 << 2)); z3 += load<f32>(b + (<usize>j3 << 2));
  store<f32>(hi + (<usize>j0 << 2), z0 > 0 ? z0 : <f32>0); store<f32>(hi + (<usize>j1 << 2), z1 > 0 ? z1 : <f32>0);
  store<f32>(hi + (<usize>j2 << 2), z2 > 0 ? z2 : <f32>0); store<f32>(hi + (<usize>j3 << 2), z3 > 0 ? z3 : <f32>0);
}

/** Computed pairs above which the batch runs the dense GEMM and masks it instead. */
const DENSE_SWITCH: f64 = 0.4;
/** Input density (n >= 8) above which T = X U is one GEMM rather than per-example sparse. */
const PROJECT_GEMM_DENSITY: f64 = 0.5;

// The forward's phases below are exported for the thread pool's dispatcher (methods/lowrank/
// parallel.ts), which runs each over tiles (rows, columns or units) and the choices between
// them through the same mode functions, so that a forward on several threads computes every
// value with the same code as lowrankForward on one.

/** Nonzeros of rows [0, n) of x (the projection's choice; 0 when n < 8, where it is not needed). */
export function lowrankCountNonzeros(x: usize, n: i32, nin: i32): i32 {
  if (n < 8) return 0;
  let nnzTotal: i32 = 0;
  for (let i = 0; i < n; i++) nnzTotal += countNonzeros(x + <usize>i * <usize>nin * 4, nin);
  return nnzTotal;
}

/** T = X U as one GEMM (n >= 8 and the batch's input density above PROJECT_GEMM_DENSITY), else sparse. */
export function lowrankProjectionMode(n: i32, nin: i32, nnzTotal: i32): i32 {
  return n >= 8 && <f64>nnzTotal > PROJECT_GEMM_DENSITY * <f64>n * <f64>nin ? LOWRANK_PROJECT_GEMM : LOWRANK_PROJECT_SPARSE;
}

/** Bytes of gather buffer (indices and values) an instance's scratch offers lowrank tiles. */
export function lowrankScratchGatherInputs(): i32 {
  return <i32>(SCRATCH_GATHER_BYTES / 8);
}

/**
 * Sparse T = X U for rows [i0, i1): each row's nonzeros gathered into nzIdx / nzVal (nin
 * entries each; 0: this instance's scratch, for nin <= lowrankScratchGatherInputs()).
 * Returns the nonzeros gathered.
 */
export function lowrankProjectRows(x: usize, nin: i32, r: i32, u: usize, t: usize, nzIdx: usize, nzVal: usize, i0: i32, i1: i32): i32 {
  if (nzIdx == 0) {
    nzIdx = scratchAt(SCRATCH_GATHER);
    nzVal = nzIdx + <usize>nin * 4;
  }
  let nnzTotal: i32 = 0;
  for (let i = i0; i < i1; i++) {
    const nnz = lowrankGatherNonzeros(x + <usize>i * <usize>nin * 4, nin, nzIdx, nzVal);
    projectSparse(u, r, nin, nzIdx, nzVal, nnz, t + <usize>i * <usize>r * 4);
    nnzTotal += nnz;
  }
  return nnzTotal;
}

/** Zhat columns [j0, j1) of T V + b (zhat [n x nout]); j0 a multiple of 16, j1 one too or nout. */
export function lowrankEstimateColumns(n: i32, nout: i32, r: i32, t: usize, v: usize, b: usize, zhat: usize, j0: i32, j1: i32): void {
  gemmNN(n, j1 - j0, r, t, r, v + (<usize>j0 << 2), nout, zhat + (<usize>j0 << 2), nout, 0);
  for (let i = 0; i < n; i++) addBiasRange(zhat + <usize>i * <usize>nout * 4, b, j0, j1);
}

/** row[j] += bias[j] for j in [j0, j1) (as addBias does it for a whole row). */
// @ts-ignore: decorator
@inline function addBiasRange(row: usize, bias: usize, j0: i32, j1: i32): void {
  let j = j0;
  for (; j + 4 <= j1; j += 4) {
    const o = <usize>j * 4;
    v128.store(row + o, f32x4.add(v128.load(row + o), v128.load(bias + o)));
  }
  for (; j < j1; j++) {
    const o = <usize>j * 4;
    store<f32>(row + o, load<f32>(row + o) + load<f32>(bias + o));
  }
}

/** Active lists and counts of rows [i0, i1) (zhat > theta); returns their computed pairs. */
export function lowrankCompactRows(zhat: usize, nout: i32, theta: f32, active: usize, counts: usize, i0: i32, i1: i32): i32 {
  let computed: i32 = 0;
  for (let i = i0; i < i1; i++) {
    const c = compact(zhat + <usize>i * <usize>nout * 4, nout, theta, active + <usize>i * <usize>nout * 4);
    store<i32>(counts + (<usize>i << 2), c);
    computed += c;
  }
  return computed;
}

/** How the exact part runs for the batch's computed pairs and input nonzeros. */
export function lowrankExactMode(n: i32, nin: i32, nout: i32, computed: i32, nnzTotal: i32): i32 {
  if (<f64>computed >= DENSE_SWITCH * <f64>n * <f64>nout) return LOWRANK_EXACT_DENSE;
  if (n >= 4 && <f64>nnzTotal * 8 > <f64>n * <f64>nin) return LOWRANK_EXACT_BY_UNIT;
  return LOWRANK_EXACT_BY_EXAMPLE;
}

/**
 * Dense and masked, output columns [j0, j1): exactly the dense layer on the selected units,
 * h = 1[zhat > theta] relu(X Wᵀ + b) (j0 a multiple of 16, j1 one too or nout).
 */
export function lowrankDenseMaskedColumns(n: i32, nin: i32, nout: i32, x: usize, w: usize, b: usize, theta: f32, h: usize, zhat: usize, j0: i32, j1: i32): void {
  gemmNT(n, j1 - j0, nin, x, nin, w + <usize>j0 * <usize>nin * 4, nin, h + (<usize>j0 << 2), nout, 0);
  const zero = f32x4.splat(0);
  const th = f32x4.splat(theta);
  for (let i = 0; i < n; i++) {
    const row = h + <usize>i * <usize>nout * 4;
    const zrow = zhat + <usize>i * <usize>nout * 4;
    addBiasRange(row, b, j0, j1);
    let j = j0;
    for (; j + 4 <= j1; j += 4) {
      const o = <usize>j << 2;
      const z = v128.load(row + o);
      v128.store(row + o, v128.and(v128.and(z, f32x4.gt(z, zero)), f32x4.gt(v128.load(zrow + o), th)));
    }
    for (; j < j1; j++) {
      const o = <usize>j << 2;
      const z = load<f32>(row + o);
      store<f32>(row + o, z > 0 && load<f32>(zrow + o) > theta ? z : <f32>0);
    }
  }
}

/** The per-unit example lists of the batch's active lists (for lowrankExactUnits). */
export function lowrankUnitLists(n: i32, nout: i32, active: usize, counts: usize, unitLists: usize, unitStart: usize): void {
  buildUnitLists(n, nout, active, counts, unitLists, unitStart);
}

/** Exact part, unit-major (lists built), units [j0, j1): h columns [j0, j1) zeroed, then computed. */
export function lowrankExactUnits(n: i32, nin: i32, nout: i32, x: usize, w: usize, b: usize, h: usize, unitLists: usize, unitStart: usize, j0: i32, j1: i32): void {
  zeroColumns(h, n, nout, j0, j1);
  exactUnits(nin, nout, x, w, b, h, unitLists, unitStart, j0, j1);
}

/**
 * Exact part, unit-major, units [j0, j1), lists built here (the pool's path: no serial pass over
 * the batch): unit j's examples (increasing, as buildUnitLists orders them) at
 * lists[j * n ..), their count at listCounts[j]; each example's active list is sorted, so its
 * units in the range start where a binary search puts j0. h columns [j0, j1) are zeroed first.
 */
export function lowrankExactUnitRange(n: i32, nin: i32, nout: i32, x: usize, w: usize, b: usize, h: usize, active: usize, counts: usize, lists: usize, listCounts: usize, j0: i32, j1: i32): void {
  zeroColumns(h, n, nout, j0, j1);
  memory.fill(listCounts + (<usize>j0 << 2), 0, <usize>(j1 - j0) * 4);
  for (let i = 0; i < n; i++) {
    const list = active + <usize>i * <usize>nout * 4;
    const c = load<i32>(counts + (<usize>i << 2));
    let lo = 0;
    let hi = c;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (load<i32>(list + (<usize>mid << 2)) < j0) lo = mid + 1;
      else hi = mid;
    }
    for (let q = lo; q < c; q++) {
      const j = load<i32>(list + (<usize>q << 2));
      if (j >= j1) break;
      const at = listCounts + (<usize>j << 2);
      const k = load<i32>(at);
      store<i32>(lists + ((<usize>j * <usize>n + <usize>k) << 2), i);
      store<i32>(at, k + 1);
    }
  }
  for (let j = j0; j < j1; j++) exactUnit(nin, nout, x, w, b, h, j, lists + ((<usize>j * <usize>n) << 2), load<i32>(listCounts + (<usize>j << 2)));
}

/** Nonzeros of rows [i0, i1) of x (lowrankCountNonzeros by row tiles). */
export function lowrankCountRows(x: usize, nin: i32, i0: i32, i1: i32): i32 {
  let nnzTotal: i32 = 0;
  for (let i = i0; i < i1; i++) nnzTotal += countNonzeros(x + <usize>i * <usize>nin * 4, nin);
  return nnzTotal;
}

/**
 * The forward's phases for rows [i0, i1) in one tile (the pool's fused path): the sparse
 * projection (project != 0; else T already holds X U), the estimate of these rows (a GEMM over
 * them: with more than GEMM_SMALL_M rows, as the dispatcher ensures for n above it, the packed
 * path computes each element as over all n rows), their active lists and, where exactRows != 0,
 * their exact part per example. Returns the exact part's MACs (0 without it).
 */
export function lowrankFusedRows(nin: i32, nout: i32, r: i32, x: usize, w: usize, b: usize, u: usize, v: usize, theta: f32, h: usize, t: usize, zhat: usize, active: usize, counts: usize, project: i32, exactRows: i32, i0: i32, i1: i32): f64 {
  if (i1 <= i0) return 0;
  if (project != 0) lowrankProjectRows(x, nin, r, u, t, 0, 0, i0, i1);
  lowrankEstimateColumns(i1 - i0, nout, r, t + <usize>i0 * <usize>r * 4, v, b, zhat + <usize>i0 * <usize>nout * 4, 0, nout);
  lowrankCompactRows(zhat, nout, theta, active, counts, i0, i1);
  return exactRows != 0 ? lowrankExactRows(nin, nout, x, w, b, h, active, counts, 0, 0, i0, i1) : 0;
}

/** h[i][j0 .. j1) = 0 for every row. */
function zeroColumns(h: usize, n: i32, nout: i32, j0: i32, j1: i32): void {
  for (let i = 0; i < n; i++) memory.fill(h + (<usize>i * <usize>nout + <usize>j0) * 4, 0, <usize>(j1 - j0) * 4);
}

/**
 * Exact part per example, rows [i0, i1) (their h rows zeroed first); the gather buffer as in
 * lowrankProjectRows. Returns the MACs performed.
 */
export function lowrankExactRows(nin: i32, nout: i32, x: usize, w: usize, b: usize, h: usize, active: usize, counts: usize, nzIdx: usize, nzVal: usize, i0: i32, i1: i32): f64 {
  if (nzIdx == 0) {
    nzIdx = scratchAt(SCRATCH_GATHER);
    nzVal = nzIdx + <usize>nin * 4;
  }
  memory.fill(h + <usize>i0 * <usize>nout * 4, 0, <usize>(i1 - i0) * <usize>nout * 4);
  let macs: f64 = 0;
  for (let i = i0; i < i1; i++) {
    const xi = x + <usize>i * <usize>nin * 4;
    const hi = h + <usize>i * <usize>nout * 4;
    const list = active + <usize>i * <usize>nout * 4;
    const c = load<i32>(counts + (<usize>i << 2));
    if (c == 0) continue;
    const nnz = lowrankGatherNonzeros(xi, nin, nzIdx, nzVal);
    if (nnz * 8 > nin) {
      let q = 0;
      for (; q + 4 <= c; q += 4) unitsDot4(w, b, nin, xi, list + (<usize>q << 2), hi);
      for (; q < c; q++) {
        const j = load<i32>(list + (<usize>q << 2));
        const z = load<f32>(b + (<usize>j << 2)) + dotDense(w + <usize>j * <usize>nin * 4, xi, nin);
        store<f32>(hi + (<usize>j << 2), z > 0 ? z : <f32>0);
      }
      macs += <f64>c * <f64>nin;
    } else {
      let q = 0;
      for (; q + 4 <= c; q += 4) unitsGathered4(w, b, nin, nzIdx, nzVal, nnz, list + (<usize>q << 2), hi);
      for (; q < c; q++) {
        const j = load<i32>(list + (<usize>q << 2));
        const z = load<f32>(b + (<usize>j << 2)) + dotGathered(w + <usize>j * <usize>nin * 4, nzIdx, nzVal, nnz);
        store<f32>(hi + (<usize>j << 2), z > 0 ? z : <f32>0);
      }
      macs += <f64>c * <f64>nnz;
    }
  }
  return macs;
}

/** Adds a forward's counts to the layer's counters. */
export function lowrankForwardStats(stats: usize, n: i32, computed: i32, macs: f64): void {
  addF64(stats, LOWRANK_STAT_EXAMPLES, <f64>n);
  addF64(stats, LOWRANK_STAT_COMPUTED, <f64>computed);
  addF64(stats, LOWRANK_STAT_MACS, macs);
}

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
  let nnzTotal = lowrankCountNonzeros(x, n, nin);
  if (lowrankProjectionMode(n, nin, nnzTotal) == LOWRANK_PROJECT_GEMM) {
    gemmNN(n, r, nin, x, nin, u, r, t, r, 0);
    macs += <f64>n * <f64>nin * <f64>r;
  } else {
    nnzTotal = lowrankProjectRows(x, nin, r, u, t, nzIdx, nzVal, 0, n);
    macs += <f64>nnzTotal * <f64>r;
  }
  lowrankEstimateColumns(n, nout, r, t, v, b, zhat, 0, nout);
  macs += <f64>n * <f64>r * <f64>nout;
  const computed = lowrankCompactRows(zhat, nout, theta, active, counts, 0, n);
  const mode = lowrankExactMode(n, nin, nout, computed, nnzTotal);
  if (mode == LOWRANK_EXACT_DENSE) {
    lowrankDenseMaskedColumns(n, nin, nout, x, w, b, theta, h, zhat, 0, nout);
    macs += <f64>n * <f64>nin * <f64>nout;
  } else if (mode == LOWRANK_EXACT_BY_UNIT) {
    // Dense-ish input, several examples: unit-major, so each active weight row is loaded
    // once per batch and shared by the examples that need it (4 at a time).
    lowrankUnitLists(n, nout, active, counts, unitLists, unitStart);
    lowrankExactUnits(n, nin, nout, x, w, b, h, unitLists, unitStart, 0, nout);
    macs += <f64>computed * <f64>nin;
  } else {
    macs += lowrankExactRows(nin, nout, x, w, b, h, active, counts, nzIdx, nzVal, 0, n);
  }
  lowrankForwardStats(stats, n, computed, macs);
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
  lowrankBackwardUnits(n, nin, nout, x, delta, active, counts, dw, db, 0, nout);
  if (dx != 0) lowrankBackwardInput(n, nin, nout, w, delta, active, counts, dx, dxBeta, 0, n);
}

/**
 * dW rows and db of units [j0, j1): overwritten, then summed over the examples in order (each
 * row's sum runs over the examples as in one call, so any unit split gives the same bits).
 */
export function lowrankBackwardUnits(n: i32, nin: i32, nout: i32, x: usize, delta: usize, active: usize, counts: usize, dw: usize, db: usize, j0: i32, j1: i32): void {
  memory.fill(dw + <usize>j0 * <usize>nin * 4, 0, <usize>(j1 - j0) * <usize>nin * 4);
  memory.fill(db + (<usize>j0 << 2), 0, <usize>(j1 - j0) * 4);
  const all = j0 == 0 && j1 == nout;
  for (let i = 0; i < n; i++) {
    const xi = x + <usize>i * <usize>nin * 4;
    const di = delta + <usize>i * <usize>nout * 4;
    const list = active + <usize>i * <usize>nout * 4;
    const c = load<i32>(counts + (<usize>i << 2));
    for (let q = 0; q < c; q++) {
      const j = load<i32>(list + (<usize>q << 2));
      if (!all && (j < j0 || j >= j1)) continue;
      const d = load<f32>(di + (<usize>j << 2));
      if (d == 0) continue;
      store<f32>(db + (<usize>j << 2), load<f32>(db + (<usize>j << 2)) + d);
      const dv = f32x4.splat(d);
      const dwj = dw + <usize>j * <usize>nin * 4;
      let k = 0;
      for (; k + 4 <= nin; k += 4) {
        const o = <usize>k << 2;
        v128.store(dwj + o, madd(dv, v128.load(xi + o), v128.load(dwj + o)));
      }
      for (; k < nin; k++) {
        const o = <usize>k << 2;
        store<f32>(dwj + o, load<f32>(dwj + o) + d * load<f32>(xi + o));
      }
    }
  }
}

/** dX rows [i0, i1) (dxBeta 0: =, 1: +=) of Σ over the example's active units, in list order. */
export function lowrankBackwardInput(n: i32, nin: i32, nout: i32, w: usize, delta: usize, active: usize, counts: usize, dx: usize, dxBeta: i32, i0: i32, i1: i32): void {
  if (dxBeta == 0) memory.fill(dx + <usize>i0 * <usize>nin * 4, 0, <usize>(i1 - i0) * <usize>nin * 4);
  for (let i = i0; i < i1; i++) {
    const di = delta + <usize>i * <usize>nout * 4;
    const dxi = dx + <usize>i * <usize>nin * 4;
    const list = active + <usize>i * <usize>nout * 4;
    const c = load<i32>(counts + (<usize>i << 2));
    for (let q = 0; q < c; q++) {
      const j = load<i32>(list + (<usize>q << 2));
      const d = load<f32>(di + (<usize>j << 2));
      if (d == 0) continue;
      const dv = f32x4.splat(d);
      const wj = w + <usize>j * <usize>nin * 4;
      let k = 0;
      for (; k + 4 <= nin; k += 4) {
        const o = <usize>k << 2;
        v128.store(dxi + o, madd(dv, v128.load(wj + o), v128.load(dxi + o)));
      }
      for (; k < nin; k++) {
        const o = <usize>k << 2;
        store<f32>(dxi + o, load<f32>(dxi + o) + d * load<f32>(wj + o));
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
  addF64(stats, LOWRANK_STAT_AGREE, <f64>agree);
  addF64(stats, LOWRANK_STAT_POSITIVE, <f64>positive);
  addF64(stats, LOWRANK_STAT_FALSE_NEGATIVE, <f64>falseNeg);
  addF64(stats, LOWRANK_STAT_MEASURED, <f64>count);
  addF64(stats, LOWRANK_STAT_ESTIMATED, <f64>estimated);
}
