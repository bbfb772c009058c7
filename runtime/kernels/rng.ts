// Counter-based RNG: Philox-4x32-10 keyed by (seed, stream), addressed by an element
// counter, plus parameter initializers. Same (seed, stream, index) => same bits, any order.
import { scratchAt, SCRATCH_SMALL } from "./scratch";
import { uniformF32 } from "./helpers";

const PHILOX_M0: u64 = 0xD2511F53;
const PHILOX_M1: u64 = 0xCD9E8D57;
const PHILOX_W0: u32 = 0x9E3779B9;
const PHILOX_W1: u32 = 0xBB67AE85;

/** Philox-4x32-10 of counter (c0, c1, c2, c3) under key (k0, k1); words written to `out`. */
export function philox4x32(c0: u32, c1: u32, c2: u32, c3: u32, k0: u32, k1: u32, out: usize): void {
  for (let r = 0; r < 10; r++) {
    const p0 = PHILOX_M0 * <u64>c0;
    const p1 = PHILOX_M1 * <u64>c2;
    const n0 = (<u32>(p1 >>> 32)) ^ c1 ^ k0;
    const n2 = (<u32>(p0 >>> 32)) ^ c3 ^ k1;
    c0 = n0; c1 = <u32>p1; c2 = n2; c3 = <u32>p0;
    k0 += PHILOX_W0; k1 += PHILOX_W1;
  }
  store<u32>(out, c0); store<u32>(out, c1, 4); store<u32>(out, c2, 8); store<u32>(out, c3, 12);
}

/** 32 random bits for element `index` of stream (seed, stream): word index&3 of block index>>>2. */
export function randomBits(seed: u32, stream: u32, index: u32): u32 {
  philox4x32(index >>> 2, 0, 0, 0, seed, stream, scratchAt(SCRATCH_SMALL));
  return load<u32>(scratchAt(SCRATCH_SMALL) + ((<usize>index & 3) << 2));
}

/** Uniform in [0, 1): (bits >>> 8) * 2^-24 of randomBits(seed, stream, index). */
export function uniform(seed: u32, stream: u32, index: u32): f32 {
  return uniformF32(randomBits(seed, stream, index));
}

// Calls fn(i, u_i) for i in [0, count), uniforms from whole Philox blocks.
// @ts-ignore: decorator
@inline function forEachUniform(count: i32, seed: u32, stream: u32, ptr: usize, lo: f32, scale: f32): void {
  for (let i = 0; i < count; i += 4) {
    philox4x32(<u32>i >>> 2, 0, 0, 0, seed, stream, scratchAt(SCRATCH_SMALL));
    const n = count - i < 4 ? count - i : 4;
    for (let w = 0; w < n; w++) {
      const u = uniformF32(load<u32>(scratchAt(SCRATCH_SMALL) + (<usize>w << 2)));
      store<f32>(ptr + ((<usize>(i + w)) << 2), lo + scale * u);
    }
  }
}

/** ptr[i] = lo + (hi - lo) * uniform(seed, stream, i), all in f32. */
export function fillUniform(ptr: usize, count: i32, lo: f32, hi: f32, seed: u32, stream: u32): void {
  forEachUniform(count, seed, stream, ptr, lo, hi - lo);
}

/** Glorot/Xavier uniform: ptr[i] = -L + 2L * uniform(i), L = f32(sqrt(6 / (fanIn + fanOut))). */
export function glorotUniform(ptr: usize, fanIn: i32, fanOut: i32, count: i32, seed: u32, stream: u32): void {
  const limit = <f32>Math.sqrt(6.0 / <f64>(fanIn + fanOut));
  forEachUniform(count, seed, stream, ptr, -limit, limit + limit);
}

/**
 * He normal: ptr[i] = sqrt(2 / fanIn) * z_i, Box-Muller on the uniform pair (u1, u2) =
 * uniform(2j), uniform(2j + 1), j = i >>> 1: r = sqrt(-2 ln(1 - u1)), z = r cos(2 pi u2) for
 * even i, r sin(2 pi u2) for odd i (computed in f64, stored as f32).
 */
export function heNormal(ptr: usize, fanIn: i32, count: i32, seed: u32, stream: u32): void {
  const std = Math.sqrt(2.0 / <f64>fanIn);
  for (let i = 0; i < count; i += 4) {
    philox4x32(<u32>i >>> 2, 0, 0, 0, seed, stream, scratchAt(SCRATCH_SMALL));
    for (let pair = 0; pair < 2; pair++) {
      const u1 = <f64>uniformF32(load<u32>(scratchAt(SCRATCH_SMALL) + (<usize>pair << 3)));
      const u2 = <f64>uniformF32(load<u32>(scratchAt(SCRATCH_SMALL) + (<usize>pair << 3) + 4));
      const r = Math.sqrt(-2.0 * Math.log(1.0 - u1)) * std;
      const theta = 2.0 * Math.PI * u2;
      const e = i + 2 * pair;
      if (e < count) store<f32>(ptr + (<usize>e << 2), <f32>(r * Math.cos(theta)));
      if (e + 1 < count) store<f32>(ptr + (<usize>(e + 1) << 2), <f32>(r * Math.sin(theta)));
    }
  }
}
