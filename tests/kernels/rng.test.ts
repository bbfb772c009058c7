// Counter-based RNG: Philox known answers, bit-identity with the TypeScript mirror,
// determinism, uniformity and the initializers' distributions.
import { beforeAll, describe, expect, it } from "vitest";
import { compileKernels, type KernelModule } from "./harness.js";
import * as ref from "./philox-reference.js";

// Random123 kat_vectors for philox4x32-10: counter (4 words), key (2 words) -> output.
const KAT: [number[], number[], number[]][] = [
  [[0, 0, 0, 0], [0, 0], [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]],
  [[0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff], [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]],
  [[0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0], [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]],
];

function moments(xs: ArrayLike<number>): { mean: number; variance: number; min: number; max: number } {
  let s = 0, s2 = 0, min = Infinity, max = -Infinity;
  for (let i = 0; i < xs.length; i++) { const v = xs[i]!; s += v; s2 += v * v; min = Math.min(min, v); max = Math.max(max, v); }
  const mean = s / xs.length;
  return { mean, variance: s2 / xs.length - mean * mean, min, max };
}

describe("rng (Philox-4x32-10)", () => {
  let mod: KernelModule;
  beforeAll(async () => { mod = await compileKernels(["rng"], "plain"); });

  it("TypeScript reference matches the Random123 known-answer vectors", () => {
    for (const [c, k, out] of KAT) expect(ref.philox4x32(c[0]!, c[1]!, c[2]!, c[3]!, k[0]!, k[1]!)).toEqual(out);
  });

  it("wasm philox4x32 matches the known-answer vectors", () => {
    mod.reset();
    const out = mod.alloc(16);
    for (const [c, k, expected] of KAT) {
      mod.exports.philox4x32(c[0], c[1], c[2], c[3], k[0], k[1], out);
      expect(Array.from(mod.u32(out, 4))).toEqual(expected);
    }
  });

  it("randomBits and uniform are bit-identical to the TypeScript mirror", () => {
    for (const [seed, stream] of [[0, 0], [1, 0], [0, 1], [123456789, 7], [0xffffffff, 0xfffffffe]]) {
      for (const index of [0, 1, 2, 3, 4, 5, 1000, 65537, 0x7fffffff, 0xffffffff]) {
        expect(mod.exports.randomBits(seed, stream, index) >>> 0).toBe(ref.randomBits(seed!, stream!, index));
        expect(mod.exports.uniform(seed, stream, index)).toBe(ref.uniform(seed!, stream!, index));
      }
    }
  });

  it("fillUniform and glorotUniform are bit-identical to the mirror and deterministic", () => {
    mod.reset();
    const n = 1003;
    const p = mod.alloc(n * 4), q = mod.alloc(n * 4);
    mod.exports.fillUniform(p, n, -0.25, 3, 42, 9);
    mod.exports.fillUniform(q, n, -0.25, 3, 42, 9);
    expect(Array.from(mod.f32(p, n))).toEqual(Array.from(ref.fillUniform(n, -0.25, 3, 42, 9)));
    expect(Array.from(mod.f32(q, n))).toEqual(Array.from(mod.f32(p, n)));
    mod.exports.glorotUniform(p, 784, 1000, n, 3, 1);
    expect(Array.from(mod.f32(p, n))).toEqual(Array.from(ref.glorotUniform(784, 1000, n, 3, 1)));
    // another stream or seed gives other numbers
    mod.exports.glorotUniform(q, 784, 1000, n, 3, 2);
    expect(Array.from(mod.f32(q, n))).not.toEqual(Array.from(mod.f32(p, n)));
  });

  it("uniform has the moments of U[0, 1) and stays in range", () => {
    mod.reset();
    const n = 200_000;
    const p = mod.alloc(n * 4);
    mod.exports.fillUniform(p, n, 0, 1, 2024, 0);
    const xs = mod.f32(p, n);
    const { mean, variance, min, max } = moments(xs);
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThan(1);
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.005);
    expect(Math.abs(variance - 1 / 12)).toBeLessThan(0.002);
    // 16-bin histogram, chi-square with 15 dof (p = 0.001 critical value 37.7)
    const bins = new Array(16).fill(0);
    for (const v of xs) bins[Math.floor(v * 16)]++;
    const chi2 = bins.reduce((s, b) => s + (b - n / 16) ** 2 / (n / 16), 0);
    expect(chi2).toBeLessThan(37.7);
    // lag-1 correlation
    let c = 0;
    for (let i = 1; i < n; i++) c += (xs[i]! - 0.5) * (xs[i - 1]! - 0.5);
    expect(Math.abs(c / n / (1 / 12))).toBeLessThan(0.01);
  });

  it("glorotUniform stays within +-sqrt(6/(fanIn+fanOut)) with variance limit^2/3", () => {
    mod.reset();
    const fanIn = 784, fanOut = 1000, n = fanIn * fanOut;
    const p = mod.alloc(n * 4);
    mod.exports.glorotUniform(p, fanIn, fanOut, n, 0, 0);
    const limit = Math.fround(Math.sqrt(6 / (fanIn + fanOut)));
    const { mean, variance, min, max } = moments(mod.f32(p, n));
    expect(min).toBeGreaterThanOrEqual(-limit);
    expect(max).toBeLessThan(limit);
    expect(Math.abs(mean)).toBeLessThan(0.01 * limit);
    expect(Math.abs(variance / (limit * limit / 3) - 1)).toBeLessThan(0.01);
  });

  it("heNormal has mean 0 and variance 2/fanIn, deterministic, odd counts", () => {
    mod.reset();
    const fanIn = 500, n = 200_001;
    const p = mod.alloc(n * 4), q = mod.alloc(n * 4);
    mod.exports.heNormal(p, fanIn, n, 77, 3);
    mod.exports.heNormal(q, fanIn, n, 77, 3);
    const xs = mod.f32(p, n);
    expect(Buffer.from(xs.buffer, p, n * 4).equals(Buffer.from(mod.f32(q, n).buffer, q, n * 4))).toBe(true);
    const { mean, variance } = moments(xs);
    const sd = Math.sqrt(2 / fanIn);
    expect(Math.abs(mean)).toBeLessThan(0.01 * sd);
    expect(Math.abs(variance / (sd * sd) - 1)).toBeLessThan(0.015);
    // about 4.55% beyond 2 sd, 0.27% beyond 3 sd
    let beyond2 = 0, beyond3 = 0;
    for (const v of xs) { if (Math.abs(v) > 2 * sd) beyond2++; if (Math.abs(v) > 3 * sd) beyond3++; }
    expect(Math.abs(beyond2 / n - 0.0455)).toBeLessThan(0.003);
    expect(Math.abs(beyond3 / n - 0.0027)).toBeLessThan(0.0006);
    expect(xs[n - 1]).not.toBe(0);
  });
});
