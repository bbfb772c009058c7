/**
 * @fileoverview `router: centred` through a compiled model: training logits lose their batch
 * mean per expert, the running centre follows the training batches (the first steps average,
 * then a 0.1 decay), evaluation reads x minus that centre; plain layers are untouched.
 */
import { describe, expect, it } from "vitest";
import { findRegion } from "../../runtime/manifest.js";
import type { Model } from "../../runtime/model.js";
import { batch, compileModel, instantiate, randomizeParameters, setStep, type Simd } from "./model-helpers.js";

const N = 10, D = 7, E = 4;

const SOURCE = `
model Centred {
  input  x: f32[${D}]
  target y: class[3]
  layer h   = moe(x, 5, experts: ${E}, top_k: 2, router: centred, z_loss: 0.01) tanh
  layer out = dense(h, 3)
  loss = softmax_cross_entropy(out, y)
}
train { optimizer = sgd(lr: 0.1) batch = ${N} }`;

function f32Region(model: Model, name: string): Float32Array {
  const r = findRegion(model.manifest, name);
  return new Float32Array(model.wasmMemory.buffer, r.offset, r.bytes / 4).slice();
}

describe.each(["plain", "relaxed"] as Simd[])("centred router, %s SIMD", (simd) => {
  it("training: each expert's logits have zero batch mean; the running centre averages, then decays by 0.1", async () => {
    const model = await instantiate(await compileModel(SOURCE, N), simd);
    model.init(1);
    randomizeParameters(model, 2, 0.6);
    model.setParameter("h.router_centre", new Float32Array(D));
    let centre = new Float32Array(D);
    for (let step = 0; step < 14; step++) {
      const { x, labels } = batch(D, 3, N, 40 + step);
      // shifted inputs: a common offset the centring must remove
      for (let q = 0; q < x.length; q++) x[q] = x[q]! + 0.5 + (q % D) * 0.1;
      setStep(model, step);
      model.trainStep(x, labels, N, { lr: 0 });
      const logits = f32Region(model, "h.moe_logits");
      for (let j = 0; j < E; j++) {
        let mean = 0, scale = 0;
        for (let e = 0; e < N; e++) { mean += logits[e * E + j]! / N; scale = Math.max(scale, Math.abs(logits[e * E + j]!)); }
        expect(Math.abs(mean), `step ${step}, expert ${j}`).toBeLessThan(1e-6 * Math.max(1, scale));
      }
      const m = Math.max(0.1, 1 / (step + 1));
      centre = centre.map((c, d) => {
        let sum = 0;
        for (let e = 0; e < N; e++) sum += x[e * D + d]!;
        return Math.fround(c + m * (sum / N - c));
      });
      expect(Array.from(model.parameter("h.router_centre")), `centre after step ${step}`).toEqual(Array.from(centre));
    }
  });

  it("evaluation: logits of x minus the stored centre (f64 reference), any batch size, centre unchanged", async () => {
    const model = await instantiate(await compileModel(SOURCE, N), simd);
    model.init(3);
    randomizeParameters(model, 4, 0.6);
    const centre = Float32Array.from({ length: D }, (_, d) => 0.3 + 0.05 * d);
    model.setParameter("h.router_centre", centre);
    const wg = model.parameter("h.router_weight");
    for (const n of [1, 3, N]) {
      const { x } = batch(D, 3, n, 70 + n);
      model.predict(x, n);
      const logits = f32Region(model, "h.moe_logits");
      for (let e = 0; e < n; e++) {
        for (let j = 0; j < E; j++) {
          let want = 0;
          for (let d = 0; d < D; d++) want += wg[j * D + d]! * (x[e * D + d]! - centre[d]!);
          expect(Math.abs(logits[e * E + j]! - want), `n ${n}, example ${e}, expert ${j}`).toBeLessThan(1e-5);
        }
      }
      expect(Array.from(model.parameter("h.router_centre"))).toEqual(Array.from(centre));
    }
  });
});

describe("plain router", () => {
  it("has no centre tensor", async () => {
    const built = await compileModel(SOURCE.replace("router: centred, ", ""), N);
    expect(built.manifest.params.map((p) => p.name)).not.toContain("h.router_centre");
    const centred = await compileModel(SOURCE, N);
    const param = centred.manifest.params.find((p) => p.name === "h.router_centre")!;
    expect(param).toMatchObject({ shape: [D], update: "none", grad: null });
  });
});
