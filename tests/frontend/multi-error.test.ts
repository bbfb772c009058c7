/**
 * @fileoverview One run reports every independent error, syntax and semantic alike, in
 * source order, and never returns a model when there is an error.
 */
import { describe, expect, it } from "vitest";
import { checkSource } from "../../compiler/frontend/frontend.js";

const SEVERAL_ERRORS = `model Bad {
  input  x: f32[784]
  target y: class[10]
  layer h1  = dens(x, 1000) relu
  layer h2  = dense(h1, 600) relu gate lowrank(rank: 900)
  layer h3  = dense(h2, 640) tanh gate policy(blocks: 7, tau: 1/16)
  layer t   = tree(h3, 1000, depth: 20) relu
  layer out = dense(t, 12)
  loss = softmax_cross_entropy(out, y) + 1e-3 * l1(h1, h9)
}
train { data = mnst  optimizer = sgd(lr: -1)  batch = 0  epoks = 2 }
`;

describe("several independent errors", () => {
  it("are all reported in one run, in source order", () => {
    const result = checkSource(SEVERAL_ERRORS, "bad.cond");
    expect(result.model).toBeUndefined();
    expect(result.diagnostics.map((d) => `${d.span.start.line}:${d.code}`)).toEqual([
      "4:CD2003", // dens
      "5:CD3006", // rank 900 >= min(1000, 600)
      "6:CD3008", // 7 does not divide 640
      "7:CD3010", // tree too large
      "9:CD3005", // 12 logits vs 10 classes
      "9:CD2005", // h9
      "11:CD2026", // mnst
      "11:CD3002", // lr -1
      "11:CD3002", // batch 0
      "11:CD2024", // epoks
    ]);
  });

  it("syntax errors in several places are all reported too", () => {
    const text = `model M {\n  input x: f32[784\n  target y: class[10]\n  layer h = dense(x 64) relu\n  layer out = dense(h, 10)\n  loss = softmax_cross_entropy(out, y)\n}\ntrain { batch = ; epochs = 2 }\n`;
    const codes = checkSource(text, "m.cond").diagnostics.map((d) => `${d.span.start.line}:${d.code}`);
    expect(codes).toContain("3:CD1010"); // the missing ']' is found at 'target'

    expect(codes).toContain("4:CD1010");
    expect(codes).toContain("8:CD1001");
    expect(codes.length).toBeGreaterThanOrEqual(3);
  });

  it("warnings alone still yield a model", () => {
    const text = `model M { input x: f32[784] target y: class[10] layer h = dense(x, 64) relu gate lowrank(rank: 60)
      layer out = dense(h, 10) loss = softmax_cross_entropy(out, y) }`;
    const result = checkSource(text, "m.cond");
    expect(result.diagnostics.map((d) => [d.code, d.severity])).toEqual([["CD4001", "warning"]]);
    expect(result.model).toBeDefined();
  });
});
