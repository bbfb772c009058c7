/**
 * @fileoverview Runtime side of tree layers (methods.md 3): which layers are trees, their
 * depth, the MACs their forward passes performed (counted inside the module per executed
 * bucket GEMM), and the lazy-decay flush (`Model.flush` calls every `<layer>__flush`).
 * No Node-only imports.
 */
import type { Model } from "./model.js";
import { layerExportName } from "./manifest.js";

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

/** The model's tree layers, from the manifest (a `<layer>.tree_weight` [nodes, units, inputs]). */
export function treeLayers(model: Model): TreeLayerInfo[] {
  const out: TreeLayerInfo[] = [];
  for (const layer of model.manifest.layers) {
    if (layer.op !== "tree") continue;
    const weight = model.manifest.params.find((p) => p.name === `${layer.name}.tree_weight`);
    if (!weight) continue;
    const nodes = weight.shape[0]!;
    out.push({ layer: layer.name, depth: Math.round(Math.log2(nodes + 1)) - 1, nodes, inputs: layer.inputs, units: layer.units });
  }
  return out;
}

function exported(model: Model, name: string): (() => number) | null {
  const fn = model.wasmExports[name];
  return typeof fn === "function" ? (fn as () => number) : null;
}

/** The counted MACs of every tree layer since the last reset. */
export function treeCounters(model: Model): TreeCounters[] {
  return treeLayers(model).map((info) => {
    const macs = exported(model, layerExportName(info.layer, "treeMacs"))?.() ?? 0;
    const examples = exported(model, layerExportName(info.layer, "treeExamples"))?.() ?? 0;
    return { ...info, macs, examples, macsPerExample: examples > 0 ? macs / examples : 0 };
  });
}

/** Zeroes the tree layers' MAC and example counters. */
export function resetTreeCounters(model: Model): void {
  for (const info of treeLayers(model)) exported(model, layerExportName(info.layer, "treeResetCounters"))?.();
}

/**
 * MACs per example of the whole model as run: tree layers as counted by the module, other
 * layers as in the manifest (dense inputs · units).
 */
export function measuredMacsPerExample(model: Model): number {
  const trees = new Map(treeCounters(model).map((c) => [c.layer, c]));
  let total = 0;
  for (const layer of model.manifest.layers) {
    if (!layer.delta) continue;
    const tree = trees.get(layer.name);
    total += tree ? tree.macsPerExample : layer.macs;
  }
  return total;
}
