/**
 * @fileoverview The IR's invariants, stated once and checked after lowering. A failure here is
 * a compiler bug, never a user error: it names the broken invariant.
 */
import type { IrModule, Region } from "./ir.js";
import { PLAN_ALIGNMENT } from "./lower.js";

/** The WebAssembly (wasm32) limit on one linear memory. */
export const WASM_MAX_BYTES = 65536 * 65536;

const DTYPE_BYTES = { f32: 4, i32: 4, f64: 8 } as const;

export function validateIr(ir: IrModule): string[] {
  const problems: string[] = [];
  const fail = (message: string): void => void problems.push(message);
  const regions = new Map<string, Region>();

  for (const r of ir.memory.regions) {
    if (regions.has(r.name)) fail(`region '${r.name}' is placed twice`);
    regions.set(r.name, r);
    if (r.offset % PLAN_ALIGNMENT !== 0) fail(`region '${r.name}' at ${r.offset} is not ${PLAN_ALIGNMENT}-byte aligned`);
    if (r.bytes !== DTYPE_BYTES[r.dtype] * r.shape.reduce((a, b) => a * b, 1)) fail(`region '${r.name}' size disagrees with its shape and dtype`);
    if (r.offset < ir.memory.base || r.offset + r.bytes > ir.memory.end) fail(`region '${r.name}' lies outside the plan`);
    if (r.fields && r.fields.length !== r.shape.reduce((a, b) => a * b, 1)) fail(`counters '${r.name}' name ${r.fields.length} fields for ${r.shape} elements`);
  }
  const sorted = [...ir.memory.regions].sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!;
    if (prev.offset + prev.bytes > sorted[i]!.offset) fail(`regions '${prev.name}' and '${sorted[i]!.name}' overlap`);
  }
  if (ir.memory.base <= 0) fail("the plan starts at address 0");
  if (ir.memory.end > WASM_MAX_BYTES) fail(`the plan needs ${ir.memory.end} bytes, over the wasm32 limit`);

  const sameShape = (name: string, shape: number[], what: string, dtype = "f32"): void => {
    const r = regions.get(name);
    if (!r) fail(`${what} '${name}' has no region`);
    else if (r.shape.join("x") !== shape.join("x")) fail(`${what} '${name}' has shape [${r.shape}], expected [${shape}]`);
    else if (r.dtype !== dtype) fail(`${what} '${name}' is ${r.dtype}, expected ${dtype}`);
  };
  for (const p of ir.params) {
    sameShape(p.region, p.shape, "parameter");
    if (p.grad) sameShape(p.grad, p.shape, "gradient");
    if (p.update === "none" && (p.grad || p.state.length > 0)) fail(`parameter '${p.name}' is not trained but has a gradient or optimizer state`);
    if (p.update !== "optimizer" && p.state.length > 0) fail(`parameter '${p.name}' has optimizer state but is not updated by the optimizer`);
    p.state.forEach((s) => sameShape(s, p.shape, "optimizer state"));
  }

  const paramNames = new Set(ir.params.map((p) => p.name));
  const widths = new Map<string | null, number>([[null, ir.inputWidth]]);
  const byName = new Map(ir.layers.map((l) => [l.name, l]));
  const outputs = ir.layers.filter((l) => l.isOutput);
  if (outputs.length !== 1) fail(`expected one output layer, found ${outputs.length}`);
  ir.layers.forEach((layer, index) => {
    if (layer.index !== index) fail(`layer '${layer.name}' has index ${layer.index} at position ${index}`);
    const sourceWidth = widths.get(layer.source);
    if (sourceWidth === undefined) fail(`layer '${layer.name}' reads '${layer.source}' before it is computed`);
    else if (sourceWidth !== layer.inputs) fail(`layer '${layer.name}' expects ${layer.inputs} inputs, its source gives ${sourceWidth}`);
    widths.set(layer.name, layer.units);
    sameShape(layer.output, [ir.maxBatch, layer.units], "output");
    if (layer.delta) sameShape(layer.delta, [ir.maxBatch, layer.units], "delta");
    if (layer.isOutput && !layer.delta) fail(`output layer '${layer.name}' has no delta`);
    if (layer.isOutput && layer.units !== ir.classes) fail(`output layer '${layer.name}' has ${layer.units} units for ${ir.classes} classes`);
    for (const [suffix, name] of Object.entries(layer.params)) {
      if (name !== `${layer.name}.${suffix}` || !paramNames.has(name)) fail(`layer '${layer.name}' lists parameter '${name}' that is not in the table`);
    }
    for (const name of Object.values(layer.regions)) if (!regions.has(name)) fail(`layer '${layer.name}' lists region '${name}' that is not placed`);
    for (const consumer of layer.consumers) {
      if (byName.get(consumer)?.source !== layer.name) fail(`layer '${layer.name}' lists '${consumer}' as a consumer that does not read it`);
    }
    if (layer.delta && layer.source !== null) {
      const source = byName.get(layer.source);
      if (source && !source.delta) fail(`layer '${layer.name}' needs gradients but its source '${source.name}' has no delta`);
    }
  });
  sameShape("input", [ir.maxBatch, ir.inputWidth], "input");
  sameShape("labels", [ir.maxBatch], "labels", "i32");
  sameShape("probs", [ir.maxBatch, ir.classes], "probs");
  return problems;
}
