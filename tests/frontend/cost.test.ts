/**
 * @fileoverview The cost model against hand-computed figures (methods.md 2.3, 3.1, 4.4).
 */
import { describe, expect, it } from "vitest";
import { layerCost, largestTreeDepth, modelCost, treeNodeCount, treeWeightBytes } from "../../compiler/frontend/cost.js";
import { checkSource } from "../../compiler/frontend/frontend.js";
import { inspectJson, inspectTable } from "../../compiler/frontend/inspect.js";
import type { CheckedLayer, CheckedModel } from "../../compiler/frontend/model.js";

function modelOf(layers: string, inputWidth = 784): CheckedModel {
  const text = `model M { input x: f32[${inputWidth}] target y: class[10] ${layers} loss = softmax_cross_entropy(out, y) }`;
  const result = checkSource(text, "cost.cond");
  if (!result.model) throw new Error(result.diagnostics.map((d) => d.message).join("\n"));
  return result.model;
}

const span = { start: { offset: 0, line: 1, column: 1 }, end: { offset: 0, line: 1, column: 1 } };
function treeLayer(depth: number, inputs: number, units: number): CheckedLayer {
  return {
    name: "t", op: "tree", source: "x", inputs, units, activation: "relu", gate: null,
    tree: { depth, layout: "shared", gaterTraining: "deterministic", sigma: 0.1, levelLr: "uniform", levelLrMax: 16 }, isOutput: false, span,
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

  it("policy: condnet's CIFAR model at rho = 0.18 is about 405k MACs with 37,120 for policies", () => {
    const model = modelOf(
      "layer h1 = dense(x, 640) tanh gate policy(blocks: 10, tau: 0.18) layer h2 = dense(h1, 640) tanh gate policy(blocks: 10, tau: 0.18) layer out = dense(h2, 10)",
      3072,
    );
    const cost = modelCost(model);
    expect(cost.denseMacs).toBe(2_382_080);
    expect(cost.gateMacs).toBe(37_120);
    const expected = 3072 * 640 * 0.18 + 640 * 640 * 0.18 * 0.18 + 640 * 0.18 * 10 + 37_120;
    expect(cost.conditionalMacs).toBeCloseTo(expected, 6);
    expect(Math.round(cost.conditionalMacs / 1000)).toBe(405);
    expect(cost.layers[1].inputDensity).toBe(0.18);
    expect(cost.layers[2].inputDensity).toBe(0.18);
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
    expect(layerCost(treeLayer(10, 784, 100)).weightRatio.toFixed(1)).toBe("186.1");
    const table: Array<[number, string]> = [[1, "1.5"], [4, "6.2"], [8, "56.8"], [10, "186.1"], [16, "7710.1"]];
    for (const [k, ratio] of table) expect(layerCost(treeLayer(k, 10, 10)).weightRatio.toFixed(1)).toBe(ratio);
    expect(treeNodeCount(10)).toBe(2047);
  });

  it("largest tree depth: q = n = 1000 at k = 9 takes 4.09 GB, just inside 4 GiB (methods.md 3.5)", () => {
    expect(treeWeightBytes(9, 1000, 1000)).toBe(4_092_000_000);
    expect(largestTreeDepth(1000, 1000, 4 * 1024 ** 3)).toBe(9);
    expect(largestTreeDepth(784, 1000, 4 * 1024 ** 3)).toBe(9);
  });

  it("inspect prints a table with totals and JSON with the same figures", () => {
    const model = modelOf("layer t = tree(x, 100, depth: 10) relu layer out = dense(t, 10)");
    const table = inspectTable(model);
    expect(table).toContain("total");
    expect(table).toContain("(2^11 - 1) / 11 = 186.1");
    const json = JSON.parse(inspectJson(model));
    expect(json.layers[0].weightRatio).toBeCloseTo(2047 / 11, 9);
    expect(json.denseMacs).toBe(78_400 + 1000);
  });
});
