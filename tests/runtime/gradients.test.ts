/**
 * @fileoverview Whole-model gradient check. Each model is compiled once (plain and relaxed
 * SIMD) and driven through the runtime: `predict` must match a float64 reference forward
 * pass, and the gradients one `trainStep` leaves in the `<param>.grad` regions must match
 * central finite differences of the f64 reference loss (and its backpropagated gradient).
 * SGD with lr 1 and no momentum makes the update w_before - w_after equal the gradient,
 * which checks the optimizer wiring too. Sizes are deliberately not multiples of 4 or 8,
 * and batches of 1, 3 and 17 rows run through the same module.
 */
import v8 from "node:v8";
v8.setFlagsFromString("--experimental-wasm-relaxed-simd");

import { beforeAll, describe, expect, it } from "vitest";
import { compile, type CompileSuccess } from "../../compiler/compile.js";
import type { Dataset } from "../../runtime/data/dataset.js";
import { loadModel, type Model } from "../../runtime/model.js";
import { Reference, rng, worstMismatch, type Params } from "./reference.js";

const MAX_BATCH = 17;

// 'a' (tanh, L1-penalised) feeds two consumers: 'b' toward the logits and 'c' (ReLU,
// reaching the loss only through its own penalty). 'dead' feeds nothing the loss reads.
const BRANCHY = `
model GradBranchy {
  input  x: f32[7]
  target y: class[3]
  layer a    = dense(x, 5) tanh
  layer b    = dense(a, 4) sigmoid
  layer c    = dense(a, 6) relu
  layer dead = dense(b, 2) relu
  layer out  = dense(b, 3)
  loss = softmax_cross_entropy(out, y) + 0.05 * l1(a) + 0.03 * l1(c)
}
train { optimizer = sgd(lr: 1, momentum: 0) batch = 17 }`;

// Wider, so the GEMM kernels take their blocked paths and remainders.
const WIDE = `
model GradWide {
  input  x: f32[33]
  target y: class[10]
  layer h   = dense(x, 21) relu
  layer g   = dense(h, 13) tanh
  layer out = dense(g, 10) sigmoid
  loss = softmax_cross_entropy(out, y) + 0.002 * l1(g)
}
train { optimizer = sgd(lr: 1, momentum: 0) batch = 17 }`;

// Edge cases of the backward pass: a penalised layer that reads the input and feeds
// nothing ('p'), logits with an activation and their own penalty, and a layer that consumes
// the logits ('z'), so the output delta gets a second contribution on top of softmax's.
const EDGES = `
model GradEdges {
  input  x: f32[5]
  target y: class[3]
  layer p   = dense(x, 3) tanh
  layer h   = dense(x, 6) relu
  layer out = dense(h, 3) tanh
  layer z   = dense(out, 2) sigmoid
  loss = softmax_cross_entropy(out, y) + 0.1 * l1(p) + 0.2 * l1(z) + 0.05 * l1(out)
}
train { optimizer = sgd(lr: 1) batch = 17 }`;

const MODELS = { branchy: BRANCHY, wide: WIDE, edges: EDGES } as const;
const built = new Map<string, CompileSuccess>();

beforeAll(async () => {
  for (const [name, text] of Object.entries(MODELS)) {
    const result = await compile(text, { file: `${name}.cond`, maxBatch: MAX_BATCH, simd: "both" });
    if (!result.ok) throw new Error(`${name} does not compile: ${result.diagnostics.map((d) => d.message).join("; ")}`);
    built.set(name, result);
  }
});

async function instantiate(name: string, simd: "plain" | "relaxed"): Promise<Model> {
  const result = built.get(name)!;
  const wasm = simd === "plain" ? result.wasm : result.relaxedWasm!;
  expect(WebAssembly.validate(wasm as BufferSource), `${simd} build validates`).toBe(true);
  return loadModel(wasm, result.manifest);
}

/** Initialises from a seed, then gives every bias small random values (zeros hide bugs). */
function prepare(model: Model, seed: number): Params {
  model.init(seed);
  const random = rng(seed + 1000);
  for (const p of model.manifest.params) {
    if (p.name.endsWith(".bias")) model.setParameter(p.name, Float32Array.from({ length: p.shape[0]! }, () => (random() - 0.5) * 0.4));
  }
  return new Map(model.manifest.params.map((p) => [p.name, Float64Array.from(model.parameter(p.name))]));
}

function batch(width: number, classes: number, n: number, seed: number): { x: Float32Array; labels: Int32Array } {
  const random = rng(seed);
  const x = Float32Array.from({ length: n * width }, () => random() * 2 - 1);
  const labels = Int32Array.from({ length: n }, () => Math.floor(random() * classes));
  return { x, labels };
}

function maxAbs(grads: Params): number {
  let m = 0;
  for (const g of grads.values()) for (const v of g) m = Math.max(m, Math.abs(v));
  return m;
}

const cases = [
  ...(["branchy", "wide"] as const).flatMap((name) =>
    (["plain", "relaxed"] as const).flatMap((simd) => [1, 3, 17].map((n) => ({ name, simd, n }))),
  ),
  ...(["plain", "relaxed"] as const).map((simd) => ({ name: "edges" as const, simd, n: 9 })),
];

describe("whole-model gradients against a float64 reference", () => {
  it.each(cases)("$name, $simd SIMD, batch $n", async ({ name, simd, n }) => {
    const model = await instantiate(name, simd);
    const ref = new Reference(built.get(name)!.ir);
    const seed = 7 + n;
    const params = prepare(model, seed);
    const { x, labels } = batch(ref.width, ref.classes, n, seed + 1);
    const x64 = Float64Array.from(x);

    // Forward: probabilities to 1e-5 relative.
    const probs = model.predict(x, n);
    const refProbs = ref.probs(params, x64, n);
    const fwd = worstMismatch(probs, refProbs, 1e-5, 1e-7);
    expect(fwd.ratio, `predict ${JSON.stringify(fwd)}`).toBeLessThanOrEqual(1);

    // The f64 reference's own backprop agrees with its finite differences.
    const analytic = ref.gradients(params, x64, labels, n);
    const fd = ref.finiteDifferences(params, x64, labels, n, 1e-5);
    const scale = maxAbs(fd);
    expect(scale).toBeGreaterThan(1e-3);
    for (const [pname, g] of analytic) {
      const m = worstMismatch(g, fd.get(pname)!, 1e-5, 1e-8 * scale);
      expect(m.ratio, `reference ${pname} ${JSON.stringify(m)}`).toBeLessThanOrEqual(1);
    }

    // One training step: the loss, the gradient regions and the SGD update.
    const { loss } = model.trainStep(x, labels, n);
    const refLoss = ref.loss(params, x64, labels, n);
    expect(Math.abs(loss - refLoss) / refLoss, `loss ${loss} vs ${refLoss}`).toBeLessThan(1e-5);
    expect(model.step).toBe(1);
    for (const p of model.manifest.params) {
      const grad = model.regionView(`${p.name}.grad`).slice();
      const m = worstMismatch(grad, fd.get(p.name)!, 1e-3, 1e-5 * scale);
      expect(m.ratio, `${p.name}.grad vs finite differences ${JSON.stringify(m)}`).toBeLessThanOrEqual(1);
      const after = model.parameter(p.name);
      const update = Float64Array.from(params.get(p.name)!, (w, i) => w - after[i]!);
      const u = worstMismatch(update, grad, 1e-3, 1e-6);
      expect(u.ratio, `${p.name}: w_before - w_after vs grad ${JSON.stringify(u)}`).toBeLessThanOrEqual(1);
    }
    if (name === "branchy") {
      // The dead layer is never computed: no gradient, no change.
      expect(Array.from(model.regionView("dead.weight.grad")).every((v) => v === 0)).toBe(true);
      expect(Array.from(model.parameter("dead.weight"))).toEqual(Array.from(params.get("dead.weight")!, Math.fround));
    }
  });

  it("plain and relaxed builds agree to f32 rounding, and each is deterministic", async () => {
    const outs: Float32Array[] = [];
    for (const simd of ["plain", "relaxed", "plain"] as const) {
      const model = await instantiate("wide", simd);
      prepare(model, 3);
      const { x, labels } = batch(33, 10, 17, 4);
      model.trainStep(x, labels, 17);
      outs.push(model.regionView("h.weight.grad").slice());
    }
    expect(outs[2]).toEqual(outs[0]);
    const m = worstMismatch(outs[1]!, outs[0]!, 1e-4, 1e-6 * Math.max(...outs[0]!.map(Math.abs)));
    expect(m.ratio, JSON.stringify(m)).toBeLessThanOrEqual(1);
  });

  it("trainStepOn gathers rows by index exactly like trainStep on the gathered batch", async () => {
    const model = await instantiate("branchy", "plain");
    const count = 40;
    const { x, labels } = batch(7, 3, count, 99);
    const dataset: Dataset = { name: "synthetic", count, width: 7, classes: 3, images: x, labels: Uint8Array.from(labels) };
    const order = Array.from({ length: count }, (_, i) => (i * 17 + 5) % count);
    const start = 9;
    const n = 17;

    prepare(model, 11);
    const viaIndices = model.trainStepOn(dataset, order, start, n);
    const gradsA = model.manifest.params.map((p) => model.regionView(`${p.name}.grad`).slice());

    prepare(model, 11);
    const gx = new Float32Array(n * 7);
    const gy = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      gx.set(x.subarray(order[start + i]! * 7, (order[start + i]! + 1) * 7), i * 7);
      gy[i] = labels[order[start + i]!]!;
    }
    const direct = model.trainStep(gx, gy, n);
    const gradsB = model.manifest.params.map((p) => model.regionView(`${p.name}.grad`).slice());
    expect(viaIndices.loss).toBe(direct.loss);
    expect(gradsA).toEqual(gradsB);
    expect(viaIndices.correct).toBeGreaterThanOrEqual(0);
    expect(viaIndices.correct).toBeLessThanOrEqual(n);
  });
});
