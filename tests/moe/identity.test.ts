// MoE kernels, bit-identity: E = 1, k = 1 equals the dense layer (and the dense FFN) computed with
// the gemm and element-wise kernels; dropless equals a capacity that drops nothing; determinism.
import { beforeAll, describe, expect, it } from "vitest";
import { compileKernels, randomArray, VARIANTS, type KernelModule } from "../kernels/harness.js";
import { ACTIVATION_KIND, type Activation, type MoeShape } from "./reference.js";
import { randomParams, runKernels, sameBits, shape, type KernelParams, type KernelRun } from "./helpers.js";

const FORWARD: Record<Activation, string | null> = { linear: null, relu: "reluForward", tanh: "tanhForward", sigmoid: "sigmoidForward" };
const BACKWARD: Record<Activation, string | null> = { linear: null, relu: "reluBackward", tanh: "tanhBackward", sigmoid: "sigmoidBackward" };

/** The dense layer (hidden = 0) or FFN of expert 0's weights, forward and backward, as the dense method emits it. */
function denseLayer(mod: KernelModule, s: MoeShape, p: KernelParams, x: Float32Array, n: number, dh: Float32Array) {
  const k = mod.exports, { inputs: D, units: U, hidden: H, act } = s;
  const W = H > 0 ? H : U;
  mod.reset();
  const px = mod.putF32(x), w1 = mod.putF32(p.w1), b1 = mod.putF32(p.b1);
  const z = mod.alloc(n * W * 4);
  k.gemmNT(n, W, D, px, D, w1, D, z, W, 0);
  k.addBias(z, b1, n, W);
  if (FORWARD[act]) k[FORWARD[act]!](z, z, n * W);
  let y = z;
  let w2 = 0;
  if (H > 0) {
    w2 = mod.putF32(p.w2!);
    y = mod.alloc(n * U * 4);
    k.gemmNT(n, U, H, z, H, w2, H, y, U, 0);
    k.addBias(y, mod.putF32(p.b2!), n, U);
  }
  const h = mod.f32(y, n * U).slice();
  const dy = mod.putF32(dh), gw1 = mod.alloc(W * D * 4), gb1 = mod.alloc(W * 4), dx = mod.alloc(n * D * 4);
  let dz = dy, gw2 = new Float32Array(0), gb2 = new Float32Array(0);
  if (H > 0) {
    const pgw2 = mod.alloc(U * H * 4), pgb2 = mod.alloc(U * 4);
    k.gemmTN(U, H, n, dy, U, z, H, pgw2, H, 0);
    k.columnSums(dy, n, U, pgb2);
    dz = mod.alloc(n * H * 4);
    k.gemmNN(n, H, U, dy, U, w2, H, dz, H, 0);
    gw2 = mod.f32(pgw2, U * H).slice();
    gb2 = mod.f32(pgb2, U).slice();
  }
  if (BACKWARD[act]) k[BACKWARD[act]!](dz, z, dz, n * W);
  k.gemmTN(W, D, n, dz, W, px, D, gw1, D, 0);
  k.columnSums(dz, n, W, gb1);
  k.gemmNN(n, D, W, dz, W, w1, D, dx, D, 0);
  return { h, w1: mod.f32(gw1, W * D).slice(), b1: mod.f32(gb1, W).slice(), w2: gw2, b2: gb2, x: mod.f32(dx, n * D).slice() };
}

function expectSameRun(a: KernelRun, b: KernelRun, what: string): void {
  expect(sameBits(a.h, b.h), `${what}: h`).toBe(true);
  for (const t of ["wg", "wn", "w1", "b1", "w2", "b2", "x"] as const) expect(sameBits(a.grads![t], b.grads![t]), `${what}: d${t}`).toBe(true);
  expect(a.balance, `${what}: balance`).toBe(b.balance);
}

for (const variant of VARIANTS) {
  describe(`moe bit-identity (${variant})`, () => {
    let mod: KernelModule;
    beforeAll(async () => { mod = await compileKernels(["gemm", "elementwise", "moe"], variant); });

    it("E = 1, k = 1 equals the dense layer and the dense FFN bit for bit (forward, dW, db, dX)", () => {
      const cases: [Partial<MoeShape>, number][] = [
        [{ act: "relu" }, 1], [{ act: "tanh" }, 5], [{ act: "sigmoid" }, 17], [{ act: "linear" }, 128],
        [{ act: "relu", hidden: 9 }, 1], [{ act: "tanh", hidden: 16 }, 17], [{ act: "relu", hidden: 33, inputs: 70, units: 12 }, 128],
        [{ act: "relu", inputs: 300, units: 40, noisy: true, balance: { kind: "switch", alpha: 0.01 } }, 130],
      ];
      let seed = 1;
      for (const [over, n] of cases) {
        const s = shape({ ...over, experts: 1, topK: 1 });
        const p = randomParams(s, seed++ * 7), x = randomArray(n * s.inputs, seed * 3), dh = randomArray(n * s.units, seed * 5);
        const dense = denseLayer(mod, s, p, x, n, dh);
        const moe = runKernels(mod, s, p, x, n, dh);
        const what = `${s.act} H=${s.hidden} n=${n}`;
        expect(Array.from(moe.gates).every((g) => g === 1), what).toBe(true);
        expect(sameBits(moe.h, dense.h), `${what}: h`).toBe(true);
        const tensors = s.hidden > 0 ? (["w1", "b1", "w2", "b2", "x"] as const) : (["w1", "b1", "x"] as const);
        for (const t of tensors) expect(sameBits(moe.grads![t], dense[t]), `${what}: d${t}`).toBe(true);
        expect(Array.from(moe.grads!.wg).every((v) => v === 0), what).toBe(true);
        expect(moe.expertMacs).toBe(n * (s.hidden > 0 ? s.hidden * (s.inputs + s.units) : s.units * s.inputs));
      }
      expect(ACTIVATION_KIND.relu).toBe(mod.exports.MOE_RELU.value);
    });

    it("dropless equals a capacity that drops nothing, bit for bit; a smaller capacity drops", () => {
      const cases: [MoeShape, number][] = [
        [shape({ experts: 4, topK: 2, hidden: 5, noisy: true, balance: { kind: "cv", importance: 0.1, load: 0.1 } }), 17],
        [shape({ experts: 8, topK: 1, act: "relu", balance: { kind: "switch", alpha: 0.01 } }), 40],
        [shape({ experts: 6, topK: 3, hidden: 4, act: "sigmoid" }), 3],
      ];
      let seed = 50;
      for (const [s, n] of cases) {
        const p = randomParams(s, seed++), x = randomArray(n * s.inputs, seed++), dh = randomArray(n * s.units, seed++);
        const dropless = runKernels(mod, s, p, x, n, dh, true);
        const largest = Math.max(...dropless.counts);
        const exact = runKernels(mod, { ...s, capacity: largest }, p, x, n, dh, true);
        const generous = runKernels(mod, { ...s, capacity: mod.exports.moeCapacity(s.experts / s.topK, s.topK, n, s.experts) }, p, x, n, dh, true);
        expect(exact.dropped).toBe(0);
        expect(generous.dropped).toBe(0);
        expectSameRun(dropless, exact, "capacity = largest load");
        expectSameRun(dropless, generous, "capacity factor E / k");
        const tight = runKernels(mod, { ...s, capacity: largest - 1 }, p, x, n, dh, true);
        expect(tight.dropped).toBe(dropless.counts.reduce((a, c) => a + Math.max(0, c - (largest - 1)), 0));
        expect(sameBits(tight.h, dropless.h)).toBe(false);
      }
    });

    it("is deterministic: same seed and inputs give the same bits (noisy gating and capacity included), in a fresh instance too", async () => {
      const s = shape({ experts: 8, topK: 2, hidden: 6, act: "relu", noisy: true, capacity: 5, balance: { kind: "cv", importance: 0.1, load: 0.1 } });
      const n = 33, p = randomParams(s, 91), x = randomArray(n * s.inputs, 92), dh = randomArray(n * s.units, 93);
      const a = runKernels(mod, s, p, x, n, dh);
      const b = runKernels(mod, s, p, x, n, dh);
      const fresh = runKernels(await compileKernels(["moe"], variant), s, p, x, n, dh);
      expectSameRun(a, b, "same module");
      expectSameRun(a, fresh, "fresh module");
      expect(sameBits(a.noise, fresh.noise)).toBe(true);
      const otherStep = runKernels(mod, { ...s, step: s.step + 1 }, p, x, n, dh);
      expect(sameBits(a.noise, otherStep.noise)).toBe(false);
    });
  });
}
