/**
 * @fileoverview The centred router's WGSL kernels (`router: centred`; the GPU side of
 * moeCentreLogits / moeUpdateCentre and of the router backward's column centring): f32 sums here,
 * f64 in the wasm kernels.
 */
import { elementKernel, u32, type Kernel } from "../../runtime/webgpu/kernels/wgsl.js";

/** Each column of v [n x E] loses its mean over the n rows (one thread per expert, rows in order). */
export function centreColumnsKernel(experts: number): Kernel {
  return elementKernel({
    label: `moeCentreColumns E=${experts}`,
    bindings: [{ name: "v", access: "read_write" }],
    count: () => experts,
    countExpr: `${u32(experts)}`,
    body: `  if (call.n == 0u) { return; }
  var sum = 0.0;
  for (var e = 0u; e < call.n; e++) { sum = sum + v[e * ${u32(experts)} + i]; }
  let mean = sum / f32(call.n);
  for (var e = 0u; e < call.n; e++) { v[e * ${u32(experts)} + i] = v[e * ${u32(experts)} + i] - mean; }`,
  });
}

/** Evaluation: logits [n x E] of x minus the running centre, logits_j -= (W centre)_j (a thread per expert). */
export function centreShiftKernel(experts: number, inputs: number): Kernel {
  return elementKernel({
    label: `moeCentreShift E=${experts} inputs=${inputs}`,
    bindings: [
      { name: "w", access: "read" },
      { name: "centre", access: "read" },
      { name: "logits", access: "read_write" },
    ],
    count: () => experts,
    countExpr: `${u32(experts)}`,
    body: `  var shift = 0.0;
  for (var d = 0u; d < ${u32(inputs)}; d++) { shift = shift + w[i * ${u32(inputs)} + d] * centre[d]; }
  for (var e = 0u; e < call.n; e++) { logits[e * ${u32(experts)} + i] = logits[e * ${u32(experts)} + i] - shift; }`,
  });
}

/**
 * After a training batch: centre += m (x̄ - centre), m = max(0.1, 1 / (step + 1)), the step from
 * the layer's call words (word 1, before the increment, as the wasm build's). A thread per input.
 */
export function centreUpdateKernel(inputs: number): Kernel {
  return elementKernel({
    label: `moeCentreUpdate inputs=${inputs}`,
    bindings: [
      { name: "x", access: "read" },
      { name: "words", access: "read" },
      { name: "centre", access: "read_write" },
    ],
    types: { words: "u32" },
    count: () => inputs,
    countExpr: `${u32(inputs)}`,
    body: `  if (call.n == 0u) { return; }
  let m = max(0.1, 1.0 / (f32(words[1]) + 1.0));
  var sum = 0.0;
  for (var e = 0u; e < call.n; e++) { sum = sum + x[e * ${u32(inputs)} + i]; }
  let c = centre[i];
  centre[i] = c + m * (sum / f32(call.n) - c);`,
  });
}
