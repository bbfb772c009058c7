/**
 * @fileoverview Cho & Bengio tree-structured gated layers, `tree(source, units, depth: k) ACT`
 * (docs/methods/tree.md): k dense gater units give one bit string per example; each unit sums
 * the weight vectors of the k + 1 tree nodes on the bit string's prefixes. Layout `shared`:
 * examples are bucketed by prefix and every (level, prefix) bucket is one GEMM
 * (runtime/kernels/tree.ts); layout `per_unit`: each unit follows its own gater order.
 * Tree weights and biases are updated by the method itself (plain SGD; exact lazy time-aware
 * L2 decay); the gaters use the model's optimizer, with a gradient only under REINFORCE
 * (deterministic and noisy bits are constants).
 *
 * Checkpoint tensors: `<layer>.tree_weight` [nodes, units, inputs] (node 2^l - 1 + p),
 * `<layer>.tree_bias` [nodes, units], `<layer>.gater_weight` [k, inputs], `<layer>.gater_bias` [k].
 */
import { wasm, type Expr } from "../../compiler/backend/wasm/code.js";
import type { FunctionBuilder } from "../../compiler/backend/wasm/module-builder.js";
import { emitActivationBackward, emitActivationForward } from "../dense/emit.js";
import { choiceOption, numberOption } from "../../compiler/frontend/options.js";
import { defineMethod, type EmitContext, type EmitLayer, type RegionRequest } from "../unit.js";
import { TREE_MESSAGES } from "./messages.js";
import { TREE_BITS_DETERMINISTIC, TREE_BITS_NOISY, TREE_BITS_REINFORCE, TREE_LEVEL_BUCKET, TREE_LEVEL_SCALED, TREE_LEVEL_UNIFORM } from "../../runtime/kernels/codes/tree.js";

export interface TreeOptions {
  depth: number;
  layout: "shared" | "per_unit";
  /** How gater bits are trained. Default "deterministic". */
  gaterTraining: "deterministic" | "reinforce" | "noisy";
  /** Noise level for `gaterTraining: "noisy"`. */
  sigma: number;
  /**
   * Learning-rate multiplier of the tree nodes' step: "uniform" 1; "scaled" min(2^level,
   * levelLrMax); "bucket" min(batch / examples at the node, levelLrMax).
   */
  levelLr: "uniform" | "scaled" | "bucket";
  levelLrMax: number;
}

const DEFAULTS = { layout: "shared", gaterTraining: "deterministic", sigma: 0.1, levelLr: "uniform", levelLrMax: 16 } as const;
const GATER_STREAM_OFFSET = 0x10000;
/** A tree of depth 30 has 2^31 - 1 nodes: 8 GiB of weights at one input and one unit. */
export const MAX_TREE_DEPTH = 29;
const WASM_MEMORY_BYTES = 4 * 1024 * 1024 * 1024;

/** Nodes of a complete binary tree of depth k: 2^(k+1) - 1. */
export function treeNodeCount(depth: number): number {
  return 2 ** (depth + 1) - 1;
}

/** Bytes of a tree layer's node weights: (2^(k+1) - 1) * inputs * units * 4. */
export function treeWeightBytes(depth: number, inputs: number, units: number): number {
  return treeNodeCount(depth) * inputs * units * 4;
}

/** The deepest tree whose weights fit in `limitBytes`; 0 when not even depth 0 fits. */
export function largestTreeDepth(inputs: number, units: number, limitBytes: number): number {
  let depth = 0;
  while (depth < 64 && treeWeightBytes(depth + 1, inputs, units) <= limitBytes) depth++;
  return treeWeightBytes(0, inputs, units) <= limitBytes ? depth : 0;
}

/** Exact byte count for the message, even past 2^53. */
function exactTreeBytes(depth: number, inputs: number, units: number): string {
  if (depth > 200) return `about ${treeWeightBytes(depth, inputs, units).toExponential(2)}`;
  const nodes = 2n ** BigInt(depth + 1) - 1n;
  return (nodes * BigInt(inputs) * BigInt(units) * 4n).toLocaleString("en-US");
}

const MODE = { deterministic: TREE_BITS_DETERMINISTIC, reinforce: TREE_BITS_REINFORCE, noisy: TREE_BITS_NOISY } as const;
const LEVEL_MODE = { uniform: TREE_LEVEL_UNIFORM, scaled: TREE_LEVEL_SCALED, bucket: TREE_LEVEL_BUCKET } as const;

export const treeMethod = defineMethod<TreeOptions, undefined>({
  key: "tree",
  kind: "tree",
  gate: null,
  kindOptions: [
    { name: "depth", kind: "integer", required: true, min: 1, ceiling: MAX_TREE_DEPTH },
    { name: "layout", kind: "choice", choices: ["shared", "per_unit"] },
    { name: "gater_training", kind: "choice", choices: ["deterministic", "reinforce", "noisy"] },
    { name: "sigma", kind: "number", min: 0, minInclusive: false },
    { name: "level_lr", kind: "choice", choices: ["uniform", "scaled", "bucket"] },
    { name: "level_lr_max", kind: "number", min: 1 },
  ],
  gateOptions: [],
  refusesGates: "tree layers are conditional already",
  allowedOnOutput: true,
  messages: TREE_MESSAGES,
  check(ctx) {
    const { options, inputs, units } = ctx;
    const depth = options.get("depth");
    if (typeof depth === "number" && inputs !== undefined && units !== undefined && treeWeightBytes(depth, inputs, units) > WASM_MEMORY_BYTES) {
      const largest = largestTreeDepth(inputs, units, WASM_MEMORY_BYTES);
      const advice = largest >= 1 ? `the largest depth that fits is ${largest}` : "no depth fits: use fewer units or inputs";
      ctx.report(TREE_MESSAGES.tooLarge, ctx.optionSpan("depth"), { layer: ctx.name, bytes: exactTreeBytes(depth, inputs, units), depth, advice });
    }
    return {
      depth: numberOption(options, "depth", 1),
      layout: choiceOption(options, "layout", DEFAULTS.layout),
      gaterTraining: choiceOption(options, "gater_training", DEFAULTS.gaterTraining),
      sigma: numberOption(options, "sigma", DEFAULTS.sigma),
      levelLr: choiceOption(options, "level_lr", DEFAULTS.levelLr),
      levelLrMax: numberOption(options, "level_lr_max", DEFAULTS.levelLrMax),
    };
  },
  checkTrain(_layer, train, report) {
    const o = train.optimizer;
    if (o.kind === "sgd" && o.weightDecay > 0 && o.momentum > 0) report(TREE_MESSAGES.decayNeedsPlainSgd, { momentum: o.momentum });
  },
  cost(layer) {
    const { inputs, units } = layer;
    const k = layer.options.depth;
    const nodes = treeNodeCount(k);
    return {
      weights: nodes * inputs * units,
      biases: nodes * units,
      gateParameters: inputs * k + k,
      bodyMacs: (k + 1) * inputs * units,
      gateMacs: inputs * k,
      density: null,
      densityAssumed: false,
      inputDensity: 1,
    };
  },
  label: (o) => `tree k=${o.depth}`,
  params(layer) {
    const { inputs, units } = layer;
    const k = layer.options.depth;
    const nodes = treeNodeCount(k);
    return [
      { suffix: "tree_weight", shape: [nodes, units, inputs], init: "method", decay: true, update: "method", role: "tree node weights (node 2^l - 1 + p)" },
      { suffix: "tree_bias", shape: [nodes, units], init: "zeros", decay: false, update: "method", role: "tree node biases" },
      { suffix: "gater_weight", shape: [k, inputs], init: "method", decay: true, update: "optimizer", role: "gater weights" },
      { suffix: "gater_bias", shape: [k], init: "zeros", decay: false, update: "optimizer", role: "gater biases" },
    ];
  },
  regions(layer, m) {
    const { inputs, units } = layer;
    const k = layer.options.depth;
    const nodes = treeNodeCount(k);
    const common: RegionRequest[] = [
      { suffix: "tree_gz", dtype: "f32", shape: [m, k], role: "scratch" },
      { suffix: "tree_bits", dtype: "f32", shape: [m, k], role: "scratch" },
      { suffix: "tree_codes", dtype: "i32", shape: [m], role: "scratch" },
    ];
    if (layer.options.layout === "per_unit") {
      return [
        ...common,
        // each (example, unit)'s nodes of levels 1..k; each unit's gater order; row marks
        { suffix: "tree_path", dtype: "i32", shape: [m, units * k], role: "scratch" },
        { suffix: "tree_order", dtype: "i32", shape: [units, k], role: "state" },
        { suffix: "tree_mark", dtype: "i32", shape: [nodes, units], role: "state" },
        // the batch's examples at each (node, unit) row (level_lr: bucket)
        { suffix: "tree_count", dtype: "i32", shape: [nodes, units], role: "scratch" },
        // per (node, unit) row: the decay log-product Lambda at which the row is exact
        { suffix: "tree_last", dtype: "f64", shape: [nodes * units], role: "state" },
      ];
    }
    return [
      ...common,
      { suffix: "tree_perm", dtype: "i32", shape: [m], role: "scratch" },
      { suffix: "tree_leafstart", dtype: "i32", shape: [2 ** k + 1], role: "scratch" },
      { suffix: "tree_xs", dtype: "f32", shape: [m, inputs], role: "scratch" },
      { suffix: "tree_zs", dtype: "f32", shape: [m, units], role: "scratch" },
      { suffix: "tree_ds", dtype: "f32", shape: [m, units], role: "scratch" },
      { suffix: "tree_dxs", dtype: "f32", shape: [m, inputs], role: "scratch" },
      // per node: the decay log-product Lambda at which the node is exact
      { suffix: "tree_last", dtype: "f64", shape: [nodes], role: "state" },
    ];
  },
  wasm: {
    exports(layer, ctx) {
      const nodes = treeNodeCount(layer.options.depth);
      const lambda = ctx.global(layer, "lambda", "f64");
      ctx.global(layer, "seed", "i32");
      const macs = ctx.global(layer, "macs", "f64");
      const examples = ctx.global(layer, "examples", "f64");
      ctx.global(layer, "gen", "i32");
      const flush = ctx.layerFunction(layer, "flush", [], null, `brings every node of '${layer.name}' up to date (lazy decay); called before weights are read or saved`);
      const w = layer.param("tree_weight").value;
      if (layer.options.layout === "per_unit") flush.kernel("treeUnitFlush", w, layer.region("tree_last"), nodes * layer.units, layer.inputs, wasm.global(lambda));
      else flush.kernel("treeFlush", w, layer.region("tree_last"), nodes, layer.units, layer.inputs, wasm.global(lambda));
      ctx.layerFunction(layer, "treeLambda", [], "f64", "the decay log-product").return(wasm.global(lambda));
      ctx.layerFunction(layer, "treeMacs", [], "f64", "MACs performed by forward passes (gaters + every executed bucket GEMM)").return(wasm.global(macs));
      ctx.layerFunction(layer, "treeExamples", [], "f64", "examples run forward").return(wasm.global(examples));
      const reset = ctx.layerFunction(layer, "treeResetCounters", [], null, "zeroes the MAC and example counters");
      reset.set(macs, wasm.f64(0));
      reset.set(examples, wasm.f64(0));
    },
    init(f, layer, ctx, seed) {
      const { inputs, units } = layer;
      const k = layer.options.depth;
      const nodes = treeNodeCount(k);
      f.comment(`${layer.name}: root Glorot-uniform over (inputs, units), deeper nodes 0; gaters Glorot over (inputs, k)`);
      f.kernel("glorotUniform", layer.param("tree_weight").value, inputs, units, inputs * units, seed, layer.index);
      f.kernel("glorotUniform", layer.param("gater_weight").value, inputs, k, inputs * k, seed, GATER_STREAM_OFFSET + layer.index);
      if (layer.options.layout === "per_unit") {
        f.kernel("treeUnitOrders", layer.region("tree_order"), units, k);
        f.kernel("zeroBytes", layer.region("tree_mark"), nodes * units * 4);
        f.kernel("zeroBytes", layer.region("tree_last"), nodes * units * 8);
        f.set(ctx.globalOf(layer, "gen"), wasm.i32(0));
      } else {
        f.kernel("zeroBytes", layer.region("tree_last"), nodes * 8);
      }
      f.set(ctx.globalOf(layer, "lambda"), wasm.f64(0));
      f.set(ctx.globalOf(layer, "seed"), seed);
    },
    forward(f, layer, ctx, n, training) {
      const { inputs, units } = layer;
      const o = layer.options;
      const k = o.depth;
      const r = (s: string) => layer.region(`tree_${s}`);
      const g = (s: string) => ctx.globalOf(layer, s);
      const w = layer.param("tree_weight").value;
      const b = layer.param("tree_bias").value;
      const mode = MODE[o.gaterTraining];
      f.kernel("gemmNT", n, k, inputs, layer.x, inputs, layer.param("gater_weight").value, inputs, r("gz"), k, 0);
      f.kernel("addBias", r("gz"), layer.param("gater_bias").value, n, k);
      f.kernel("treeBits", r("gz"), n, k, r("bits"), r("codes"), mode === 0 ? wasm.i32(0) : wasm.select(training, wasm.i32(mode), wasm.i32(0)), o.sigma, wasm.global(g("seed")), wasm.global(ctx.step), layer.index);
      const lambda = wasm.global(g("lambda"));
      const gaterMacs = (counted: Expr) => wasm.add(wasm.global(g("macs")), wasm.add(wasm.mul(wasm.f64FromI32(n), wasm.f64(inputs * (units + k))), counted));
      if (o.layout === "per_unit") {
        f.kernel("treeUnitPaths", r("bits"), n, k, units, r("order"), r("path"));
        f.kernel("treeUnitCatchUpRoot", w, r("last"), n, units, inputs, lambda);
        f.kernel("treeUnitCatchUp", w, r("last"), r("path"), n, k, units, inputs, lambda);
        f.kernel("gemmNT", n, units, inputs, layer.x, inputs, w, inputs, layer.output, units, 0);
        f.kernel("addBias", layer.output, b, n, units);
        f.set(g("macs"), gaterMacs(f.kernelValue("treeUnitForward", layer.x, n, inputs, units, k, r("path"), w, b, layer.output)));
      } else {
        f.kernel("treeBucket", r("codes"), n, k, r("leafstart"), r("perm"));
        f.kernel("treeCatchUp", w, r("last"), k, units, inputs, r("leafstart"), n, lambda);
        // Root: exactly the dense layer's calls (bit-identical when the other nodes are 0).
        f.kernel("gemmNT", n, units, inputs, layer.x, inputs, w, inputs, layer.output, units, 0);
        f.kernel("addBias", layer.output, b, n, units);
        f.kernel("treeGatherRows", layer.x, r("perm"), n, inputs, r("xs"));
        f.set(g("macs"), gaterMacs(f.kernelValue("treeForwardLevels", r("xs"), n, inputs, units, k, r("leafstart"), w, b, r("zs"))));
      }
      f.set(g("examples"), wasm.add(wasm.global(g("examples")), wasm.f64FromI32(n)));
      if (o.layout === "shared") f.kernel("treeScatterAddRows", r("zs"), r("perm"), n, units, layer.output);
      emitActivationForward(f, layer, n);
    },
    backward(f, layer, ctx, n, source) {
      emitTreeBackward(f, layer, ctx, n, source);
    },
    update(f, layer, ctx, n, lr) {
      const o = layer.options;
      const decay = ctx.train.optimizer.weightDecay;
      const lambda = ctx.globalOf(layer, "lambda");
      const w = layer.param("tree_weight");
      const b = layer.param("tree_bias");
      f.comment(`${layer.name}: plain SGD on the touched tree nodes, lazy L2 ${decay}`);
      if (decay !== 0) f.set(lambda, wasm.add(wasm.global(lambda), f.kernelValue("logF64", wasm.sub(wasm.f64(1), wasm.mul(wasm.f64FromF32(lr), wasm.f64(decay))))));
      if (o.layout === "per_unit") {
        const gen = ctx.globalOf(layer, "gen");
        f.set(gen, wasm.add(wasm.global(gen), wasm.i32(1)));
        f.kernel("treeUnitUpdate", w.value, b.value, w.grad, b.grad, layer.region("tree_last"), layer.region("tree_path"), n, o.depth, layer.units, layer.inputs, layer.region("tree_mark"), wasm.global(gen), lr, decay, LEVEL_MODE[o.levelLr], o.levelLrMax, layer.region("tree_count"));
        return;
      }
      f.kernel("treeUpdate", w.value, b.value, w.grad, b.grad, layer.region("tree_last"), o.depth, layer.units, layer.inputs, layer.region("tree_leafstart"), n, lr, decay, LEVEL_MODE[o.levelLr], o.levelLrMax);
    },
  },
});

function emitTreeBackward(f: FunctionBuilder, layer: EmitLayer<TreeOptions>, ctx: EmitContext<TreeOptions, undefined>, n: Expr, source: { address: Expr; beta: 0 | 1 } | null): void {
  const { inputs, units } = layer;
  const o = layer.options;
  const k = o.depth;
  const r = (s: string) => layer.region(`tree_${s}`);
  const delta = layer.delta!;
  const w = layer.param("tree_weight");
  const b = layer.param("tree_bias");
  emitActivationBackward(f, layer, n);
  if (o.gaterTraining === "reinforce") {
    f.kernel("treeReinforceSignal", r("gz"), r("bits"), n, k, ctx.probs, ctx.labels, ctx.classes);
    f.kernel("gemmTN", k, inputs, n, r("gz"), k, layer.x, inputs, layer.param("gater_weight").grad, inputs, 0);
    f.kernel("columnSums", r("gz"), n, k, layer.param("gater_bias").grad);
  }
  // Root: all rows, original order.
  f.kernel("gemmTN", units, inputs, n, delta, units, layer.x, inputs, w.grad, inputs, 0);
  f.kernel("columnSums", delta, n, units, b.grad);
  if (o.layout === "per_unit") {
    if (source) f.kernel("gemmNN", n, inputs, units, delta, units, w.value, inputs, source.address, inputs, source.beta);
    const gen = ctx.globalOf(layer, "gen");
    f.set(gen, wasm.add(wasm.global(gen), wasm.i32(1)));
    f.kernel("treeUnitBackward", layer.x, delta, n, inputs, units, k, r("path"), w.value, w.grad, b.grad, r("mark"), wasm.global(gen), source ? source.address : 0);
    return;
  }
  f.kernel("treeGatherRows", delta, r("perm"), n, units, r("ds"));
  f.kernel("treeBackwardLevels", r("xs"), r("ds"), n, inputs, units, k, r("leafstart"), w.grad, b.grad);
  if (source) {
    f.kernel("gemmNN", n, inputs, units, delta, units, w.value, inputs, source.address, inputs, source.beta);
    f.kernel("treeBackwardInput", r("ds"), n, inputs, units, k, r("leafstart"), w.value, r("dxs"));
    f.kernel("treeScatterAddRows", r("dxs"), r("perm"), n, inputs, source.address);
  }
}
