// Element-wise kernels: values against Math (f64), backward passes against finite differences
// of the f64 activation, bias broadcast and column sums; both builds.
import { beforeAll, describe, expect, it } from "vitest";
import { compileKernels, elementwiseRelativeError, randomArray, relativeMaxError, VARIANTS, type KernelModule } from "./harness.js";

const COUNTS = [1, 3, 4, 7, 37, 1001];
const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));
const ACTIVATIONS: Record<string, (x: number) => number> = {
  relu: (x) => Math.max(x, 0),
  tanh: Math.tanh,
  sigmoid,
};

for (const variant of VARIANTS) {
  describe(`elementwise (${variant})`, () => {
    let mod: KernelModule;
    beforeAll(async () => { mod = await compileKernels(["elementwise"], variant); });

    it("tanh and sigmoid forward are accurate to ~1e-6 relative over a wide range", () => {
      mod.reset();
      const xs: number[] = [];
      for (let x = -20; x <= 20; x += 0.001953125) xs.push(x);
      xs.push(0, -0, 1e-8, -1e-8, 1e-30, 0.624, 0.625, 0.626, -0.625, 9, 9.5, 50, -50, 87, -87, 100, -100);
      const n = xs.length;
      const z = mod.putF32(xs), h = mod.alloc(n * 4);
      const zf = mod.f32(z, n);
      mod.exports.tanhForward(z, h, n);
      expect(elementwiseRelativeError(mod.f32(h, n), Array.from(zf, Math.tanh), 1e-30)).toBeLessThan(1e-6);
      mod.exports.sigmoidForward(z, h, n);
      // relative to max(|ref|, 1e-30): sigmoid(-20) ~ 2e-9 is still covered
      expect(elementwiseRelativeError(mod.f32(h, n), Array.from(zf, sigmoid), 1e-30)).toBeLessThan(1e-6);
    });

    for (const name of Object.keys(ACTIVATIONS)) {
      it(`${name}Forward matches and works in place, all tail lengths`, () => {
        const f = ACTIVATIONS[name]!;
        for (const count of COUNTS) {
          mod.reset();
          const data = randomArray(count, count, -4, 4);
          const z = mod.putF32(data), h = mod.alloc(count * 4);
          mod.exports[`${name}Forward`](z, h, count);
          const expected = Array.from(data, f);
          expect(elementwiseRelativeError(mod.f32(h, count), expected, 1e-6)).toBeLessThan(1e-6);
          mod.exports[`${name}Forward`](z, z, count); // in place
          expect(Array.from(mod.f32(z, count))).toEqual(Array.from(mod.f32(h, count)));
        }
      });

      it(`${name}Backward equals dh * f'(z) by central finite differences (from h)`, () => {
        const f = ACTIVATIONS[name]!;
        for (const count of COUNTS) {
          mod.reset();
          // keep relu away from its kink
          const zs = Array.from(randomArray(count, 100 + count, -3, 3), (v) => (name === "relu" && Math.abs(v) < 1e-3 ? v + 0.01 : v));
          const dhs = randomArray(count, 200 + count);
          const z = mod.putF32(zs), h = mod.alloc(count * 4), dh = mod.putF32(dhs), dz = mod.alloc(count * 4);
          mod.exports[`${name}Forward`](z, h, count);
          mod.exports[`${name}Backward`](dh, h, dz, count);
          const eps = 1e-6;
          const zf = mod.f32(z, count);
          const fd = Array.from(zf, (v, i) => dhs[i]! * (f(v + eps) - f(v - eps)) / (2 * eps));
          expect(elementwiseRelativeError(mod.f32(dz, count), fd, 1e-3)).toBeLessThan(2e-5);
          // in place on dh (as the generated backward calls it)
          mod.exports[`${name}Backward`](dh, h, dh, count);
          expect(Array.from(mod.f32(dh, count))).toEqual(Array.from(mod.f32(dz, count)));
        }
      });
    }

    it("reluBackward zeroes where h = 0", () => {
      mod.reset();
      const h = mod.putF32([0, 1, 0, 2, 0]), dh = mod.putF32([5, 6, 7, 8, 9]), dz = mod.alloc(20);
      mod.exports.reluBackward(dh, h, dz, 5);
      expect(Array.from(mod.f32(dz, 5))).toEqual([0, 6, 0, 8, 0]);
    });

    it("addBias broadcasts over rows; columnSums sums rows", () => {
      for (const [m, n] of [[1, 1], [3, 5], [4, 16], [7, 19], [128, 1000], [2, 37]]) {
        mod.reset();
        const zs = randomArray(m! * n!, m! + n!), bs = randomArray(n!, 3);
        const z = mod.putF32(zs), b = mod.putF32(bs);
        mod.exports.addBias(z, b, m, n);
        const expected = Array.from(zs, (v, i) => v + bs[i % n!]!);
        expect(relativeMaxError(mod.f32(z, m! * n!), expected)).toBeLessThan(1e-7);
        const db = mod.putF32(new Float32Array(n!).fill(NaN));
        mod.exports.columnSums(z, m, n, db);
        const sums = new Float64Array(n!);
        for (let i = 0; i < m!; i++) for (let j = 0; j < n!; j++) sums[j] += expected[i * n! + j]!;
        expect(elementwiseRelativeError(mod.f32(db, n!), sums, 1)).toBeLessThan(1e-5);
      }
    });
  });
}
