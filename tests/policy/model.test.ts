// Policy gates compiled end to end (methods/policy/method.ts), plain and relaxed SIMD:
// masks after the nonlinearity with an unmasked output layer (docs/methods/policy.md §12, check 2,
// sigmoid f so that a masked unit reads 0, not 0.5); the REINFORCE gradient left in
// `<layer>.policy_weight.grad` / `.policy_bias.grad` by trainStep against central finite
// differences of (1/n) Σ_i c_i log π(u_i | s_i) with the samples u, states s and costs c
// fixed (item 3), plain (squash 0) and squashed (0.01); test-time threshold mode.
import v8 from "node:v8";
v8.setFlagsFromString("--experimental-wasm-relaxed-simd");

import { describe, expect, it } from "vitest";
import { compile } from "../../compiler/compile.js";
import { loadModel, type Model } from "../../runtime/model.js";
import { readPolicyStats, setPolicyMode, setPolicySeed } from "../../methods/policy/runtime.js";

const N = 9;

function source(squash: number, extra = ""): string {
  return `
model PolicyGrad {
  input  x: f32[13]
  target y: class[3]
  layer h1  = dense(x, 16) sigmoid gate policy(blocks: 4, tau: 0.25, squash: ${squash}${extra})
  layer h2  = dense(h1, 15) tanh   gate policy(blocks: 3, tau: 0.5, squash: ${squash})
  layer out = dense(h2, 3)
  loss = softmax_cross_entropy(out, y)
}
train { optimizer = sgd(lr: 1, momentum: 0) policy = reinforce(lr: 1, lambda_s: 0, lambda_v: 0, baseline: none) batch = ${N} }`;
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function build(text: string, simd: "plain" | "relaxed"): Promise<Model> {
  const r = await compile(text, { file: "policy-grad.cond", maxBatch: N, simd: "both" });
  if (!r.ok) throw new Error(r.diagnostics.map((d) => d.message).join("; "));
  return loadModel(simd === "plain" ? r.wasm : r.relaxedWasm!, r.manifest);
}

/** Random network and policy parameters (policy weights large enough to give varied masks). */
function randomize(model: Model, seed: number): void {
  model.init(seed);
  setPolicySeed(model, seed);
  const r = rng(seed + 7);
  for (const p of model.manifest.params) {
    const count = p.shape.reduce((a, b) => a * b, 1);
    const scale = p.name.includes("policy") ? 1.5 : p.name.endsWith("bias") ? 0.3 : 0;
    if (scale === 0) continue;
    model.setParameter(p.name, Float32Array.from({ length: count }, () => (r() * 2 - 1) * scale));
  }
}

function batch(seed: number) {
  const r = rng(seed);
  return { x: Float32Array.from({ length: N * 13 }, () => r() * 2 - 1), y: Int32Array.from({ length: N }, () => Math.floor(r() * 3)) };
}

const sigm = (q: number) => 1 / (1 + Math.exp(-q));

/** (1/n) Σ_i c_i Σ_j [u log p + (1 - u) log(1 - p)], p = (1 - 2s) σ(S Z + d) + s, in f64. */
function surrogate(S: Float32Array, K: number, Z: Float64Array, d: Float64Array, u: Float32Array, c: Float32Array, nb: number, s: number): number {
  let total = 0;
  for (let i = 0; i < N; i++) {
    for (let j = 0; j < nb; j++) {
      let q = d[j]!;
      for (let k = 0; k < K; k++) q += S[i * K + k]! * Z[k * nb + j]!;
      const p = (1 - 2 * s) * sigm(q) + s;
      total += c[i]! * (u[i * nb + j]! ? Math.log(p) : Math.log(1 - p));
    }
  }
  return total / N;
}

for (const simd of ["plain", "relaxed"] as const) {
  describe(`policy layers compiled (${simd})`, () => {
    it("masks after the nonlinearity (sigmoid: masked units are 0, not 0.5); the output layer is unmasked", async () => {
      const model = await build(source(0.01), simd);
      randomize(model, 3);
      const { x } = batch(5);
      model.predict(x, N);
      const W = model.parameter("h1.weight"), b = model.parameter("h1.bias");
      const h1 = model.regionView("h1.output"), u = model.regionView("h1.policy_u");
      let on = 0, off = 0;
      for (let i = 0; i < N; i++) for (let j = 0; j < 16; j++) {
        let z = b[j]!;
        for (let k = 0; k < 13; k++) z += x[i * 13 + k]! * W[j * 13 + k]!;
        const active = u[i * 4 + Math.floor(j / 4)]! !== 0;
        if (active) { on++; expect(Math.abs(h1[i * 16 + j]! - sigm(z))).toBeLessThan(1e-5); }
        else { off++; expect(h1[i * 16 + j]).toBe(0); }
      }
      expect(on).toBeGreaterThan(10);
      expect(off).toBeGreaterThan(10);
      // logits = dense(h2 masked) with no mask of their own
      const h2 = model.regionView("h2.output"), logits = model.regionView("out.output");
      const Wo = model.parameter("out.weight"), bo = model.parameter("out.bias");
      for (let i = 0; i < N; i++) for (let j = 0; j < 3; j++) {
        let z = bo[j]!;
        for (let k = 0; k < 15; k++) z += h2[i * 15 + k]! * Wo[j * 15 + k]!;
        expect(Math.abs(logits[i * 3 + j]! - z)).toBeLessThan(1e-5);
      }
    }, 120_000);

    for (const squash of [0, 0.01]) {
      it(`REINFORCE gradient = finite differences of Σ c_i log π(u_i|s_i) (squash ${squash})`, async () => {
        const model = await build(source(squash), simd);
        randomize(model, 11);
        const before = new Map(model.manifest.params.map((p) => [p.name, model.parameter(p.name)]));
        const { x, y } = batch(12);
        model.trainStep(x, y, N);
        for (const [layer, K, nb, S] of [["h1", 13, 4, x], ["h2", 16, 3, model.regionView("h1.output").slice(0, N * 16)]] as const) {
          const u = model.regionView(`${layer}.policy_u`).slice(0, N * nb);
          const c = model.regionView(`${layer}.policy_cost`).slice(0, N);
          // the costs are the per-example cross-entropies
          const probs = model.regionView("probs");
          for (let i = 0; i < N; i++) expect(Math.abs(c[i]! + Math.log(probs[i * 3 + y[i]!]!))).toBeLessThan(1e-4);
          const Z = Float64Array.from(before.get(`${layer}.policy_weight`)!), d = Float64Array.from(before.get(`${layer}.policy_bias`)!);
          const gZ = model.regionView(`${layer}.policy_weight.grad`), gd = model.regionView(`${layer}.policy_bias.grad`);
          const h = 1e-5;
          const fd = (arr: Float64Array, idx: number) => {
            const v = arr[idx]!;
            arr[idx] = v + h; const fp = surrogate(S, K, Z, d, u, c, nb, squash);
            arr[idx] = v - h; const fm = surrogate(S, K, Z, d, u, c, nb, squash);
            arr[idx] = v;
            return (fp - fm) / (2 * h);
          };
          let worst = 0, scale = 1e-3;
          for (let idx = 0; idx < K * nb; idx++) { const e = fd(Z, idx); scale = Math.max(scale, Math.abs(e)); worst = Math.max(worst, Math.abs(e - gZ[idx]!)); }
          for (let idx = 0; idx < nb; idx++) { const e = fd(d, idx); scale = Math.max(scale, Math.abs(e)); worst = Math.max(worst, Math.abs(e - gd[idx]!)); }
          expect(worst / scale, `${layer} relative error`).toBeLessThan(2e-4);
          // the policy update is a plain step: θ_after = θ_before - lr_π ∇
          const after = model.parameter(`${layer}.policy_bias`);
          for (let j = 0; j < nb; j++) expect(Math.abs(after[j]! - (d[j]! - gd[j]!))).toBeLessThan(1e-5);
        }
      }, 120_000);
    }

    it("network gradients through the sampled masks (masks constant) = finite differences of the f64 loss", async () => {
      const model = await build(source(0.01), simd);
      randomize(model, 21);
      const before = new Map(model.manifest.params.map((p) => [p.name, Float64Array.from(model.parameter(p.name))]));
      const { x, y } = batch(22);
      model.trainStep(x, y, N);
      const m1 = model.regionView("h1.policy_u").slice(0, N * 4), m2 = model.regionView("h2.policy_u").slice(0, N * 3);
      const P = before;
      const loss = (): number => {
        const W1 = P.get("h1.weight")!, b1 = P.get("h1.bias")!, W2 = P.get("h2.weight")!, b2 = P.get("h2.bias")!, Wo = P.get("out.weight")!, bo = P.get("out.bias")!;
        let total = 0;
        for (let i = 0; i < N; i++) {
          const h1 = Array.from({ length: 16 }, (_, j) => {
            if (!m1[i * 4 + Math.floor(j / 4)]) return 0;
            let z = b1[j]!; for (let k = 0; k < 13; k++) z += x[i * 13 + k]! * W1[j * 13 + k]!; return sigm(z);
          });
          const h2 = Array.from({ length: 15 }, (_, j) => {
            if (!m2[i * 3 + Math.floor(j / 5)]) return 0;
            let z = b2[j]!; for (let k = 0; k < 16; k++) z += h1[k]! * W2[j * 16 + k]!; return Math.tanh(z);
          });
          const logits = Array.from({ length: 3 }, (_, j) => { let z = bo[j]!; for (let k = 0; k < 15; k++) z += h2[k]! * Wo[j * 15 + k]!; return z; });
          const mx = Math.max(...logits);
          const lse = Math.log(logits.reduce((a, v) => a + Math.exp(v - mx), 0)) + mx;
          total += lse - logits[y[i]!]!;
        }
        return total / N;
      };
      let worst = 0, scale = 1e-3;
      for (const name of ["h1.weight", "h1.bias", "h2.weight", "h2.bias", "out.weight", "out.bias"]) {
        const arr = P.get(name)!, grad = model.regionView(`${name}.grad`);
        for (let idx = 0; idx < arr.length; idx++) {
          const v = arr[idx]!, h = 1e-6;
          arr[idx] = v + h; const fp = loss(); arr[idx] = v - h; const fm = loss(); arr[idx] = v;
          const fd = (fp - fm) / (2 * h);
          scale = Math.max(scale, Math.abs(fd));
          worst = Math.max(worst, Math.abs(fd - grad[idx]!));
        }
      }
      expect(worst / scale).toBeLessThan(1e-4);
    }, 120_000);

    it("uniform block dropout (bdNN): no policy parameters, keep rate tau on the same kernels", async () => {
      const text = source(0.01).replace("gate policy(blocks: 4, tau: 0.25, squash: 0.01)", "gate policy(blocks: 4, tau: 0.3, uniform: true)")
        .replace("gate policy(blocks: 3, tau: 0.5, squash: 0.01)", "gate policy(blocks: 3, tau: 0.6, uniform: true)");
      const model = await build(text, simd);
      expect(model.manifest.params.map((p) => p.name)).toEqual(["h1.weight", "h1.bias", "h2.weight", "h2.bias", "out.weight", "out.bias"]);
      model.init(1);
      const { x, y } = batch(3);
      readPolicyStats(model, "train");
      for (let s = 0; s < 300; s++) model.trainStep(x, y, N);
      const stats = readPolicyStats(model, "train");
      expect(stats[0]!.examples).toBe(300 * N);
      expect(Math.abs(stats[0]!.meanActivation - 0.3)).toBeLessThan(4 * Math.sqrt(0.3 * 0.7 / (300 * N * 4)));
      expect(Math.abs(stats[1]!.meanActivation - 0.6)).toBeLessThan(4 * Math.sqrt(0.6 * 0.4 / (300 * N * 3)));
      const h1 = model.regionView("h1.output"), u = model.regionView("h1.policy_u");
      for (let i = 0; i < N; i++) for (let j = 0; j < 16; j++) if (!u[i * 4 + Math.floor(j / 4)]) expect(h1[i * 16 + j]).toBe(0);
    }, 120_000);

    it("threshold mode at test time: u = 1[p > 0.5], deterministic; statistics count the active blocks", async () => {
      const model = await build(source(0.01), simd);
      randomize(model, 5);
      const { x } = batch(9);
      setPolicyMode(model, "threshold");
      readPolicyStats(model, "eval");
      model.predict(x, N);
      const sigma = model.regionView("h1.policy_sigma"), u = model.regionView("h1.policy_u");
      let active = 0;
      for (let i = 0; i < N * 4; i++) { expect(u[i]).toBe(0.98 * sigma[i]! + 0.01 > 0.5 ? 1 : 0); active += u[i]!; }
      const first = Array.from(model.predict(x, N));
      expect(Array.from(model.predict(x, N))).toEqual(first);
      const stats = readPolicyStats(model, "eval");
      expect(stats[0]!.examples).toBe(3 * N);
      expect(stats[0]!.meanActivation).toBeCloseTo(active / (N * 4), 6);
      setPolicyMode(model, "sample");
      const sampled1 = Array.from(model.predict(x, N)), sampled2 = Array.from(model.predict(x, N));
      expect(sampled1).not.toEqual(sampled2); // fresh masks per call
    }, 120_000);
  });
}
