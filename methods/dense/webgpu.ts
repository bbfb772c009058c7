/**
 * @fileoverview The dense layer on the GPU (the frame asks for it as for any method), and the
 * dense steps that methods with a dense path reuse (the low-rank gate's dense fallback, the
 * policy's network): Z = X Wᵀ + b with the activation in the GEMM's epilogue (the small-rows
 * kernel for n <= 4, tiled otherwise); backward f'(H), dW = Δᵀ X, db = colsum Δ, dX (+)= Δ W.
 */
import type { Step } from "../../runtime/webgpu/executor.js";
import { activationBackwardKernel, columnSumsKernel, type Activation } from "../../runtime/webgpu/kernels/elementwise.js";
import { gemmKernel, SMALL_ROWS, smallRowsNtKernel, type GemmSpec } from "../../runtime/webgpu/kernels/gemm.js";
import { defineGpuMethod, type GpuLayer, type GpuSourceDelta } from "../../runtime/webgpu/method.js";

/** H = f(X Wᵀ + b) of rows [0, n) into the layer's output; `when` narrows the calls it runs in. */
export function denseForwardSteps(layer: GpuLayer, when: (n: number) => boolean = () => true): Step[] {
  const spec: GemmSpec = {
    shape: "NT", m: "n", n: layer.units, k: layer.inputs, lda: layer.inputs, ldb: layer.inputs, ldc: layer.units, beta: 0,
    epilogue: { bias: true, activation: layer.activation as Activation },
  };
  const bind = { a: layer.x, b: layer.param("weight").value, c: layer.output, bias: layer.param("bias").value };
  return [
    { kind: "dispatch", kernel: smallRowsNtKernel(spec), bind, when: (n) => n <= SMALL_ROWS && when(n) },
    { kind: "dispatch", kernel: gemmKernel(spec), bind, when: (n) => n > SMALL_ROWS && when(n) },
  ];
}

/** Δ ← Δ ⊙ f'(H) in place (a linear activation needs no pass). */
export function activationBackwardSteps(layer: GpuLayer, when?: (n: number) => boolean): Step[] {
  if (layer.activation === "linear") return [];
  const kernel = activationBackwardKernel(layer.activation as Exclude<Activation, "linear">, "n", layer.units);
  return [{ kind: "dispatch", kernel, bind: { delta: layer.delta!, h: layer.output }, when }];
}

/** dW = Δᵀ X, db = colsum Δ, and dX (+)= Δ W when the source needs it. */
export function denseBackwardSteps(layer: GpuLayer, source: GpuSourceDelta | null, when?: (n: number) => boolean): Step[] {
  const delta = layer.delta!;
  const weight = layer.param("weight");
  const steps: Step[] = [
    {
      kind: "dispatch",
      kernel: gemmKernel({ shape: "TN", m: layer.units, n: layer.inputs, k: "n", lda: layer.units, ldb: layer.inputs, ldc: layer.inputs, beta: 0 }),
      bind: { a: delta, b: layer.x, c: weight.grad! },
      when,
    },
    { kind: "dispatch", kernel: columnSumsKernel("n", layer.units), bind: { delta, db: layer.param("bias").grad! }, when },
  ];
  if (source) {
    steps.push({
      kind: "dispatch",
      kernel: gemmKernel({ shape: "NN", m: "n", n: layer.inputs, k: layer.units, lda: layer.units, ldb: layer.inputs, ldc: layer.inputs, beta: source.beta }),
      bind: { a: delta, b: weight.value, c: source.region },
      when,
    });
  }
  return steps;
}

export const denseGpu = defineGpuMethod<Record<string, never>>({
  forward: (layer) => denseForwardSteps(layer),
  backward: (layer, _ctx, source) => [...activationBackwardSteps(layer), ...denseBackwardSteps(layer, source)],
});
