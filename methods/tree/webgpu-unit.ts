/**
 * @fileoverview Tree layers of layout `per_unit` on the GPU (kernels in wgsl-unit.ts): unit j reads
 * the gater bits in its own order, so the examples cannot be bucketed by one code; every pass is
 * per (example, unit) or per (node, unit) row instead, as the wasm build's treeUnit* kernels.
 * Forward: the gater product and bits, each (example, unit)'s path, the batch's count at each row,
 * the lazy decay's catch-up of the touched rows, the root as the dense product, the levels' dots
 * added, the activation. Backward: REINFORCE on the gaters when asked, the root's gradients, the
 * touched rows' gradients, dX. Update: the method's SGD with the exact lazy L2 on the touched rows.
 * Correct, not tuned (as on wasm): the row kernels loop over the batch's examples.
 */
import type { Step } from "../../runtime/webgpu/executor.js";
import { activationForwardKernel, type Activation } from "../../runtime/webgpu/kernels/elementwise.js";
import type { GpuRegionRequest, GpuSourceDelta } from "../../runtime/webgpu/method.js";
import { activationBackwardSteps } from "../dense/webgpu.js";
import { gaterSteps, nodesOf, reinforceSteps, rootBackwardSteps, rootForwardSteps, rootInputSteps, type Ctx, type Layer } from "./gpu-common.js";
import { unitOrders } from "./orders.js";
import { CALL_WORDS, scaleKernel } from "./wgsl.js";
import {
  unitCatchUpKernel,
  unitCountKernel,
  unitForwardKernel,
  unitInputGradKernel,
  unitPathsKernel,
  unitUpdateKernel,
  unitWeightGradKernel,
} from "./wgsl-unit.js";

const rowsOf = (layer: Layer) => nodesOf(layer) * layer.units;

/**
 * The GPU-only buffers: the call words, each row's decay stamp and catch-up factor, and the units'
 * gater orders (made here from the shape, so a model loaded without init has them too).
 */
export function unitRegions(layer: Layer): GpuRegionRequest[] {
  const rows = rowsOf(layer);
  return [
    { suffix: "call", words: CALL_WORDS },
    { suffix: "last", words: rows },
    { suffix: "factor", words: rows },
    { suffix: "order", words: layer.units * layer.options.depth, initial: () => unitOrders(layer.units, layer.options.depth) },
  ];
}

/** The touched rows (every row when `all`) brought up to the current Λ. */
export function unitCatchUp(layer: Layer, all: boolean): Step[] {
  const rows = rowsOf(layer);
  return [
    { kind: "dispatch", kernel: unitCatchUpKernel(rows, all), bind: { counts: layer.region("tree_count"), last: layer.own("last"), factor: layer.own("factor"), words: layer.own("call") } },
    { kind: "dispatch", kernel: scaleKernel(rows, layer.inputs), bind: { w: layer.param("tree_weight").value, factor: layer.own("factor") } },
  ];
}

export function unitForward(layer: Layer, phase: "predict" | "train"): Step[] {
  const { inputs, units } = layer;
  const k = layer.options.depth;
  const r = (s: string) => layer.region(`tree_${s}`);
  const steps: Step[] = [
    ...gaterSteps(layer, phase),
    { kind: "dispatch", kernel: unitPathsKernel(k, units), bind: { bits: r("bits"), order: layer.own("order"), path: r("path") } },
    { kind: "dispatch", kernel: unitCountKernel(k, units, nodesOf(layer)), bind: { path: r("path"), counts: r("count") } },
    ...unitCatchUp(layer, false),
    ...rootForwardSteps(layer),
    {
      kind: "dispatch",
      kernel: unitForwardKernel(k, units, inputs),
      bind: { x: layer.x, path: r("path"), w: layer.param("tree_weight").value, bias: layer.param("tree_bias").value, z: layer.output },
    },
  ];
  if (layer.activation !== "linear") {
    steps.push({ kind: "dispatch", kernel: activationForwardKernel(layer.activation as Exclude<Activation, "linear">, "n", units), bind: { h: layer.output } });
  }
  return steps;
}

export function unitBackward(layer: Layer, ctx: Ctx, source: GpuSourceDelta | null): Step[] {
  const { inputs, units } = layer;
  const k = layer.options.depth;
  const r = (s: string) => layer.region(`tree_${s}`);
  const w = layer.param("tree_weight");
  const steps: Step[] = [
    ...activationBackwardSteps(layer),
    ...reinforceSteps(layer, ctx),
    ...rootBackwardSteps(layer),
    {
      kind: "dispatch",
      kernel: unitWeightGradKernel(k, units, inputs, nodesOf(layer)),
      bind: { x: layer.x, delta: layer.delta!, path: r("path"), counts: r("count"), gradW: w.grad!, gradB: layer.param("tree_bias").grad! },
    },
  ];
  if (source) {
    steps.push(...rootInputSteps(layer, source), {
      kind: "dispatch",
      kernel: unitInputGradKernel(k, units, inputs),
      bind: { delta: layer.delta!, path: r("path"), w: w.value, dx: source.region },
    });
  }
  return steps;
}

export function unitUpdate(layer: Layer, ctx: Ctx): Step[] {
  const o = layer.options;
  const w = layer.param("tree_weight");
  const b = layer.param("tree_bias");
  return [
    {
      kind: "dispatch",
      kernel: unitUpdateKernel(layer.units, layer.inputs, nodesOf(layer), o.levelLr, o.levelLrMax),
      bind: { w: w.value, bias: b.value, gradW: w.grad!, gradB: b.grad!, last: layer.own("last"), counts: layer.region("tree_count"), words: layer.own("call"), loss: ctx.loss },
    },
  ];
}
