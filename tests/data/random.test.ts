/**
 * @fileoverview The data PRNG: golden values (computed by an independent Python transcription of
 * splitmix32-seeded xoshiro128**), stream independence, unbiased ranges, valid permutations.
 */
import { describe, expect, it } from "vitest";
import { Rng, shuffledIndices } from "../../runtime/random.js";

const draws = (rng: Rng, n: number): number[] => Array.from({ length: n }, () => rng.nextUint32());

describe("Rng", () => {
  it("matches the reference sequence", () => {
    expect(draws(new Rng(0), 4)).toEqual([249530392, 1926903454, 1838845799, 3977700538]);
    expect(draws(new Rng(1), 4)).toEqual([2191983198, 278762022, 3433440189, 1636269457]);
    expect(draws(new Rng(1, 7), 4)).toEqual([3189661242, 891604073, 1459888312, 328077386]);
    expect(draws(new Rng(4294967295, 4294967295), 4)).toEqual([2559422405, 1453573523, 3236810146, 3977907421]);
  });

  it("gives different streams of one seed different sequences from the first draw", () => {
    const firsts = new Set(Array.from({ length: 64 }, (_, stream) => new Rng(5, stream).nextUint32()));
    expect(firsts.size).toBe(64);
  });

  it("rejects seeds that are not uint32", () => {
    expect(() => new Rng(-1)).toThrow(RangeError);
    expect(() => new Rng(1.5)).toThrow("seed must be an integer in [0, 2^32), got 1.5");
    expect(() => new Rng(2 ** 32)).toThrow(RangeError);
    expect(() => new Rng(0, -3)).toThrow("stream must be an integer in [0, 2^32), got -3");
  });

  it("nextBelow stays in range and is roughly uniform", () => {
    const rng = new Rng(123);
    const counts = new Array<number>(6).fill(0);
    for (let i = 0; i < 60000; i++) counts[rng.nextBelow(6)]++;
    for (const c of counts) expect(Math.abs(c - 10000)).toBeLessThan(400);
    expect(() => rng.nextBelow(0)).toThrow(RangeError);
    expect(new Rng(9).nextBelow(1)).toBe(0);
  });

  it("nextFloat is in [0, 1)", () => {
    const rng = new Rng(77);
    for (let i = 0; i < 10000; i++) {
      const x = rng.nextFloat();
      expect(x >= 0 && x < 1).toBe(true);
    }
  });
});

describe("shuffledIndices", () => {
  it("matches the reference Fisher–Yates permutation", () => {
    expect(Array.from(shuffledIndices(10, 42))).toEqual([3, 0, 9, 8, 1, 7, 4, 2, 5, 6]);
    expect(Array.from(shuffledIndices(10, 42, 1))).toEqual([1, 5, 7, 8, 3, 0, 6, 9, 4, 2]);
  });

  it("is a permutation, repeatable, and seed-dependent", () => {
    const a = shuffledIndices(1000, 3);
    expect(Array.from(a).sort((x, y) => x - y)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(shuffledIndices(1000, 3)).toEqual(a);
    expect(shuffledIndices(1000, 4)).not.toEqual(a);
    expect(shuffledIndices(0, 1).length).toBe(0);
    expect(() => shuffledIndices(-1, 1)).toThrow(RangeError);
  });

  it("puts each element in each position about equally often", () => {
    const hits = new Array<number>(4 * 4).fill(0);
    for (let seed = 0; seed < 4000; seed++) {
      shuffledIndices(4, seed).forEach((value, position) => hits[value * 4 + position]++);
    }
    for (const h of hits) expect(Math.abs(h - 1000)).toBeLessThan(150);
  });
});
