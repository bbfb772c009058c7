/**
 * @fileoverview Cho & Bengio tree-structured gated layers (methods.md 3), layout L1
 * "shared path": k dense gater units give one bit string per example; each unit sums the
 * weight vectors of the k + 1 tree nodes on the bit string's prefixes. Examples are
 * bucketed by prefix and every (level, prefix) bucket is one GEMM (kernels/tree.ts).
 * Tree weights and biases are updated by the method itself (plain SGD; lazy, time-aware
 * L2 decay on the weights, exact: 3.3); the gaters use the model's optimizer, with a
 * gradient only under REINFORCE (deterministic and noisy bits are constants).
 *
 * Checkpoint tensors: `<layer>.tree_weight` [nodes, units, inputs] (node 2^l - 1 + p),
 * `<layer>.tree_bias` [nodes, units], `<layer>.gater_weight` [k, inputs],
 * `<layer>.gater_bias` [k].
 */
import type { IrLayer } from "../backend/ir.js";
import type { CheckedLayer, TreeOptions } from "../frontend/model.js";
import { emitActivationBackward, emitActivationForward } from "./dense.js";
import type { EmitContext, LayerMethod } from "./method.js";
import { layerExportName } from "../../runtime/manifest.js";

/**
 * The tree's exported helpers: `<layer>__tree<What>`, except the flush, `<layer>__flush`,
 * which the runtime calls before it reads or replaces weights (runtime/model.ts).
 */
export function treeExportName(layer: string, what: "Flush" | "Macs" | "Examples" | "ResetCounters" | "Lambda"): string {
  return layerExportName(layer, what === "Flush" ? "flush" : `tree${what}`);
}

const GATER_STREAM_OFFSET = 0x10000;

function options(layer: { tree: TreeOptions | null; name: string }): TreeOptions {
  if (!layer.tree) throw new Error(`layer '${layer.name}' is a tree layer without tree options`);
  return layer.tree;
}

function nodesOf(depth: number): number {
  return 2 ** (depth + 1) - 1;
}

function global(layer: IrLayer, what: string): string {
  return `TREE_${what}_${layer.name.replace(/[^A-Za-z0-9]/g, "_").toUpperCase()}`;
}

function region(ctx: EmitContext, layer: IrLayer, what: string): string {
  return ctx.addr(`${layer.name}.tree_${what}`);
}

function modeOf(tree: TreeOptions): number {
  return tree.gaterTraining === "reinforce" ? 1 : tree.gaterTraining === "noisy" ? 2 : 0;
}

function levelModeOf(tree: TreeOptions): number {
  return tree.levelLr === "scaled" ? 1 : tree.levelLr === "bucket" ? 2 : 0;
}

function f32Literal(value: number): string {
  const text = String(value);
  return /[.eE]/.test(text) ? `<f32>${text}` : `<f32>${text}.0`;
}

export const treeMethod: LayerMethod = {
  key: "tree",
  imports: [
    `import { gemmNN, gemmNT, gemmTN } from "./kernels/gemm";`,
    `import { addBias, columnSums, reluForward, reluBackward, tanhForward, tanhBackward, sigmoidForward, sigmoidBackward } from "./kernels/elementwise";`,
    `import { glorotUniform } from "./kernels/rng";`,
    `import { treeBits, treeBucket, treeGatherRows, treeScatterAddRows, treeCatchUp, treeFlush, treeForwardLevels, treeBackwardLevels, treeBackwardInput, treeUpdate, treeReinforceSignal, treeUnitOrders, treeUnitPaths, treeUnitCatchUp, treeUnitCatchUpRoot, treeUnitFlush, treeUnitForward, treeUnitBackward, treeUnitUpdate } from "./kernels/tree";`,
  ],
  params(layer: CheckedLayer) {
    const tree = options(layer);
    const nodes = nodesOf(tree.depth);
    return [
      { suffix: "tree_weight", shape: [nodes, layer.units, layer.inputs], init: "method", decay: true, trainable: true, customUpdate: true },
      { suffix: "tree_bias", shape: [nodes, layer.units], init: "zeros", decay: false, trainable: true, customUpdate: true },
      { suffix: "gater_weight", shape: [tree.depth, layer.inputs], init: "method", decay: true, trainable: true },
      { suffix: "gater_bias", shape: [tree.depth], init: "zeros", decay: false, trainable: true },
    ];
  },
  regions(layer, ctx) {
    const tree = options(layer);
    const k = tree.depth;
    const m = ctx.maxBatch;
    const place = (what: string, shape: number[]): void => ctx.place(`${layer.name}.tree_${what}`, "scratch", shape);
    place("gz", [m, k]);
    place("bits", [m, k]);
    place("codes", [m]);
    if (tree.layout === "per_unit") {
      // i32: each (example, unit)'s nodes of levels 1..k; each unit's gater order; row marks.
      place("path", [m, layer.units * k]);
      place("order", [layer.units, k]);
      place("mark", [nodesOf(k), layer.units]);
      // i32 per (node, unit) row: the batch's examples at the row (level_lr: bucket).
      place("count", [nodesOf(k), layer.units]);
      // f64 per (node, unit) row: the decay log-product Lambda at which the row is exact.
      place("last", [nodesOf(k) * layer.units, 2]);
      return;
    }
    place("perm", [m]);
    place("leafstart", [2 ** k + 1]);
    place("xs", [m, layer.inputs]);
    place("zs", [m, layer.units]);
    place("ds", [m, layer.units]);
    place("dxs", [m, layer.inputs]);
    // f64 per node: the decay log-product Lambda at which the node is exact.
    place("last", [nodesOf(k), 2]);
  },
  init(ctx, layer) {
    const tree = options(layer);
    const w = ctx.addr(ctx.param(layer, "tree_weight").region);
    const g = ctx.addr(ctx.param(layer, "gater_weight").region);
    ctx.emit(`  // ${layer.name}: root Glorot-uniform over (inputs, units), deeper nodes 0; gaters Glorot over (inputs, k).`);
    ctx.emit(`  glorotUniform(${w}, ${layer.inputs}, ${layer.units}, ${layer.inputs * layer.units}, seed, ${layer.index});`);
    ctx.emit(`  glorotUniform(${g}, ${layer.inputs}, ${tree.depth}, ${layer.inputs * tree.depth}, seed, ${GATER_STREAM_OFFSET + layer.index});`);
    if (tree.layout === "per_unit") {
      ctx.emit(`  treeUnitOrders(${region(ctx, layer, "order")}, ${layer.units}, ${tree.depth});`);
      ctx.emit(`  memory.fill(${region(ctx, layer, "mark")}, 0, ${nodesOf(tree.depth) * layer.units * 4});`);
      ctx.emit(`  memory.fill(${region(ctx, layer, "last")}, 0, ${nodesOf(tree.depth) * layer.units * 8});`);
      ctx.emit(`  ${global(layer, "GEN")} = 0;`);
    } else {
      ctx.emit(`  memory.fill(${region(ctx, layer, "last")}, 0, ${nodesOf(tree.depth) * 8});`);
    }
    ctx.emit(`  ${global(layer, "LAMBDA")} = 0;`);
    ctx.emit(`  ${global(layer, "SEED")} = seed;`);
  },
  forward(ctx, layer) {
    const tree = options(layer);
    const k = tree.depth;
    const { inputs, units } = layer;
    const x = ctx.sourceAddress(layer);
    const h = ctx.addr(layer.output);
    const w = ctx.addr(ctx.param(layer, "tree_weight").region);
    const b = ctx.addr(ctx.param(layer, "tree_bias").region);
    const gz = region(ctx, layer, "gz");
    const mode = modeOf(tree);
    const modeExpr = mode === 0 ? "0" : `training ? ${mode} : 0`;
    const e = ctx.emit;
    e(`  gemmNT(n, ${k}, ${inputs}, ${x}, ${inputs}, ${ctx.addr(ctx.param(layer, "gater_weight").region)}, ${inputs}, ${gz}, ${k}, 0);`);
    e(`  addBias(${gz}, ${ctx.addr(ctx.param(layer, "gater_bias").region)}, n, ${k});`);
    e(`  treeBits(${gz}, n, ${k}, ${region(ctx, layer, "bits")}, ${region(ctx, layer, "codes")}, ${modeExpr}, ${f32Literal(tree.sigma)}, ${global(layer, "SEED")}, step, ${layer.index});`);
    if (tree.layout === "per_unit") {
      const path = region(ctx, layer, "path");
      const last = region(ctx, layer, "last");
      const lambda = global(layer, "LAMBDA");
      e(`  treeUnitPaths(${region(ctx, layer, "bits")}, n, ${k}, ${units}, ${region(ctx, layer, "order")}, ${path});`);
      e(`  treeUnitCatchUpRoot(${w}, ${last}, n, ${units}, ${inputs}, ${lambda});`);
      e(`  treeUnitCatchUp(${w}, ${last}, ${path}, n, ${k}, ${units}, ${inputs}, ${lambda});`);
      e(`  gemmNT(n, ${units}, ${inputs}, ${x}, ${inputs}, ${w}, ${inputs}, ${h}, ${units}, 0);`);
      e(`  addBias(${h}, ${b}, n, ${units});`);
      e(`  ${global(layer, "MACS")} += <f64>n * <f64>${inputs * (units + k)} + treeUnitForward(${x}, n, ${inputs}, ${units}, ${k}, ${path}, ${w}, ${b}, ${h});`);
      e(`  ${global(layer, "EXAMPLES")} += <f64>n;`);
      emitActivationForward(ctx, layer);
      return;
    }
    e(`  treeBucket(${region(ctx, layer, "codes")}, n, ${k}, ${region(ctx, layer, "leafstart")}, ${region(ctx, layer, "perm")});`);
    e(`  treeCatchUp(${w}, ${region(ctx, layer, "last")}, ${k}, ${units}, ${inputs}, ${region(ctx, layer, "leafstart")}, n, ${global(layer, "LAMBDA")});`);
    // Root: exactly the dense layer's calls (bit-identical when the other nodes are 0).
    e(`  gemmNT(n, ${units}, ${inputs}, ${x}, ${inputs}, ${w}, ${inputs}, ${h}, ${units}, 0);`);
    e(`  addBias(${h}, ${b}, n, ${units});`);
    e(`  treeGatherRows(${x}, ${region(ctx, layer, "perm")}, n, ${inputs}, ${region(ctx, layer, "xs")});`);
    e(`  ${global(layer, "MACS")} += <f64>n * <f64>${inputs * (units + k)} + treeForwardLevels(${region(ctx, layer, "xs")}, n, ${inputs}, ${units}, ${k}, ${region(ctx, layer, "leafstart")}, ${w}, ${b}, ${region(ctx, layer, "zs")});`);
    e(`  ${global(layer, "EXAMPLES")} += <f64>n;`);
    e(`  treeScatterAddRows(${region(ctx, layer, "zs")}, ${region(ctx, layer, "perm")}, n, ${units}, ${h});`);
    emitActivationForward(ctx, layer);
  },
  backward(ctx, layer, sourceDelta) {
    const tree = options(layer);
    const k = tree.depth;
    const { inputs, units } = layer;
    const x = ctx.sourceAddress(layer);
    const delta = ctx.addr(layer.delta!);
    const wp = ctx.param(layer, "tree_weight");
    const bp = ctx.param(layer, "tree_bias");
    const w = ctx.addr(wp.region);
    const ds = region(ctx, layer, "ds");
    const perm = region(ctx, layer, "perm");
    const leaf = region(ctx, layer, "leafstart");
    const e = ctx.emit;
    emitActivationBackward(ctx, layer);
    if (tree.gaterTraining === "reinforce") {
      const gp = ctx.param(layer, "gater_weight");
      const gz = region(ctx, layer, "gz");
      e(`  treeReinforceSignal(${gz}, ${region(ctx, layer, "bits")}, n, ${k}, ${ctx.addr("probs")}, ${ctx.addr("labels")}, ${ctx.ir.classes});`);
      e(`  gemmTN(${k}, ${inputs}, n, ${gz}, ${k}, ${x}, ${inputs}, ${ctx.addr(gp.grad)}, ${inputs}, 0);`);
      e(`  columnSums(${gz}, n, ${k}, ${ctx.addr(ctx.param(layer, "gater_bias").grad)});`);
    }
    // Root: all rows, original order.
    e(`  gemmTN(${units}, ${inputs}, n, ${delta}, ${units}, ${x}, ${inputs}, ${ctx.addr(wp.grad)}, ${inputs}, 0);`);
    e(`  columnSums(${delta}, n, ${units}, ${ctx.addr(bp.grad)});`);
    if (tree.layout === "per_unit") {
      if (sourceDelta) e(`  gemmNN(n, ${inputs}, ${units}, ${delta}, ${units}, ${w}, ${inputs}, ${sourceDelta.addr}, ${inputs}, ${sourceDelta.beta});`);
      e(`  ${global(layer, "GEN")} += 1;`);
      e(`  treeUnitBackward(${x}, ${delta}, n, ${inputs}, ${units}, ${k}, ${region(ctx, layer, "path")}, ${w}, ${ctx.addr(wp.grad)}, ${ctx.addr(bp.grad)}, ${region(ctx, layer, "mark")}, ${global(layer, "GEN")}, ${sourceDelta ? sourceDelta.addr : "0"});`);
      return;
    }
    e(`  treeGatherRows(${delta}, ${perm}, n, ${units}, ${ds});`);
    e(`  treeBackwardLevels(${region(ctx, layer, "xs")}, ${ds}, n, ${inputs}, ${units}, ${k}, ${leaf}, ${ctx.addr(wp.grad)}, ${ctx.addr(bp.grad)});`);
    if (sourceDelta) {
      e(`  gemmNN(n, ${inputs}, ${units}, ${delta}, ${units}, ${w}, ${inputs}, ${sourceDelta.addr}, ${inputs}, ${sourceDelta.beta});`);
      e(`  treeBackwardInput(${ds}, n, ${inputs}, ${units}, ${k}, ${leaf}, ${w}, ${region(ctx, layer, "dxs")});`);
      e(`  treeScatterAddRows(${region(ctx, layer, "dxs")}, ${perm}, n, ${inputs}, ${sourceDelta.addr});`);
    }
  },
  update(ctx, layer) {
    const tree = options(layer);
    const o = ctx.ir.optimizer;
    const decay = o.weightDecay;
    const lambda = global(layer, "LAMBDA");
    const wp = ctx.param(layer, "tree_weight");
    const bp = ctx.param(layer, "tree_bias");
    ctx.emit(`  // ${layer.name}: plain SGD on the touched tree nodes, lazy L2 ${decay} (methods.md 3.3)`);
    if (decay !== 0) ctx.emit(`  ${lambda} += Math.log(1.0 - <f64>lr * <f64>${decay});`);
    if (tree.layout === "per_unit") {
      ctx.emit(`  ${global(layer, "GEN")} += 1;`);
      ctx.emit(
        `  treeUnitUpdate(${ctx.addr(wp.region)}, ${ctx.addr(bp.region)}, ${ctx.addr(wp.grad)}, ${ctx.addr(bp.grad)}, ${region(ctx, layer, "last")}, ${region(ctx, layer, "path")}, n, ${tree.depth}, ${layer.units}, ${layer.inputs}, ${region(ctx, layer, "mark")}, ${global(layer, "GEN")}, lr, <f64>${decay}, ${levelModeOf(tree)}, ${f32Literal(tree.levelLrMax)}, ${region(ctx, layer, "count")});`,
      );
      return;
    }
    ctx.emit(
      `  treeUpdate(${ctx.addr(wp.region)}, ${ctx.addr(bp.region)}, ${ctx.addr(wp.grad)}, ${ctx.addr(bp.grad)}, ${region(ctx, layer, "last")}, ${tree.depth}, ${layer.units}, ${layer.inputs}, ${region(ctx, layer, "leafstart")}, n, lr, <f64>${decay}, ${levelModeOf(tree)}, ${f32Literal(tree.levelLrMax)});`,
    );
  },
  exports(ctx, layer) {
    const tree = options(layer);
    const e = ctx.emit;
    e();
    e(`// ${layer.name}: tree state (methods.md 3.3) and counters.`);
    e(`let ${global(layer, "LAMBDA")}: f64 = 0;`);
    e(`let ${global(layer, "SEED")}: u32 = 0;`);
    e(`let ${global(layer, "MACS")}: f64 = 0;`);
    e(`let ${global(layer, "EXAMPLES")}: f64 = 0;`);
    e(`let ${global(layer, "GEN")}: i32 = 0;`);
    e(`/** Brings every node of '${layer.name}' up to date (lazy decay); call before reading or saving weights. */`);
    e(`export function ${treeExportName(layer.name, "Flush")}(): void {`);
    if (tree.layout === "per_unit") {
      e(`  treeUnitFlush(${ctx.addr(ctx.param(layer, "tree_weight").region)}, ${region(ctx, layer, "last")}, ${nodesOf(tree.depth) * layer.units}, ${layer.inputs}, ${global(layer, "LAMBDA")});`);
    } else {
      e(`  treeFlush(${ctx.addr(ctx.param(layer, "tree_weight").region)}, ${region(ctx, layer, "last")}, ${nodesOf(tree.depth)}, ${layer.units}, ${layer.inputs}, ${global(layer, "LAMBDA")});`);
    }
    e("}");
    e(`export function ${treeExportName(layer.name, "Lambda")}(): f64 { return ${global(layer, "LAMBDA")}; }`);
    e(`/** MACs performed by '${layer.name}''s forward passes (gaters + every executed bucket GEMM). */`);
    e(`export function ${treeExportName(layer.name, "Macs")}(): f64 { return ${global(layer, "MACS")}; }`);
    e(`export function ${treeExportName(layer.name, "Examples")}(): f64 { return ${global(layer, "EXAMPLES")}; }`);
    e(`export function ${treeExportName(layer.name, "ResetCounters")}(): void { ${global(layer, "MACS")} = 0; ${global(layer, "EXAMPLES")} = 0; }`);
  },
};
