/**
 * @fileoverview The mixture of experts on the GPU (kernels in wgsl.ts): the router's logits as a
 * GEMM (two with noisy gating in training), routing and noisy top-k gating per example (the same
 * gating noise as the wasm build), the dispatch of pairs by expert with the capacity, then one
 * grouped product per expert over its routed rows (MegaBlocks' dropless layout; FFN experts are
 * two), the gate-weighted combine; the balance loss into its loss slot. Backward: the combine's,
 * each expert's gradients over its own rows (grouped TN and column sums; an expert no pair reached
 * gets zeros, as the wasm build's), the grouped dX scattered back per example, the router's
 * backward with the balance loss's gradient. Every parameter is the model optimizer's.
 */
import type { Step } from "../../runtime/webgpu/executor.js";
import type { Activation } from "../../runtime/webgpu/kernels/elementwise.js";
import { gemmKernel } from "../../runtime/webgpu/kernels/gemm.js";
import { groupedColumnSumsKernel, groupedProductKernel, groupedWeightGradKernel, tileForGroups, tileScheduleKernel, tileTableWords } from "../../runtime/webgpu/kernels/grouped.js";
import { tileSpan } from "../../runtime/webgpu/kernels/gemm.js";
import { callWords } from "../../runtime/webgpu/kernels/wgsl.js";
import { defineGpuMethod, type GpuContext, type GpuLayer, type GpuSourceDelta } from "../../runtime/webgpu/method.js";
import type { LayerReport } from "../runtime-unit.js";
import type { MoeOptions as CompiledMoeOptions } from "./method.js";
import { centreColumnsKernel, centreShiftKernel, centreUpdateKernel } from "./wgsl-centre.js";
import {
  balanceKernel,
  balanceWords,
  CALL_WORDS,
  combineKernel,
  COUNTER_BALANCE_WORD,
  COUNTER_DROPPED,
  COUNTER_ENTROPY_WORD,
  COUNTER_EXAMPLES,
  COUNTER_LOAD_WORD,
  COUNTER_PAIRS,
  counterWords,
  dgatesKernel,
  dispatchKernel,
  dysKernel,
  gatherKernel,
  keptActivationBackwardKernel,
  routeKernel,
  routerRowBackwardKernel,
  scatterInputKernel,
  statsKernel,
  type BalanceShape,
} from "./wgsl.js";

/** The method's options as the manifest holds them; `router` and `zLoss` are absent in manifests written before those options (plain, 0). */
type MoeOptions = Omit<CompiledMoeOptions, "router" | "zLoss"> & Partial<Pick<CompiledMoeOptions, "router" | "zLoss">>;

/** The module's per-layer global the GPU needs: the gating noise's seed (set by init). */
export interface MoeGpuState {
  seed: number;
}

type Layer = GpuLayer<MoeOptions>;
type Ctx = GpuContext<MoeGpuState>;

function balanceShape(layer: Layer): BalanceShape {
  const b = layer.options.balance;
  const [c1, c2] = b.kind === "switch" ? [b.alpha, 0] : b.kind === "cv" ? [b.importance, b.load] : [0, 0];
  return { experts: layer.options.experts, k: layer.options.topK, kind: b.kind, c1, c2 };
}

/** Expert weights and biases: one layer (W1, b1) or an FFN (W1, b1, W2, b2). */
function expertParams(layer: Layer) {
  const H = layer.options.hidden;
  const p = (s: string) => layer.param(s);
  return H === 0
    ? { w1: p("expert_weight"), b1: p("expert_bias"), w2: null, b2: null }
    : { w1: p("expert_w1"), b1: p("expert_b1"), w2: p("expert_w2"), b2: p("expert_b2") };
}

/** The capacity ceil(c·k·n/E) of moeCapacity (f64, the same slack), -1 when dropless. */
export function capacityOf(o: MoeOptions, n: number): number {
  if (o.capacity === null) return -1;
  const exact = (o.capacity * o.topK * n) / o.experts;
  return Math.ceil(exact - 1e-12 * Math.abs(exact));
}

function forward(layer: Layer, ctx: Ctx, phase: "predict" | "train", lossSlot: number | null): Step[] {
  const { inputs, units } = layer;
  const o = layer.options;
  const { experts: E, topK: k, hidden: H } = o;
  const noisy = phase === "train" && o.gating === "noisy";
  const r = (s: string) => layer.region(`moe_${s}`);
  const width = H > 0 ? H : units;
  const w = expertParams(layer);
  const tile = tileForGroups((ctx.maxBatch * k) / E);
  const router = (weight: string, out: string): Step => ({
    kind: "dispatch",
    kernel: gemmKernel({ shape: "NT", m: "n", n: E, k: inputs, lda: inputs, ldb: inputs, ldc: E, beta: 0 }),
    bind: { a: layer.x, b: weight, c: out },
  });
  const routeBind: Record<string, string> = {
    logits: r("logits"), gateLogits: r("gate_logits"), probs: r("probs"), top: r("top"), gates: r("gates"), rowEntropy: layer.own("entropy"), words: layer.own("call"),
  };
  if (noisy) Object.assign(routeBind, { noiseLogits: r("noise_logits"), noise: r("noise") });
  const steps: Step[] = [router(layer.param("router_weight").value, r("logits"))];
  if (noisy) steps.push(router(layer.param("router_noise_weight").value, r("noise_logits")));
  if (o.router === "centred") steps.push(...centreRouter(layer, phase, noisy));
  const starts = r("expert_start");
  steps.push(
    { kind: "dispatch", kernel: routeKernel({ experts: E, k, layerIndex: layer.index }, noisy), bind: routeBind },
    {
      kind: "dispatch",
      kernel: dispatchKernel(E, k),
      bind: { top: r("top"), counts: r("counts"), expertStart: starts, rowPair: r("row_pair"), pairRow: r("pair_row"), dropCount: layer.own("dropped"), words: layer.own("call") },
    },
    { kind: "dispatch", kernel: gatherKernel(E, k, inputs), bind: { x: layer.x, rowPair: r("row_pair"), expertStart: starts, xs: r("xs") } },
    { kind: "dispatch", kernel: tileScheduleKernel(E, 1, tileSpan(tile).rows), bind: { starts, tiles: layer.own("tiles") } },
    {
      kind: "dispatch",
      kernel: groupedProductKernel({
        shape: "NT", groups: E, rows: { kind: "range", stride: 1 }, maxRows: { dim: "n", times: k }, cols: width, k: inputs, lda: inputs, ldb: inputs, ldc: width,
        bBase: 0, bStride: width * inputs, cColStride: 0, beta: 0, epilogue: { biasBase: 0, biasStride: width, activation: layer.activation as Activation }, scheduled: true,
      }, tile),
      bind: { a: r("xs"), b: w.w1.value, c: H > 0 ? r("hs") : r("ys"), starts, bias: w.b1.value, tiles: layer.own("tiles") },
    },
  );
  if (H > 0) {
    steps.push({
      kind: "dispatch",
      kernel: groupedProductKernel({
        shape: "NT", groups: E, rows: { kind: "range", stride: 1 }, maxRows: { dim: "n", times: k }, cols: units, k: H, lda: H, ldb: H, ldc: units,
        bBase: 0, bStride: units * H, cColStride: 0, beta: 0, epilogue: { biasBase: 0, biasStride: units, activation: "linear" }, scheduled: true,
      }, tile),
      bind: { a: r("hs"), b: w.w2!.value, c: r("ys"), starts, bias: w.b2!.value, tiles: layer.own("tiles") },
    });
  }
  steps.push({ kind: "dispatch", kernel: combineKernel(k, units), bind: { ys: r("ys"), pairRow: r("pair_row"), gates: r("gates"), h: layer.output } });
  const balanceBind: Record<string, string> = { logits: r("logits"), gateLogits: r("gate_logits"), probs: r("probs"), top: r("top"), gates: r("gates"), balance: layer.own("balance") };
  const shape = balanceShape(layer);
  if (noisy && k < E && shape.kind === "cv") balanceBind["noiseLogits"] = r("noise_logits");
  const slot = phase === "train" && shape.kind !== "none" ? lossSlot : null;
  if (slot !== null) balanceBind["loss"] = ctx.loss;
  steps.push(
    { kind: "dispatch", kernel: balanceKernel(shape, noisy, slot), bind: balanceBind },
    {
      kind: "dispatch",
      kernel: statsKernel(E, k),
      bind: { counts: r("counts"), dropCount: layer.own("dropped"), rowEntropy: layer.own("entropy"), balance: layer.own("balance"), counters: layer.own(phase === "train" ? "train_stats" : "eval_stats") },
    },
  );
  return steps;
}

/**
 * `router: centred`: training centres each expert's logit column over the batch (and the noise
 * logits'), then the running centre takes the batch; evaluation subtracts W centre.
 */
function centreRouter(layer: Layer, phase: "predict" | "train", noisy: boolean): Step[] {
  const E = layer.options.experts;
  const centre = layer.param("router_centre").value;
  const columns = (region: string): Step => ({ kind: "dispatch", kernel: centreColumnsKernel(E), bind: { v: region } });
  if (phase === "predict") {
    return [{ kind: "dispatch", kernel: centreShiftKernel(E, layer.inputs), bind: { w: layer.param("router_weight").value, centre, logits: layer.region("moe_logits") } }];
  }
  return [
    columns(layer.region("moe_logits")),
    ...(noisy ? [columns(layer.region("moe_noise_logits"))] : []),
    { kind: "dispatch", kernel: centreUpdateKernel(layer.inputs), bind: { x: layer.x, words: layer.own("call"), centre } },
  ];
}

function backward(layer: Layer, ctx: Ctx, source: GpuSourceDelta | null): Step[] {
  const { inputs, units } = layer;
  const o = layer.options;
  const { experts: E, topK: k, hidden: H } = o;
  const noisy = o.gating === "noisy";
  const r = (s: string) => layer.region(`moe_${s}`);
  const starts = r("expert_start");
  const width = H > 0 ? H : units;
  const w = expertParams(layer);
  const delta = layer.delta!;
  const tile = tileForGroups((ctx.maxBatch * k) / E);
  const grouped = (rows: { dim: "n"; times: number }) => ({ groups: E, rows: { kind: "range" as const, stride: 1 }, maxRows: rows });
  const weightGrad = (m: number, n: number, a: string, b: string, c: string): Step => ({
    kind: "dispatch",
    kernel: groupedWeightGradKernel({ groups: E, stride: 1, m, n, lda: m, ldb: n, cBase: 0, cStride: m * n, ldc: n, empty: "zero" }),
    bind: { a, b, c, starts },
  });
  const biasGrad = (cols: number, d: string, db: string): Step => ({
    kind: "dispatch",
    kernel: groupedColumnSumsKernel(E, 1, cols, cols, 0, cols, "zero"),
    bind: { delta: d, db, starts },
  });
  const steps: Step[] = [
    { kind: "dispatch", kernel: dgatesKernel(k, units), bind: { dh: delta, ys: r("ys"), pairRow: r("pair_row"), dgates: r("dgates") } },
    { kind: "dispatch", kernel: dysKernel(E, k, units), bind: { dh: delta, rowPair: r("row_pair"), expertStart: starts, gates: r("gates"), dys: r("dys") } },
  ];
  let dz = r("dys");
  if (H > 0) {
    steps.push(
      weightGrad(units, H, r("dys"), r("hs"), w.w2!.grad!),
      biasGrad(units, r("dys"), w.b2!.grad!),
      {
        kind: "dispatch",
        kernel: groupedProductKernel({
          shape: "NN", ...grouped({ dim: "n", times: k }), cols: H, k: units, lda: units, ldb: H, ldc: H, bBase: 0, bStride: units * H, cColStride: 0, beta: 0, scheduled: true,
        }, tile),
        bind: { a: r("dys"), b: w.w2!.value, c: r("dhs"), starts, tiles: layer.own("tiles") },
      },
      { kind: "dispatch", kernel: keptActivationBackwardKernel(E, k, H, layer.activation as Activation), bind: { dz: r("dhs"), h: r("hs"), expertStart: starts } },
    );
    dz = r("dhs");
  } else {
    steps.push({ kind: "dispatch", kernel: keptActivationBackwardKernel(E, k, units, layer.activation as Activation), bind: { dz, h: r("ys"), expertStart: starts } });
  }
  steps.push(weightGrad(width, inputs, dz, r("xs"), w.w1.grad!), biasGrad(width, dz, w.b1.grad!));
  if (source) {
    steps.push(
      {
        kind: "dispatch",
        kernel: groupedProductKernel({
          shape: "NN", ...grouped({ dim: "n", times: k }), cols: inputs, k: width, lda: width, ldb: inputs, ldc: inputs, bBase: 0, bStride: width * inputs, cColStride: 0, beta: 0, scheduled: true,
        }, tile),
        bind: { a: dz, b: w.w1.value, c: r("dxs"), starts, tiles: layer.own("tiles") },
      },
      { kind: "dispatch", kernel: scatterInputKernel(k, inputs, source.beta), bind: { dxs: r("dxs"), pairRow: r("pair_row"), dx: source.region } },
    );
  }
  // The router: with one expert it does not affect the output (zero gradients, dx unchanged).
  const wg = layer.param("router_weight");
  const wn = noisy ? layer.param("router_noise_weight") : null;
  if (E === 1) {
    steps.push({ kind: "clear", region: wg.grad!, bytes: () => 4 * wg.count });
    if (wn) steps.push({ kind: "clear", region: wn.grad!, bytes: () => 4 * wn.count });
    return steps;
  }
  const rowBind: Record<string, string> = {
    logits: r("logits"), gateLogits: r("gate_logits"), probs: r("probs"), top: r("top"), gates: r("gates"), dgates: r("dgates"),
    balance: layer.own("balance"), dLogits: r("dlogits"), dl: layer.own("dl"),
  };
  if (noisy) Object.assign(rowBind, { noiseLogits: r("noise_logits"), noise: r("noise"), dNoise: r("dnoise_logits") });
  const routerGrad = (d: string, grad: string): Step => ({
    kind: "dispatch",
    kernel: gemmKernel({ shape: "TN", m: E, n: inputs, k: "n", lda: E, ldb: inputs, ldc: inputs, beta: 0 }),
    bind: { a: d, b: layer.x, c: grad },
  });
  const routerInput = (d: string, weight: string): Step => ({
    kind: "dispatch",
    kernel: gemmKernel({ shape: "NN", m: "n", n: inputs, k: E, lda: E, ldb: inputs, ldc: inputs, beta: 1 }),
    bind: { a: d, b: weight, c: source!.region },
  });
  steps.push({ kind: "dispatch", kernel: routerRowBackwardKernel(balanceShape(layer), noisy), bind: rowBind });
  // centred: dW and dX are the products of the column-centred dL (moeRouterBackward)
  if (o.router === "centred") {
    steps.push({ kind: "dispatch", kernel: centreColumnsKernel(E), bind: { v: r("dlogits") } });
    if (noisy) steps.push({ kind: "dispatch", kernel: centreColumnsKernel(E), bind: { v: r("dnoise_logits") } });
  }
  steps.push(routerGrad(r("dlogits"), wg.grad!));
  if (wn) steps.push(routerGrad(r("dnoise_logits"), wn.grad!));
  if (source) {
    steps.push(routerInput(r("dlogits"), wg.value));
    if (wn) steps.push(routerInput(r("dnoise_logits"), wn.value));
  }
  return steps;
}

/** The router option the GPU kernels do not build (the z-loss): the wasm build trains it (docs/methods/moe.md). */
function unsupportedRouter(options: MoeOptions): string[] {
  const problems: string[] = [];
  if ((options.zLoss ?? 0) > 0) problems.push("moe option 'z_loss' is not built on the GPU (the wasm back end runs it)");
  return problems;
}

export const moeGpu = defineGpuMethod<MoeOptions, MoeGpuState>({
  state: () => ({ seed: 0 }),
  unsupported: (layer) => unsupportedRouter(layer.options),
  regions: (layer, ctx) => {
    const E = layer.options.experts;
    return [
      { suffix: "call", words: CALL_WORDS },
      { suffix: "entropy", words: ctx.maxBatch },
      { suffix: "dropped", words: 1 },
      { suffix: "balance", words: balanceWords(E) },
      { suffix: "dl", words: ctx.maxBatch * E },
      { suffix: "tiles", words: tileTableWords(E, ctx.maxBatch * layer.options.topK, tileSpan(tileForGroups((ctx.maxBatch * layer.options.topK) / E)).rows) },
      { suffix: "train_stats", words: counterWords(E), counters: "train" },
      { suffix: "eval_stats", words: counterWords(E), counters: "eval" },
    ];
  },
  hasLossTerm: (layer) => layer.options.balance.kind !== "none",
  forward,
  backward,
  writes(layer, ctx, call) {
    const noisy = call.phase === "train" && layer.options.gating === "noisy" ? 1 : 0;
    return [{ region: layer.own("call"), data: callWords([{ u32: ctx.state.seed }, { u32: call.step }, { u32: noisy }, { u32: capacityOf(layer.options, call.n) }]) }];
  },
  afterUpload(ctx, seed) {
    if (seed !== null) ctx.state.seed = seed >>> 0;
  },
  async report(layer, ctx, phase): Promise<LayerReport> {
    const o = layer.options;
    const bytes = await ctx.download(layer.own(`${phase}_stats`));
    const words = new Uint32Array(bytes);
    const floats = new Float32Array(bytes);
    const count = (slot: number) => words[2 * slot + 1]! * 2 ** 32 + words[2 * slot]!;
    const examples = count(COUNTER_EXAMPLES);
    const shape = { experts: o.experts, top_k: o.topK };
    if (examples === 0) return { macsPerExample: null, activeFraction: null, metrics: shape };
    const pairs = count(COUNTER_PAIRS);
    const dropped = count(COUNTER_DROPPED);
    const kept = pairs - dropped;
    const width = o.hidden > 0 ? o.hidden : layer.units;
    // The router's product (twice with noisy gating in training), the experts' rows, the combine.
    const routerMacs = examples * o.experts * layer.inputs * (phase === "train" && o.gating === "noisy" ? 2 : 1);
    const macs = routerMacs + kept * (width * layer.inputs + layer.units * o.hidden + layer.units);
    return {
      macsPerExample: macs / examples,
      activeFraction: kept / (examples * o.experts),
      metrics: {
        ...shape,
        expert_load: Array.from({ length: o.experts }, (_, i) => count(COUNTER_LOAD_WORD / 2 + i) / examples),
        router_entropy: floats[COUNTER_ENTROPY_WORD]! / examples,
        balance_loss: floats[COUNTER_BALANCE_WORD]! / examples,
        dropped_fraction: pairs > 0 ? dropped / pairs : 0,
      },
    };
  },
});
