/**
 * @fileoverview The runtime half of a method unit: what the runtime does for a method's layers
 * beyond calling the module (prepare derived tensors after `init` and `load`, refresh them
 * after each epoch, reset and read counters, report per-layer figures, CLI options). It reads
 * everything from the manifest (the layer's options, params, regions and exports by name) and
 * imports nothing of the compiler, so the runtime stays small. Its optional `webgpu` field is the
 * method's GPU program (runtime/webgpu/method.ts).
 */
import type { ManifestLayer } from "../runtime/manifest.js";
import type { Model } from "../runtime/model.js";
import type { AnyModel } from "../runtime/backend.js";
import type { Dataset } from "../runtime/data/dataset.js";
import type { Dispatchers } from "../runtime/pool/parallel.js";
import type { GpuMethod } from "../runtime/webgpu/method.js";

/** A layer of the method, its options typed. */
export type RuntimeLayer<O> = ManifestLayer & { options: O };

/** Per-layer figures since the last counter reset, in the shared report fields (docs/reports.md). */
export interface LayerReport {
  /** MACs per example as the module counted them (null: not counted; the cost model stands). */
  macsPerExample: number | null;
  /** Fraction of units, blocks, leaves or experts computed (null: does not apply or not counted). */
  activeFraction: number | null;
  /** The method's own figures, snake_case keys. */
  metrics: Record<string, number | number[] | string>;
}

/** What a layer's gate chooses among, per example (the vocabulary of `decisions`). */
export type DecisionUnit = "unit" | "block" | "leaf" | "expert";

/** Per example of the last forward pass: the indices (of `total` units, blocks, leaves or experts) the layer computed. */
export interface LayerDecisions {
  of: DecisionUnit;
  total: number;
  /** One list per example, in the batch's row order; indices ascending. */
  active: Int32Array[];
}

/** An option a method adds to `condc eval`/`train`/`bench` (e.g. `--policy threshold`). */
export interface MethodCliOption<O> {
  name: string;
  /** Accepted values. */
  choices: readonly string[];
  help: string;
  commands: readonly ("train" | "eval" | "bench")[];
  /** Applied to a model on either back end (a GPU model keeps the method's state on the host). */
  apply(model: AnyModel, layers: RuntimeLayer<O>[], value: string): void;
}

export interface MethodRuntime<O = unknown> {
  key: string;
  /** After `init(seed)`: make the model ready (e.g. estimator factors from the new weights, RNG seeds). */
  afterInit?(model: Model, layers: RuntimeLayer<O>[], seed: number): void;
  /** After `load()`: `missing` lists the derived tensors (update "none") the checkpoint lacked. */
  afterLoad?(model: Model, layers: RuntimeLayer<O>[], missing: string[]): void;
  /** After each training epoch (`last` after the final one). */
  afterEpoch?(model: Model, layers: RuntimeLayer<O>[], epoch: { index: number; last: boolean }): void;
  /** Zero the counters `report` reads. */
  resetCounters?(model: Model, layers: RuntimeLayer<O>[], phase: "train" | "eval"): void;
  /** Figures of one layer since the last reset. */
  report?(model: Model, layer: RuntimeLayer<O>, phase: "train" | "eval"): LayerReport;
  /**
   * After a forward pass of n <= maxBatch rows (`predict`): per example, what the layer's gate
   * chose (read from the method's regions). Null when the last pass did not run the gate (e.g.
   * the estimator switched off).
   */
  decisions?(model: Model, layer: RuntimeLayer<O>, n: number): LayerDecisions | null;
  /**
   * Extra measurements `condc eval` makes after timing (e.g. accuracy without the estimators,
   * sign agreement): per layer and model-wide metrics. May run the data again.
   */
  analyze?(model: Model, layers: RuntimeLayer<O>[], data: Dataset): { layers: Record<string, Record<string, number>>; model: Record<string, number> };
  /** For `condc bench` without trained weights: make untrained weights usable. */
  prepareUntrained?(model: Model, layers: RuntimeLayer<O>[], seed: number): void;
  cliOptions?: MethodCliOption<O>[];
  /**
   * How the method's own kernels split over threads, by kernel import name (runtime/pool/:
   * each dispatcher splits a call into output tiles computed exactly as in one call). Loaded
   * on demand (a dynamic import of `methods/<name>/parallel.ts`), only for a model on threads.
   */
  dispatchers?: () => Promise<Dispatchers>;
  /**
   * The method's GPU program (methods/<name>/webgpu.ts): what the WebGPU back end needs to record
   * the layer's forward, backward and update passes and to keep its extra state. A model with a
   * live layer whose method has none does not run on the GPU (loadModel's "auto" takes wasm).
   * Loaded on demand (a dynamic import), so an app that runs wasm only does not carry it.
   */
  webgpu?: () => Promise<GpuMethod<O, any>>;
}

export function defineRuntime<O>(runtime: MethodRuntime<O>): MethodRuntime<O> {
  return runtime;
}
