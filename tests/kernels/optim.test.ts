// Optimizer steps against f32-emulating TypeScript references over several steps; both builds.
import { beforeAll, describe, expect, it } from "vitest";
import { compileKernels, elementwiseRelativeError, randomArray, VARIANTS, type KernelModule } from "./harness.js";

const f = Math.fround;

function sgdReference(w: Float32Array, g: Float32Array, v: Float32Array, lr: number, mom: number, wd: number): void {
  for (let i = 0; i < w.length; i++) {
    const gi = f(g[i]! + f(f(wd) * w[i]!));
    v[i] = f(f(f(mom) * v[i]!) - f(f(lr) * gi));
    w[i] = f(w[i]! + v[i]!);
  }
}

function adamReference(w: Float32Array, g: Float32Array, m1: Float32Array, m2: Float32Array, lr: number, b1: number, b2: number, eps: number, wd: number, t: number): void {
  // hyper-parameters arrive as f32, as in the kernel
  [lr, b1, b2, eps, wd] = [f(lr), f(b1), f(b2), f(eps), f(wd)];
  const c1 = 1 / (1 - b1 ** t), c2 = 1 / (1 - b2 ** t);
  for (let i = 0; i < w.length; i++) {
    const gi = g[i]! + wd * w[i]!;
    m1[i] = f(b1 * m1[i]! + (1 - b1) * gi);
    m2[i] = f(b2 * m2[i]! + (1 - b2) * gi * gi);
    w[i] = f(w[i]! - (lr * m1[i]! * c1) / (Math.sqrt(m2[i]! * c2) + eps));
  }
}

for (const variant of VARIANTS) {
  describe(`optim (${variant})`, () => {
    let mod: KernelModule;
    beforeAll(async () => { mod = await compileKernels(["optim"], variant); });

    for (const count of [1, 3, 4, 5, 1001]) {
      it(`sgdStep (momentum, weight decay) over 5 steps, count ${count}`, () => {
        mod.reset();
        const w = randomArray(count, 1), v = new Float32Array(count);
        const pw = mod.putF32(w), pg = mod.alloc(count * 4), pv = mod.putF32(v);
        for (let step = 0; step < 5; step++) {
          const g = randomArray(count, 10 + step);
          mod.f32(pg, count).set(g);
          mod.exports.sgdStep(pw, pg, pv, count, 0.05, 0.9, 1e-4);
          sgdReference(w, g, v, 0.05, 0.9, 1e-4);
        }
        expect(elementwiseRelativeError(mod.f32(pw, count), w, 1e-3)).toBeLessThan(1e-6);
        expect(elementwiseRelativeError(mod.f32(pv, count), v, 1e-3)).toBeLessThan(1e-5);
      });

      it(`adamStep (bias correction, weight decay) over 5 steps, count ${count}`, () => {
        mod.reset();
        const w = randomArray(count, 2), m1 = new Float32Array(count), m2 = new Float32Array(count);
        const pw = mod.putF32(w), pg = mod.alloc(count * 4), p1 = mod.putF32(m1), p2 = mod.putF32(m2);
        for (let t = 1; t <= 5; t++) {
          const g = randomArray(count, 20 + t);
          mod.f32(pg, count).set(g);
          mod.exports.adamStep(pw, pg, p1, p2, count, 1e-3, 0.9, 0.999, 1e-8, 1e-2, t);
          adamReference(w, g, m1, m2, 1e-3, 0.9, 0.999, 1e-8, 1e-2, t);
        }
        // w is O(1): intermediate f32 roundings differ from the f64 reference by a few ulp of 1
        expect(elementwiseRelativeError(mod.f32(pw, count), w, 1e-2)).toBeLessThan(1e-5);
        expect(elementwiseRelativeError(mod.f32(p1, count), m1, 1e-2)).toBeLessThan(1e-5);
        expect(elementwiseRelativeError(mod.f32(p2, count), m2, 1e-6)).toBeLessThan(1e-5);
      });
    }

    it("first Adam step moves each weight by about lr * sign(g)", () => {
      mod.reset();
      const count = 9;
      const pw = mod.putF32(new Float32Array(count)), pg = mod.putF32(randomArray(count, 5));
      const p1 = mod.putF32(new Float32Array(count)), p2 = mod.putF32(new Float32Array(count));
      mod.exports.adamStep(pw, pg, p1, p2, count, 0.01, 0.9, 0.999, 1e-8, 0, 1);
      const g = mod.f32(pg, count), w = mod.f32(pw, count);
      for (let i = 0; i < count; i++) expect(Math.abs(w[i]! + 0.01 * Math.sign(g[i]!))).toBeLessThan(1e-6);
    });
  });
}
