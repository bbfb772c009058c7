// Softmax and softmax cross-entropy: values against an f64 reference, the gradient against
// central finite differences of the f64 mean loss, stability at extreme logits; both builds.
import { beforeAll, describe, expect, it } from "vitest";
import { compileKernels, elementwiseRelativeError, randomArray, VARIANTS, type KernelModule } from "./harness.js";

function softmaxRow(x: ArrayLike<number>): number[] {
  const max = Math.max(...Array.from(x));
  const e = Array.from(x, (v) => Math.exp(v - max));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

function meanLoss(logits: ArrayLike<number>, labels: number[], m: number, classes: number): number {
  let total = 0;
  for (let i = 0; i < m; i++) {
    const row = Array.from(logits).slice(i * classes, (i + 1) * classes);
    total += -Math.log(softmaxRow(row)[labels[i]!]!);
  }
  return total / m;
}

for (const variant of VARIANTS) {
  describe(`loss (${variant})`, () => {
    let mod: KernelModule;
    beforeAll(async () => { mod = await compileKernels(["loss"], variant); });

    it("softmax matches the f64 reference, rows sum to 1, in place", () => {
      for (const [m, classes] of [[1, 1], [1, 10], [3, 7], [128, 10], [5, 1000], [2, 3]]) {
        mod.reset();
        const xs = randomArray(m! * classes!, m! * classes!, -8, 8);
        const x = mod.putF32(xs), p = mod.alloc(m! * classes! * 4);
        mod.exports.softmax(x, p, m, classes);
        const expected: number[] = [];
        for (let i = 0; i < m!; i++) expected.push(...softmaxRow(xs.subarray(i * classes!, (i + 1) * classes!)));
        expect(elementwiseRelativeError(mod.f32(p, m! * classes!), expected, 1e-30)).toBeLessThan(2e-6);
        mod.exports.softmax(x, x, m, classes);
        expect(Array.from(mod.f32(x, m! * classes!))).toEqual(Array.from(mod.f32(p, m! * classes!)));
      }
    });

    it("softmaxCrossEntropy: mean loss, probs and (p - onehot)/m", () => {
      for (const [m, classes] of [[1, 10], [3, 7], [128, 10], [4, 1000], [6, 5]]) {
        mod.reset();
        const xs = randomArray(m! * classes!, 31 * m! + classes!, -5, 5);
        const labels = Array.from({ length: m! }, (_, i) => (i * 7 + 3) % classes!);
        const x = mod.putF32(xs), p = mod.alloc(m! * classes! * 4), d = mod.alloc(m! * classes! * 4);
        const y = mod.alloc(m! * 4);
        mod.i32(y, m!).set(labels);
        const loss = mod.exports.softmaxCrossEntropy(x, y, m, classes, p, d);
        expect(Math.abs(loss - meanLoss(xs, labels, m!, classes!)) / meanLoss(xs, labels, m!, classes!)).toBeLessThan(1e-6);
        const probs: number[] = [];
        for (let i = 0; i < m!; i++) probs.push(...softmaxRow(xs.subarray(i * classes!, (i + 1) * classes!)));
        expect(elementwiseRelativeError(mod.f32(p, m! * classes!), probs, 1e-30)).toBeLessThan(2e-6);
        const grad = probs.map((v, k) => (v - (labels[Math.floor(k / classes!)] === k % classes! ? 1 : 0)) / m!);
        expect(elementwiseRelativeError(mod.f32(d, m! * classes!), grad, 1e-6 / m!)).toBeLessThan(1e-5);
      }
    });

    it("dlogits equals the finite-difference gradient of the mean loss", () => {
      mod.reset();
      const m = 3, classes = 6;
      const xs = Array.from(randomArray(m * classes, 99, -3, 3));
      const labels = [2, 0, 5];
      const x = mod.putF32(xs), p = mod.alloc(m * classes * 4), d = mod.alloc(m * classes * 4), y = mod.alloc(m * 4);
      mod.i32(y, m).set(labels);
      mod.exports.softmaxCrossEntropy(x, y, m, classes, p, d);
      const eps = 1e-5;
      const fd = xs.map((_, k) => {
        const up = xs.slice(), down = xs.slice();
        up[k]! += eps; down[k]! -= eps;
        return (meanLoss(up, labels, m, classes) - meanLoss(down, labels, m, classes)) / (2 * eps);
      });
      expect(elementwiseRelativeError(mod.f32(d, m * classes), fd, 1e-3)).toBeLessThan(1e-4);
    });

    it("is stable for extreme logits and ignores out-of-range labels", () => {
      mod.reset();
      const m = 2, classes = 5;
      const xs = [1000, -1000, 999, 0, 1000, -3000, -3001, -2999, -3000, -3000];
      const x = mod.putF32(xs), p = mod.alloc(40), d = mod.alloc(40), y = mod.alloc(8);
      mod.i32(y, 2).set([2, 1]);
      const loss = mod.exports.softmaxCrossEntropy(x, y, m, classes, p, d);
      expect(Number.isFinite(loss)).toBe(true);
      expect(Math.abs(loss - meanLoss(xs, [2, 1], m, classes))).toBeLessThan(1e-5);
      for (const v of mod.f32(p, 10)) expect(Number.isFinite(v)).toBe(true);
      mod.i32(y, 2).set([-1, 5]);
      expect(mod.exports.softmaxCrossEntropy(x, y, m, classes, p, d)).toBe(0);
      expect(Math.abs(mod.f32(d, 10).reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-6); // sum p / m over 2 rows
    });
  });
}
