/**
 * @fileoverview The output losses in WGSL, as in the wasm loss.ts: softmax (predict) and
 * softmax cross-entropy writing the probabilities and dL/dlogits = (p - onehot) / m. The loss is
 * reduced without atomics: each row's term goes to its own slot, then one workgroup adds the
 * slots in a fixed order (reduceKernel), and the terms of the total in the wasm module's order
 * (lossTotalKernel). Same inputs, same bits, every run.
 */
import { MATH_WGSL } from "./math.js";
import {
  CALL_UNIFORM_WGSL,
  dimExpr,
  f32,
  GROUP_BUILTINS,
  GROUP_INDEX,
  groupGrid,
  storageDeclarations,
  u32,
  type Dim,
  type Kernel,
  type KernelBinding,
} from "./wgsl.js";

/** Threads per row: a tree over 64 partial maxima and sums. */
const ROW_THREADS = 64;

/** The shared part: row max and Σ exp(x - max) (the exponentials left in probs). */
function rowSoftmaxBody(classes: number): string {
  return `
  ${GROUP_INDEX}
  let row = group;
  if (row >= call.n) { return; }
  let base = row * ${u32(classes)};
  var best = -3.4028234663852886e38;
  for (var j = lid; j < ${u32(classes)}; j += ${u32(ROW_THREADS)}) { best = max(best, logits[base + j]); }
  scratch[lid] = best;
  workgroupBarrier();
  for (var stride = ${u32(ROW_THREADS / 2)}; stride > 0u; stride = stride / 2u) {
    if (lid < stride) { scratch[lid] = max(scratch[lid], scratch[lid + stride]); }
    workgroupBarrier();
  }
  let rowMax = scratch[0];
  workgroupBarrier();
  var sum = 0.0;
  for (var j = lid; j < ${u32(classes)}; j += ${u32(ROW_THREADS)}) {
    let e = expCephes(logits[base + j] - rowMax);
    probs[base + j] = e;
    sum = sum + e;
  }
  scratch[lid] = sum;
  workgroupBarrier();
  for (var stride = ${u32(ROW_THREADS / 2)}; stride > 0u; stride = stride / 2u) {
    if (lid < stride) { scratch[lid] = scratch[lid] + scratch[lid + stride]; }
    workgroupBarrier();
  }
  let total = scratch[0];
  let inv = 1.0 / total;`;
}

/** probs[n x classes] = softmax of each row of logits. */
export function softmaxKernel(classes: number): Kernel {
  const bindings: KernelBinding[] = [
    { name: "logits", access: "read" },
    { name: "probs", access: "read_write" },
  ];
  const label = `softmax classes=${classes}`;
  const code = `// ${label}
${CALL_UNIFORM_WGSL}
${storageDeclarations(bindings)}
${MATH_WGSL}
var<workgroup> scratch: array<f32, ${ROW_THREADS}>;

@compute @workgroup_size(${ROW_THREADS})
fn main(${GROUP_BUILTINS}) {${rowSoftmaxBody(classes)}
  for (var j = lid; j < ${u32(classes)}; j += ${u32(ROW_THREADS)}) { probs[base + j] = probs[base + j] * inv; }
}
`;
  return { label, code, bindings, grid: (n) => groupGrid(n) };
}

/**
 * Softmax cross-entropy over n rows: probs, dlogits = (probs - onehot(label)) / n, and each
 * row's -log p[label] in rowLoss[row]. A label outside [0, classes) adds no loss and no onehot.
 */
export function softmaxCrossEntropyKernel(classes: number): Kernel {
  const bindings: KernelBinding[] = [
    { name: "logits", access: "read" },
    { name: "labels", access: "read" },
    { name: "probs", access: "read_write" },
    { name: "dlogits", access: "read_write" },
    { name: "rowLoss", access: "read_write" },
  ];
  const label = `softmaxCrossEntropy classes=${classes}`;
  const code = `// ${label}
${CALL_UNIFORM_WGSL}
${storageDeclarations(bindings, { labels: "i32" })}
${MATH_WGSL}
var<workgroup> scratch: array<f32, ${ROW_THREADS}>;

@compute @workgroup_size(${ROW_THREADS})
fn main(${GROUP_BUILTINS}) {${rowSoftmaxBody(classes)}
  let invM = 1.0 / f32(call.n);
  let label = labels[row];
  let valid = label >= 0 && label < ${classes};
  for (var j = lid; j < ${u32(classes)}; j += ${u32(ROW_THREADS)}) {
    let p = probs[base + j] * inv;
    probs[base + j] = p;
    let hit = valid && u32(label) == j;
    dlogits[base + j] = select(p * invM, (p - 1.0) * invM, hit);
  }
  if (lid == 0u) {
    var term = 0.0;
    if (valid) { term = log(total) - (logits[base + u32(label)] - rowMax); }
    rowLoss[row] = term;
  }
}
`;
  return { label, code, bindings, grid: (n) => groupGrid(n) };
}

const REDUCE_THREADS = 256;

/**
 * slots[slot] = Σ_{i < count} values[i] · (multiplier / n): one workgroup, each thread adding
 * a fixed strided subset in order, then a fixed tree. The mean cross-entropy is multiplier 1 over
 * the row terms; an L1 penalty is multiplier λ over its partial sums (the wasm's λ/n scale).
 */
export function reduceKernel(count: Dim, multiplier: number, slot: number): Kernel {
  const bindings: KernelBinding[] = [
    { name: "values", access: "read" },
    { name: "slots", access: "read_write" },
  ];
  const label = `reduce count=${count} x${multiplier}/n -> slot ${slot}`;
  const code = `// ${label}
${CALL_UNIFORM_WGSL}
${storageDeclarations(bindings)}
var<workgroup> scratch: array<f32, ${REDUCE_THREADS}>;

@compute @workgroup_size(${REDUCE_THREADS})
fn main(@builtin(local_invocation_index) lid: u32) {
  let count = ${dimExpr(count)};
  var sum = 0.0;
  for (var i = lid; i < count; i += ${u32(REDUCE_THREADS)}) { sum = sum + values[i]; }
  scratch[lid] = sum;
  workgroupBarrier();
  for (var stride = ${u32(REDUCE_THREADS / 2)}; stride > 0u; stride = stride / 2u) {
    if (lid < stride) { scratch[lid] = scratch[lid] + scratch[lid + stride]; }
    workgroupBarrier();
  }
  if (lid == 0u) { slots[${u32(slot)}] = scratch[0] * (${f32(multiplier)} / f32(call.n)); }
}
`;
  return { label, code, bindings, grid: () => [1, 1, 1] };
}

/** loss[0] = slots[1] + slots[2] + ... + slots[terms], left to right (the wasm module's order). */
export function lossTotalKernel(terms: number): Kernel {
  const bindings: KernelBinding[] = [{ name: "slots", access: "read_write" }];
  const label = `lossTotal terms=${terms}`;
  const code = `// ${label}
${CALL_UNIFORM_WGSL}
${storageDeclarations(bindings)}

@compute @workgroup_size(1)
fn main() {
  var total = slots[1];
  for (var s = 2u; s <= ${u32(terms)}; s++) { total = total + slots[s]; }
  slots[0] = total;
}
`;
  return { label, code, bindings, grid: () => [1, 1, 1] };
}

/**
 * slots[slot] = how many of the n rows have their label as the first largest probability
 * (the runtime's argmax), for the training accuracy: one workgroup, strided rows per thread,
 * a fixed tree over the threads' counts.
 */
export function correctCountKernel(classes: number, slot: number): Kernel {
  const bindings: KernelBinding[] = [
    { name: "probs", access: "read" },
    { name: "labels", access: "read" },
    { name: "slots", access: "read_write" },
  ];
  const label = `correctCount classes=${classes} -> slot ${slot}`;
  const code = `// ${label}
${CALL_UNIFORM_WGSL}
${storageDeclarations(bindings, { labels: "i32" })}
var<workgroup> scratch: array<u32, ${REDUCE_THREADS}>;

@compute @workgroup_size(${REDUCE_THREADS})
fn main(@builtin(local_invocation_index) lid: u32) {
  var count = 0u;
  for (var row = lid; row < call.n; row += ${u32(REDUCE_THREADS)}) {
    let base = row * ${u32(classes)};
    var best = 0u;
    for (var c = 1u; c < ${u32(classes)}; c++) {
      if (probs[base + c] > probs[base + best]) { best = c; }
    }
    if (i32(best) == labels[row]) { count += 1u; }
  }
  scratch[lid] = count;
  workgroupBarrier();
  for (var stride = ${u32(REDUCE_THREADS / 2)}; stride > 0u; stride = stride / 2u) {
    if (lid < stride) { scratch[lid] = scratch[lid] + scratch[lid + stride]; }
    workgroupBarrier();
  }
  if (lid == 0u) { slots[${u32(slot)}] = f32(scratch[0]); }
}
`;
  return { label, code, bindings, grid: () => [1, 1, 1] };
}
