/**
 * @fileoverview Lowering and the memory plan: placement invariants on several models,
 * `validateIr` catching each broken invariant by its exact message, and the back end's
 * refusals (CD5002 / CD3013 for models too big for wasm32).
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { compile } from "../../compiler/compile.js";
import { formatDiagnostics } from "../../compiler/frontend/diagnostics.js";
import { checkSource, methodTable } from "../../compiler/frontend/frontend.js";
import type { IrModule, Region } from "../../compiler/backend/ir.js";
import { validateIr, WASM_MAX_BYTES } from "../../compiler/backend/ir-validate.js";
import { alignUp, lowerModel } from "../../compiler/backend/lower.js";
import { KERNEL_LIBRARY } from "../../runtime/generated/kernel-library.js";

const DTYPE_BYTES = { f32: 4, i32: 4, f64: 8 } as const;

function lower(text: string, maxBatch = 128): IrModule {
  const front = checkSource(text, "model.cond");
  expect(front.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
  return lowerModel(front.model!, { maxBatch, base: KERNEL_LIBRARY.staticDataEnd, methods: methodTable(undefined) });
}

const BRANCHY = `
model Branchy {
  input  x: f32[13]
  target y: class[3]
  layer a    = dense(x, 7) tanh
  layer b    = dense(a, 5) sigmoid
  layer c    = dense(a, 6) relu
  layer dead = dense(c, 9) relu
  layer out  = dense(c, 3)
  loss = softmax_cross_entropy(out, y) + 0.01 * l1(b)
}
train { optimizer = adam(lr: 0.001) batch = 17 }`;

const MODELS: Record<string, { text: string; maxBatch: number }> = {
  "mnist-dense (sgd momentum)": { text: readFileSync("examples/mnist-dense.cond", "utf8"), maxBatch: 128 },
  "fashion-dense (3 layers)": { text: readFileSync("examples/fashion-dense.cond", "utf8"), maxBatch: 64 },
  "branchy (adam, dead layer, odd sizes)": { text: BRANCHY, maxBatch: 17 },
  "one layer, batch 1": {
    text: "model One { input x: f32[1] target y: class[2] layer out = dense(x, 2) loss = softmax_cross_entropy(out, y) }",
    maxBatch: 1,
  },
};

describe("memory plan invariants", () => {
  it.each(Object.entries(MODELS))("%s", (_, { text, maxBatch }) => {
    const ir = lower(text, maxBatch);
    expect(validateIr(ir)).toEqual([]);
    const { base, end, regions } = ir.memory;
    // The plan starts above the kernel library's static data.
    expect(base).toBe(alignUp(KERNEL_LIBRARY.staticDataEnd, 64));
    expect(base).toBeGreaterThan(0);
    expect(end).toBeLessThanOrEqual(WASM_MAX_BYTES);

    // Sizes and alignment (the planner aligns to 64 bytes, beyond the 16 SIMD needs).
    for (const r of regions) {
      expect(r.offset % 64, r.name).toBe(0);
      expect(r.bytes, r.name).toBe(DTYPE_BYTES[r.dtype] * r.shape.reduce((a, b) => a * b, 1));
      expect(r.offset, r.name).toBeGreaterThanOrEqual(base);
      expect(r.offset + r.bytes, r.name).toBeLessThanOrEqual(end);
    }
    // Packed in placement order: each region starts at the previous one's aligned end.
    let cursor = base;
    for (const r of regions) {
      expect(r.offset, r.name).toBe(cursor);
      cursor = alignUp(r.offset + r.bytes, 64);
    }
    expect(end).toBe(cursor);
    // No two regions overlap; names are unique.
    const sorted = [...regions].sort((a, b) => a.offset - b.offset);
    for (let i = 1; i < sorted.length; i++) expect(sorted[i - 1]!.offset + sorted[i - 1]!.bytes).toBeLessThanOrEqual(sorted[i]!.offset);
    expect(new Set(regions.map((r) => r.name)).size).toBe(regions.length);

    // Role order: params, grads, optimizer state, input, labels, activations/deltas, probs.
    const roleRank: Record<string, number> = { param: 0, grad: 1, optimizer: 2, input: 3, labels: 4, activation: 5, delta: 5, probs: 6 };
    const ranks = regions.map((r) => roleRank[r.role]!);
    expect(ranks).toEqual([...ranks].sort((a, b) => a - b));

    // Parameters first and contiguous (only alignment padding between them), in ir.params order.
    const params = regions.filter((r) => r.role === "param");
    expect(params.map((r) => r.name)).toEqual(ir.params.map((p) => p.region));
    expect(regions.slice(0, params.length)).toEqual(params);
    for (let i = 1; i < params.length; i++) {
      expect(params[i]!.offset - (params[i - 1]!.offset + params[i - 1]!.bytes)).toBeLessThan(64);
    }
    // Every parameter has a weight/bias shape matching its layer, a grad and its state.
    const states = ir.optimizer.kind === "adam" ? 2 : 1;
    for (const layer of ir.layers) {
      const w = ir.params.find((p) => p.name === `${layer.name}.weight`)!;
      const b = ir.params.find((p) => p.name === `${layer.name}.bias`)!;
      expect(w.shape).toEqual([layer.units, layer.inputs]);
      expect(b.shape).toEqual([layer.units]);
      expect([w.init, w.decay, b.init, b.decay]).toEqual(["glorot_uniform", true, "zeros", false]);
      expect(w.state).toHaveLength(states);
      const out = regions.find((r) => r.name === layer.output)!;
      expect(out.shape).toEqual([maxBatch, layer.units]);
    }
    const byRole = (role: string): Region[] => regions.filter((r) => r.role === role);
    expect(byRole("grad")).toHaveLength(ir.params.length);
    expect(byRole("optimizer")).toHaveLength(ir.params.length * states);
    expect(byRole("activation")).toHaveLength(ir.layers.length);
    expect(byRole("delta")).toHaveLength(ir.layers.filter((l) => l.delta).length);
    expect(regions.find((r) => r.name === "input")!.shape).toEqual([maxBatch, ir.inputWidth]);
    expect(regions.find((r) => r.name === "labels")!.shape).toEqual([maxBatch]);
    expect(regions.find((r) => r.name === "probs")!.shape).toEqual([maxBatch, ir.classes]);
    // Cost-model MACs of the layers the loss depends on (a dead layer is never run).
    expect(ir.macsPerExample).toBe(ir.layers.filter((l) => l.delta).reduce((s, l) => s + l.inputs * l.units, 0));
  });

  it("the branchy model: consumers, dead layers and penalties lower as the source says", () => {
    const ir = lower(BRANCHY, 17);
    const summary = ir.layers.map((l) => [l.name, l.source, l.consumers, l.delta, l.l1, l.isOutput]);
    expect(summary).toEqual([
      ["a", null, ["b", "c"], "a.delta", 0, false],
      ["b", "a", [], "b.delta", 0.01, false],
      ["c", "a", ["dead", "out"], "c.delta", 0, false],
      ["dead", "c", [], null, 0, false],
      ["out", "c", [], "out.delta", 0, true],
    ]);
    expect(ir.optimizer.kind).toBe("adam");
    expect(ir.params.find((p) => p.name === "a.weight")!.state).toEqual(["a.weight.state0", "a.weight.state1"]);
  });

  it("penalty coefficients on the same layer add up", () => {
    const ir = lower(`model P { input x: f32[4] target y: class[2] layer h = dense(x, 3) relu layer out = dense(h, 2)
      loss = softmax_cross_entropy(out, y) + 0.5 * l1(h) + 0.25 * l1(h) }`);
    expect(ir.layers.find((l) => l.name === "h")!.l1).toBe(0.75);
  });
});

describe("validateIr names each broken invariant", () => {
  const fresh = (): IrModule => lower(BRANCHY, 17);
  const region = (ir: IrModule, name: string): Region => ir.memory.regions.find((r) => r.name === name)!;

  it("accepts the lowered IR", () => {
    expect(validateIr(fresh())).toEqual([]);
  });

  it("overlapping regions", () => {
    const ir = fresh();
    region(ir, "a.bias").offset = region(ir, "a.weight").offset + 64;
    expect(validateIr(ir)).toEqual(["regions 'a.weight' and 'a.bias' overlap"]);
  });

  it("misaligned region", () => {
    const ir = fresh();
    region(ir, "probs").offset += 4;
    expect(validateIr(ir)).toEqual(["region 'probs' at " + region(ir, "probs").offset + " is not 64-byte aligned"]);
  });

  it("size disagreeing with the shape", () => {
    const ir = fresh();
    region(ir, "labels").bytes = 8;
    expect(validateIr(ir)).toEqual(["region 'labels' size disagrees with its shape and dtype"]);
  });

  it("region outside the plan", () => {
    const ir = fresh();
    ir.memory.end -= 64;
    expect(validateIr(ir)).toEqual(["region 'probs' lies outside the plan"]);
  });

  it("region placed twice", () => {
    const ir = fresh();
    const last = ir.memory.regions[ir.memory.regions.length - 1]!;
    ir.memory.regions.push({ ...last, offset: ir.memory.end });
    ir.memory.end += alignUp(last.bytes, 64);
    expect(validateIr(ir)).toEqual(["region 'probs' is placed twice"]);
  });

  it("wrong parameter and output shapes", () => {
    const ir = fresh();
    const w = region(ir, "b.weight");
    w.shape = [7, 5]; // transposed: same bytes, wrong shape
    expect(validateIr(ir)).toEqual(["parameter 'b.weight' has shape [7,5], expected [5,7]"]);
    const ir2 = fresh();
    ir2.layers.find((l) => l.name === "c")!.units = 4;
    expect(validateIr(ir2)).toEqual([
      "output 'c.output' has shape [17,6], expected [17,4]",
      "delta 'c.delta' has shape [17,6], expected [17,4]",
      "layer 'dead' expects 6 inputs, its source gives 4",
      "layer 'out' expects 6 inputs, its source gives 4",
    ]);
  });

  it("missing regions", () => {
    const ir = fresh();
    ir.memory.regions = ir.memory.regions.filter((r) => r.name !== "a.weight.state1" && r.name !== "probs");
    expect(validateIr(ir)).toEqual(["optimizer state 'a.weight.state1' has no region", "probs 'probs' has no region"]);
  });

  it("missing or duplicated output layer, output without delta, wrong class count", () => {
    const none = fresh();
    none.layers.find((l) => l.isOutput)!.isOutput = false;
    expect(validateIr(none)).toEqual(["expected one output layer, found 0"]);

    const two = fresh();
    two.layers.find((l) => l.name === "b")!.isOutput = true;
    expect(validateIr(two)).toEqual(["expected one output layer, found 2", "output layer 'b' has 5 units for 3 classes"]);

    const noDelta = fresh();
    noDelta.layers.find((l) => l.isOutput)!.delta = null;
    expect(validateIr(noDelta)).toEqual(["output layer 'out' has no delta"]);
  });

  it("layer order, sources, consumers and deltas", () => {
    const order = fresh();
    order.layers[1]!.index = 7;
    expect(validateIr(order)).toEqual(["layer 'b' has index 7 at position 1"]);

    const early = fresh();
    early.layers[0]!.source = "c";
    expect(validateIr(early)).toEqual(["layer 'a' reads 'c' before it is computed"]);

    const consumer = fresh();
    consumer.layers[0]!.consumers.push("out");
    expect(validateIr(consumer)).toEqual(["layer 'a' lists 'out' as a consumer that does not read it"]);

    const delta = fresh();
    delta.layers.find((l) => l.name === "c")!.delta = null;
    expect(validateIr(delta)).toEqual(["layer 'out' needs gradients but its source 'c' has no delta"]);
  });

  it("plan at address 0 and plans over the wasm32 limit", () => {
    const zero = fresh();
    zero.memory.base = 0;
    expect(validateIr(zero)).toEqual(["the plan starts at address 0"]);
    const huge = fresh();
    huge.memory.end = WASM_MAX_BYTES + 64;
    expect(validateIr(huge)).toEqual([`the plan needs ${WASM_MAX_BYTES + 64} bytes, over the wasm32 limit`]);
  });
});

describe("back-end refusals", () => {
  it("every example lowers to a valid IR", () => {
    for (const example of ["mnist-dense", "mnist-tree", "mnist-lowrank", "mnist-policy", "fashion-lowrank", "fashion-policy", "mixed"]) {
      const ir = lower(readFileSync(`examples/${example}.cond`, "utf8"), 8);
      expect(validateIr(ir), example).toEqual([]);
    }
  });

  it("parameters over 4 GiB: the checker's CD3013 with the byte count", async () => {
    const text = "model Huge { input x: f32[20000] target y: class[10] layer h = dense(x, 200000) relu layer out = dense(h, 10) loss = softmax_cross_entropy(out, y) }";
    const result = await compile(text, { file: "huge.cond" });
    expect(result.ok).toBe(false);
    // (20000*200000 + 200000 + 200000*10 + 10) * 4 bytes.
    expect(result.diagnostics.map((d) => `${d.code}: ${d.message}`)).toEqual([
      "CD3013: the model's parameters need 16,008,800,040 bytes, more than the 4 GiB WebAssembly memory",
    ]);
  });

  it("parameters fit but the plan does not: CD5002 with the byte count and max batch", async () => {
    // 20000 x 20000 weights are 1.6 GB; with gradients and momentum the plan needs ~4.8 GB.
    const text = "model Big { input x: f32[20000] target y: class[10] layer h = dense(x, 20000) relu layer out = dense(h, 10) loss = softmax_cross_entropy(out, y) }";
    const end = lower(text, 64).memory.end;
    expect(end).toBeGreaterThan(WASM_MAX_BYTES);
    const result = await compile(text, { file: "big.cond", maxBatch: 64 });
    expect(result.ok).toBe(false);
    expect(result.diagnostics.map((d) => `${d.code}: ${d.message}`)).toEqual([
      `CD5002: the compiled model needs ${(end + KERNEL_LIBRARY.scratchBytes).toLocaleString("en-US")} bytes of memory (parameters, gradients, optimizer state and activations at max batch 64), more than the 4 GiB WebAssembly memory`,
    ]);
    expect(formatDiagnostics(result.diagnostics, result.source).split("\n")[0]).toMatch(/^big\.cond:1:7: error CD5002: /);
  });

  it("compile rejects a bad maxBatch before doing any work", async () => {
    await expect(compile("model M {}", { maxBatch: 0 })).rejects.toThrow("compile: options.maxBatch must be an integer in [1, 16777216], got 0");
    await expect(compile("model M {}", { maxBatch: 2.5 })).rejects.toThrow("compile: options.maxBatch must be an integer in [1, 16777216], got 2.5");
  });
});
