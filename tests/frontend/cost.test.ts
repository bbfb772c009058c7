/**
 * @fileoverview The cost model against hand-computed figures (docs/methods/lowrank.md §5, tree.md §7, policy.md §8).
 */
import { describe, expect, it } from "vitest";
import { layerCost, modelCost as costOf } from "../../compiler/frontend/cost.js";
import { checkSource, methodTable } from "../../compiler/frontend/frontend.js";
import { inspectModel } from "../../compiler/frontend/inspect.js";
import type { CheckedLayer, CheckedModel } from "../../compiler/frontend/model.js";
import { largestTreeDepth, treeNodeCount, treeWeightBytes, type TreeOptions } from "../../methods/tree/method.js";
import { inspectJson, inspectTable } from "../../cli/inspect-format.js";

const methods = methodTable(undefined);
const modelCost = (model: CheckedModel) => costOf(model, methods);

function modelOf(layers: string, inputWidth = 784): CheckedModel {
  const text = `model M { input x: f32[${inputWidth}] target y: class[10] ${layers} loss = softmax_cross_entropy(out, y) }`;
  const result = checkSource(text, "cost.cond");
  if (!result.model) throw new Error(result.diagnostics.map((d) => d.message).join("\n"));
  return result.model;
}

const span = { start: { offset: 0, line: 1, column: 1 }, end: { offset: 0, line: 1, column: 1 } };
function treeLayer(depth: number, inputs: number, units: number): CheckedLayer<TreeOptions> {
  return {
    name: "t", method: "tree", source: "x", inputs, units, activation: "relu",
    options: { depth, layout: "shared", gaterTraining: "deterministic", sigma: 0.1, levelLr: "uniform", levelLrMax: 16 }, isOutput: false, span,
  };
}

describe("cost model", () => {
  it("dense 784-1000-600-10: 1,390,000 MACs, 1,391,610 parameters", () => {
    const cost = modelCost(modelOf("layer h1 = dense(x, 1000) relu layer h2 = dense(h1, 600) relu layer out = dense(h2, 10)"));
    expect(cost.denseMacs).toBe(1_390_000);
    expect(cost.conditionalMacs).toBe(1_390_000);
    expect(cost.parameters).toBe(784 * 1000 + 1000 + 1000 * 600 + 600 + 600 * 10 + 10);
    expect(cost.memoryBytes).toBe(cost.parameters * 4);
    expect(cost.speedup).toBe(1);
    expect(cost.layers[0].weightRatio).toBe(1);
  });

  it("low-rank: overhead r(in+units), body at the assumed density", () => {
    const model = modelOf("layer h1 = dense(x, 1000) relu gate lowrank(rank: 30, density: 0.1) layer out = dense(h1, 10)");
    const h1 = modelCost(model).layers[0];
    expect(h1.gateMacs).toBe(30 * (784 + 1000)); // 53,520
    expect(h1.bodyMacs).toBeCloseTo(0.1 * 784_000, 6);
    expect(h1.conditionalMacs).toBeCloseTo(53_520 + 78_400, 6);
    expect(h1.gateParameters).toBe(53_520);
    expect(h1.parameters).toBe(784_000 + 1000 + 53_520);
    expect(h1).toMatchObject({ density: 0.1, densityAssumed: true, denseMacs: 784_000 });
  });

  it("low-rank density defaults to 0.5 (assumed)", () => {
    const h1 = modelCost(modelOf("layer h1 = dense(x, 100) relu gate lowrank(rank: 10) layer out = dense(h1, 10)")).layers[0];
    expect(h1.density).toBe(0.5);
    expect(h1.conditionalMacs).toBe(10 * (784 + 100) + 0.5 * 78_400);
  });

  // condnet's count (docs/methods/policy.md §8.1) is about 405k: it also runs the softmax layer over the
  // active input blocks only ("sf"); condc's output layer is a dense GEMM over its whole input,
  // so the cost model counts 640 * 10 there: 411k.
  it("policy: condnet's CIFAR model at rho = 0.18 is about 411k MACs with 37,120 for policies (dense output layer)", () => {
    const model = modelOf(
      "layer h1 = dense(x, 640) tanh gate policy(blocks: 10, tau: 0.18) layer h2 = dense(h1, 640) tanh gate policy(blocks: 10, tau: 0.18) layer out = dense(h2, 10)",
      3072,
    );
    const cost = modelCost(model);
    expect(cost.denseMacs).toBe(2_382_080);
    expect(cost.gateMacs).toBe(37_120);
    const expected = 3072 * 640 * 0.18 + 640 * 640 * 0.18 * 0.18 + 640 * 10 + 37_120;
    expect(cost.conditionalMacs).toBeCloseTo(expected, 6);
    expect(Math.round(cost.conditionalMacs / 1000)).toBe(411);
    expect(cost.layers[1].inputDensity).toBe(0.18);
    expect(cost.layers[2].inputDensity).toBe(1);
    expect(cost.layers[0].gateParameters).toBe(3072 * 10 + 10);
  });

  it("uniform block dropout has no policy network", () => {
    const h1 = modelCost(modelOf("layer h1 = dense(x, 64) tanh gate policy(blocks: 4, tau: 0.25, uniform: true) layer out = dense(h1, 10)")).layers[0];
    expect(h1.gateMacs).toBe(0);
    expect(h1.gateParameters).toBe(0);
    expect(h1.conditionalMacs).toBe(784 * 64 * 0.25);
  });

  it("tree: (k+1)*in*units MACs plus in*k gater overhead, ratio (2^(k+1)-1)/(k+1)", () => {
    const t = modelCost(modelOf("layer t = tree(x, 256, depth: 6) relu layer out = dense(t, 10)")).layers[0];
    expect(t.bodyMacs).toBe(7 * 784 * 256);
    expect(t.gateMacs).toBe(784 * 6);
    expect(t.conditionalMacs).toBe(7 * 784 * 256 + 784 * 6);
    expect(t.denseMacs).toBe(784 * 256);
    expect(t.weights).toBe(127 * 784 * 256);
    expect(t.biases).toBe(127 * 256);
    expect(t.gateParameters).toBe(784 * 6 + 6);
    expect(t.weightRatio).toBeCloseTo(127 / 7, 12);
  });

  it("tree ratio is 186.1 at k = 10 and matches the methods table", () => {
    expect(layerCost(treeLayer(10, 784, 100), 1, methods).weightRatio.toFixed(1)).toBe("186.1");
    const table: Array<[number, string]> = [[1, "1.5"], [4, "6.2"], [8, "56.8"], [10, "186.1"], [16, "7710.1"]];
    for (const [k, ratio] of table) expect(layerCost(treeLayer(k, 10, 10), 1, methods).weightRatio.toFixed(1)).toBe(ratio);
    expect(treeNodeCount(10)).toBe(2047);
  });

  it("largest tree depth: q = n = 1000 at k = 9 takes 4.09 GB, just inside 4 GiB (docs/methods/tree.md §8)", () => {
    expect(treeWeightBytes(9, 1000, 1000)).toBe(4_092_000_000);
    expect(largestTreeDepth(1000, 1000, 4 * 1024 ** 3)).toBe(9);
    expect(largestTreeDepth(784, 1000, 4 * 1024 ** 3)).toBe(9);
  });

  it("inspect prints a table with totals and JSON with the same figures", () => {
    const model = modelOf("layer t = tree(x, 100, depth: 10) relu layer out = dense(t, 10)");
    const report = inspectModel(model, methods);
    const table = inspectTable(report, "out", new Map([["t", "relu"], ["out", "linear"]]));
    expect(table).toContain("total");
    expect(table).toContain("t: weights / MACs of its body = 186.1; gate overhead 7,840 MACs");
    expect(table).toMatch(/^t\s+784->100 relu\s+tree k=10 /m);
    const json = inspectJson(report) as { layers: Record<string, { weight_ratio: number; macs_per_example: number }>; dense_macs_per_example: number; macs_per_example: number };
    expect(json.layers["t"]!.weight_ratio).toBeCloseTo(2047 / 11, 9);
    expect(json.dense_macs_per_example).toBe(78_400 + 1000);
    expect(json.macs_per_example).toBe(json.layers["t"]!.macs_per_example + json.layers["out"]!.macs_per_example);
  });
});
