/**
 * @fileoverview The checked model: what the checker hands to lowering, cost model and
 * `inspect`. Every name is resolved, every width known, every default filled in.
 * Nothing here refers to syntax except the spans kept for later diagnostics.
 */
import type { Span } from "./ast.js";

export type Activation = "relu" | "tanh" | "sigmoid" | "linear";

/** A layer as the checker hands it on: `method` is its method's registry key, `options` that method's checked options. */
export interface CheckedLayer<O = unknown> {
  name: string;
  /** Name of the source: the input or an earlier layer. */
  source: string;
  inputs: number;
  units: number;
  activation: Activation;
  /** The method that compiles the layer (`methods/registry.ts`) and its options, defaults filled in. */
  method: string;
  options: O;
  /** True for the layer whose output is the loss's logits. */
  isOutput: boolean;
  span: Span;
}

export interface CheckedPenalty {
  fn: "l1";
  coefficient: number;
  layers: string[];
}

export type DatasetSpec =
  | { kind: "mnist" }
  | { kind: "fashion_mnist" }
  | { kind: "idx"; dir: string };

export type OptimizerSpec =
  | { kind: "sgd"; lr: number; momentum: number; weightDecay: number }
  | { kind: "adam"; lr: number; beta1: number; beta2: number; epsilon: number; weightDecay: number };

export interface TrainConfig {
  data: DatasetSpec;
  optimizer: OptimizerSpec;
  /** Settings owned by methods (e.g. `policy = reinforce(...)`), by setting name; only those a layer needs. */
  settings: Record<string, unknown>;
  batch: number;
  epochs: number;
  seed: number;
  /** Learning-rate schedule: constant, or multiply by `factor` every `every` epochs. */
  schedule: { kind: "constant" } | { kind: "step"; every: number; factor: number };
}

export interface CheckedModel {
  name: string;
  input: { name: string; width: number };
  target: { name: string; classes: number };
  /** In source order; the last one feeding the loss is marked `isOutput`. */
  layers: CheckedLayer[];
  loss: { fn: "softmax_cross_entropy"; logits: string; target: string; penalties: CheckedPenalty[] };
  /** Defaults filled in when the file has no `train` block. */
  train: TrainConfig;
}
