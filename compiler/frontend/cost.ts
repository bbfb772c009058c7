/**
 * @fileoverview The cost model (methods.md 2.3, 3.1, 4.4): parameters, MACs per example
 * (dense equivalent, gate overhead, conditional at expected density) and memory, per layer
 * and per model. Shared by `inspect`, the checker's memory limit and the back end.
 */
import { BYTES_PER_PARAMETER } from "./language-spec.js";
import type { CheckedLayer, CheckedModel } from "./model.js";

export interface LayerCost {
  layer: string;
  op: CheckedLayer["op"];
  gate: "lowrank" | "policy" | null;
  inputs: number;
  units: number;
  /** Multiplicative weights of the layer itself (a tree counts every node). */
  weights: number;
  biases: number;
  /** Low-rank factors U, V; policy weights Z, d; tree gaters G, c. */
  gateParameters: number;
  /** weights + biases + gateParameters. */
  parameters: number;
  /** inputs * units: the plain dense layer of the same shape. */
  denseMacs: number;
  /** The layer's own products at the expected density (bias adds are not MACs). */
  bodyMacs: number;
  /** The gate's own work: estimator, policy network or tree gaters. */
  gateMacs: number;
  /** bodyMacs + gateMacs: what one example is expected to cost. */
  conditionalMacs: number;
  /** Expected fraction of units (or blocks) computed; null when it does not apply. */
  density: number | null;
  /** True when the density is an assumption (`density:` of a lowrank gate), not a target. */
  densityAssumed: boolean;
  /** Fraction of the input computed upstream (a policy-gated source); 1 otherwise. */
  inputDensity: number;
  /** Capacity to computation: parameters / conditionalMacs. */
  ratio: number;
  /** weights / bodyMacs; for a tree of depth k exactly (2^(k+1) - 1) / (k + 1). */
  weightRatio: number;
  /** parameters * 4 bytes (f32); gradients, optimizer state and activations not counted. */
  memoryBytes: number;
}

export interface ModelCost {
  model: string;
  layers: LayerCost[];
  parameters: number;
  denseMacs: number;
  gateMacs: number;
  conditionalMacs: number;
  memoryBytes: number;
  /** parameters / conditionalMacs */
  ratio: number;
  /** denseMacs / conditionalMacs: the ideal speedup over the dense network. */
  speedup: number;
}

/** Nodes of a complete binary tree of depth k: 2^(k+1) - 1. */
export function treeNodeCount(depth: number): number {
  return 2 ** (depth + 1) - 1;
}

/** Bytes of a tree layer's node weights: (2^(k+1) - 1) * inputs * units * 4. */
export function treeWeightBytes(depth: number, inputs: number, units: number): number {
  return treeNodeCount(depth) * inputs * units * BYTES_PER_PARAMETER;
}

/** The deepest tree whose weights fit in `limitBytes`; 0 when not even depth 0 fits. */
export function largestTreeDepth(inputs: number, units: number, limitBytes: number): number {
  let depth = 0;
  while (depth < 64 && treeWeightBytes(depth + 1, inputs, units) <= limitBytes) depth++;
  return treeWeightBytes(0, inputs, units) <= limitBytes ? depth : 0;
}

function safeRatio(numerator: number, denominator: number): number {
  return denominator > 0 ? numerator / denominator : 0;
}

/**
 * The cost of one layer per example. `inputDensity` is the expected fraction of the
 * input that is computed (block-masked by a policy-gated source); the policy and
 * low-rank gates still read the whole input.
 */
export function layerCost(layer: CheckedLayer, inputDensity = 1): LayerCost {
  const { inputs, units } = layer;
  const denseMacs = inputs * units;
  let weights = denseMacs;
  let biases = units;
  let gateParameters = 0;
  let bodyMacs = denseMacs * inputDensity;
  let gateMacs = 0;
  let density: number | null = null;
  let densityAssumed = false;
  let appliedInputDensity = inputDensity;

  if (layer.op === "tree" && layer.tree) {
    const depth = layer.tree.depth;
    const nodes = treeNodeCount(depth);
    weights = nodes * inputs * units;
    biases = nodes * units;
    gateParameters = inputs * depth + depth;
    bodyMacs = (depth + 1) * inputs * units;
    gateMacs = inputs * depth;
    appliedInputDensity = 1;
  } else if (layer.gate?.kind === "lowrank") {
    const { rank, assumedDensity } = layer.gate;
    gateParameters = rank * (inputs + units);
    gateMacs = rank * (inputs + units);
    density = assumedDensity;
    densityAssumed = true;
    bodyMacs = denseMacs * inputDensity * assumedDensity;
  } else if (layer.gate?.kind === "policy") {
    const { blocks, tau, uniform } = layer.gate;
    gateParameters = uniform ? 0 : inputs * blocks + blocks;
    gateMacs = uniform ? 0 : inputs * blocks;
    density = tau;
    bodyMacs = denseMacs * inputDensity * tau;
  }

  const parameters = weights + biases + gateParameters;
  const conditionalMacs = bodyMacs + gateMacs;
  return {
    layer: layer.name,
    op: layer.op,
    gate: layer.gate?.kind ?? null,
    inputs,
    units,
    weights,
    biases,
    gateParameters,
    parameters,
    denseMacs,
    bodyMacs,
    gateMacs,
    conditionalMacs,
    density,
    densityAssumed,
    inputDensity: appliedInputDensity,
    ratio: safeRatio(parameters, conditionalMacs),
    weightRatio: safeRatio(weights, bodyMacs),
    memoryBytes: parameters * BYTES_PER_PARAMETER,
  };
}

/** The expected density of a layer's output blocks, as seen by the layers that read it. */
function outputBlockDensity(layer: CheckedLayer): number {
  return layer.gate?.kind === "policy" ? layer.gate.tau : 1;
}

/** Per-layer costs (each reading its source's block density) and model totals. */
export function modelCost(model: CheckedModel): ModelCost {
  const byName = new Map(model.layers.map((layer) => [layer.name, layer]));
  const layers = model.layers.map((layer) => {
    const source = byName.get(layer.source);
    return layerCost(layer, source ? outputBlockDensity(source) : 1);
  });
  const sum = (pick: (cost: LayerCost) => number) => layers.reduce((total, cost) => total + pick(cost), 0);
  const parameters = sum((c) => c.parameters);
  const denseMacs = sum((c) => c.denseMacs);
  const conditionalMacs = sum((c) => c.conditionalMacs);
  return {
    model: model.name,
    layers,
    parameters,
    denseMacs,
    gateMacs: sum((c) => c.gateMacs),
    conditionalMacs,
    memoryBytes: sum((c) => c.memoryBytes),
    ratio: safeRatio(parameters, conditionalMacs),
    speedup: safeRatio(denseMacs, conditionalMacs),
  };
}
