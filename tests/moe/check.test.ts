/**
 * @fileoverview The moe layer's checked options: defaults, the call-valued `balance` option
 * (forms, bare names, arguments), and the manifest's view of them.
 */
import { describe, expect, it } from "vitest";
import { checkSource } from "../../compiler/frontend/frontend.js";

function options(moe: string) {
  const text = `model M { input x: f32[784] target y: class[10] layer h = moe(x, 32, ${moe}) relu layer out = dense(h, 10) loss = softmax_cross_entropy(out, y) }`;
  const result = checkSource(text, "m.cond");
  return { options: result.model?.layers[0]?.options, codes: result.diagnostics.map((d) => d.code).sort() };
}

describe("moe options", () => {
  it("defaults: one-layer experts, softmax gating, Switch 0.01, dropless", () => {
    expect(options("experts: 8, top_k: 2")).toEqual({
      options: { experts: 8, topK: 2, hidden: 0, gating: "softmax", balance: { kind: "switch", alpha: 0.01 }, capacity: null, router: "plain", zLoss: 0 },
      codes: [],
    });
  });

  it("no balance loss by default with one expert", () => {
    expect(options("experts: 1, top_k: 1").options).toMatchObject({ balance: { kind: "none" } });
  });

  it("call-valued balance: switch(alpha), cv(importance, load), a bare none", () => {
    expect(options("experts: 4, top_k: 1, balance: switch(0.5)").options).toMatchObject({ balance: { kind: "switch", alpha: 0.5 } });
    expect(options("experts: 4, top_k: 1, gating: noisy, balance: cv(0.1, 0.2)").options).toMatchObject({ gating: "noisy", balance: { kind: "cv", importance: 0.1, load: 0.2 } });
    expect(options("experts: 4, top_k: 1, balance: none").options).toMatchObject({ balance: { kind: "none" } });
    expect(options("experts: 4, top_k: 1, balance: none()").options).toMatchObject({ balance: { kind: "none" } });
  });

  it("the router options: centred inputs and the z-loss", () => {
    expect(options("experts: 4, top_k: 1, router: centred, z_loss: 0.001")).toEqual({
      options: expect.objectContaining({ router: "centred", zLoss: 0.001 }),
      codes: [],
    });
    expect(options("experts: 4, top_k: 1, router: plain").options).toMatchObject({ router: "plain", zLoss: 0 });
    expect(options("experts: 4, top_k: 1, router: centered").codes).toEqual(["CD3004"]);
    expect(options("experts: 4, top_k: 1, z_loss: -1").codes).toEqual(["CD3002"]);
  });

  it("FFN experts and a capacity", () => {
    expect(options("experts: 4, top_k: 2, hidden: 16, capacity: 1.25").options).toMatchObject({ hidden: 16, capacity: 1.25 });
  });

  it("a bad balance form or argument is an error, not a default", () => {
    expect(options("experts: 4, top_k: 1, balance: switch()").codes).toEqual(["CD2011"]);
    expect(options("experts: 4, top_k: 1, balance: cv(1, 2, 3)").codes).toEqual(["CD2019"]);
    expect(options("experts: 4, top_k: 1, balance: switch(alpha: 1)").codes).toEqual(["CD2009", "CD2011"]);
    expect(options("experts: 4, top_k: 1, balance: \"switch\"").codes).toEqual(["CD3003"]);
  });
});
