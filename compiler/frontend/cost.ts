/**
 * @fileoverview The cost model: parameters, MACs per example (dense equivalent, gate overhead,
 * conditional at the expected density) and memory, per layer and per model. Each method gives
 * its layer's figures (`MethodUnit.cost`); this file adds them up, passing each layer the
 * density of its source's output. Shared by `inspect`, the checker's memory limit, the
 * manifest and the runtime's reports (docs/reports.md).
 */
import { BYTES_PER_PARAMETER } from "./language-spec.js";
import type { CheckedLayer, CheckedModel } from "./model.js";
import type { MethodTable } from "./method-table.js";

export interface LayerCost {
  layer: string;
  /** The method's registry key and its inspect label. */
  method: string;
  label: string;
  inputs: number;
  units: number;
  /** Multiplicative weights of the layer itself (a tree counts every node). */
  weights: number;
  biases: number;
  /** Estimator factors, policy weights, tree gaters, routers. */
  gateParameters: number;
  /** weights + biases + gateParameters. */
  parameters: number;
  /** inputs * units: the plain dense layer of the same shape. */
  denseMacs: number;
  /** The layer's own products at the expected density (bias adds are not MACs). */
  bodyMacs: number;
  /** The gate's own work: estimator, policy network, gaters, router. */
  gateMacs: number;
  /** bodyMacs + gateMacs: what one example is expected to cost. */
  conditionalMacs: number;
  /** Expected fraction of units (blocks, experts) computed; null when it does not apply. */
  density: number | null;
  /** True when the density is an assumption (e.g. `density:` of a lowrank gate), not a target. */
  densityAssumed: boolean;
  /** Fraction of the input the body reads (a block-masked source); 1 otherwise. */
  inputDensity: number;
  /** Capacity to computation: parameters / conditionalMacs. */
  ratio: number;
  /** weights / bodyMacs (for a tree of depth k exactly (2^(k+1) - 1) / (k + 1)). */
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

function safeRatio(numerator: number, denominator: number): number {
  return denominator > 0 ? numerator / denominator : 0;
}

/** The cost of one layer per example, its source's output density given. */
export function layerCost(layer: CheckedLayer, inputDensity: number, methods: MethodTable): LayerCost {
  const unit = methods.require(layer.method);
  const c = unit.cost(layer, inputDensity);
  const parameters = c.weights + c.biases + c.gateParameters;
  const conditionalMacs = c.bodyMacs + c.gateMacs;
  return {
    layer: layer.name,
    method: unit.key,
    label: unit.label(layer.options),
    inputs: layer.inputs,
    units: layer.units,
    weights: c.weights,
    biases: c.biases,
    gateParameters: c.gateParameters,
    parameters,
    denseMacs: layer.inputs * layer.units,
    bodyMacs: c.bodyMacs,
    gateMacs: c.gateMacs,
    conditionalMacs,
    density: c.density,
    densityAssumed: c.densityAssumed,
    inputDensity: c.inputDensity,
    ratio: safeRatio(parameters, conditionalMacs),
    weightRatio: safeRatio(c.weights, c.bodyMacs),
    memoryBytes: parameters * BYTES_PER_PARAMETER,
  };
}

/** Per-layer costs (each reading its source's output density) and model totals. */
export function modelCost(model: CheckedModel, methods: MethodTable): ModelCost {
  const byName = new Map(model.layers.map((layer) => [layer.name, layer]));
  const layers = model.layers.map((layer) => {
    const source = byName.get(layer.source);
    const density = source ? (methods.require(source.method).outputDensity?.(source.options) ?? 1) : 1;
    return layerCost(layer, density, methods);
  });
  let parameters = 0, denseMacs = 0, gateMacs = 0, conditionalMacs = 0, memoryBytes = 0;
  for (const c of layers) {
    parameters += c.parameters;
    denseMacs += c.denseMacs;
    gateMacs += c.gateMacs;
    conditionalMacs += c.conditionalMacs;
    memoryBytes += c.memoryBytes;
  }
  return {
    model: model.name,
    layers,
    parameters,
    denseMacs,
    gateMacs,
    conditionalMacs,
    memoryBytes,
    ratio: safeRatio(parameters, conditionalMacs),
    speedup: safeRatio(denseMacs, conditionalMacs),
  };
}
