/**
 * @fileoverview Deterministic PRNG for data work (shuffles, splits): xoshiro128** seeded through
 * splitmix32, all in 32-bit integer math (Math.imul, >>> 0), so Node and browsers agree bit for bit.
 */

/**
 * splitmix32 output function (murmur3's fmix32, a bijection on 32-bit words); callers advance
 * the input by the golden-ratio increment, as splitmix does.
 */
function splitmix32(state: number): number {
  let z = state >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

const GOLDEN = 0x9e3779b9;
const STREAM_KEY = 0x5bd1e995;

function checkUint32(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new RangeError(`${what} must be an integer in [0, 2^32), got ${value}`);
  }
}

/**
 * xoshiro128** (Blackman & Vigna). The 128-bit state is filled by splitmix32 from
 * (seed, stream), so distinct streams of one seed are independent sequences.
 */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number, stream = 0) {
    checkUint32(seed, "seed");
    checkUint32(stream, "stream");
    // Every word after s0 mixes seed and stream, so streams differ from the first draw on;
    // (seed, stream) -> state stays injective because splitmix32 is a bijection (s0 gives the
    // seed, then s1 the stream).
    const a = splitmix32((seed + GOLDEN) >>> 0);
    const b = splitmix32((seed + 2 * GOLDEN) >>> 0);
    const c = splitmix32(((stream + GOLDEN) ^ STREAM_KEY) >>> 0);
    const d = splitmix32(((stream + 2 * GOLDEN) ^ STREAM_KEY) >>> 0);
    this.s0 = a;
    this.s1 = (b ^ c) >>> 0;
    this.s2 = splitmix32((a ^ d) >>> 0);
    this.s3 = splitmix32((b + c) >>> 0);
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1; // all-zero state is a fixed point
  }

  /** Next uniformly distributed unsigned 32-bit integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 = (this.s2 ^ this.s0) >>> 0;
    this.s3 = (this.s3 ^ this.s1) >>> 0;
    this.s1 = (this.s1 ^ this.s2) >>> 0;
    this.s0 = (this.s0 ^ this.s3) >>> 0;
    this.s2 = (this.s2 ^ t) >>> 0;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform float in [0, 1) with 32 random bits. */
  nextFloat(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Unbiased integer in [0, n) for 1 <= n <= 2^32 (rejection sampling, no modulo bias). */
  nextBelow(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 4294967296) {
      throw new RangeError(`nextBelow: n must be an integer in [1, 2^32], got ${n}`);
    }
    const limit = 4294967296 - (4294967296 % n); // largest multiple of n <= 2^32
    for (;;) {
      const r = this.nextUint32();
      if (r < limit) return r % n;
    }
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** Fisher–Yates shuffle of `array` in place, driven by `rng`. */
export function shuffleInPlace<T extends { length: number; [i: number]: unknown }>(array: T, rng: Rng): T {
  for (let i = array.length - 1; i > 0; i--) {
    const j = rng.nextBelow(i + 1);
    const tmp = array[i];
    array[i] = array[j];
    array[j] = tmp;
  }
  return array;
}

/** A permutation of 0..count-1, identical for the same (count, seed, stream) everywhere. */
export function shuffledIndices(count: number, seed: number, stream = 0): Uint32Array {
  if (!Number.isInteger(count) || count < 0) {
    throw new RangeError(`shuffledIndices: count must be a non-negative integer, got ${count}`);
  }
  const indices = new Uint32Array(count);
  for (let i = 0; i < count; i++) indices[i] = i;
  return shuffleInPlace(indices, new Rng(seed, stream));
}
