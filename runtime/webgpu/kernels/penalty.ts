/**
 * @fileoverview The L1 activation penalty in WGSL (wasm penalty.ts): adds (λ/n)·sign(h) to the
 * upstream gradient in place and leaves, per workgroup, its partial Σ|h| for reduceKernel
 * (multiplier λ) to turn into the loss term. A fixed number of workgroups strides over the
 * elements, so the partial sums (and the loss) are the same on every run: no atomics.
 */
import { CALL_UNIFORM_WGSL, dimExpr, f32, storageDeclarations, u32, type Dim, type Kernel, type KernelBinding } from "./wgsl.js";

const THREADS = 256;

/** Workgroups (= partial sums) of an L1 pass over at most `maxCount` elements. */
export function l1Groups(maxCount: number): number {
  return Math.min(256, Math.max(1, Math.ceil(maxCount / (THREADS * 16))));
}

export function l1PenaltyKernel(rows: Dim, units: number, lambda: number, groups: number): Kernel {
  const bindings: KernelBinding[] = [
    { name: "h", access: "read" },
    { name: "delta", access: "read_write" },
    { name: "partials", access: "read_write" },
  ];
  const label = `l1Penalty rows=${rows} units=${units} lambda=${lambda} groups=${groups}`;
  const code = `// ${label}
${CALL_UNIFORM_WGSL}
${storageDeclarations(bindings)}
var<workgroup> scratch: array<f32, ${THREADS}>;

@compute @workgroup_size(${THREADS})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let count = ${dimExpr(rows)} * ${u32(units)};
  let scale = ${f32(lambda)} / f32(call.n);
  var sum = 0.0;
  for (var i = wid.x * ${u32(THREADS)} + lid; i < count; i += ${u32(groups * THREADS)}) {
    let v = h[i];
    sum = sum + abs(v);
    delta[i] = delta[i] + select(select(0.0, -scale, v < 0.0), scale, v > 0.0);
  }
  scratch[lid] = sum;
  workgroupBarrier();
  for (var stride = ${u32(THREADS / 2)}; stride > 0u; stride = stride / 2u) {
    if (lid < stride) { scratch[lid] = scratch[lid] + scratch[lid + stride]; }
    workgroupBarrier();
  }
  if (lid == 0u) { partials[wid.x] = scratch[0]; }
}
`;
  return { label, code, bindings, grid: () => [groups, 1, 1] };
}
