/**
 * @fileoverview Determinism and checkpoints through the runtime: the same seed gives
 * bit-identical weights after training in separate instances, `init` resets everything
 * (optimizer state and step too), save -> load -> predict is exact, loading another
 * architecture's checkpoint names every mismatch, and divergence raises NonFiniteError
 * naming the step and a layer.
 */
import v8 from "node:v8";
v8.setFlagsFromString("--experimental-wasm-relaxed-simd");

import { beforeAll, describe, expect, it } from "vitest";
import { compile, type CompileSuccess } from "../../compiler/compile.js";
import { CheckpointError } from "../../runtime/checkpoint/errors.js";
import { decodeSafetensors } from "../../runtime/checkpoint/safetensors.js";
import type { Dataset } from "../../runtime/data/dataset.js";
import { loadModel, NonFiniteError, type Model } from "../../runtime/model.js";
import { trainModel } from "../../runtime/train.js";
import { rng } from "./reference.js";

const MAIN = `
model Det {
  input  x: f32[20]
  target y: class[4]
  layer h   = dense(x, 16) relu
  layer g   = dense(h, 9) tanh
  layer out = dense(g, 4)
  loss = softmax_cross_entropy(out, y) + 1e-3 * l1(h)
}
train { optimizer = adam(lr: 0.01) batch = 10 }`;

// Same names, other shapes, one layer more and one less: every kind of mismatch.
const OTHER = `
model Other {
  input  x: f32[20]
  target y: class[4]
  layer h   = dense(x, 15) relu
  layer k   = dense(h, 9) tanh
  layer out = dense(k, 4)
  loss = softmax_cross_entropy(out, y)
}`;

let main: CompileSuccess;
let other: CompileSuccess;

beforeAll(async () => {
  const [a, b] = await Promise.all([
    compile(MAIN, { file: "det.cond", maxBatch: 10, simd: "plain" }),
    compile(OTHER, { file: "other.cond", maxBatch: 10, simd: "plain" }),
  ]);
  if (!a.ok || !b.ok) throw new Error("test models do not compile");
  main = a;
  other = b;
});

const fresh = (): Promise<Model> => loadModel(main.wasm, main.manifest);

const COUNT = 60;
const data = (() => {
  const random = rng(42);
  const x = Float32Array.from({ length: COUNT * 20 }, () => random());
  const labels = Int32Array.from({ length: COUNT }, () => Math.floor(random() * 4));
  return { x, labels };
})();

function train(model: Model, steps: number, lr?: number): number[] {
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) {
    const start = (s * 10) % COUNT;
    losses.push(model.trainStep(data.x.subarray(start * 20), data.labels.subarray(start), 10, { lr }).loss);
  }
  return losses;
}

describe("determinism", () => {
  it("same seed, separate instances: bit-identical checkpoints and losses after training", async () => {
    const [a, b] = [await fresh(), await fresh()];
    a.init(1234);
    b.init(1234);
    expect(a.save()).toEqual(b.save());
    const la = train(a, 12);
    const lb = train(b, 12);
    expect(la).toEqual(lb);
    expect(la[la.length - 1]).toBeLessThan(la[0]!);
    const bytes = a.save();
    expect(bytes).toEqual(b.save());
    expect(decodeSafetensors(bytes, "x").metadata).toMatchObject({ model: "Det", step: "12", source_sha256: main.manifest.sourceHash });
  });

  it("different seeds give different weights", async () => {
    const [a, b] = [await fresh(), await fresh()];
    a.init(1);
    b.init(2);
    expect(a.save()).not.toEqual(b.save());
    expect(a.parameter("h.weight")).not.toEqual(b.parameter("h.weight"));
    // Biases start at zero whatever the seed.
    expect(Array.from(a.parameter("h.bias"))).toEqual(new Array(16).fill(0));
  });

  it("init resets parameters, optimizer state and the step: retraining repeats exactly", async () => {
    const model = await fresh();
    model.init(77);
    const initial = model.save();
    train(model, 7);
    const first = model.save();
    expect(model.step).toBe(7);
    model.init(77);
    expect(model.step).toBe(0);
    expect(model.save()).toEqual(initial);
    train(model, 7);
    expect(model.save()).toEqual(first);
  });

  it("save -> load into a fresh instance -> identical predictions, step restored", async () => {
    const a = await fresh();
    a.init(5);
    train(a, 9);
    const bytes = a.save();
    const b = await fresh();
    b.init(999);
    b.load(bytes, "a.safetensors");
    expect(b.step).toBe(9);
    const probsA = a.predict(data.x, COUNT);
    const probsB = b.predict(data.x, COUNT);
    expect(probsB).toEqual(probsA);
    expect(b.save()).toEqual(bytes);
    // Training goes on identically from the loaded weights only in the parameters; the
    // optimizer state is not in the checkpoint, so just check it stays finite and runs.
    expect(Number.isFinite(train(b, 1)[0]!)).toBe(true);
  });

  it("predict handles more rows than the max batch, in chunks, like row-by-row calls", async () => {
    const model = await fresh();
    model.init(3);
    const all = model.predict(data.x, 23);
    expect(model.predict(data.x, 23)).toEqual(all);
    // A batch of one takes another GEMM path (different summation order): equal to rounding.
    for (const row of [0, 9, 10, 22]) {
      const one = model.predict(data.x.subarray(row * 20, (row + 1) * 20), 1);
      const chunk = all.subarray(row * 4, (row + 1) * 4);
      for (let c = 0; c < 4; c++) expect(Math.abs(one[c]! - chunk[c]!)).toBeLessThanOrEqual(1e-6 * chunk[c]!);
    }
    // Rows 10..19 were the second chunk of 10: predicting them as one batch is exact.
    expect(model.predict(data.x.subarray(200, 400), 10)).toEqual(all.subarray(40, 80));
    for (let r = 0; r < 23; r++) {
      const sum = all.subarray(r * 4, (r + 1) * 4).reduce((s, v) => s + v, 0);
      expect(Math.abs(sum - 1)).toBeLessThan(1e-5);
    }
  });

  it("loading another architecture's checkpoint throws listing every mismatch", async () => {
    const donor = await loadModel(other.wasm, other.manifest);
    donor.init(0);
    const model = await fresh();
    model.init(0);
    const before = model.save();
    let error: unknown;
    try {
      model.load(donor.save(), "other.safetensors");
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CheckpointError);
    // Expected tensors in model order first, then the checkpoint's extras (header order).
    expect((error as Error).message).toBe(
      [
        "other.safetensors: does not match the model (6 mismatches):",
        "  h.weight: expected [16, 20], found [15, 20]",
        "  h.bias: expected [16], found [15]",
        "  missing tensor g.weight [9, 16]",
        "  missing tensor g.bias [9]",
        "  unexpected tensor k.bias [9]",
        "  unexpected tensor k.weight [9, 15]",
      ].join("\n"),
    );
    // A failed load leaves the model untouched.
    expect(model.save()).toEqual(before);
  });

  it("a checkpoint that is not safetensors at all is a CheckpointError naming the file", async () => {
    const model = await fresh();
    model.init(0);
    expect(() => model.load(new Uint8Array([1, 2, 3]), "junk.bin")).toThrow(CheckpointError);
    expect(() => model.load(new Uint8Array([1, 2, 3]), "junk.bin")).toThrow(/^junk\.bin: /);
  });
});

describe("argument checks", () => {
  it("trainStep and trainStepOn refuse more rows than the max batch (no silent overrun)", async () => {
    const model = await fresh();
    model.init(0);
    const before = model.save();
    const ds: Dataset = { name: "synthetic", count: COUNT, width: 20, classes: 4, images: data.x, labels: Uint8Array.from(data.labels) };
    const order = Array.from({ length: COUNT }, (_, i) => i);
    expect(() => model.trainStep(data.x, data.labels, 11)).toThrow("trainStep: n must be an integer in [1, 10], got 11");
    expect(() => model.trainStepOn(ds, order, 0, 11)).toThrow("trainStepOn: n must be an integer in [1, 10], got 11");
    expect(model.step).toBe(0);
    expect(model.save()).toEqual(before);
    // Labels outside the classes are refused before anything runs.
    expect(() => model.trainStep(data.x, Int32Array.from([0, 1, 4]), 3)).toThrow("label 4 of example 2 is not a class in [0, 4)");
    expect(() => model.trainStep(data.x, data.labels, 3.5)).toThrow("trainStep: n must be an integer in [1, 10], got 3.5");
    expect(model.step).toBe(0);
  });
});

describe("divergence", () => {
  it("an absurd learning rate throws NonFiniteError naming the step and a layer; the failed step changes nothing", async () => {
    const model = await fresh();
    model.init(0);
    let error: unknown;
    let before = model.save();
    try {
      for (let s = 0; s < 20; s++) {
        before = model.save();
        train(model, 1, 1e30);
      }
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(NonFiniteError);
    const e = error as NonFiniteError;
    expect(e.name).toBe("NonFiniteError");
    expect(["h", "g", "out"]).toContain(e.layer);
    expect(e.step).toBeGreaterThanOrEqual(1);
    // The failed step is not taken: the step counter and every parameter are as before it.
    expect(model.step).toBe(e.step - 1);
    expect(model.save()).toEqual(before);
    expect(e.message).toBe(
      `training diverged at step ${e.step}: ${Number.isNaN(e.loss) ? "NaN" : "Inf"} loss; first non-finite values in layer '${e.layer}'; the parameters are those before the step`,
    );
    // Step 1 moves every weight by ~1e30; step 2's forward overflows in 'g' (h is still finite).
    expect(e.step).toBe(2);
    expect(e.layer).toBe("g");
  });

  it("trainModel surfaces the same error", async () => {
    const model = await fresh();
    model.init(0);
    const ds: Dataset = { name: "synthetic", count: COUNT, width: 20, classes: 4, images: data.x, labels: Uint8Array.from(data.labels) };
    expect(() => trainModel(model, ds, ds, { epochs: 1, batch: 10, seed: 0, lr: 1e30, schedule: { kind: "constant" } })).toThrow(NonFiniteError);
    expect(() => trainModel(model, ds, ds, { epochs: 1, batch: 11, seed: 0, lr: 0.1, schedule: { kind: "constant" } })).toThrow(
      "train: batch 11 exceeds the model's max batch 10; rebuild with --max-batch 11",
    );
  });
});
