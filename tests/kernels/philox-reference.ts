// TypeScript mirror of runtime/kernels/rng.ts (Philox-4x32-10 and the initializers), bit-exact
// for philox4x32 / randomBits / uniform / fillUniform / glorotUniform. The runtime can copy it.

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

/** High and low 32 bits of the 64-bit product of two u32 values. */
function mul32x32(a: number, b: number): [hi: number, lo: number] {
  const aHi = a >>> 16, aLo = a & 0xffff, bHi = b >>> 16, bLo = b & 0xffff;
  const ll = aLo * bLo, lh = aLo * bHi, hl = aHi * bLo, hh = aHi * bHi;
  const mid = (ll >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  const hi = (hh + (lh >>> 16) + (hl >>> 16) + Math.floor(mid / 65536)) >>> 0;
  const lo = Math.imul(a, b) >>> 0;
  return [hi, lo];
}

/** Philox-4x32-10: 10 rounds, key bumped by (W0, W1) after each round. */
export function philox4x32(c0: number, c1: number, c2: number, c3: number, k0: number, k1: number): [number, number, number, number] {
  for (let r = 0; r < 10; r++) {
    const [hi0, lo0] = mul32x32(M0, c0 >>> 0);
    const [hi1, lo1] = mul32x32(M1, c2 >>> 0);
    const n0 = (hi1 ^ c1 ^ k0) >>> 0;
    const n2 = (hi0 ^ c3 ^ k1) >>> 0;
    c0 = n0; c1 = lo1; c2 = n2; c3 = lo0;
    k0 = (k0 + W0) >>> 0; k1 = (k1 + W1) >>> 0;
  }
  return [c0 >>> 0, c1 >>> 0, c2 >>> 0, c3 >>> 0];
}

export function randomBits(seed: number, stream: number, index: number): number {
  return philox4x32(index >>> 2, 0, 0, 0, seed >>> 0, stream >>> 0)[index & 3]!;
}

export function uniform(seed: number, stream: number, index: number): number {
  return Math.fround((randomBits(seed, stream, index) >>> 8) * 2 ** -24);
}

export function fillUniform(count: number, lo: number, hi: number, seed: number, stream: number): Float32Array {
  const out = new Float32Array(count);
  const l = Math.fround(lo), scale = Math.fround(Math.fround(hi) - l);
  for (let i = 0; i < count; i++) out[i] = Math.fround(l + Math.fround(scale * uniform(seed, stream, i)));
  return out;
}

export function glorotUniform(fanIn: number, fanOut: number, count: number, seed: number, stream: number): Float32Array {
  const limit = Math.fround(Math.sqrt(6 / (fanIn + fanOut)));
  return fillUniform(count, -limit, limit, seed, stream);
}
