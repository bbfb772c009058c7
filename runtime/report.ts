/**
 * @fileoverview One set of numbers for any model, mixed ones included (docs/reports.md): per
 * layer the MACs per example (as the module counted them where its method counts, the cost
 * model where it does not), the active fraction where gated and the method's own figures; for
 * the whole model the sum over the layers the loss depends on. `train`, `eval` and `bench` all
 * report through here, so their figures agree.
 */
import type { Model } from "./model.js";
import type { Dataset } from "./data/dataset.js";
import type { Manifest } from "./manifest.js";
import type { LayerReport } from "../methods/runtime-unit.js";

export type Phase = "train" | "eval";

export interface LayerFigures {
  method: string;
  macsPerExample: number;
  denseMacsPerExample: number;
  /** True when the module counted the MACs; false when they are the cost model's. */
  macsCounted: boolean;
  activeFraction: number | null;
  metrics: Record<string, number | number[] | string>;
}

export interface ModelFigures {
  macsPerExample: number;
  denseMacsPerExample: number;
  /** The layers the loss depends on, in source order. */
  layers: Map<string, LayerFigures>;
}

/** Zeroes the counters of every method for a phase (before an epoch or an evaluation). */
export function resetCounters(model: Model, phase: Phase): void {
  for (const g of model.methodGroups()) g.runtime.resetCounters?.(model, g.layers, phase);
}

/** The figures since the last reset. */
export function collectFigures(model: Model, phase: Phase): ModelFigures {
  const runtimes = new Map(model.methodGroups().map((g) => [g.runtime.key, g.runtime]));
  const reports = new Map<string, LayerReport | undefined>();
  for (const layer of model.manifest.layers) if (layer.delta !== null) reports.set(layer.name, runtimes.get(layer.method)?.report?.(model, layer, phase));
  return assembleFigures(model.manifest, reports);
}

/**
 * The figures from each live layer's report (undefined: its method counts nothing, the cost
 * model stands), whichever back end made them.
 */
export function assembleFigures(manifest: Manifest, reports: ReadonlyMap<string, LayerReport | undefined>): ModelFigures {
  const layers = new Map<string, LayerFigures>();
  let macs = 0;
  let dense = 0;
  for (const layer of manifest.layers) {
    if (layer.delta === null) continue;
    const report = reports.get(layer.name);
    const counted = report?.macsPerExample ?? null;
    const figures: LayerFigures = {
      method: layer.method,
      macsPerExample: counted ?? layer.macs,
      denseMacsPerExample: layer.denseMacs,
      macsCounted: counted !== null,
      activeFraction: report?.activeFraction ?? null,
      metrics: report?.metrics ?? {},
    };
    macs += figures.macsPerExample;
    dense += figures.denseMacsPerExample;
    layers.set(layer.name, figures);
  }
  return { macsPerExample: macs, denseMacsPerExample: dense, layers };
}

/** Every method's extra measurements (`analyze`), merged: per layer and model-wide. */
export interface ModelAnalyses {
  layers: Record<string, Record<string, number>>;
  model: Record<string, number>;
}

/**
 * Runs each method's `analyze` on `data` (e.g. the low-rank estimators' sign agreement and
 * false-negative rate) and merges the results. It runs the data through the model again.
 */
export function analyzeModel(model: Model, data: Dataset): ModelAnalyses {
  const analyses: ModelAnalyses = { layers: {}, model: {} };
  for (const g of model.methodGroups()) {
    const a = g.runtime.analyze?.(model, g.layers, data);
    if (!a) continue;
    Object.assign(analyses.model, a.model);
    for (const [layer, metrics] of Object.entries(a.layers)) analyses.layers[layer] = { ...analyses.layers[layer], ...metrics };
  }
  return analyses;
}
