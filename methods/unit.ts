/**
 * @fileoverview A conditional-computation method as one unit: everything the compiler needs
 * about it, registered together in one object (as TVM registers an operator's attributes):
 * its syntax and options, checking rules and their diagnostics, cost model and inspect label,
 * lowering (parameters, regions, counters), code emission per back end, and train settings.
 * Generic code (checker, cost, lowering, the code frame, the CLI) iterates over the registry
 * (`methods/registry.ts`) and never names a method. The runtime half is `runtime-unit.ts`.
 * How to add one: docs/adding-a-method.md.
 */
import type { Span } from "../compiler/frontend/ast.js";
import type { DiagnosticMessage } from "../compiler/frontend/diagnostic-messages.js";
import type { MessageArgs } from "../compiler/frontend/diagnostics.js";
import type { Activation, CheckedLayer, TrainConfig } from "../compiler/frontend/model.js";
import type { OptionSpec, OptionValues } from "../compiler/frontend/options.js";
import type { Expr, FunctionRef, GlobalRef } from "../compiler/backend/wasm/code.js";
import type { FunctionBuilder, ModuleBuilder } from "../compiler/backend/wasm/module-builder.js";

// ----------------------------------------------------------------------------- checking

/** What the checker knows of a layer when it hands it to its method (undefined: invalid, reported). */
export interface CheckLayerContext {
  name: string;
  inputs?: number;
  units?: number;
  activation?: Activation;
  isOutput: boolean;
  /** The valid options read from `kind(...)` and `gate NAME(...)` against the method's specs. */
  options: OptionValues;
  /** Where an option's value was written (the gate's or layer kind's name when it was not). */
  optionSpan(name: string): Span;
  /** The activation as written (the layer's span when it was left out). */
  activationSpan: Span;
  declSpan: Span;
  report(message: DiagnosticMessage, span: Span, args?: MessageArgs): void;
}

// ----------------------------------------------------------------------------- cost

/** A method's per-example cost of one layer (bias adds are not MACs). */
export interface MethodCost {
  /** Multiplicative weights of the layer itself (a tree counts every node). */
  weights: number;
  biases: number;
  /** Parameters of the gate: estimator factors, policy weights, gaters, routers. */
  gateParameters: number;
  /** The layer's own products at the expected density. */
  bodyMacs: number;
  /** The gate's own work. */
  gateMacs: number;
  /** Expected fraction of units (blocks, experts) computed; null when it does not apply. */
  density: number | null;
  /** True when `density` is an assumption of the user's, not the method's target. */
  densityAssumed: boolean;
  /** The fraction of the input the body reads (1 when it reads its whole input). */
  inputDensity: number;
}

// ----------------------------------------------------------------------------- lowering

/** Who writes a parameter: the model's optimizer, the method's own update, or nobody (derived). */
export type ParamUpdate = "optimizer" | "method" | "none";

export interface ParamRequest {
  /** Checkpoint name suffix: `<layer>.<suffix>`. */
  suffix: string;
  shape: number[];
  /** `method`: zero-filled by the frame, then written by the method's `init`. */
  init: "glorot_uniform" | "zeros" | "method";
  /** Weight decay applies (weights, not biases). */
  decay: boolean;
  update: ParamUpdate;
  /** What the tensor is, for importers and readers of the manifest. */
  role: string;
}

export type RegionDtype = "f32" | "i32" | "f64";

export interface RegionRequest {
  /** Region `<layer>.<suffix>`. */
  suffix: string;
  dtype: RegionDtype;
  /** In elements of `dtype`. */
  shape: number[];
  /** `scratch`: working memory of one call; `state`: kept between calls; `counters`: statistics the runtime reads. */
  role: "scratch" | "state" | "counters";
  /** For counters: the name of each element, in order. */
  fields?: string[];
}

// ----------------------------------------------------------------------------- emission

/** A layer as the code generator sees it: addresses as expressions, its method's options typed. */
export interface EmitLayer<O = unknown> {
  name: string;
  /** Position in the model: also the RNG stream of its initialisation. */
  index: number;
  inputs: number;
  units: number;
  activation: Activation;
  options: O;
  isOutput: boolean;
  /** The layer it reads (null: the model's input). */
  source: EmitLayer | null;
  method: string;
  /** Address of the input rows [n, inputs]. */
  x: Expr;
  /** Address of the output rows [n, units] (after the activation). */
  output: Expr;
  /** dL/d(pre-activation) [n, units]; null for a layer the loss does not depend on. */
  delta: Expr | null;
  /** A parameter `<layer>.<suffix>`: its address, its gradient's (if trained) and optimizer state. */
  param(suffix: string): { value: Expr; grad: Expr; count: number };
  hasParam(suffix: string): boolean;
  /** A region `<layer>.<suffix>` the method asked for. */
  region(suffix: string): Expr;
}

/** What every hook of a method's emitter is handed. */
export interface EmitContext<O = unknown, S = unknown> {
  module: ModuleBuilder;
  /** The model's training settings (optimizer, method settings). */
  train: TrainConfig;
  classes: number;
  /** The largest batch the module runs (regions of per-row state have this many rows). */
  maxBatch: number;
  /** Frame regions: the output layer's probabilities and the labels. */
  probs: Expr;
  labels: Expr;
  /** The training step counter (i32), incremented by trainStep before the backward pass. */
  step: GlobalRef;
  /** What `setup` returned for this method (module-wide globals and settings). */
  state: S;
  /** Every layer of this method, in source order. */
  layers: EmitLayer<O>[];
  /** Declares a global `<layer>.<what>` (per instance). */
  global(layer: EmitLayer, what: string, type: "i32" | "f32" | "f64", initial?: number): GlobalRef;
  /** A global declared earlier with `global`. */
  globalOf(layer: EmitLayer, what: string): GlobalRef;
  /**
   * Defines an exported function of the layer, `<layer>__<what>` (the manifest lists it under
   * `exports[what]` so the runtime never builds the name).
   */
  layerFunction(layer: EmitLayer, what: string, params: { name: string; type: "i32" | "f32" | "f64" }[], result: "i32" | "f32" | "f64" | null, doc: string): FunctionBuilder;
  /** A function defined earlier with `layerFunction` (to call it from init, forward, ...). */
  layerFunctionRef(layer: EmitLayer, what: string): FunctionRef;
  /** A model-wide exported function of this method (listed under the manifest's `exports`). */
  modelFunction(what: string, params: { name: string; type: "i32" | "f32" | "f64" }[], result: "i32" | "f32" | "f64" | null, doc: string): FunctionBuilder;
}

/** The destination of dL/d(input) in backward: write (beta 0) or add (beta 1). */
export interface SourceDelta {
  address: Expr;
  beta: 0 | 1;
}

/** Code emission for the wasm back end. `S`: module-wide state made once by `setup`. */
export interface WasmEmitter<O, S = undefined> {
  /** Once per model that has layers of this method, before any code: globals, model-wide exports. */
  setup?(ctx: EmitContext<O, undefined>): S;
  /** Extra lines of `init(seed)` after parameters, gradients and optimizer state are set. */
  init?(f: FunctionBuilder, layer: EmitLayer<O>, ctx: EmitContext<O, S>, seed: Expr): void;
  /** Forward for rows [0, n); `training` is 1 in trainStep, 0 in predict. */
  forward(f: FunctionBuilder, layer: EmitLayer<O>, ctx: EmitContext<O, S>, n: Expr, training: Expr): void;
  /**
   * A term the layer adds to the training loss `trainStep` returns (f32), e.g. a balance loss
   * the forward pass left in a global; its gradient is the method's to apply in `backward`.
   */
  lossTerm?(layer: EmitLayer<O>, ctx: EmitContext<O, S>): Expr | null;
  /** After the whole forward pass, once per method. */
  afterForward?(f: FunctionBuilder, ctx: EmitContext<O, S>, training: Expr): void;
  /**
   * Backward: on entry the layer's delta holds dL/d(output) (L1 already added); the method
   * applies its activation derivative, writes its gradients and, when `source` is given,
   * writes or adds dL/d(input) there. `lr` is the step's learning rate (f32).
   */
  backward(f: FunctionBuilder, layer: EmitLayer<O>, ctx: EmitContext<O, S>, n: Expr, source: SourceDelta | null, lr: Expr): void;
  /** After the optimizer step: parameters with update "method"; `lr` is the step's rate. */
  update?(f: FunctionBuilder, layer: EmitLayer<O>, ctx: EmitContext<O, S>, n: Expr, lr: Expr): void;
  /**
   * The layer's globals and extra exported functions (estimator switches, counters, flush).
   * Called for every layer before any other code is emitted, so globals declared here are
   * there for `init`, `forward`, `backward` and `update`.
   */
  exports?(layer: EmitLayer<O>, ctx: EmitContext<O, S>): void;
}

// ----------------------------------------------------------------------------- train settings

/** A train-block setting a method owns, e.g. `policy = reinforce(...)`. */
export interface TrainSettingSpec {
  name: string;
  /** The call forms it accepts, e.g. `{ reinforce: CallSpec }`. */
  calls: Record<string, { positional: OptionSpec[]; options: OptionSpec[] }>;
  /** The value when the setting is written: from the call's name and its valid values. */
  read(call: string, values: OptionValues): unknown;
  /** The value when it is needed but not written. */
  defaultValue(): unknown;
  /** Message for a call name that is not in `calls`. */
  unknownCall: DiagnosticMessage;
  /** Warning when it is written but no layer needs it. */
  unused: DiagnosticMessage;
}

// ----------------------------------------------------------------------------- the unit

export interface MethodUnit<O = unknown, S = any> {
  /** Registry key, recorded in the manifest per layer. */
  key: string;
  /** The layer kind that selects it: `KIND(source, units, ...)`. */
  kind: string;
  /** With a gate: `KIND(...) ACT gate GATE(...)`; null for the kind's plain method. */
  gate: string | null;
  /** Options inside `KIND(...)` (only the kind's plain method declares them). */
  kindOptions: OptionSpec[];
  /** Options inside `gate GATE(...)`. */
  gateOptions: OptionSpec[];
  /** For a kind's plain method: why gates cannot be put on it (null: gates can, where a unit exists). */
  refusesGates: string | null;
  /** May the output layer (the loss's logits) use it? */
  allowedOnOutput: boolean;
  /** The method's own diagnostics (codes unique across the registry; a test checks). */
  messages: Record<string, DiagnosticMessage>;
  /** Method rules; returns the typed options with defaults (meaningful when nothing was reported). */
  check(ctx: CheckLayerContext): O;
  /** Train settings the layer needs (e.g. `policy`): the checker reports unused ones and fills defaults. */
  needsSettings?(options: O): string[];
  /** Warnings about the training configuration (e.g. lazy decay with momentum). */
  checkTrain?(layer: CheckedLayer<O>, train: TrainConfig, report: (message: DiagnosticMessage, args: MessageArgs) => void): void;
  trainSettings?: TrainSettingSpec[];
  /** Per-example cost, given the fraction of the input the source computes. */
  cost(layer: CheckedLayer<O>, inputDensity: number): MethodCost;
  /** Expected fraction of the output consumers read (block-masked outputs); default 1. */
  outputDensity?(options: O): number;
  /** Short label for `inspect`'s method column. */
  label(options: O): string;
  params(layer: CheckedLayer<O>): ParamRequest[];
  regions?(layer: CheckedLayer<O>, maxBatch: number): RegionRequest[];
  wasm: WasmEmitter<O, S>;
}

/** Declares a unit with its option and state types checked (identity at run time). */
export function defineMethod<O, S = undefined>(unit: MethodUnit<O, S>): MethodUnit<O, S> {
  return unit;
}
