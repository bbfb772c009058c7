/**
 * @fileoverview moe layers through compiled models: the forward pass against the float64
 * reference (evaluation, and training with the gating noise keyed by seed, step and layer);
 * E = 1, k = 1 equal to the dense layer and the dense FFN bit for bit, trained; dropless equal
 * to a capacity that drops nothing; a small capacity drops, counts and passes zeros; the same
 * seed gives the same checkpoint (noisy gating included); the training loss includes the
 * balance loss; the counters behind `report`.
 */
import { describe, expect, it } from "vitest";
import { collectFigures, resetCounters } from "../../runtime/report.js";
import type { Model } from "../../runtime/model.js";
import { moeForward, type Balance, type MoeShape } from "./reference.js";
import { batch, compileModel, i32Region, instantiate, randomizeParameters, sameBits, setStep, type Simd } from "./model-helpers.js";

const SIMDS: Simd[] = ["plain", "relaxed"];

function oneMoe(moe: string, act = "tanh", width = 9, units = 5, batchSize = 16): string {
  return `
model MoeOne {
  input  x: f32[${width}]
  target y: class[4]
  layer h   = moe(x, ${units}, ${moe}) ${act}
  layer out = dense(h, 4)
  loss = softmax_cross_entropy(out, y)
}
train { optimizer = sgd(lr: 0.05, momentum: 0.9) batch = ${batchSize} }`;
}

function f64(model: Model, name: string): Float64Array {
  return Float64Array.from(model.parameter(name));
}

/** The reference's view of layer `h` of a model (index 0, reading the input). */
function referenceOf(model: Model, shape: Partial<MoeShape> & Pick<MoeShape, "experts" | "topK">, inputs: number, units: number) {
  const hidden = shape.hidden ?? 0;
  const s: MoeShape = { inputs, units, hidden, act: "tanh", noisy: false, balance: { kind: "none" }, capacity: -1, zLoss: 0, centred: false, seed: 0, step: 0, layer: 0, ...shape };
  const has = (suffix: string) => model.manifest.params.some((p) => p.name === `h.${suffix}`);
  const p = {
    wg: f64(model, "h.router_weight"),
    wn: has("router_noise_weight") ? f64(model, "h.router_noise_weight") : null,
    w1: f64(model, hidden > 0 ? "h.expert_w1" : "h.expert_weight"),
    b1: f64(model, hidden > 0 ? "h.expert_b1" : "h.expert_bias"),
    w2: hidden > 0 ? f64(model, "h.expert_w2") : null,
    b2: hidden > 0 ? f64(model, "h.expert_b2") : null,
  };
  return { s, p };
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, tol = 2e-5): void {
  expect(actual.length, what).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    expect(Math.abs(actual[i]! - expected[i]!), `${what}[${i}]: ${actual[i]} vs ${expected[i]}`).toBeLessThanOrEqual(tol * (1 + Math.abs(expected[i]!)));
  }
}

describe.each(SIMDS)("moe forward against the float64 reference, %s SIMD", (simd) => {
  const cases: { name: string; moe: string; shape: Partial<MoeShape> & Pick<MoeShape, "experts" | "topK">; balance: Balance }[] = [
    { name: "one-layer, top-2", moe: "experts: 6, top_k: 2, balance: switch(0.3)", shape: { experts: 6, topK: 2 }, balance: { kind: "switch", alpha: 0.3 } },
    { name: "FFN, top-1", moe: "experts: 4, top_k: 1, hidden: 7, balance: cv(0.2, 0)", shape: { experts: 4, topK: 1, hidden: 7 }, balance: { kind: "cv", importance: 0.2, load: 0 } },
    { name: "noisy, top-3 of 5", moe: "experts: 5, top_k: 3, gating: noisy, balance: cv(0.5, 0.5)", shape: { experts: 5, topK: 3 }, balance: { kind: "cv", importance: 0.5, load: 0.5 } },
  ];
  it.each(cases)("$name: evaluation, then a training step with its noise", async ({ moe, shape, balance }) => {
    const n = 16;
    const model = await instantiate(await compileModel(oneMoe(moe), n), simd);
    model.init(9);
    randomizeParameters(model, 2, 0.8);
    const { x, labels } = batch(9, 4, n, 31);
    const { s, p } = referenceOf(model, { ...shape, balance }, 9, 5);

    resetCounters(model, "eval");
    model.predict(x, n);
    const ref = moeForward(s, p, x, n);
    expectClose(model.regionView("h.output").slice(0, n * 5), ref.h, "h");
    expect(Array.from(i32Region(model, "h.moe_top").slice(0, n * s.topK))).toEqual(Array.from(ref.topIdx));
    const evalFigures = collectFigures(model, "eval").layers.get("h")!;
    expect(evalFigures.metrics["balance_loss"] as number).toBeCloseTo(ref.balance, 5);
    expect(evalFigures.metrics["router_entropy"] as number).toBeCloseTo(ref.entropy, 5);

    // A training step at step 3: the noise of (seed 9, step 3, layer 0) when gating is noisy.
    const noisy = moe.includes("noisy");
    setStep(model, 3);
    resetCounters(model, "train");
    const { loss } = model.trainStep(x, labels, n, { lr: 0 });
    const train = moeForward({ ...s, noisy, seed: 9, step: 3, layer: 0 }, p, x, n);
    expectClose(model.regionView("h.output").slice(0, n * 5), train.h, "h (training)");
    if (noisy) expect(Array.from(i32Region(model, "h.moe_top").slice(0, n * s.topK))).not.toEqual(Array.from(ref.topIdx));
    // The loss trainStep returns is the cross-entropy plus the balance loss.
    const probs = model.regionView("probs").slice(0, n * 4);
    let ce = 0;
    for (let e = 0; e < n; e++) ce -= Math.log(probs[e * 4 + labels[e]!]!) / n;
    const trainBalance = collectFigures(model, "train").layers.get("h")!.metrics["balance_loss"] as number;
    expect(trainBalance).toBeCloseTo(train.balance, 5);
    expect(trainBalance).toBeGreaterThan(1e-3);
    expect(Math.abs(loss - (ce + train.balance))).toBeLessThan(2e-6 * (1 + loss));
  });
});

/** Trains both models on the same batches; returns the losses. */
function trainBoth(a: Model, b: Model, width: number, steps: number, n: number): void {
  for (let t = 0; t < steps; t++) {
    const { x, labels } = batch(width, 4, n, 100 + t);
    const la = a.trainStep(x, labels, n).loss;
    const lb = b.trainStep(x, labels, n).loss;
    expect(Object.is(la, lb), `step ${t}: loss ${la} vs ${lb}`).toBe(true);
  }
}

describe.each(SIMDS)("E = 1, k = 1 is the dense layer bit for bit, %s SIMD", (simd) => {
  const chain = (layer: string) => `
model Chain {
  input  x: f32[11]
  target y: class[4]
  layer a   = dense(x, 9) tanh
  ${layer}
  layer out = dense(h, 4)
  loss = softmax_cross_entropy(out, y)
}
train { optimizer = sgd(lr: 0.05, momentum: 0.9) batch = 17 }`;

  it.each(["relu", "tanh", "sigmoid", "linear"])("one-layer expert, %s: same init, same training", async (act) => {
    const moe = await instantiate(await compileModel(chain(`layer h = moe(a, 6, experts: 1, top_k: 1) ${act}`), 17), simd);
    const dense = await instantiate(await compileModel(chain(`layer h = dense(a, 6) ${act}`), 17), simd);
    moe.init(4);
    dense.init(4);
    expect(sameBits(moe.parameter("h.expert_weight"), dense.parameter("h.weight")), "Glorot init of the expert = the dense layer's").toBe(true);
    trainBoth(moe, dense, 11, 6, 17);
    const pairs = [["a.weight", "a.weight"], ["a.bias", "a.bias"], ["h.expert_weight", "h.weight"], ["h.expert_bias", "h.bias"], ["out.weight", "out.weight"], ["out.bias", "out.bias"]];
    for (const [m, d] of pairs) expect(sameBits(moe.parameter(m!), dense.parameter(d!)), `${m} vs ${d}`).toBe(true);
    const { x } = batch(11, 4, 13, 7);
    expect(sameBits(moe.predict(x, 13), dense.predict(x, 13))).toBe(true);
  });

  it("FFN expert: the dense FFN (ACT hidden layer, linear output), same weights", async () => {
    const moe = await instantiate(await compileModel(chain("layer h = moe(a, 6, experts: 1, top_k: 1, hidden: 7) relu"), 17), simd);
    const dense = await instantiate(await compileModel(chain("layer f = dense(a, 7) relu\n  layer h = dense(f, 6)"), 17), simd);
    moe.init(4);
    dense.init(5);
    for (const name of ["a.weight", "a.bias", "out.weight", "out.bias"]) dense.setParameter(name, moe.parameter(name));
    randomizeParameters(moe, 3, 0.4);
    for (const [m, d] of [["h.expert_w1", "f.weight"], ["h.expert_b1", "f.bias"], ["h.expert_w2", "h.weight"], ["h.expert_b2", "h.bias"], ["a.weight", "a.weight"], ["a.bias", "a.bias"], ["out.weight", "out.weight"], ["out.bias", "out.bias"]]) {
      dense.setParameter(d!, moe.parameter(m!));
    }
    trainBoth(moe, dense, 11, 6, 17);
    for (const [m, d] of [["h.expert_w1", "f.weight"], ["h.expert_b2", "h.bias"], ["h.expert_w2", "h.weight"], ["a.weight", "a.weight"]]) {
      expect(sameBits(moe.parameter(m!), dense.parameter(d!)), `${m} vs ${d}`).toBe(true);
    }
  });
});

describe.each(SIMDS)("capacity, %s SIMD", (simd) => {
  it("a capacity that drops nothing trains bit for bit like dropless", async () => {
    const a = await instantiate(await compileModel(oneMoe("experts: 4, top_k: 2", "relu"), 16), simd);
    const b = await instantiate(await compileModel(oneMoe("experts: 4, top_k: 2, capacity: 2", "relu"), 16), simd);
    a.init(1);
    b.init(1);
    trainBoth(a, b, 9, 8, 16);
    for (const p of a.manifest.params) expect(sameBits(a.parameter(p.name), b.parameter(p.name)), p.name).toBe(true);
    expect(collectFigures(b, "train").layers.get("h")!.metrics["dropped_fraction"]).toBe(0);
  });

  it("a small capacity drops the overflow, counts it, and dropped examples pass zeros", async () => {
    const n = 16;
    const model = await instantiate(await compileModel(oneMoe("experts: 4, top_k: 1, capacity: 0.5, balance: none", "relu"), n), simd);
    model.init(2);
    randomizeParameters(model, 8, 0.9);
    const { x } = batch(9, 4, n, 5);
    resetCounters(model, "eval");
    model.predict(x, n);
    // C = ceil(0.5 * 1 * 16 / 4) = 2 rows per expert
    const { s, p } = referenceOf(model, { experts: 4, topK: 1, capacity: 2 }, 9, 5);
    s.act = "relu";
    const ref = moeForward(s, p, x, n);
    expect(ref.dropped).toBeGreaterThan(0);
    const h = model.regionView("h.output").slice(0, n * 5);
    expectClose(h, ref.h, "h");
    ref.kept.forEach((kept, e) => {
      if (!kept) expect(Array.from(h.subarray(e * 5, e * 5 + 5)).every((v) => v === 0), `example ${e} was dropped`).toBe(true);
    });
    const figures = collectFigures(model, "eval").layers.get("h")!;
    expect(figures.metrics["dropped_fraction"]).toBe(ref.dropped / n);
    expect(figures.activeFraction).toBe((n - ref.dropped) / (n * 4));
    // MACs as counted: the router, the kept rows' experts and combine.
    expect(figures.macsPerExample).toBe(4 * 9 + ((n - ref.dropped) * (5 * 9 + 5)) / n);
    expect(figures.macsCounted).toBe(true);
  });
});

describe.each(SIMDS)("determinism and counters, %s SIMD", (simd) => {
  it("same seed, same checkpoint bytes (noisy gating, capacity, FFN); another seed differs", async () => {
    const built = await compileModel(oneMoe("experts: 5, top_k: 2, hidden: 6, gating: noisy, capacity: 1.25, balance: cv(0.1, 0.1)", "relu"), 16);
    const run = async (seed: number) => {
      const model = await instantiate(built, simd);
      model.init(seed);
      for (let t = 0; t < 6; t++) {
        const { x, labels } = batch(9, 4, 16, 50 + t);
        model.trainStep(x, labels, 16);
      }
      return model.save();
    };
    const [a, b, c] = [await run(3), await run(3), await run(4)];
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    expect(Buffer.from(a).equals(Buffer.from(c))).toBe(false);
  });

  it("report: loads sum to k, active fraction k / E, counted MACs = the cost model when dropless; reset zeroes", async () => {
    const n = 16;
    const model = await instantiate(await compileModel(oneMoe("experts: 8, top_k: 2", "relu"), n), simd);
    model.init(6);
    resetCounters(model, "eval");
    const before = collectFigures(model, "eval").layers.get("h")!;
    expect([before.macsCounted, before.activeFraction]).toEqual([false, null]);
    for (let t = 0; t < 3; t++) model.predict(batch(9, 4, n, t).x, n - t);
    const f = collectFigures(model, "eval").layers.get("h")!;
    const load = f.metrics["expert_load"] as number[];
    expect(load).toHaveLength(8);
    expect(load.reduce((a, b) => a + b, 0)).toBeCloseTo(2, 12);
    expect(f.activeFraction).toBe(2 / 8);
    expect(f.macsPerExample).toBe(model.manifest.layers.find((l) => l.name === "h")!.macs);
    expect(f.metrics["router_entropy"] as number).toBeGreaterThan(0);
    expect(f.metrics["router_entropy"] as number).toBeLessThanOrEqual(Math.log(8) + 1e-12);
    expect(collectFigures(model, "train").layers.get("h")!.activeFraction).toBeNull();
    resetCounters(model, "eval");
    expect(collectFigures(model, "eval").layers.get("h")!.macsCounted).toBe(false);
  });
});
