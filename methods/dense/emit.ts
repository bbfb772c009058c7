/**
 * @fileoverview The dense layer's code, shared by methods whose dense path is part of them
 * (the low-rank gate's dense fallback, the policy's network): Z = X Wᵀ + b, H = f(Z);
 * backward dW = Δᵀ X, db = colsum Δ, dX (+)= Δ W.
 */
import { wasm, type Expr } from "../../compiler/backend/wasm/code.js";
import type { FunctionBuilder } from "../../compiler/backend/wasm/module-builder.js";
import type { Activation } from "../../compiler/frontend/model.js";
import type { EmitLayer, SourceDelta } from "../unit.js";
import { ACTIVATION_LINEAR, ACTIVATION_RELU, ACTIVATION_SIGMOID, ACTIVATION_TANH } from "../../runtime/kernels/codes/activation.js";

/** Z = X Wᵀ + b and the activation, in place in the layer's output. */
export function emitDenseForward(f: FunctionBuilder, layer: EmitLayer, n: Expr): void {
  const w = layer.param("weight").value;
  f.kernel("gemmNT", n, layer.units, layer.inputs, layer.x, layer.inputs, w, layer.inputs, layer.output, layer.units, 0);
  f.kernel("addBias", layer.output, layer.param("bias").value, n, layer.units);
  emitActivationForward(f, layer, n);
}

/** H = f(H) in place over n rows. */
export function emitActivationForward(f: FunctionBuilder, layer: EmitLayer, n: Expr): void {
  const count = wasm.mul(n, wasm.i32(layer.units));
  switch (layer.activation) {
    case "relu":
      return f.kernel("reluForward", layer.output, layer.output, count);
    case "tanh":
      return f.kernel("tanhForward", layer.output, layer.output, count);
    case "sigmoid":
      return f.kernel("sigmoidForward", layer.output, layer.output, count);
    case "linear":
      return;
  }
}

/** Δ <- Δ ⊙ f'(H), in place. */
export function emitActivationBackward(f: FunctionBuilder, layer: EmitLayer, n: Expr): void {
  const delta = layer.delta!;
  const count = wasm.mul(n, wasm.i32(layer.units));
  switch (layer.activation) {
    case "relu":
      return f.kernel("reluBackward", delta, layer.output, delta, count);
    case "tanh":
      return f.kernel("tanhBackward", delta, layer.output, delta, count);
    case "sigmoid":
      return f.kernel("sigmoidBackward", delta, layer.output, delta, count);
    case "linear":
      return;
  }
}

/** dW = Δᵀ X, db = colsum Δ, and dX (+)= Δ W when the source needs it. */
export function emitDenseBackward(f: FunctionBuilder, layer: EmitLayer, n: Expr, source: SourceDelta | null): void {
  const delta = layer.delta!;
  const weight = layer.param("weight");
  f.kernel("gemmTN", layer.units, layer.inputs, n, delta, layer.units, layer.x, layer.inputs, weight.grad, layer.inputs, 0);
  f.kernel("columnSums", delta, n, layer.units, layer.param("bias").grad);
  if (source) {
    f.kernel("gemmNN", n, layer.inputs, layer.units, delta, layer.units, weight.value, layer.inputs, source.address, layer.inputs, source.beta);
  }
}

/** The activation's code in the block-sparse kernels (runtime/kernels/codes/activation.ts). */
export const ACTIVATION_CODE: Record<Activation, number> = { linear: ACTIVATION_LINEAR, relu: ACTIVATION_RELU, tanh: ACTIVATION_TANH, sigmoid: ACTIVATION_SIGMOID };
