/**
 * @fileoverview The GPU half of a method's runtime unit (`MethodRuntime.webgpu`): what the WebGPU
 * back end's frame (frame.ts) asks of each layer's method: the recorded steps of its forward,
 * backward, update and flush passes, its GPU-only buffers, the values it writes before each call,
 * its host-side state (seeds, modes, switches) and its per-layer report from its own counters.
 */
import type { Manifest, ManifestLayer } from "../manifest.js";
import type { LayerReport } from "../../methods/runtime-unit.js";
import type { Step } from "./executor.js";

/** Which program a pass is recorded for. */
export type GpuPhase = "predict" | "train";

/** A parameter as the GPU back end binds it: region names. */
export interface GpuParam {
  name: string;
  value: string;
  /** Its gradient's region (null: not trained). */
  grad: string | null;
  /** Optimizer state regions: [velocity] for SGD, [m1, m2] for Adam. */
  state: string[];
  shape: number[];
  count: number;
}

/** A layer as a method's GPU program sees it: every buffer by region name. */
export interface GpuLayer<O = unknown> {
  name: string;
  /** Position in the model (the RNG stream of its initialisation and sampling). */
  index: number;
  inputs: number;
  units: number;
  activation: string;
  options: O;
  isOutput: boolean;
  method: string;
  /** The layer it reads (null: the model's input). */
  source: GpuLayer | null;
  /** Regions of its input rows [n, inputs], output rows [n, units] and dL/d(pre-activation). */
  x: string;
  output: string;
  delta: string | null;
  /** The coefficient of the penalty on its output (0: none). */
  l1: number;
  param(suffix: string): GpuParam;
  hasParam(suffix: string): boolean;
  /** A memory-plan region the method asked for (`<layer>.<suffix>`). */
  region(suffix: string): string;
  /** A GPU-only region the method asked for in `regions` (`#<layer>:<suffix>`). */
  own(suffix: string): string;
  manifest: ManifestLayer;
}

/** A GPU-only buffer of a layer: `words` 32-bit words (f32, i32 or u32 as its kernels read them). */
export interface GpuRegionRequest {
  suffix: string;
  words: number;
  /** Counters of a phase (or of both): zeroed by resetCounters(phase), read by the method's `report`. */
  counters?: "train" | "eval" | "both";
  /** Initial contents (default zeros). */
  initial?: () => Uint32Array | Float32Array | Int32Array;
}

/** One call of a program: its rows, phase, the step count before it and its learning rate. */
export interface GpuCall {
  n: number;
  phase: GpuPhase;
  /** Training steps taken before this call (the wasm module's `step` during the forward pass). */
  step: number;
  lr: number;
}

/** Where a layer's backward writes dL/d(input): write (beta 0) or add (beta 1). */
export interface GpuSourceDelta {
  region: string;
  beta: 0 | 1;
}

/** What every hook of a method's GPU program is handed. */
export interface GpuContext<S = unknown> {
  manifest: Manifest;
  maxBatch: number;
  classes: number;
  /** What the method's `state` returned (shared by its layers; the `when` guards read it). */
  state: S;
  /** The live layers of this method, in source order. */
  layers: GpuLayer[];
  /** Frame regions: probabilities, labels, and the loss slots ([0] the total; non-finite: nothing updates). */
  probs: string;
  labels: string;
  loss: string;
  /** Replaces the first bytes of a region (outside any program). */
  upload(region: string, data: ArrayBufferView): Promise<void>;
  /** A copy of a region's bytes. */
  download(region: string): Promise<ArrayBuffer>;
}

/**
 * A method's GPU program. Steps are recorded once per model; whatever changes between calls is
 * either host state read by a step's `when` guard, or written into the method's own regions by
 * `writes` before each call (seeds, RNG streams, decay factors).
 */
export interface GpuMethod<O = unknown, S = unknown> {
  /** Host-side state made once per model (before any step is recorded). */
  state?(layers: GpuLayer<O>[], manifest: Manifest): S;
  /** Reasons a layer cannot run on the GPU (an option not built); empty: it can. */
  unsupported?(layer: GpuLayer<O>): string[];
  regions?(layer: GpuLayer<O>, ctx: GpuContext<S>): GpuRegionRequest[];
  /** True when the forward pass writes a term of the training loss into slot `lossSlot`. */
  hasLossTerm?(layer: GpuLayer<O>): boolean;
  /** Forward over rows [0, n): the layer's output (after its activation) from its input. */
  forward(layer: GpuLayer<O>, ctx: GpuContext<S>, phase: GpuPhase, lossSlot: number | null): Step[];
  /**
   * Backward: on entry the delta holds dL/d(output) (L1 added); apply the activation derivative,
   * write the gradients and, given `source`, write or add dL/d(input) there.
   */
  backward(layer: GpuLayer<O>, ctx: GpuContext<S>, source: GpuSourceDelta | null): Step[];
  /** After the optimizer: parameters updated by the method (their kernels check the loss slot). */
  update?(layer: GpuLayer<O>, ctx: GpuContext<S>): Step[];
  /** Brings lazily updated parameters up to date (before they are read or saved). */
  flush?(layer: GpuLayer<O>, ctx: GpuContext<S>): Step[];
  /** Region writes before a call (per layer). */
  writes?(layer: GpuLayer<O>, ctx: GpuContext<S>, call: GpuCall): Array<{ region: string; data: ArrayBufferView }>;
  /** After a call: `finite` is false when a training step was refused (its loss not finite). */
  afterCall?(ctx: GpuContext<S>, call: GpuCall, finite: boolean): void;
  /** After the GPU buffers were replaced from the host (init, load, copyFrom); `seed` after init. */
  afterUpload?(ctx: GpuContext<S>, seed: number | null): Promise<void> | void;
  /** Zeroes counters the method keeps on the host (its GPU counter regions are zeroed by the frame). */
  resetCounters?(ctx: GpuContext<S>, phase: "train" | "eval"): void;
  /** Per-layer figures from the method's counters (downloaded with ctx.download). */
  report?(layer: GpuLayer<O>, ctx: GpuContext<S>, phase: "train" | "eval"): Promise<LayerReport>;
}

export function defineGpuMethod<O, S = undefined>(method: GpuMethod<O, S>): GpuMethod<O, S> {
  return method;
}
