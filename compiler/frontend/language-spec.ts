/**
 * @fileoverview The language's generic vocabulary in one place: activations, input and target
 * types, loss and penalty functions, train settings, datasets, optimizers, schedules and the
 * default training configuration. Layer kinds, gates, their options and the settings a method
 * owns come from the method registry (`methods/registry.ts`).
 */
import type { Activation, TrainConfig } from "./model.js";
import type { CallSpec, OptionSpec } from "./options.js";

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
/** Settings of every model; methods add their own (`MethodUnit.trainSettings`). */
export const TRAIN_SETTINGS = ["data", "optimizer", "batch", "epochs", "seed", "schedule"] as const;

export interface DatasetShape {
  width: number;
  classes: number;
}

/** Built-in datasets; `idx("dir")` is checked when it is loaded. */
export const DATASETS: Record<"mnist" | "fashion_mnist", DatasetShape> = {
  mnist: { width: 784, classes: 10 },
  fashion_mnist: { width: 784, classes: 10 },
};
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
    settings: {},
    batch: 128,
    epochs: 2,
    seed: 0,
    schedule: { kind: "constant" },
  };
}
