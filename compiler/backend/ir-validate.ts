/**
 * @fileoverview The IR's invariants, stated once and checked after lowering. A failure
 * here is a compiler bug, never a user error: it names the broken invariant.
 */
import type { IrModule, Region } from "./ir.js";

/** The WebAssembly (wasm32) limit on one linear memory. */
export const WASM_MAX_BYTES = 65536 * 65536;

export function validateIr(ir: IrModule): string[] {
  const problems: string[] = [];
  const fail = (message: string): void => {
    problems.push(message);
  };
  const regions = new Map<string, Region>();

  for (const r of ir.memory.regions) {
    if (regions.has(r.name)) fail(`region '${r.name}' is placed twice`);
    regions.set(r.name, r);
    if (r.offset % 16 !== 0) fail(`region '${r.name}' at ${r.offset} is not 16-byte aligned`);
    if (r.bytes !== 4 * r.shape.reduce((a, b) => a * b, 1)) fail(`region '${r.name}' size disagrees with its shape`);
    if (r.offset < ir.memory.base || r.offset + r.bytes > ir.memory.end) fail(`region '${r.name}' lies outside the plan`);
  }
  const sorted = [...ir.memory.regions].sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!;
    if (prev.offset + prev.bytes > sorted[i]!.offset) fail(`regions '${prev.name}' and '${sorted[i]!.name}' overlap`);
  }
  if (ir.memory.base <= 0) fail("the plan starts at address 0");
  if (ir.memory.end > WASM_MAX_BYTES) fail(`the plan needs ${ir.memory.end} bytes, over the wasm32 limit`);

  const sameShape = (name: string, shape: number[], what: string): void => {
    const r = regions.get(name);
    if (!r) fail(`${what} '${name}' has no region`);
    else if (r.shape.join("x") !== shape.join("x")) fail(`${what} '${name}' has shape [${r.shape}], expected [${shape}]`);
  };
  for (const p of ir.params) {
    sameShape(p.region, p.shape, "parameter");
    if (p.trainable) sameShape(p.grad, p.shape, "gradient");
    else if (regions.has(p.grad) || p.state.length > 0) fail(`parameter '${p.name}' is not trainable but has a gradient or optimizer state`);
    p.state.forEach((s) => sameShape(s, p.shape, "optimizer state"));
  }

  const widths = new Map<string | null, number>([[null, ir.inputWidth]]);
  const outputs = ir.layers.filter((l) => l.isOutput);
  if (outputs.length !== 1) fail(`expected one output layer, found ${outputs.length}`);
  ir.layers.forEach((layer, index) => {
    if (layer.index !== index) fail(`layer '${layer.name}' has index ${layer.index} at position ${index}`);
    const sourceWidth = widths.get(layer.source);
    if (sourceWidth === undefined) fail(`layer '${layer.name}' reads '${layer.source}' before it is computed`);
    else if (sourceWidth !== layer.inputs) fail(`layer '${layer.name}' expects ${layer.inputs} inputs, its source gives ${sourceWidth}`);
    widths.set(layer.name, layer.units);
    if (ir.params.some((p) => p.name === layer.weight)) sameShape(layer.weight, [layer.units, layer.inputs], "weight");
    if (ir.params.some((p) => p.name === layer.bias)) sameShape(layer.bias, [layer.units], "bias");
    sameShape(layer.output, [ir.maxBatch, layer.units], "output");
    if (layer.delta) sameShape(layer.delta, [ir.maxBatch, layer.units], "delta");
    if (layer.isOutput && !layer.delta) fail(`output layer '${layer.name}' has no delta`);
    if (layer.isOutput && layer.units !== ir.classes) fail(`output layer '${layer.name}' has ${layer.units} units for ${ir.classes} classes`);
    for (const consumer of layer.consumers) {
      const c = ir.layers.find((l) => l.name === consumer);
      if (!c || c.source !== layer.name) fail(`layer '${layer.name}' lists '${consumer}' as a consumer that does not read it`);
    }
    if (layer.delta && layer.source !== null) {
      const source = ir.layers.find((l) => l.name === layer.source);
      if (source && !source.delta) fail(`layer '${layer.name}' needs gradients but its source '${source.name}' has no delta`);
    }
  });
  sameShape("input", [ir.maxBatch, ir.inputWidth], "input");
  sameShape("labels", [ir.maxBatch], "labels");
  sameShape("probs", [ir.maxBatch, ir.classes], "probs");
  return problems;
}
