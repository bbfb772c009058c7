/**
 * @fileoverview Block-dropout policies on the GPU (the GPU half of methods/policy; kernels in
 * wgsl.ts). Forward: σ = sigm(X Z + d) (one GEMM with the bias and sigmoid in its epilogue),
 * masks from the counter RNG with the wasm build's stream and seed (the same masks), per-block
 * member lists, and the layer as one grouped product: each active block's weight rows against
 * the examples that have it active, bias and activation fused, inactive blocks 0. Backward: the
 * masked activation derivative, dW = Δᵀ X and db (Δ is zero off the active blocks), dL/dX over
 * the active block pairs (per example, its active units; only the source's active input blocks
 * when the source is policy-gated), then REINFORCE: costs, baseline, the policy-logit gradient,
 * dZ = Xᵀ E, dd = colsum E; the policy's own step after the optimizer.
 */
import type { Manifest } from "../../runtime/manifest.js";
import type { Step } from "../../runtime/webgpu/executor.js";
import { columnSumsKernel, type Activation } from "../../runtime/webgpu/kernels/elementwise.js";
import { DEFAULT_TILE, gemmKernel, NARROW_TILE } from "../../runtime/webgpu/kernels/gemm.js";
import { groupedProductKernel } from "../../runtime/webgpu/kernels/grouped.js";
import { callWords } from "../../runtime/webgpu/kernels/wgsl.js";
import { defineGpuMethod, type GpuCall, type GpuContext, type GpuLayer } from "../../runtime/webgpu/method.js";
import { POLICY_EVAL_STREAM_BASE } from "../../runtime/kernels/codes/policy.js";
import { denseBackwardSteps } from "../dense/webgpu.js";
import type { PolicyTestMode } from "./runtime.js";
import type { LayerReport } from "../runtime-unit.js";
import type { ReinforceSettings } from "./settings.js";
import {
  backwardInputKernel,
  baselineKernel,
  CALL_WORDS,
  costsKernel,
  gradientKernel,
  groupsKernel,
  maskedActivationBackwardKernel,
  meanKernel,
  sampleKernel,
  statsKernel,
  stepKernel,
  type MaskShape,
} from "./wgsl.js";

interface PolicyOptions {
  blocks: number;
  tau: number;
  squash: number;
  test: PolicyTestMode;
  uniform: boolean;
}

/** The host state the wasm module keeps in globals: seed, test-time mode, policy lr, eval calls. */
export interface PolicyGpuState {
  seed: number;
  mode: PolicyTestMode;
  /** The policy's learning rate (f32, as the module's global). */
  lr: number;
  /** predict calls since the seed was set: the test-time RNG streams. */
  evalCalls: number;
  settings: ReinforceSettings;
}

type Layer = GpuLayer<PolicyOptions>;
type Ctx = GpuContext<PolicyGpuState>;

const blockSize = (layer: Layer) => Math.ceil(layer.units / layer.options.blocks);
const maskShape = (layer: Layer): MaskShape => ({ nb: layer.options.blocks, squash: layer.options.squash, rate: layer.options.uniform ? layer.options.tau : -1 });
const policySource = (layer: Layer): Layer | null => (layer.source && layer.source.method === layer.method ? (layer.source as Layer) : null);

function forward(layer: Layer, ctx: Ctx, phase: "predict" | "train"): Step[] {
  const o = layer.options;
  const nb = o.blocks;
  const B = blockSize(layer);
  const r = (s: string) => layer.region(`policy_${s}`);
  const steps: Step[] = [];
  if (!o.uniform) {
    steps.push({
      kind: "dispatch",
      kernel: gemmKernel({ shape: "NN", m: "n", n: nb, k: layer.inputs, lda: layer.inputs, ldb: nb, ldc: nb, beta: 0, epilogue: { bias: true, activation: "sigmoid" } }),
      bind: { a: layer.x, b: layer.param("policy_weight").value, c: r("sigma"), bias: layer.param("policy_bias").value },
    });
  }
  const shape = maskShape(layer);
  steps.push({ kind: "dispatch", kernel: sampleKernel(shape), bind: { sigma: r("sigma"), u: r("u"), activeList: r("active"), count: r("count"), words: layer.own("call") } });
  steps.push({ kind: "dispatch", kernel: statsKernel(shape), bind: { sigma: r("sigma"), count: r("count"), stats: layer.own(phase === "train" ? "train_stats" : "eval_stats") } });
  steps.push({ kind: "dispatch", kernel: groupsKernel(nb, ctx.maxBatch), bind: { u: r("u"), counts: layer.own("counts"), members: layer.own("members") } });
  steps.push({ kind: "clear", region: layer.output, bytes: (n) => 4 * n * layer.units });
  steps.push({
    kind: "dispatch",
    kernel: groupedProductKernel(
      {
        shape: "NT", groups: nb, rows: { kind: "list", capacity: ctx.maxBatch }, maxRows: { dim: "n", times: 1 }, cols: B, totalCols: layer.units,
        k: layer.inputs, lda: layer.inputs, ldb: layer.inputs, ldc: layer.units, bBase: 0, bStride: B * layer.inputs, cColStride: B, beta: 0,
        epilogue: { biasBase: 0, biasStride: B, activation: layer.activation as Activation },
      },
      B <= 16 ? NARROW_TILE : DEFAULT_TILE,
    ),
    bind: { a: layer.x, b: layer.param("weight").value, c: layer.output, counts: layer.own("counts"), members: layer.own("members"), bias: layer.param("bias").value },
  });
  return steps;
}

function backward(layer: Layer, ctx: Ctx, source: { region: string; beta: 0 | 1 } | null): Step[] {
  const o = layer.options;
  const nb = o.blocks;
  const B = blockSize(layer);
  const r = (s: string) => layer.region(`policy_${s}`);
  const delta = layer.delta!;
  const steps: Step[] = [
    { kind: "dispatch", kernel: maskedActivationBackwardKernel(layer.activation, layer.units, B, nb), bind: { delta, h: layer.output, u: r("u") } },
    ...denseBackwardSteps(layer, null),
  ];
  if (source) {
    const from = policySource(layer);
    const kernel = backwardInputKernel({ units: layer.units, inputs: layer.inputs, block: B, nb, source: from ? { nb: from.options.blocks, block: blockSize(from) } : null, beta: source.beta });
    const bind: Record<string, string> = { g: delta, w: layer.param("weight").value, dx: source.region, activeList: r("active"), count: r("count") };
    if (from) bind["sourceU"] = from.region("policy_u");
    steps.push({ kind: "dispatch", kernel, bind });
  }
  if (o.uniform) return steps;
  const s = ctx.state.settings;
  const gradient = { nb, squash: o.squash, tau: o.tau, lambdaS: s.lambdaS, lambdaV: s.lambdaV, form: s.regularizer === "code" ? 1 : 0 } as const;
  steps.push(
    { kind: "dispatch", kernel: costsKernel(ctx.classes), bind: { probs: ctx.probs, labels: ctx.labels, cost: r("cost") } },
    { kind: "dispatch", kernel: baselineKernel(s.baseline), bind: { cost: r("cost"), ema: layer.own("ema"), base: layer.own("base") } },
    { kind: "dispatch", kernel: meanKernel(gradient), bind: { sigma: r("sigma"), mu: r("mu") } },
    {
      kind: "dispatch",
      kernel: gradientKernel(gradient),
      bind: { sigma: r("sigma"), u: r("u"), cost: r("cost"), base: layer.own("base"), mu: r("mu"), words: layer.own("call"), e: r("e") },
    },
    {
      kind: "dispatch",
      kernel: gemmKernel({ shape: "TN", m: layer.inputs, n: nb, k: "n", lda: layer.inputs, ldb: nb, ldc: nb, beta: 0 }),
      bind: { a: layer.x, b: r("e"), c: layer.param("policy_weight").grad! },
    },
    { kind: "dispatch", kernel: columnSumsKernel("n", nb), bind: { delta: r("e"), db: layer.param("policy_bias").grad! } },
  );
  return steps;
}

function update(layer: Layer, ctx: Ctx): Step[] {
  const o = layer.options;
  if (o.uniform) return [];
  const s = ctx.state.settings;
  const z = layer.param("policy_weight");
  const d = layer.param("policy_bias");
  const ema = s.baseline === "moving_average";
  const zBind: Record<string, string> = { param: z.value, grad: z.grad!, words: layer.own("call"), loss: ctx.loss };
  if (ema) Object.assign(zBind, { ema: layer.own("ema"), base: layer.own("base") });
  return [
    { kind: "dispatch", kernel: stepKernel(z.count, s.l2, ema), bind: zBind },
    { kind: "dispatch", kernel: stepKernel(d.count, 0, false), bind: { param: d.value, grad: d.grad!, words: layer.own("call"), loss: ctx.loss } },
  ];
}

function writes(layer: Layer, ctx: Ctx, call: GpuCall): Array<{ region: string; data: ArrayBufferView }> {
  const state = ctx.state;
  const base = call.phase === "train" ? call.step : POLICY_EVAL_STREAM_BASE + state.evalCalls;
  const stream = (((base << 6) >>> 0) + (layer.index & 63)) >>> 0;
  const sample = call.phase === "train" || state.mode === "sample" ? 1 : 0;
  const lr = Math.fround(call.lr);
  const code = state.settings.regularizer === "code";
  const regScale = code ? 1 : Math.fround(lr / state.lr);
  const decayLr = code ? state.lr : lr;
  return [{ region: layer.own("call"), data: callWords([{ u32: state.seed }, { u32: stream }, { u32: sample }, { f32: state.lr }, { f32: regScale }, { f32: decayLr }]) }];
}

function statsView(stats: Float32Array, blocks: number): { examples: number; active: number; mean: number[]; variance: number[] } {
  const examples = stats[2 * blocks]!;
  const mean: number[] = [];
  const variance: number[] = [];
  for (let j = 0; j < blocks; j++) {
    const m = examples > 0 ? stats[j]! / examples : 0;
    mean.push(m);
    variance.push(examples > 0 ? Math.max(0, stats[blocks + j]! / examples - m * m) : 0);
  }
  return { examples, active: stats[2 * blocks + 1]!, mean, variance };
}

export const policyGpu = defineGpuMethod<PolicyOptions, PolicyGpuState>({
  state(layers: GpuLayer<PolicyOptions>[], manifest: Manifest): PolicyGpuState {
    const settings = (manifest.train.settings["policy"] as ReinforceSettings | undefined) ?? ({ kind: "reinforce", lr: 0, lambdaS: 0, lambdaV: 0, l2: 0, baseline: "none", regularizer: "paper" } as ReinforceSettings);
    return { seed: 0, mode: layers[0]?.options.test ?? "sample", lr: Math.fround(settings.lr), evalCalls: 0, settings };
  },
  regions(layer, ctx) {
    const nb = layer.options.blocks;
    return [
      { suffix: "call", words: CALL_WORDS },
      // the moving-average baseline's EMA: -1 until the first step (the module's global starts so)
      { suffix: "ema", words: 1, initial: () => Float32Array.of(-1) },
      { suffix: "base", words: 2 },
      { suffix: "counts", words: nb },
      { suffix: "members", words: nb * ctx.maxBatch },
      { suffix: "train_stats", words: 2 * nb + 2, counters: "train" },
      { suffix: "eval_stats", words: 2 * nb + 2, counters: "eval" },
    ];
  },
  forward: (layer, ctx, phase) => forward(layer, ctx, phase),
  backward,
  update,
  writes,
  afterCall(ctx, call) {
    if (call.phase === "predict") ctx.state.evalCalls++;
  },
  afterUpload(ctx, seed) {
    if (seed !== null) {
      ctx.state.seed = seed >>> 0;
      ctx.state.evalCalls = 0;
    }
  },
  async report(layer, ctx, phase): Promise<LayerReport> {
    const nb = layer.options.blocks;
    const s = statsView(new Float32Array(await ctx.download(layer.own(`${phase}_stats`))), nb);
    if (s.examples === 0) return { macsPerExample: null, activeFraction: null, metrics: { blocks: nb } };
    const own = s.active / (s.examples * nb);
    // The grouped product reads each active block's whole input rows: the source's masks save nothing here.
    const macs = layer.inputs * layer.units * own + (layer.options.uniform ? 0 : layer.inputs * nb);
    return { macsPerExample: macs, activeFraction: own, metrics: { blocks: nb, block_mean: s.mean, block_variance: s.variance } };
  },
});
