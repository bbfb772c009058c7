// Helpers shared by the kernel files, each defined once. Helpers that round differently (fused
// or split multiply-add, another summation order) have different names: results depend on the
// exact order, so a kernel picks the one its tests and bit-identity fixtures were recorded with.
// Not exported by the kernel library (library.ts re-exports kernel families, not this file).

// ------------------------------------------------------------------------- f32x4 arithmetic

/** a·b + c: one fused multiply-add in the relaxed-SIMD build, multiply then add in the plain one. */
// @ts-ignore: decorator
@inline export function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

/** a·b + c as a multiply then an add in both builds (FMA's latency slows short accumulator chains). */
// @ts-ignore: decorator
@inline export function maddSplit(a: v128, b: v128, c: v128): v128 {
  return f32x4.add(f32x4.mul(a, b), c);
}

/** Sum of the four lanes left to right: ((v0 + v1) + v2) + v3. */
// @ts-ignore: decorator
@inline export function hsumSerial(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
}

/** Sum of the four lanes in pairs: (v0 + v1) + (v2 + v3). */
// @ts-ignore: decorator
@inline export function hsumPairwise(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

/** [Σa0, Σa1, Σa2, Σa3], each lane sum taken as (x0 + x2) + (x1 + x3) (two shuffles per level). */
// @ts-ignore: decorator
@inline export function hsum4Strided(a0: v128, a1: v128, a2: v128, a3: v128): v128 {
  const t0 = f32x4.add(v128.shuffle<f32>(a0, a1, 0, 4, 1, 5), v128.shuffle<f32>(a0, a1, 2, 6, 3, 7));
  const t1 = f32x4.add(v128.shuffle<f32>(a2, a3, 0, 4, 1, 5), v128.shuffle<f32>(a2, a3, 2, 6, 3, 7));
  return f32x4.add(v128.shuffle<f32>(t0, t1, 0, 1, 4, 5), v128.shuffle<f32>(t0, t1, 2, 3, 6, 7));
}

// ------------------------------------------------------------------------- f32 rows (byte pointers)

/** Σ a[j] b[j], j < count: one f32x4 accumulator, split multiply-add, hsumSerial, then the scalar tail. */
// @ts-ignore: decorator
@inline export function dotSplit(a: usize, b: usize, count: i32): f32 {
  let acc = f32x4.splat(0);
  let j = 0;
  for (; j + 4 <= count; j += 4) {
    const o = <usize>j << 2;
    acc = f32x4.add(acc, f32x4.mul(v128.load(a + o), v128.load(b + o)));
  }
  let s = hsumSerial(acc);
  for (; j < count; j++) s += load<f32>(a + (<usize>j << 2)) * load<f32>(b + (<usize>j << 2));
  return s;
}

/** y[j] += a x[j], j < count, split multiply-add. */
// @ts-ignore: decorator
@inline export function axpySplit(y: usize, a: f32, x: usize, count: i32): void {
  const va = f32x4.splat(a);
  let j = 0;
  for (; j + 4 <= count; j += 4) {
    const o = <usize>j << 2;
    v128.store(y + o, f32x4.add(v128.load(y + o), f32x4.mul(va, v128.load(x + o))));
  }
  for (; j < count; j++) {
    const o = <usize>j << 2;
    store<f32>(y + o, load<f32>(y + o) + a * load<f32>(x + o));
  }
}

/** dst[j] += src[j], j < width. */
// @ts-ignore: decorator
@inline export function addRow(dst: usize, src: usize, width: i32): void {
  let j = 0;
  for (; j + 4 <= width; j += 4) {
    const o = <usize>j << 2;
    v128.store(dst + o, f32x4.add(v128.load(dst + o), v128.load(src + o)));
  }
  for (; j < width; j++) {
    const o = <usize>j << 2;
    store<f32>(dst + o, load<f32>(dst + o) + load<f32>(src + o));
  }
}

/** p[j] *= f, j < count. */
// @ts-ignore: decorator
@inline export function scaleInPlace(p: usize, count: i32, f: f32): void {
  const vf = f32x4.splat(f);
  let j = 0;
  for (; j + 4 <= count; j += 4) {
    const o = <usize>j << 2;
    v128.store(p + o, f32x4.mul(v128.load(p + o), vf));
  }
  for (; j < count; j++) {
    const o = <usize>j << 2;
    store<f32>(p + o, load<f32>(p + o) * f);
  }
}

// ------------------------------------------------------------------------- scalars

// @ts-ignore: decorator
@inline export function minI(a: i32, b: i32): i32 { return a < b ? a : b; }

/** Element i of an i32 array at byte address p. */
// @ts-ignore: decorator
@inline export function i32At(p: usize, i: i32): i32 { return load<i32>(p + (<usize>i << 2)); }

/** p[i] += v for an f64 array at byte address p (counters, accumulators). */
// @ts-ignore: decorator
@inline export function addF64(p: usize, i: i32, v: f64): void {
  store<f64>(p + (<usize>i << 3), load<f64>(p + (<usize>i << 3)) + v);
}

/** 1 / (1 + e^-x) in f64 (AssemblyScript's Math.exp). */
// @ts-ignore: decorator
@inline export function sigmoidF64(x: f64): f64 {
  return 1.0 / (1.0 + Math.exp(-x));
}

// ------------------------------------------------------------------------- random bits

/** (bits >>> 8) · 2^-24 in f32: uniform in [0, 1), exact (rng.ts's `uniform`). */
// @ts-ignore: decorator
@inline export function uniformF32(bits: u32): f32 {
  return <f32>(bits >>> 8) * (<f32>1.0 / <f32>16777216.0);
}

/** ((bits >>> 8) + 0.5) · 2^-24 in f64: uniform in (0, 1), never 0, so log(u) is finite (Box-Muller). */
// @ts-ignore: decorator
@inline export function uniformOpenF64(bits: u32): f64 {
  return (<f64>(bits >>> 8) + 0.5) * (1.0 / 16777216.0);
}
