/**
 * @fileoverview The wasm kernels' counter RNG in WGSL (runtime/kernels/rng.ts): Philox-4x32-10
 * with the 32x32 -> 64-bit products built from 16-bit halves (WGSL has no 64-bit integers), so
 * the same (counter, key) gives the same four words on the GPU as in wasm, and a sampled mask or
 * noise is the same on both back ends. The uniform conversions are the kernels' too.
 */

export const PHILOX_WGSL = `
/** (high, low) words of the 64-bit product a * b. */
fn mulHiLo(a: u32, b: u32) -> vec2<u32> {
  let a0 = a & 0xffffu;
  let a1 = a >> 16u;
  let b0 = b & 0xffffu;
  let b1 = b >> 16u;
  let p00 = a0 * b0;
  let p01 = a0 * b1;
  let p10 = a1 * b0;
  let p11 = a1 * b1;
  let mid = (p00 >> 16u) + (p01 & 0xffffu) + (p10 & 0xffffu);
  return vec2u(p11 + (p01 >> 16u) + (p10 >> 16u) + (mid >> 16u), a * b);
}

fn philox4x32(counter: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
  var c = counter;
  var k = key;
  for (var round = 0u; round < 10u; round++) {
    let p0 = mulHiLo(0xD2511F53u, c.x);
    let p1 = mulHiLo(0xCD9E8D57u, c.z);
    c = vec4u(p1.x ^ c.y ^ k.x, p1.y, p0.x ^ c.w ^ k.y, p0.y);
    k = k + vec2u(0x9E3779B9u, 0xBB67AE85u);
  }
  return c;
}

/** (bits >> 8) * 2^-24: uniform in [0, 1), exact (rng.ts's uniform). */
fn uniformBits(bits: u32) -> f32 {
  return f32(bits >> 8u) * bitcast<f32>(0x33800000u);
}

/** ((bits >> 8) + 0.5) * 2^-24 in (0, 1), never 0 (the kernels' uniformOpenF64, rounded to f32). */
fn uniformOpenBits(bits: u32) -> f32 {
  return (f32(bits >> 8u) + 0.5) * bitcast<f32>(0x33800000u);
}

/** 32 random bits of element \`index\` of stream (seed, stream): word index & 3 of block index >> 2. */
fn randomBits(seed: u32, stream: u32, index: u32) -> u32 {
  let block = philox4x32(vec4u(index >> 2u, 0u, 0u, 0u), vec2u(seed, stream));
  return block[index & 3u];
}
`;
