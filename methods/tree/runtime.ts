/**
 * @fileoverview Runtime side of tree layers (docs/methods/tree.md): the MACs their forward
 * passes performed (counted inside the module per executed bucket GEMM) and their reset. The
 * lazy-decay flush is generic (`Model.flush` calls every layer's `flush` export).
 */
import type { Model } from "../../runtime/model.js";
import { findRegion } from "../../runtime/manifest.js";
import { defineRuntime, type LayerDecisions, type RuntimeLayer } from "../runtime-unit.js";
import { unitOrders } from "./orders.js";

interface TreeSettings {
  depth: number;
  layout: string;
}

type Layer = RuntimeLayer<TreeSettings>;

const KEY = "tree";

export interface TreeLayerInfo {
  layer: string;
  depth: number;
  nodes: number;
  inputs: number;
  units: number;
}

export interface TreeCounters extends TreeLayerInfo {
  /** MACs performed since the last reset: gaters plus every executed bucket GEMM. */
  macs: number;
  /** Examples run forward since the last reset. */
  examples: number;
  /** macs / examples; (k + 1) · inputs · units + k · inputs for layout "shared". */
  macsPerExample: number;
}

/** The model's tree layers, from the manifest. */
export function treeLayers(model: Model): TreeLayerInfo[] {
  return model.layersOf<TreeSettings>(KEY).map((l) => ({ layer: l.name, depth: l.options.depth, nodes: 2 ** (l.options.depth + 1) - 1, inputs: l.inputs, units: l.units }));
}

function exported(model: Model, layer: Layer, what: string): () => number {
  return model.wasmExports[layer.exports[what]!] as () => number;
}

function counters(model: Model, layer: Layer): TreeCounters {
  const macs = exported(model, layer, "treeMacs")();
  const examples = exported(model, layer, "treeExamples")();
  const k = layer.options.depth;
  return { layer: layer.name, depth: k, nodes: 2 ** (k + 1) - 1, inputs: layer.inputs, units: layer.units, macs, examples, macsPerExample: examples > 0 ? macs / examples : 0 };
}

/** The counted MACs of every tree layer since the last reset. */
export function treeCounters(model: Model): TreeCounters[] {
  return model.layersOf<TreeSettings>(KEY).map((l) => counters(model, l));
}

/** Zeroes the tree layers' MAC and example counters. */
export function resetTreeCounters(model: Model): void {
  for (const l of model.layersOf<TreeSettings>(KEY)) exported(model, l, "treeResetCounters")();
}

/** MACs per example of the whole model as run: tree layers as counted, others as the manifest's cost model. */
export function measuredMacsPerExample(model: Model): number {
  const trees = new Map(treeCounters(model).map((c) => [c.layer, c]));
  let total = 0;
  for (const layer of model.manifest.layers) {
    if (!layer.delta) continue;
    const tree = trees.get(layer.name);
    total += tree && tree.examples > 0 ? tree.macsPerExample : layer.macs;
  }
  return total;
}

/**
 * The leaf each of the last forward pass's n rows reached: its gater bits as a code, bit 1 most
 * significant (`tree_codes`), i.e. leaf 0 .. 2^depth - 1 left to right. With layout "per_unit"
 * every unit reads the same bits in its own gater order, so the code names the bit pattern.
 */
function decisions(model: Model, layer: Layer, n: number): LayerDecisions {
  const codes = new Int32Array(model.wasmMemory.buffer, findRegion(model.manifest, layer.regions["tree_codes"]!).offset, n);
  return { of: "leaf", total: 2 ** layer.options.depth, active: Array.from(codes, (code) => Int32Array.of(code)) };
}

function writeOrders(model: Model, layer: Layer): void {
  const region = findRegion(model.manifest, layer.regions["tree_order"]!);
  new Int32Array(model.wasmMemory.buffer, region.offset, region.bytes / 4).set(unitOrders(layer.units, layer.options.depth));
}

export const treeRuntime = defineRuntime<TreeSettings>({
  dispatchers: async () => (await import("./parallel.js")).TREE_DISPATCHERS,
  key: KEY,
  webgpu: () => import("./webgpu.js").then((m) => m.treeGpu),
  resetCounters: (model, layers) => layers.forEach((l) => exported(model, l, "treeResetCounters")()),
  // The per_unit gater orders are made by init and are no checkpoint tensor: a model loaded
  // without init would have every unit read the bits in order 0, 0, ...; they follow the shape.
  afterLoad: (model, layers) => layers.filter((l) => l.options.layout === "per_unit").forEach((l) => writeOrders(model, l)),
  decisions,
  report(model, layer) {
    const c = counters(model, layer);
    return {
      macsPerExample: c.examples > 0 ? c.macsPerExample : null,
      // each example uses the k + 1 nodes of its path out of the tree's 2^(k+1) - 1
      activeFraction: (c.depth + 1) / c.nodes,
      metrics: { depth: c.depth, nodes: c.nodes },
    };
  },
});
