/**
 * @fileoverview Optimizer steps in WGSL over one parameter tensor (wasm optim.ts): SGD with
 * momentum and Adam with bias correction; weight decay is L2 added to the gradient. The
 * learning rate and Adam's corrections come from the call's uniform block (they change per step).
 * Both bind the loss slots and change nothing when the step's loss is not finite.
 */
import { CALL_UNIFORM_WGSL, f32, GROUP_BUILTINS, LINEAR_INDEX, linearGrid, LOSS_GUARD, NON_FINITE_WGSL, storageDeclarations, u32, type Kernel, type KernelBinding } from "./wgsl.js";

/** v = momentum·v - lr·(g + wd·w); w = w + v. */
export function sgdKernel(count: number, momentum: number, weightDecay: number): Kernel {
  const bindings: KernelBinding[] = [
    { name: "param", access: "read_write" },
    { name: "grad", access: "read" },
    { name: "velocity", access: "read_write" },
    { name: "loss", access: "read" },
  ];
  const label = `sgd count=${count} momentum=${momentum} wd=${weightDecay}`;
  const code = `// ${label}
${CALL_UNIFORM_WGSL}
${storageDeclarations(bindings)}
${NON_FINITE_WGSL}

@compute @workgroup_size(256)
fn main(${GROUP_BUILTINS}) {
  ${LINEAR_INDEX}
  if (i >= ${u32(count)}) { return; }
  ${LOSS_GUARD}
  let w = param[i];
  let g = grad[i] + ${f32(weightDecay)} * w;
  let v = ${f32(momentum)} * velocity[i] - call.lr * g;
  velocity[i] = v;
  param[i] = w + v;
}
`;
  return { label, code, bindings, grid: () => linearGrid(count) };
}

/**
 * g' = g + wd·w; m1 = b1·m1 + (1-b1)·g'; m2 = b2·m2 + (1-b2)·g'²;
 * w -= lr·(m1·c1) / (sqrt(m2·c2) + eps), c1 = 1/(1-b1^t), c2 = 1/(1-b2^t) from the uniform block.
 */
export function adamKernel(count: number, beta1: number, beta2: number, epsilon: number, weightDecay: number): Kernel {
  const bindings: KernelBinding[] = [
    { name: "param", access: "read_write" },
    { name: "grad", access: "read" },
    { name: "m1", access: "read_write" },
    { name: "m2", access: "read_write" },
    { name: "loss", access: "read" },
  ];
  const label = `adam count=${count} beta1=${beta1} beta2=${beta2} eps=${epsilon} wd=${weightDecay}`;
  const code = `// ${label}
${CALL_UNIFORM_WGSL}
${storageDeclarations(bindings)}
${NON_FINITE_WGSL}

@compute @workgroup_size(256)
fn main(${GROUP_BUILTINS}) {
  ${LINEAR_INDEX}
  if (i >= ${u32(count)}) { return; }
  ${LOSS_GUARD}
  let w = param[i];
  let g = grad[i] + ${f32(weightDecay)} * w;
  let a = ${f32(beta1)} * m1[i] + ${f32(1 - Math.fround(beta1))} * g;
  let b = ${f32(beta2)} * m2[i] + ${f32(1 - Math.fround(beta2))} * (g * g);
  m1[i] = a;
  m2[i] = b;
  param[i] = w - (call.lr * (a * call.adamC1)) / (sqrt(b * call.adamC2) + ${f32(epsilon)});
}
`;
  return { label, code, bindings, grid: () => linearGrid(count) };
}

/** Adam's bias corrections for step t >= 1, as the wasm kernel computes them (f64, then f32). */
export function adamCorrections(beta1: number, beta2: number, t: number): { adamC1: number; adamC2: number } {
  const step = t < 1 ? 1 : t;
  return {
    adamC1: Math.fround(1 / (1 - Math.pow(Math.fround(beta1), step))),
    adamC2: Math.fround(1 / (1 - Math.pow(Math.fround(beta2), step))),
  };
}
