/**
 * @fileoverview Tree layers on the GPU; layout `shared` here (kernels in wgsl.ts), layout
 * `per_unit` in webgpu-unit.ts. Forward: the gater product, bits and prefix codes, the examples
 * sorted by leaf, the lazy decay's catch-up of the touched nodes, the root as the dense product,
 * then per level one grouped product over every (level, prefix) bucket of the sorted rows against
 * its node's weights, scattered back and added, then the activation. Backward: the root's
 * gradients and dX, per level the touched nodes' gradients (grouped TN and column sums over each
 * bucket's rows) and the grouped dX, REINFORCE on the gaters when asked. Update: the method's
 * plain SGD with the exact lazy L2 on the touched nodes only. The decay log-product Λ is kept on
 * the host in f64 (as the module's global) and passed per call; each node's (per_unit: each row's)
 * stamp is an f32 on the GPU (WGSL has no f64), so a catch-up factor may differ from the wasm
 * build's in its last bit.
 */
import type { Step } from "../../runtime/webgpu/executor.js";
import { activationForwardKernel, type Activation } from "../../runtime/webgpu/kernels/elementwise.js";
import {
  groupedColumnSumsKernel,
  groupedProductKernel,
  groupedWeightGradKernel,
  groupListKernel,
  tileForGroups,
  tileScheduleKernel,
  tileTableWords,
} from "../../runtime/webgpu/kernels/grouped.js";
import { tileSpan } from "../../runtime/webgpu/kernels/gemm.js";
import { callWords } from "../../runtime/webgpu/kernels/wgsl.js";
import { defineGpuMethod, type GpuRegionRequest, type GpuSourceDelta } from "../../runtime/webgpu/method.js";
import type { LayerReport } from "../runtime-unit.js";
import { activationBackwardSteps } from "../dense/webgpu.js";
import { decayOf, gaterSteps, nodesOf, reinforceSteps, rootBackwardSteps, rootForwardSteps, rootInputSteps, type Ctx, type Layer, type TreeGpuState, type TreeOptions } from "./gpu-common.js";
import { unitBackward, unitCatchUp, unitForward, unitRegions, unitUpdate } from "./webgpu-unit.js";
import {
  bucketKernel,
  CALL_WORDS,
  catchUpKernel,
  gatherRowsKernel,
  scaleKernel,
  scatterAddRowsKernel,
  updateBiasKernel,
  updateWeightsKernel,
} from "./wgsl.js";

export type { TreeGpuState } from "./gpu-common.js";

/** The tile of level l's grouped products: its buckets hold about maxBatch / 2^l rows. */
const levelTile = (ctx: Ctx, l: number) => tileForGroups(ctx.maxBatch / 2 ** l);
const perUnit = (layer: Layer) => layer.options.layout === "per_unit";
/** Rows with their own decay stamp: the nodes (shared) or the (node, unit) rows (per_unit). */
const stampsOf = (layer: Layer) => nodesOf(layer) * (perUnit(layer) ? layer.units : 1);

function catchUp(layer: Layer, all: boolean): Step[] {
  const k = layer.options.depth;
  const nodes = nodesOf(layer);
  const leafStart = layer.region("tree_leafstart");
  return [
    { kind: "dispatch", kernel: catchUpKernel(k, nodes, all), bind: { leafStart, last: layer.own("last"), factor: layer.own("factor"), words: layer.own("call") } },
    { kind: "dispatch", kernel: scaleKernel(nodes, layer.units * layer.inputs), bind: { w: layer.param("tree_weight").value, factor: layer.own("factor") } },
  ];
}

function forward(layer: Layer, ctx: Ctx, phase: "predict" | "train"): Step[] {
  const { inputs, units } = layer;
  const k = layer.options.depth;
  const r = (s: string) => layer.region(`tree_${s}`);
  const w = layer.param("tree_weight").value;
  const b = layer.param("tree_bias").value;
  const slice = units * inputs;
  const steps: Step[] = [
    ...gaterSteps(layer, phase),
    { kind: "dispatch", kernel: bucketKernel(k), bind: { codes: r("codes"), leafStart: r("leafstart"), perm: r("perm"), cursor: layer.own("cursor") } },
    ...catchUp(layer, false),
    ...rootForwardSteps(layer),
    { kind: "dispatch", kernel: gatherRowsKernel(inputs), bind: { src: layer.x, perm: r("perm"), dst: r("xs") } },
  ];
  for (let l = 1; l <= k; l++) {
    // The level's tile table (kept for the backward pass's products over the same buckets).
    steps.push({ kind: "dispatch", kernel: tileScheduleKernel(2 ** l, 2 ** (k - l), tileSpan(levelTile(ctx, l)).rows), bind: { starts: r("leafstart"), tiles: layer.own(`tiles${l}`) } });
    steps.push({
      kind: "dispatch",
      kernel: groupedProductKernel({
        shape: "NT", groups: 2 ** l, rows: { kind: "range", stride: 2 ** (k - l) }, maxRows: { dim: "n", times: 1 }, cols: units, k: inputs, lda: inputs, ldb: inputs, ldc: units,
        bBase: (2 ** l - 1) * slice, bStride: slice, cColStride: 0, beta: l === 1 ? 0 : 1, epilogue: { biasBase: (2 ** l - 1) * units, biasStride: units, activation: "linear" }, scheduled: true,
      }, levelTile(ctx, l)),
      bind: { a: r("xs"), b: w, c: r("zs"), starts: r("leafstart"), bias: b, tiles: layer.own(`tiles${l}`) },
    });
  }
  steps.push({ kind: "dispatch", kernel: scatterAddRowsKernel(units), bind: { src: r("zs"), perm: r("perm"), dst: layer.output } });
  if (layer.activation !== "linear") {
    steps.push({ kind: "dispatch", kernel: activationForwardKernel(layer.activation as Exclude<Activation, "linear">, "n", units), bind: { h: layer.output } });
  }
  return steps;
}

function backward(layer: Layer, ctx: Ctx, source: GpuSourceDelta | null): Step[] {
  const { inputs, units } = layer;
  const k = layer.options.depth;
  const r = (s: string) => layer.region(`tree_${s}`);
  const delta = layer.delta!;
  const w = layer.param("tree_weight");
  const b = layer.param("tree_bias");
  const slice = units * inputs;
  const steps: Step[] = [
    ...activationBackwardSteps(layer),
    ...reinforceSteps(layer, ctx),
    ...rootBackwardSteps(layer),
    { kind: "dispatch", kernel: gatherRowsKernel(units), bind: { src: delta, perm: r("perm"), dst: r("ds") } },
  ];
  for (let l = 1; l <= k; l++) {
    const groups = 2 ** l;
    const stride = 2 ** (k - l);
    const first = 2 ** l - 1;
    // Only the level's touched nodes (at most n of its 2^l) get a gradient: a list of them first.
    const list = layer.own(`nodes${l}`);
    steps.push(
      { kind: "dispatch", kernel: groupListKernel(groups, stride), bind: { starts: r("leafstart"), tiles: list } },
      {
        kind: "dispatch",
        kernel: groupedWeightGradKernel({ groups, stride, m: units, n: inputs, lda: units, ldb: inputs, cBase: first * slice, cStride: slice, ldc: inputs, empty: "skip", listed: true }),
        bind: { a: r("ds"), b: r("xs"), c: w.grad!, starts: r("leafstart"), groupList: list },
      },
      {
        kind: "dispatch",
        kernel: groupedColumnSumsKernel(groups, stride, units, units, first * units, units, "skip", true),
        bind: { delta: r("ds"), db: b.grad!, starts: r("leafstart"), groupList: list },
      },
    );
  }
  if (source) {
    steps.push(...rootInputSteps(layer, source));
    for (let l = 1; l <= k; l++) {
      steps.push({
        kind: "dispatch",
        kernel: groupedProductKernel({
          shape: "NN", groups: 2 ** l, rows: { kind: "range", stride: 2 ** (k - l) }, maxRows: { dim: "n", times: 1 }, cols: inputs, k: units, lda: units, ldb: inputs, ldc: inputs,
          bBase: (2 ** l - 1) * slice, bStride: slice, cColStride: 0, beta: l === 1 ? 0 : 1, scheduled: true,
        }, levelTile(ctx, l)),
        bind: { a: r("ds"), b: w.value, c: r("dxs"), starts: r("leafstart"), tiles: layer.own(`tiles${l}`) },
      });
    }
    steps.push({ kind: "dispatch", kernel: scatterAddRowsKernel(inputs), bind: { src: r("dxs"), perm: r("perm"), dst: source.region } });
  }
  return steps;
}

function update(layer: Layer, ctx: Ctx): Step[] {
  const o = layer.options;
  const k = o.depth;
  const nodes = nodesOf(layer);
  const w = layer.param("tree_weight");
  const b = layer.param("tree_bias");
  const leafStart = layer.region("tree_leafstart");
  return [
    {
      kind: "dispatch",
      kernel: updateWeightsKernel(k, nodes, layer.units * layer.inputs, o.levelLr, o.levelLrMax),
      bind: { w: w.value, grad: w.grad!, leafStart, words: layer.own("call"), loss: ctx.loss },
    },
    {
      kind: "dispatch",
      kernel: updateBiasKernel(k, nodes, layer.units, o.levelLr, o.levelLrMax),
      bind: { bias: b.value, grad: b.grad!, last: layer.own("last"), leafStart, words: layer.own("call"), loss: ctx.loss },
    },
  ];
}

function sharedRegions(layer: Layer, ctx: Ctx): GpuRegionRequest[] {
  return [
    { suffix: "call", words: CALL_WORDS },
    { suffix: "last", words: nodesOf(layer) },
    { suffix: "factor", words: nodesOf(layer) },
    { suffix: "cursor", words: 2 ** layer.options.depth },
    ...Array.from({ length: layer.options.depth }, (_, i) => ({
      suffix: `tiles${i + 1}`,
      words: tileTableWords(2 ** (i + 1), ctx.maxBatch, tileSpan(levelTile(ctx, i + 1)).rows),
    })),
    ...Array.from({ length: layer.options.depth }, (_, i) => ({ suffix: `nodes${i + 1}`, words: 1 + 2 * 2 ** (i + 1) })),
  ];
}

export const treeGpu = defineGpuMethod<TreeOptions, TreeGpuState>({
  state: () => ({ seed: 0, lambda: new Map(), macs: new Map(), examples: new Map() }),
  regions: (layer, ctx) => (perUnit(layer) ? unitRegions(layer) : sharedRegions(layer, ctx)),
  forward: (layer, ctx, phase) => (perUnit(layer) ? unitForward(layer, phase) : forward(layer, ctx, phase)),
  backward: (layer, ctx, source) => (perUnit(layer) ? unitBackward(layer, ctx, source) : backward(layer, ctx, source)),
  update: (layer, ctx) => (perUnit(layer) ? unitUpdate(layer, ctx) : update(layer, ctx)),
  flush: (layer) => (perUnit(layer) ? unitCatchUp(layer, true) : catchUp(layer, true)),
  writes(layer, ctx, call) {
    const lr = Math.fround(call.lr);
    const f = Math.fround(1 - lr * decayOf(ctx));
    const lambda = ctx.state.lambda.get(layer.name) ?? 0;
    return [{ region: layer.own("call"), data: callWords([{ u32: ctx.state.seed }, { u32: call.step }, { f32: lambda }, { f32: f }, { f32: Math.log(f) }]) }];
  },
  afterCall(ctx, call, finite) {
    const k = (layer: Layer) => layer.options.depth;
    for (const layer of ctx.layers as Layer[]) {
      const perExample = layer.inputs * (layer.units + k(layer)) + k(layer) * layer.units * layer.inputs;
      ctx.state.macs.set(layer.name, (ctx.state.macs.get(layer.name) ?? 0) + call.n * perExample);
      ctx.state.examples.set(layer.name, (ctx.state.examples.get(layer.name) ?? 0) + call.n);
      const decay = decayOf(ctx);
      if (call.phase === "train" && finite && decay !== 0) {
        ctx.state.lambda.set(layer.name, (ctx.state.lambda.get(layer.name) ?? 0) + Math.log(1 - Math.fround(call.lr) * decay));
      }
    }
  },
  async afterUpload(ctx, seed) {
    if (seed !== null) {
      ctx.state.seed = seed >>> 0;
      ctx.state.lambda.clear();
    }
    // The weights just uploaded are exact now: every stamp (node or row) is the current Λ.
    for (const layer of ctx.layers as Layer[]) {
      await ctx.upload(layer.own("last"), new Float32Array(stampsOf(layer)).fill(Math.fround(ctx.state.lambda.get(layer.name) ?? 0)));
    }
  },
  resetCounters(ctx) {
    ctx.state.macs.clear();
    ctx.state.examples.clear();
  },
  async report(layer, ctx): Promise<LayerReport> {
    const examples = ctx.state.examples.get(layer.name) ?? 0;
    const macs = ctx.state.macs.get(layer.name) ?? 0;
    const nodes = nodesOf(layer);
    return {
      macsPerExample: examples > 0 ? macs / examples : null,
      activeFraction: (layer.options.depth + 1) / nodes,
      metrics: { depth: layer.options.depth, nodes },
    };
  },
});
