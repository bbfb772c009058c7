/**
 * @fileoverview The shipped examples check clean and yield the expected checked models;
 * defaults are filled in; the committed CST types match the grammar.
 */
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { checkSource } from "../../compiler/frontend/frontend.js";
import { defaultTrainConfig } from "../../compiler/frontend/language-spec.js";
import { cstTypesText } from "../../grammar/generate-cst-types.js";

const EXAMPLES = [
  ...readdirSync("examples").filter((f) => f.endsWith(".cond")).map((f) => `examples/${f}`),
  "bench/models/mlp.cond",
];

function checkFile(path: string) {
  return checkSource(readFileSync(path, "utf8"), path);
}

describe("examples", () => {
  it("include the eight required ones", () => {
    for (const name of ["mnist-dense", "fashion-dense", "mnist-lowrank", "fashion-lowrank", "mnist-tree", "mnist-policy", "fashion-policy", "mixed"]) {
      expect(EXAMPLES).toContain(`examples/${name}.cond`);
    }
  });

  it.each(EXAMPLES)("%s checks clean with no warnings", (path) => {
    const result = checkFile(path);
    expect(result.diagnostics.map((d) => d.message)).toEqual([]);
    expect(result.model).toBeDefined();
  });

  it("fashion-lowrank resolves to the calibration setup", () => {
    const model = checkFile("examples/fashion-lowrank.cond").model!;
    expect(model.input).toEqual({ name: "x", width: 784 });
    expect(model.target).toEqual({ name: "y", classes: 10 });
    expect(model.layers.map((l) => [l.name, l.source, l.inputs, l.units, l.activation, l.isOutput])).toEqual([
      ["h1", "x", 784, 1000, "relu", false],
      ["h2", "h1", 1000, 600, "relu", false],
      ["out", "h2", 600, 10, "linear", true],
    ]);
    expect([model.layers[0].method, model.layers[0].options]).toEqual(["lowrank", { rank: 30, threshold: 0, refresh: "epoch", mode: "test_only", assumedDensity: 0.1 }]);
    expect(model.loss).toEqual({
      fn: "softmax_cross_entropy",
      logits: "out",
      target: "y",
      penalties: [{ fn: "l1", coefficient: 1e-3, layers: ["h1", "h2"] }],
    });
    expect(model.train).toEqual({
      data: { kind: "fashion_mnist" },
      optimizer: { kind: "sgd", lr: 0.05, momentum: 0.9, weightDecay: 0 },
      settings: {},
      batch: 128,
      epochs: 6,
      seed: 0,
      schedule: { kind: "constant" },
    });
  });

  it("fashion-policy folds 1/16 and fills REINFORCE defaults", () => {
    const model = checkFile("examples/fashion-policy.cond").model!;
    expect([model.layers[0].method, model.layers[0].options]).toEqual(["policy", { blocks: 10, tau: 1 / 16, squash: 0.01, test: "sample", uniform: false }]);
    expect(model.train.settings["policy"]).toEqual({ kind: "reinforce", lr: 0.05, lambdaS: 0.2, lambdaV: 0.2, l2: 0, baseline: "batch_mean", regularizer: "paper" });
  });

  it("mnist-tree fills tree defaults", () => {
    const model = checkFile("examples/mnist-tree.cond").model!;
    expect(model.layers[0].method).toBe("tree");
    expect(model.layers[0].options).toEqual({ depth: 6, layout: "shared", gaterTraining: "deterministic", sigma: 0.1, levelLr: "uniform", levelLrMax: 16 });
    expect(model.train.optimizer).toEqual({ kind: "sgd", lr: 0.05, momentum: 0, weightDecay: 1e-4 });
  });

  it("a model without a train block gets the default training configuration", () => {
    const text = `model M { input x: f32[784] target y: class[10] layer out = dense(x, 10) loss = softmax_cross_entropy(out, y) }`;
    const result = checkSource(text, "m.cond");
    expect(result.diagnostics).toEqual([]);
    expect(result.model?.train).toEqual(defaultTrainConfig());
    expect(result.model?.train).toMatchObject({ data: { kind: "mnist" }, batch: 128, epochs: 2, seed: 0 });
  });

  it("idx datasets keep their directory and negative thresholds parse", () => {
    const text = `model M { input x: f32[20] target y: class[3]
      layer h = dense(x, 16) relu gate lowrank(rank: 4, threshold: -0.25)
      layer out = dense(h, 3) loss = softmax_cross_entropy(out, y) }
      train { data = idx("data/my \\"set\\"") optimizer = adam(lr: 1e-3) schedule = step(every: 2, factor: 0.5) }`;
    const result = checkSource(text, "m.cond");
    expect(result.diagnostics.map((d) => d.message)).toEqual([]);
    expect(result.model?.train.data).toEqual({ kind: "idx", dir: 'data/my "set"' });
    expect(result.model?.layers[0].options).toMatchObject({ threshold: -0.25 });
    expect(result.model?.train.optimizer).toEqual({ kind: "adam", lr: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 });
    expect(result.model?.train.schedule).toEqual({ kind: "step", every: 2, factor: 0.5 });
  });

  it("grammar/cst.d.ts is up to date (regenerate: npx tsc && node dist/grammar/generate-cst-types.js)", () => {
    expect(readFileSync("grammar/cst.d.ts", "utf8")).toBe(cstTypesText());
  });
});
