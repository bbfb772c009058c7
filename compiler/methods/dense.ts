/**
 * @fileoverview The dense layer: Z = X Wᵀ + b, H = f(Z); backward dW = Δᵀ X, db = colsum Δ,
 * dX = Δ W. The spine every conditional method is built on and measured against.
 */
import type { IrLayer } from "../backend/ir.js";
import type { Activation } from "../frontend/model.js";
import type { EmitContext, LayerMethod } from "./method.js";

export const denseMethod: LayerMethod = {
  key: "dense",
  imports: [
    `import { gemmNN, gemmNT, gemmTN } from "./kernels/gemm";`,
    `import { addBias, columnSums, reluForward, reluBackward, tanhForward, tanhBackward, sigmoidForward, sigmoidBackward } from "./kernels/elementwise";`,
  ],
  params: (layer) => [
    { suffix: "weight", shape: [layer.units, layer.inputs], init: "glorot_uniform", decay: true, trainable: true },
    { suffix: "bias", shape: [layer.units], init: "zeros", decay: false, trainable: true },
  ],
  forward(ctx, layer) {
    emitDenseForward(ctx, layer);
  },
  backward(ctx, layer, sourceDelta) {
    emitActivationBackward(ctx, layer);
    emitDenseBackward(ctx, layer, sourceDelta);
  },
};

/** Z = X Wᵀ + b and the activation, in place in the layer's output. */
export function emitDenseForward(ctx: EmitContext, layer: IrLayer): void {
  const h = ctx.addr(layer.output);
  ctx.emit(`  gemmNT(n, ${layer.units}, ${layer.inputs}, ${ctx.sourceAddress(layer)}, ${layer.inputs}, ${ctx.addr(layer.weight)}, ${layer.inputs}, ${h}, ${layer.units}, 0);`);
  ctx.emit(`  addBias(${h}, ${ctx.addr(layer.bias)}, n, ${layer.units});`);
  emitActivationForward(ctx, layer);
}

export function emitActivationForward(ctx: EmitContext, layer: IrLayer): void {
  const fn = activationKernel(layer.activation, "Forward");
  const h = ctx.addr(layer.output);
  if (fn) ctx.emit(`  ${fn}(${h}, ${h}, n * ${layer.units});`);
}

/** delta <- delta ⊙ f'(h), in place. */
export function emitActivationBackward(ctx: EmitContext, layer: IrLayer): void {
  const fn = activationKernel(layer.activation, "Backward");
  const delta = ctx.addr(layer.delta!);
  if (fn) ctx.emit(`  ${fn}(${delta}, ${ctx.addr(layer.output)}, ${delta}, n * ${layer.units});`);
}

/** dW = Δᵀ X, db = colsum Δ, and dX (+)= Δ W when the source needs it. */
export function emitDenseBackward(ctx: EmitContext, layer: IrLayer, sourceDelta: { addr: string; beta: number } | null): void {
  const delta = ctx.addr(layer.delta!);
  ctx.emit(`  gemmTN(${layer.units}, ${layer.inputs}, n, ${delta}, ${layer.units}, ${ctx.sourceAddress(layer)}, ${layer.inputs}, ${ctx.addr(layer.weight + ".grad")}, ${layer.inputs}, 0);`);
  ctx.emit(`  columnSums(${delta}, n, ${layer.units}, ${ctx.addr(layer.bias + ".grad")});`);
  if (sourceDelta) {
    ctx.emit(`  gemmNN(n, ${layer.inputs}, ${layer.units}, ${delta}, ${layer.units}, ${ctx.addr(layer.weight)}, ${layer.inputs}, ${sourceDelta.addr}, ${layer.inputs}, ${sourceDelta.beta});`);
  }
}

function activationKernel(activation: Activation, direction: "Forward" | "Backward"): string | null {
  return activation === "linear" ? null : `${activation}${direction}`;
}
