/**
 * @fileoverview Every gradient of a compiled model with a moe layer (experts, router, noise
 * weights, the balance loss, the source layer through dX) against central differences of the
 * model's own training loss: a `trainStep` at lr 0 leaves the gradients in the `.grad` regions
 * and returns the loss (cross-entropy + balance loss); each perturbed loss comes from such a
 * step at the same step counter (same gating noise). The loss is f32, so the differences use
 * Richardson extrapolation of two step sizes (error O(h^4)) with steps large enough for f32
 * rounding; a sample whose perturbation changes the routing (or the capacity's drops) is
 * skipped, and most must remain.
 */
import { describe, expect, it } from "vitest";
import type { Model } from "../../runtime/model.js";
import { batch, compileModel, i32Region, instantiate, randomizeParameters, setStep, type Simd } from "./model-helpers.js";

const N = 12;

function source(moe: string): string {
  return `
model MoeGrad {
  input  x: f32[9]
  target y: class[4]
  layer a   = dense(x, 6) tanh
  layer h   = moe(a, 5, ${moe}) tanh
  layer out = dense(h, 4)
  loss = softmax_cross_entropy(out, y)
}
train { optimizer = sgd(lr: 0.1) batch = ${N} }`;
}

const CASES = [
  { name: "one-layer experts, top-2, Switch", moe: "experts: 4, top_k: 2, balance: switch(1)" },
  { name: "FFN experts, top-1 (Switch gate), Switch", moe: "experts: 4, top_k: 1, hidden: 3, balance: switch(0.5)" },
  { name: "noisy gating, CV with the smooth load", moe: "experts: 5, top_k: 2, gating: noisy, balance: cv(0.5, 0.5)" },
  { name: "FFN, noisy, top-1, CV", moe: "experts: 3, top_k: 1, hidden: 4, gating: noisy, balance: cv(1, 1)" },
  { name: "capacity that drops pairs", moe: "experts: 4, top_k: 2, capacity: 0.5, balance: switch(1)" },
  { name: "k = E", moe: "experts: 3, top_k: 3, balance: cv(1, 0)" },
  { name: "router z-loss, top-2, Switch", moe: "experts: 4, top_k: 2, balance: switch(0.5), z_loss: 0.5" },
  { name: "centred router, top-1 (Switch gate), Switch", moe: "experts: 4, top_k: 1, balance: switch(0.5), router: centred" },
  { name: "centred router, FFN, noisy, CV, z-loss", moe: "experts: 5, top_k: 2, hidden: 3, gating: noisy, balance: cv(0.5, 0.5), router: centred, z_loss: 0.2" },
];

/** The routing state a perturbation must not change. */
function routing(model: Model): string {
  return `${i32Region(model, "h.moe_top").join(",")}|${i32Region(model, "h.moe_pair_row").join(",")}`;
}

describe.each(["plain", "relaxed"] as Simd[])("moe model gradients, %s SIMD", (simd) => {
  it.each(CASES)("$name", async ({ moe }) => {
    const built = await compileModel(source(moe), N);
    const model = await instantiate(built, simd);
    model.init(3);
    randomizeParameters(model, 5, 0.7);
    const { x, labels } = batch(9, 4, N, 11);
    const step = 4;
    const lossAt = (): number => {
      setStep(model, step);
      return model.trainStep(x, labels, N, { lr: 0 }).loss;
    };
    lossAt();
    const reference = routing(model);
    if (moe.includes("capacity")) expect(i32Region(model, "h.moe_pair_row").some((r) => r < 0), "the capacity drops pairs").toBe(true);
    // The router's running centre (router: centred) has no gradient: training reads the batch mean.
    const trained = model.manifest.params.filter((p) => p.grad !== null);
    const grads = new Map(trained.map((p) => [p.name, model.regionView(p.grad!).slice()]));

    let checked = 0;
    let skipped = 0;
    for (const p of trained) {
      const values = model.parameter(p.name);
      const grad = grads.get(p.name)!;
      const scale = Math.max(1e-3, ...Array.from(grad, Math.abs));
      const picks = Array.from({ length: Math.min(values.length, 12) }, (_, i) => Math.floor((i * values.length) / Math.min(values.length, 12)));
      for (const i of picks) {
        const at = (delta: number): number | null => {
          const moved = values.slice();
          moved[i] = values[i]! + delta;
          model.setParameter(p.name, moved);
          const loss = lossAt();
          const same = routing(model) === reference;
          model.setParameter(p.name, values);
          return same ? loss : null;
        };
        const h = 2e-2;
        const l = [at(h), at(-h), at(h / 2), at(-h / 2)];
        if (l.some((v) => v === null)) {
          skipped++;
          continue;
        }
        const [a, b, c, d] = l as number[];
        const coarse = (a - b) / (2 * h);
        const fine = (c - d) / h;
        const fd = (4 * fine - coarse) / 3;
        expect(Math.abs(fd - grad[i]!), `${p.name}[${i}]: gradient ${grad[i]} vs central differences ${fd}`).toBeLessThanOrEqual(2e-4 + 2e-2 * Math.abs(grad[i]!) + 1e-3 * scale);
        checked++;
      }
    }
    if (process.env.MOE_DEBUG) console.log(moe, simd, "checked", checked, "skipped", skipped);
    expect(skipped, `${skipped} of ${checked + skipped} samples changed the routing`).toBeLessThanOrEqual((checked + skipped) / 4);
    // The router learns through the gates and the balance loss: its gradient is not zero.
    expect(Math.max(...Array.from(grads.get("h.router_weight")!, Math.abs))).toBeGreaterThan(1e-4);
  }, 60_000);
});
