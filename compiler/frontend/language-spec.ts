/**
 * @fileoverview The language's vocabulary in one place: layer kinds, activations, gates,
 * their options with defaults, train settings, datasets, optimizers and the default
 * training configuration. The checker, the docs and the tests read these tables.
 */
import type { Activation, TrainConfig } from "./model.js";
import type { CallSpec, OptionSpec } from "./options.js";

export const LAYER_KINDS = ["dense", "tree"] as const;
export type LayerKind = (typeof LAYER_KINDS)[number];

/** `linear` may be written out; leaving the activation off means the same. */
export const ACTIVATIONS: readonly Activation[] = ["relu", "tanh", "sigmoid", "linear"];

export const INPUT_ELEMENT_TYPES = ["f32"] as const;
export const TARGET_TYPES = ["class"] as const;
export const LOSS_FUNCTIONS = ["softmax_cross_entropy"] as const;
export const PENALTY_FUNCTIONS = ["l1"] as const;

/** WebAssembly (wasm32) linear memory: 65,536 pages of 64 KiB. */
export const WASM_MEMORY_BYTES = 4 * 1024 * 1024 * 1024;
export const BYTES_PER_PARAMETER = 4;

/**
 * Limits on what a file may hold (docs/reliability.md). A model file of 2 MiB holds about
 * 30,000 layer lines, three times the layer limit; the front end checks it in about a
 * second. Nothing in the language nests deeper than 2 (`train { ... sgd(...) }`), so 32
 * levels of brackets leave room while keeping the recursive-descent parser's stack small.
 */
export const MAX_SOURCE_CHARS = 2 * 1024 * 1024;
export const MAX_NESTING_DEPTH = 32;
export const NESTING_NEEDED = 2;
/**
 * The most layers a model may have: ten times the deepest published networks (ResNet-1001),
 * and where the back end's cost is still moderate: a 9,999-layer chain of 2-unit layers
 * builds in about 50 s using under 1 GB, with a 19 MB manifest; past it build time and
 * memory grow with nothing to gain.
 */
export const MAX_LAYERS = 10_000;
/**
 * Widths (input, units, classes, blocks, rank): one f32 row of 2^30 values is the whole
 * 4 GiB wasm32 memory, so nothing wider can be built; the bound keeps every product of
 * two widths exact in a double.
 */
export const MAX_WIDTH = 2 ** 30;
/** Counts the runtime keeps in i32 (batch, epochs, schedule steps). */
export const MAX_COUNT = 2 ** 31 - 1;
/** Seeds are u32 in the generated module and the runtime's generator. */
export const MAX_SEED = 2 ** 32 - 1;
/** A tree of depth 30 has 2^31 - 1 nodes: 8 GiB of weights at one input and one unit. */
export const MAX_TREE_DEPTH = 29;

export const LAYER_OPTIONS: Record<LayerKind, OptionSpec[]> = {
  dense: [],
  tree: [
    { name: "depth", kind: "integer", required: true, min: 1, ceiling: MAX_TREE_DEPTH },
    { name: "layout", kind: "choice", choices: ["shared", "per_unit"] },
    { name: "gater_training", kind: "choice", choices: ["deterministic", "reinforce", "noisy"] },
    { name: "sigma", kind: "number", min: 0, minInclusive: false },
    { name: "level_lr", kind: "choice", choices: ["uniform", "scaled", "bucket"] },
    { name: "level_lr_max", kind: "number", min: 1 },
  ],
};

export const TREE_DEFAULTS = { layout: "shared", gaterTraining: "deterministic", sigma: 0.1, levelLr: "uniform", levelLrMax: 16 } as const;

export const GATES = ["lowrank", "policy"] as const;
export type GateName = (typeof GATES)[number];

export const GATE_OPTIONS: Record<GateName, OptionSpec[]> = {
  lowrank: [
    // The range 1 <= rank < min(inputs, units) depends on the layer: checked by the checker.
    { name: "rank", kind: "integer", required: true, ceiling: MAX_WIDTH },
    { name: "threshold", kind: "number" },
    { name: "refresh", kind: "choice", choices: ["epoch", "never"] },
    { name: "mode", kind: "choice", choices: ["test_only", "in_loop"] },
    { name: "density", kind: "number", min: 0, minInclusive: false, max: 1 },
  ],
  policy: [
    { name: "blocks", kind: "integer", required: true, min: 1, ceiling: MAX_WIDTH },
    { name: "tau", kind: "number", required: true, min: 0, minInclusive: false, max: 1 },
    { name: "squash", kind: "number", min: 0, max: 0.5, maxInclusive: false },
    { name: "test", kind: "choice", choices: ["sample", "threshold"] },
    { name: "uniform", kind: "boolean" },
  ],
};

/**
 * `density` is the fraction of units `inspect` assumes the estimator lets through; 0.5 is
 * a deliberately cautious guess (calibration measured 0.03-0.3 with an L1 penalty).
 */
export const LOWRANK_DEFAULTS = { threshold: 0, refresh: "epoch", mode: "test_only", density: 0.5 } as const;
export const POLICY_DEFAULTS = { squash: 0.01, test: "sample", uniform: false } as const;

export const TRAIN_SETTINGS = ["data", "optimizer", "policy", "batch", "epochs", "seed", "schedule"] as const;

export interface DatasetShape {
  width: number;
  classes: number;
}

/** Built-in datasets; `idx("dir")` is checked when it is loaded. */
export const DATASETS: Record<"mnist" | "fashion_mnist", DatasetShape> = {
  mnist: { width: 784, classes: 10 },
  fashion_mnist: { width: 784, classes: 10 },
};
export const DATASET_NAMES = ["mnist", "fashion_mnist", "idx"] as const;
export const IDX_CALL: CallSpec = { positional: [{ name: "dir", kind: "string", required: true }], options: [] };

const positiveNumber = (name: string): OptionSpec => ({ name, kind: "number", min: 0, minInclusive: false });
const nonNegativeNumber = (name: string): OptionSpec => ({ name, kind: "number", min: 0 });
const unitInterval = (name: string): OptionSpec => ({ name, kind: "number", min: 0, max: 1, maxInclusive: false });

export const OPTIMIZERS: Record<"sgd" | "adam", CallSpec> = {
  sgd: { positional: [], options: [positiveNumber("lr"), unitInterval("momentum"), nonNegativeNumber("weight_decay")] },
  adam: {
    positional: [],
    options: [
      positiveNumber("lr"),
      unitInterval("beta1"),
      unitInterval("beta2"),
      positiveNumber("epsilon"),
      nonNegativeNumber("weight_decay"),
    ],
  },
};

/** Inside `sgd(...)` an omitted momentum is 0 (plain SGD, which lazy tree decay needs). */
export const SGD_DEFAULTS = { lr: 0.05, momentum: 0, weightDecay: 0 } as const;
export const ADAM_DEFAULTS = { lr: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 } as const;

export const POLICY_TRAINERS: Record<"reinforce", CallSpec> = {
  reinforce: {
    positional: [],
    options: [
      positiveNumber("lr"),
      nonNegativeNumber("lambda_s"),
      nonNegativeNumber("lambda_v"),
      nonNegativeNumber("l2"),
      { name: "baseline", kind: "choice", choices: ["none", "batch_min", "batch_mean", "moving_average"] },
      { name: "regularizer", kind: "choice", choices: ["paper", "code"] },
    ],
  },
};

/** The condnet CIFAR-10 settings (methods.md 4.5) with the authors' batch-min baseline. */
export const REINFORCE_DEFAULTS = {
  lr: 1e-5,
  lambdaS: 20,
  lambdaV: 20,
  l2: 0,
  baseline: "batch_min",
  regularizer: "paper",
} as const;

export const SCHEDULES: Record<"constant" | "step", CallSpec> = {
  constant: { positional: [], options: [] },
  step: {
    positional: [],
    options: [
      { name: "every", kind: "integer", required: true, min: 1, ceiling: MAX_COUNT },
      { name: "factor", kind: "number", required: true, min: 0, minInclusive: false },
    ],
  },
};

/** Used for every setting a `train` block leaves out, and when there is no `train` block. */
export function defaultTrainConfig(): TrainConfig {
  return {
    data: { kind: "mnist" },
    optimizer: { kind: "sgd", lr: 0.05, momentum: 0.9, weightDecay: 0 },
    policy: null,
    batch: 128,
    epochs: 2,
    seed: 0,
    schedule: { kind: "constant" },
  };
}
