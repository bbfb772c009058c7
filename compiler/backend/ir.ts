/**
 * @fileoverview The IR: the checked model lowered to layers with shapes, a parameter table and
 * a memory plan that places everything in one linear memory for a maximum batch fixed at build
 * time. Produced by `lower.ts`, checked by `ir-validate.ts`, consumed by code generation and
 * recorded in the manifest for the runtime.
 */
import type { Activation, OptimizerSpec, TrainConfig } from "../frontend/model.js";
import type { ParamUpdate, RegionDtype } from "../../methods/unit.js";

/** What a region of linear memory holds. */
export type RegionRole =
  | "param" // a parameter (checkpointed)
  | "grad" // gradient of a parameter
  | "optimizer" // optimizer state (momentum velocity, Adam moments)
  | "input" // the minibatch of examples [maxBatch, inputWidth]
  | "labels" // i32 class labels [maxBatch]
  | "activation" // a layer's output after its activation [maxBatch, units]
  | "delta" // dL/d(pre-activation) of a layer, [maxBatch, units]
  | "probs" // softmax probabilities of the output layer [maxBatch, classes]
  | "scratch" // a method's working memory of one call (estimates, masks, index lists)
  | "state" // a method's memory kept between calls (decay bookkeeping, orders)
  | "counters"; // statistics a method accumulates for the runtime to read

export interface Region {
  name: string;
  role: RegionRole;
  dtype: RegionDtype;
  /** Byte offset in linear memory, 64-byte aligned. */
  offset: number;
  /** Shape in elements of `dtype`. */
  shape: number[];
  bytes: number;
  /** For counters: each element's name. */
  fields?: string[];
}

export type ParamInit = "glorot_uniform" | "zeros" | "method";

/** A tensor of the checkpoint: `<layer>.<suffix>`. */
export interface IrParam {
  name: string;
  layer: string;
  suffix: string;
  shape: number[];
  init: ParamInit;
  /** Weight decay applies to weights, not biases. */
  decay: boolean;
  update: ParamUpdate;
  role: string;
  region: string;
  /** Gradient region; null when nobody trains it (update "none"). */
  grad: string | null;
  /** Optimizer state regions (1 for SGD momentum, 2 for Adam); only for update "optimizer". */
  state: string[];
}

export interface IrLayer {
  name: string;
  /** The layer index, also the RNG stream of its initialisation. */
  index: number;
  /** `null` when the source is the model's input. */
  source: string | null;
  inputs: number;
  units: number;
  activation: Activation;
  /** The method's registry key and its checked options. */
  method: string;
  options: unknown;
  /** Output region (post-activation). */
  output: string;
  /** dL/d(pre-activation) region; absent for layers the loss does not depend on. */
  delta: string | null;
  /** Names of the layers that read this layer's output, in source order. */
  consumers: string[];
  /** Coefficient of an L1 activation penalty on this layer's output (0 = none). */
  l1: number;
  isOutput: boolean;
  /** Parameter names by suffix, and the method's regions by suffix. */
  params: Record<string, string>;
  regions: Record<string, string>;
  /** Cost model, per example: the conditional layer at its expected density, and dense. */
  macs: number;
  denseMacs: number;
}

export interface MemoryPlan {
  /** Where the plan starts: above the kernel library's static data. */
  base: number;
  /** First byte after the plan; per-thread kernel scratch is placed from here at load. */
  end: number;
  regions: Region[];
}

export interface IrModule {
  modelName: string;
  maxBatch: number;
  inputName: string;
  inputWidth: number;
  classes: number;
  layers: IrLayer[];
  params: IrParam[];
  memory: MemoryPlan;
  optimizer: OptimizerSpec;
  train: TrainConfig;
  /** Cost model per example, the whole model: conditional and dense. */
  macsPerExample: number;
  denseMacsPerExample: number;
}
