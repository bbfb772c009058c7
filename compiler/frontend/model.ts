/**
 * @fileoverview The checked model: what the checker hands to lowering, cost model and
 * `inspect`. Every name is resolved, every width known, every default filled in.
 * Nothing here refers to syntax except the spans kept for later diagnostics.
 */
import type { Span } from "./ast.js";

export type Activation = "relu" | "tanh" | "sigmoid" | "linear";

/** Davis & Arel: a rank-r estimator predicts which ReLU units are positive. */
export interface LowRankGate {
  kind: "lowrank";
  rank: number;
  /** Units with estimated pre-activation > threshold are computed. Default 0. */
  threshold: number;
  /** When the factors are recomputed from W while training. Default "epoch". */
  refresh: "epoch" | "never";
  /** Train dense and estimate at inference, or train through the estimator. */
  mode: "test_only" | "in_loop";
  /** The active fraction `inspect` assumes for its cost figures (shown as assumed). */
  assumedDensity: number;
}

/** Bengio et al.: a per-layer policy samples which blocks of units run. */
export interface PolicyGate {
  kind: "policy";
  blocks: number;
  /** Target fraction of blocks active. */
  tau: number;
  /** Probabilities squashed to [squash, 1 - squash]; 0 disables. Default 0.01. */
  squash: number;
  /** Test-time behaviour. Default "sample" (the paper's). */
  test: "sample" | "threshold";
  /** Uniform block dropout at keep rate tau instead of a learned policy (bdNN). */
  uniform: boolean;
}

export type Gate = LowRankGate | PolicyGate;

/** Cho & Bengio tree options (only for `tree` layers). */
export interface TreeOptions {
  depth: number;
  layout: "shared" | "per_unit";
  /** How gater bits are trained. Default "deterministic". */
  gaterTraining: "deterministic" | "reinforce" | "noisy";
  /** Noise level for `gaterTraining: "noisy"`. */
  sigma: number;
  /**
   * Learning-rate multiplier of the tree nodes' gradient step: "uniform" 1; "scaled"
   * min(2^level, levelLrMax); "bucket" min(batch / examples at the node, levelLrMax).
   */
  levelLr: "uniform" | "scaled" | "bucket";
  levelLrMax: number;
}

export interface CheckedLayer {
  name: string;
  op: "dense" | "tree";
  /** Name of the source: the input or an earlier layer. */
  source: string;
  inputs: number;
  units: number;
  activation: Activation;
  gate: Gate | null;
  tree: TreeOptions | null;
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

export interface PolicyTrainingSpec {
  kind: "reinforce";
  lr: number;
  lambdaS: number;
  lambdaV: number;
  l2: number;
  baseline: "none" | "batch_min" | "batch_mean" | "moving_average";
  /** Regularizer forms: the paper's (default) or the authors' code's. */
  regularizer: "paper" | "code";
}

export interface TrainConfig {
  data: DatasetSpec;
  optimizer: OptimizerSpec;
  policy: PolicyTrainingSpec | null;
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
