/**
 * @fileoverview The IR: the checked model lowered to layers with shapes, a parameter
 * table and a memory plan that places everything in one linear memory for a maximum
 * batch fixed at build time. Produced by `lower.ts`, checked by `ir-validate.ts`,
 * consumed by code generation and recorded in the manifest for the runtime.
 */
import type { Activation, Gate, OptimizerSpec, TrainConfig, TreeOptions } from "../frontend/model.js";

/** What a region of linear memory holds. */
export type RegionRole =
  | "param" // trainable parameter
  | "grad" // gradient of a parameter
  | "optimizer" // optimizer state (momentum velocity, Adam moments)
  | "input" // the minibatch of examples [maxBatch, inputWidth]
  | "labels" // i32 class labels [maxBatch]
  | "activation" // a layer's output after its activation [maxBatch, units]
  | "delta" // dL/d(pre-activation) of a layer, [maxBatch, units]
  | "probs" // softmax probabilities of the output layer [maxBatch, classes]
  | "scratch"; // a method's working memory (estimates, masks, index lists)

export interface Region {
  name: string;
  role: RegionRole;
  /** Byte offset in linear memory, 16-byte aligned. */
  offset: number;
  /** Shape in elements (f32, or i32 for labels). */
  shape: number[];
  bytes: number;
}

/** `method`: zero-filled by the frame, then written by its method's `init` hook. */
export type ParamInit = "glorot_uniform" | "zeros" | "method";

/** A trainable tensor: named as in the checkpoint (`<layer>.weight`, `<layer>.bias`). */
export interface IrParam {
  name: string;
  layer: string;
  shape: number[];
  init: ParamInit;
  /** Weight decay applies to weights, not biases. */
  decay: boolean;
  /** Has a gradient and is updated; false for tensors computed otherwise (SVD factors). */
  trainable: boolean;
  /** Updated by its layer's method (e.g. lazy decay), not by the model's optimizer. */
  customUpdate: boolean;
  region: string;
  grad: string;
  /** Optimizer state regions (1 for SGD momentum, 2 for Adam); none if not trainable. */
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
  op: "dense" | "tree";
  gate: Gate | null;
  tree: TreeOptions | null;
  weight: string;
  bias: string;
  /** Output region (post-activation). */
  output: string;
  /** dL/d(pre-activation) region; absent for layers the loss does not depend on. */
  delta: string | null;
  /** Names of the layers that read this layer's output, in source order. */
  consumers: string[];
  /** Coefficient of an L1 activation penalty on this layer's output (0 = none). */
  l1: number;
  isOutput: boolean;
  /** Multiply-accumulates per example, dense. */
  macs: number;
}

export interface MemoryPlan {
  /** Where the plan starts; the bytes below are left unused (address 0 is null). */
  base: number;
  /** First byte after the plan; the compiler's static data is placed from here. */
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
  /** Dense MACs per example, the whole model. */
  macsPerExample: number;
}

export function regionByName(ir: IrModule, name: string): Region {
  const region = ir.memory.regions.find((r) => r.name === name);
  if (!region) throw new Error(`IR has no region '${name}'`);
  return region;
}

export function layerByName(ir: IrModule, name: string): IrLayer {
  const layer = ir.layers.find((l) => l.name === name);
  if (!layer) throw new Error(`IR has no layer '${name}'`);
  return layer;
}

/** The output layer: the one whose activation feeds the loss. */
export function outputLayer(ir: IrModule): IrLayer {
  const layer = ir.layers.find((l) => l.isOutput);
  if (!layer) throw new Error("IR has no output layer");
  return layer;
}
