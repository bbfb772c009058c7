/**
 * @fileoverview The low-rank gate on the GPU (the GPU half of methods/lowrank; kernels in wgsl.ts).
 * The estimator Ẑ = (X U) V + b is two GEMMs (the bias in the second's epilogue); the computed
 * units (Ẑ > θ) become per-example and per-unit lists, and the exact part is one grouped product
 * per unit over the examples that compute it, ReLU fused, every other output 0. The factors U, V
 * are still the runtime's: its f64 SVD runs on the host and uploads them. `in_loop` trains
 * through the estimator with the masked backward (gradients only over the computed pairs);
 * `test_only` trains the dense layer; a disabled estimator (setEstimatorsEnabled) runs the
 * dense layer everywhere. The switch is host state read by each step's guard, not a recompile.
 */
import type { Step } from "../../runtime/webgpu/executor.js";
import { gemmKernel } from "../../runtime/webgpu/kernels/gemm.js";
import { readCounters64 } from "../../runtime/webgpu/kernels/wgsl.js";
import { defineGpuMethod, type GpuContext, type GpuLayer, type GpuSourceDelta } from "../../runtime/webgpu/method.js";
import type { LayerReport } from "../runtime-unit.js";
import { activationBackwardSteps, denseBackwardSteps, denseForwardSteps } from "../dense/webgpu.js";
import type { LowRankSettings } from "./runtime.js";
import {
  countersKernel,
  exactPartKernel,
  exampleListsKernel,
  maskedBiasGradKernel,
  maskedInputGradKernel,
  maskedWeightGradKernel,
  unitListsKernel,
} from "./wgsl.js";

/** Per layer: whether the estimator runs (the module's `enabled` global; setEstimatorsEnabled). */
export interface LowRankGpuState {
  enabled: Map<string, boolean>;
}

type Layer = GpuLayer<LowRankSettings>;
type Ctx = GpuContext<LowRankGpuState>;

const on = (ctx: Ctx, layer: Layer) => () => ctx.state.enabled.get(layer.name) !== false;
const off = (ctx: Ctx, layer: Layer) => () => ctx.state.enabled.get(layer.name) === false;

function estimatorSteps(layer: Layer, ctx: Ctx, when: () => boolean): Step[] {
  const { inputs, units } = layer;
  const { rank: r, threshold } = layer.options;
  const region = (s: string) => layer.region(`lowrank_${s}`);
  const guard = (_n: number) => when();
  return [
    {
      kind: "dispatch",
      kernel: gemmKernel({ shape: "NN", m: "n", n: r, k: inputs, lda: inputs, ldb: r, ldc: r, beta: 0 }),
      bind: { a: layer.x, b: layer.param("lowrank_u").value, c: region("t") },
      when: guard,
    },
    {
      kind: "dispatch",
      kernel: gemmKernel({ shape: "NN", m: "n", n: units, k: r, lda: r, ldb: units, ldc: units, beta: 0, epilogue: { bias: true, activation: "linear" } }),
      bind: { a: region("t"), b: layer.param("lowrank_v").value, c: region("zhat"), bias: layer.param("bias").value },
      when: guard,
    },
    { kind: "dispatch", kernel: exampleListsKernel(units, threshold), bind: { zhat: region("zhat"), activeList: region("active"), count: region("count") }, when: guard },
    { kind: "dispatch", kernel: unitListsKernel(units, ctx.maxBatch, threshold), bind: { zhat: region("zhat"), counts: layer.own("unit_counts"), members: layer.own("unit_members") }, when: guard },
    { kind: "clear", region: layer.output, bytes: (n) => (when() ? 4 * n * units : 0) },
    {
      kind: "dispatch",
      kernel: exactPartKernel(units, inputs, ctx.maxBatch),
      bind: { x: layer.x, w: layer.param("weight").value, b: layer.param("bias").value, h: layer.output, counts: layer.own("unit_counts"), members: layer.own("unit_members") },
      when: guard,
    },
    { kind: "dispatch", kernel: countersKernel(), bind: { count: region("count"), counters: layer.own("counters") }, when: guard },
  ];
}

function maskedBackwardSteps(layer: Layer, ctx: Ctx, source: GpuSourceDelta | null, when: () => boolean): Step[] {
  const { inputs, units } = layer;
  const guard = (_n: number) => when();
  const delta = layer.delta!;
  const lists = { counts: layer.own("unit_counts"), members: layer.own("unit_members") };
  const steps: Step[] = [
    { kind: "dispatch", kernel: maskedWeightGradKernel(units, inputs, ctx.maxBatch), bind: { d: delta, x: layer.x, dw: layer.param("weight").grad!, ...lists }, when: guard },
    { kind: "dispatch", kernel: maskedBiasGradKernel(units, ctx.maxBatch), bind: { d: delta, db: layer.param("bias").grad!, ...lists }, when: guard },
  ];
  if (source) {
    steps.push({
      kind: "dispatch",
      kernel: maskedInputGradKernel(units, inputs, source.beta),
      bind: { d: delta, w: layer.param("weight").value, dx: source.region, activeList: layer.region("lowrank_active"), count: layer.region("lowrank_count") },
      when: guard,
    });
  }
  return steps;
}

export const lowrankGpu = defineGpuMethod<LowRankSettings, LowRankGpuState>({
  state: () => ({ enabled: new Map() }),
  regions: (layer, ctx) => [
    { suffix: "unit_counts", words: layer.units },
    { suffix: "unit_members", words: layer.units * ctx.maxBatch },
    // examples and computed pairs, 64-bit; reset with either phase's counters (one region, as the module's)
    { suffix: "counters", words: 4, counters: "both" },
  ],
  forward(layer, ctx, phase) {
    // test_only trains the dense layer; otherwise the estimator unless switched off.
    if (phase === "train" && layer.options.mode === "test_only") return denseForwardSteps(layer);
    return [...denseForwardSteps(layer, off(ctx, layer)), ...estimatorSteps(layer, ctx, on(ctx, layer))];
  },
  backward(layer, ctx, source) {
    const steps = activationBackwardSteps(layer);
    if (layer.options.mode !== "in_loop") return [...steps, ...denseBackwardSteps(layer, source)];
    const dense = off(ctx, layer);
    return [...steps, ...denseBackwardSteps(layer, source, () => dense()), ...maskedBackwardSteps(layer, ctx, source, on(ctx, layer))];
  },
  async report(layer, ctx, phase): Promise<LayerReport> {
    const [examples, computed] = readCounters64(await ctx.download(layer.own("counters")));
    const rank = layer.options.rank;
    if (examples === 0 && phase === "train" && layer.options.mode === "test_only") return { macsPerExample: layer.inputs * layer.units, activeFraction: 1, metrics: { rank } };
    if (!examples) return { macsPerExample: null, activeFraction: null, metrics: { rank } };
    // What the GPU computes: both estimator GEMMs for every example, the exact part for the computed pairs.
    const macs = examples * rank * (layer.inputs + layer.units) + computed! * layer.inputs;
    return { macsPerExample: macs / examples, activeFraction: computed! / (examples * layer.units), metrics: { rank } };
  },
});
