/**
 * @fileoverview The runtime side of `gate lowrank` (Davis & Arel; docs/methods/lowrank.md): the
 * estimator factors recomputed from each gated layer's weights by truncated SVD (after `init`,
 * after a checkpoint without factors, after each epoch), switching the estimator on and off,
 * and the per-layer figures (sign agreement, false negatives, fraction computed, counted MACs).
 *
 * Factors: with W [units, inputs] stored row-major, A = Wᵀ [inputs, units] ≈ U_r Σ_r V_rᵀ;
 * `lowrank_u` = U_r Σ_r [inputs, r], `lowrank_v` = V_rᵀ [r, units], so Ẑ = (X U) V + b.
 */
import type { Model } from "../../runtime/model.js";
import type { AnyModel } from "../../runtime/backend.js";
import type { LowRankGpuState } from "./webgpu.js";
import type { Dataset } from "../../runtime/data/dataset.js";
import { findRegion } from "../../runtime/manifest.js";
import { truncatedSvd, type SvdOptions } from "../../runtime/linalg/svd.js";
import { defineRuntime, type LayerDecisions, type RuntimeLayer } from "../runtime-unit.js";
import {
  LOWRANK_STAT_AGREE,
  LOWRANK_STAT_COMPUTED,
  LOWRANK_STAT_COUNT,
  LOWRANK_STAT_EXAMPLES,
  LOWRANK_STAT_FALSE_NEGATIVE,
  LOWRANK_STAT_MACS,
  LOWRANK_STAT_MEASURED,
  LOWRANK_STAT_POSITIVE,
} from "../../runtime/kernels/codes/lowrank.js";

export interface LowRankSettings {
  rank: number;
  threshold: number;
  refresh: "epoch" | "never";
  mode: "test_only" | "in_loop";
}

type Layer = RuntimeLayer<LowRankSettings>;

const KEY = "lowrank";

/** The gated layers of a model, with their settings. */
export function lowrankLayers(model: AnyModel): { layer: Layer; gate: LowRankSettings }[] {
  return model.layersOf<LowRankSettings>(KEY).map((layer) => ({ layer, gate: layer.options }));
}

/** Recomputes the factors of `layers` (default: every gated layer) from their current weights. */
export function refreshEstimators(model: Model, options: SvdOptions = {}, layers: Layer[] = model.layersOf<LowRankSettings>(KEY)): void {
  for (const layer of layers) {
    const w = model.parameter(layer.params["weight"]!); // [units, inputs]
    const at = new Float64Array(layer.inputs * layer.units); // Wᵀ [inputs, units]
    for (let j = 0; j < layer.units; j++) {
      for (let k = 0; k < layer.inputs; k++) at[k * layer.units + j] = w[j * layer.inputs + k]!;
    }
    const svd = truncatedSvd(at, layer.inputs, layer.units, layer.options.rank, options);
    model.setParameter(layer.params["lowrank_u"]!, Float32Array.from(svd.us));
    model.setParameter(layer.params["lowrank_v"]!, Float32Array.from(svd.vt));
  }
}

/** Models whose estimators are switched off (the module's switch starts on). */
const estimatorsOff = new WeakSet<AnyModel>();

/** Switches the estimator of every gated layer on (default) or off (the dense layer), on either back end. */
export function setEstimatorsEnabled(model: AnyModel, on: boolean): void {
  if (typeof on !== "boolean") throw new TypeError(`setEstimatorsEnabled: on must be a boolean, got ${typeof on}`);
  if (on) estimatorsOff.delete(model);
  else estimatorsOff.add(model);
  if (model.backend === "webgpu") {
    const state = model.methodState<LowRankGpuState>(KEY);
    for (const layer of model.layersOf<LowRankSettings>(KEY)) state?.enabled.set(layer.name, on);
    return;
  }
  for (const layer of model.layersOf<LowRankSettings>(KEY)) (model.wasmExports[layer.exports["lowrankEnable"]!] as (on: number) => void)(on ? 1 : 0);
}

/**
 * The units the estimator selected for each of the last forward pass's n rows: the module's
 * per-example active lists (`lowrank_active`, `lowrank_count`), which the estimated forward
 * pass writes on every path (sparse, unit-major, or dense-then-masked).
 */
function decisions(model: Model, layer: Layer, n: number): LayerDecisions | null {
  if (estimatorsOff.has(model)) return null;
  const lists = findRegion(model.manifest, layer.regions["lowrank_active"]!);
  const counts = new Int32Array(model.wasmMemory.buffer, findRegion(model.manifest, layer.regions["lowrank_count"]!).offset, n);
  const active: Int32Array[] = [];
  for (let i = 0; i < n; i++) {
    const list = new Int32Array(model.wasmMemory.buffer, lists.offset + i * layer.units * 4, counts[i]!);
    active.push(list.slice().sort());
  }
  return { of: "unit", total: layer.units, active };
}

function stats(model: Model, layer: Layer): Float64Array {
  const region = findRegion(model.manifest, layer.regions["lowrank_stats"]!);
  return new Float64Array(model.wasmMemory.buffer, region.offset, LOWRANK_STAT_COUNT);
}

export interface LowRankLayerMetrics {
  name: string;
  rank: number;
  inputs: number;
  units: number;
  /** Share of (example, unit) pairs where 1[ẑ > θ] equals 1[z > 0]. */
  signAgreement: number;
  /** Share of truly positive units the estimator zeroed. */
  falseNegativeRate: number;
  /** Share of units computed (estimated positive). */
  alpha: number;
  /** Share of units truly positive (on the conditional input). */
  trueDensity: number;
  /** Multiply-accumulates performed per example (estimator + exact part), as counted. */
  macsPerExample: number;
  /** r · (n_in + n_out) + α · n_in · n_out: the cost model with a dense input. */
  macsPerExampleModel: number;
}

export interface LowRankMetrics {
  /** Accuracy with the estimators on. */
  accuracy: number;
  /** Accuracy of the same weights with every gated layer dense. */
  accuracyDense: number;
  layers: LowRankLayerMetrics[];
}

/**
 * Runs the data through the estimators (chained: each gated layer sees the conditional output
 * of the layers before it), measuring per layer the estimator's sign statistics against the
 * exact pre-activation on that same input, then the accuracy without the estimators.
 */
export function measureLowRank(model: Model, data: Dataset): LowRankMetrics {
  const gated = model.layersOf<LowRankSettings>(KEY);
  setEstimatorsEnabled(model, true);
  for (const layer of gated) stats(model, layer).fill(0);
  const exports = model.wasmExports as Record<string, (n: number) => void>;
  const classes = model.manifest.classes;
  let correct = 0;
  for (let start = 0; start < data.count; start += model.maxBatch) {
    const rows = Math.min(model.maxBatch, data.count - start);
    const probs = model.predict(data.images.subarray(start * data.width, (start + rows) * data.width), rows);
    for (const layer of gated) exports[layer.exports["lowrankStats"]!]!(rows);
    for (let r = 0; r < rows; r++) {
      let best = 0;
      for (let c = 1; c < classes; c++) if (probs[r * classes + c]! > probs[r * classes + best]!) best = c;
      if (best === data.labels[start + r]) correct++;
    }
  }
  const layers = gated.map((layer) => {
    const s = stats(model, layer);
    const examples = s[LOWRANK_STAT_EXAMPLES]!;
    const measured = s[LOWRANK_STAT_MEASURED]!;
    const alpha = s[LOWRANK_STAT_COMPUTED]! / Math.max(examples * layer.units, 1);
    return {
      name: layer.name,
      rank: layer.options.rank,
      inputs: layer.inputs,
      units: layer.units,
      signAgreement: s[LOWRANK_STAT_AGREE]! / Math.max(measured, 1),
      falseNegativeRate: s[LOWRANK_STAT_FALSE_NEGATIVE]! / Math.max(s[LOWRANK_STAT_POSITIVE]!, 1),
      alpha,
      trueDensity: s[LOWRANK_STAT_POSITIVE]! / Math.max(measured, 1),
      macsPerExample: s[LOWRANK_STAT_MACS]! / Math.max(examples, 1),
      macsPerExampleModel: layer.options.rank * (layer.inputs + layer.units) + alpha * layer.inputs * layer.units,
    };
  });
  setEstimatorsEnabled(model, false);
  const dense = model.evaluate(data);
  setEstimatorsEnabled(model, true);
  return { accuracy: correct / Math.max(data.count, 1), accuracyDense: dense.accuracy, layers };
}

export const lowrankRuntime = defineRuntime<LowRankSettings>({
  key: KEY,
  dispatchers: async () => (await import("./parallel.js")).LOWRANK_DISPATCHERS,
  afterInit: (model, layers) => refreshEstimators(model, {}, layers),
  afterLoad(model, layers, missing) {
    const stale = layers.filter((l) => missing.includes(l.params["lowrank_u"]!) || missing.includes(l.params["lowrank_v"]!));
    if (stale.length > 0) refreshEstimators(model, {}, stale);
  },
  afterEpoch(model, layers, epoch) {
    const due = layers.filter((l) => l.options.refresh === "epoch" || epoch.last);
    if (due.length > 0) refreshEstimators(model, {}, due);
  },
  resetCounters: (model, layers) => layers.forEach((l) => stats(model, l).fill(0)),
  decisions,
  report(model, layer, phase) {
    const s = stats(model, layer);
    const examples = s[LOWRANK_STAT_EXAMPLES]!;
    // test_only trains the dense layer: every unit computed, nothing counted.
    if (examples === 0 && phase === "train" && layer.options.mode === "test_only") return { macsPerExample: layer.inputs * layer.units, activeFraction: 1, metrics: { rank: layer.options.rank } };
    if (examples === 0) return { macsPerExample: null, activeFraction: null, metrics: { rank: layer.options.rank } };
    return {
      macsPerExample: s[LOWRANK_STAT_MACS]! / examples,
      activeFraction: s[LOWRANK_STAT_COMPUTED]! / (examples * layer.units),
      metrics: { rank: layer.options.rank },
    };
  },
  webgpu: () => import("./webgpu.js").then((m) => m.lowrankGpu),
  analyze(model, _layers, data) {
    const m = measureLowRank(model, data);
    return {
      model: { accuracy_without_lowrank: m.accuracyDense },
      layers: Object.fromEntries(
        m.layers.map((l) => [l.name, { sign_agreement: l.signAgreement, false_negative_rate: l.falseNegativeRate, alpha: l.alpha, true_density: l.trueDensity }]),
      ),
    };
  },
});
