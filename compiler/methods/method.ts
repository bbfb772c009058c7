/**
 * @fileoverview The extension point for layer methods (dense, low-rank, tree, policy):
 * each method contributes its parameters and scratch regions to lowering, and its
 * forward and backward code to generation. One method per file in `compiler/methods/`.
 */
import type { IrLayer, IrModule, IrParam, ParamInit, RegionRole } from "../backend/ir.js";
import type { CheckedLayer, CheckedModel } from "../frontend/model.js";

export interface ParamRequest {
  /** Checkpoint suffix: `<layer>.<suffix>`. */
  suffix: string;
  shape: number[];
  init: ParamInit;
  /** Weight decay applies (weights, not biases). */
  decay: boolean;
  /** Has a gradient and is updated; false for tensors computed otherwise (e.g. SVD factors). */
  trainable: boolean;
  /**
   * The method updates it itself in its `update` hook (e.g. lazy weight decay) instead of
   * the model's optimizer; it still gets a gradient region but no optimizer state.
   */
  customUpdate?: boolean;
}

export interface LowerContext {
  model: CheckedModel;
  maxBatch: number;
  /** Places a scratch region (activations, masks, index lists) for this layer. */
  place(name: string, role: RegionRole, shape: number[]): void;
}

/** What code generation hands a method while it emits a layer. */
export interface EmitContext {
  ir: IrModule;
  emit(line?: string): void;
  /** The address constant of a region. */
  addr(region: string): string;
  /** The address constant of the layer's input rows. */
  sourceAddress(layer: IrLayer): string;
  /** The parameter `<layer>.<suffix>`. */
  param(layer: IrLayer, suffix: string): IrParam;
}

export interface LayerMethod {
  /** `dense`, `lowrank`, `policy`, `tree`: matched by `methodKey`. */
  key: string;
  /** `import { ... } from "./kernels/..."` lines the method's code needs. */
  imports: string[];
  /** The layer's parameters, in checkpoint order. */
  params(layer: CheckedLayer): ParamRequest[];
  /** Scratch regions beyond the output and delta every layer gets. */
  regions?(layer: CheckedLayer, ctx: LowerContext): void;
  /** Forward for rows [0, n); `training` is an AssemblyScript bool expression. */
  forward(ctx: EmitContext, layer: IrLayer): void;
  /**
   * Backward: on entry the layer's delta holds dL/d(output) (L1 already added); the
   * method applies its activation derivative, writes parameter gradients and, when
   * `sourceDelta` is given, writes (beta 0) or adds (beta 1) dL/d(input) into it.
   */
  backward(ctx: EmitContext, layer: IrLayer, sourceDelta: { addr: string; beta: number } | null): void;
  /**
   * Extra lines of `init(seed)`, after the parameters (those with init `method` are zero
   * there) and the gradients and optimizer state are set: the method's own initialisation.
   */
  init?(ctx: EmitContext, layer: IrLayer): void;
  /** Updates the parameters marked `customUpdate`, after the optimizer step; `lr` is in scope. */
  update?(ctx: EmitContext, layer: IrLayer): void;
  /** Extra exported functions (e.g. estimator refresh, metrics). */
  exports?(ctx: EmitContext, layer: IrLayer): void;
}

/** Which method compiles a layer. */
export function methodKey(layer: { op: string; gate: { kind: string } | null }): string {
  return layer.gate ? layer.gate.kind : layer.op;
}
