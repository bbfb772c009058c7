/**
 * @fileoverview The tree layer's own WGSL kernels (the GPU side of runtime/kernels/tree.ts, layout
 * `shared`): gater bits and prefix codes (the same Philox counter and key as the wasm kernel for
 * the sampled modes), the stable counting sort of examples by leaf, row gathers and scatter-adds,
 * the lazy decay's catch-up (a factor per touched node, then the scaling) and the method's own
 * SGD step on the touched nodes. Node (l, p) is heap index 2^l - 1 + p; its rows are the sorted
 * range [leafStart[p << (k-l)], leafStart[(p+1) << (k-l)]). The layer's `call` words:
 * [0] seed, [1] step (before the increment), [2] Λ, [3] F = f32(1 - lr·decay), [4] log F (f32).
 */
import { MATH_EXTRA_WGSL, MATH_WGSL } from "../../runtime/webgpu/kernels/math.js";
import { PHILOX_WGSL } from "../../runtime/webgpu/kernels/random.js";
import {
  CALL_UNIFORM_WGSL,
  elementKernel,
  f32,
  groupGrid,
  LOSS_GUARD,
  NON_FINITE_WGSL,
  storageDeclarations,
  u32,
  type Kernel,
  type KernelBinding,
} from "../../runtime/webgpu/kernels/wgsl.js";

export const CALL_WORDS = 5;

/** How the gater bits are made in this pass (codes of runtime/kernels/codes/tree.ts). */
export type BitsMode = "deterministic" | "reinforce" | "noisy";

/** Per example (one thread): bits [n x k] (0/1) and the prefix code (bit 1 most significant). */
export function bitsKernel(k: number, mode: BitsMode, sigma: number, layerIndex: number): Kernel {
  const decide: Record<BitsMode, string> = {
    deterministic: "b = g > 0.0;",
    reinforce: `let words = philox4x32(vec4u(at, step, ${u32(layerIndex)}, 0x74726565u), vec2u(seed, ${u32((0x5452 ^ layerIndex) >>> 0)}));
      let u1 = uniformOpenBits(words.x);
      b = u1 < 1.0 / (1.0 + expCephes(-g));`,
    noisy: `let words = philox4x32(vec4u(at, step, ${u32(layerIndex)}, 0x74726565u), vec2u(seed, ${u32((0x5452 ^ layerIndex) >>> 0)}));
      let u1 = uniformOpenBits(words.x);
      let u2 = uniformOpenBits(words.y);
      let z = sqrt(-2.0 * logCephes(u1)) * sinCosCephes(6.283185307179586 * u2).y;
      b = g + ${f32(sigma)} * z > 0.0;`,
  };
  return elementKernel({
    label: `treeBits k=${k} ${mode} sigma=${sigma} layer=${layerIndex}`,
    bindings: [
      { name: "gz", access: "read" },
      { name: "bits", access: "read_write" },
      { name: "codes", access: "read_write" },
      { name: "words", access: "read" },
    ],
    types: { codes: "i32", words: "u32" },
    declarations: mode === "deterministic" ? "" : `${PHILOX_WGSL}\n${MATH_WGSL}\n${MATH_EXTRA_WGSL}`,
    count: (n) => n,
    countExpr: "call.n",
    body: `  let seed = words[0];
  let step = words[1];
  var code = 0u;
  for (var bit = 0u; bit < ${u32(k)}; bit++) {
    let at = i * ${u32(k)} + bit;
    let g = gz[at];
    var b = false;
    {
      ${decide[mode]}
    }
    bits[at] = select(0.0, 1.0, b);
    code = (code << 1u) | select(0u, 1u, b);
  }
  codes[i] = i32(code);`,
  });
}

const SORT_THREADS = 256;

/**
 * The stable counting sort by leaf code, in one workgroup: leafStart [2^k + 1] the first sorted
 * row of each leaf, perm [n] the example of each sorted row (examples of a leaf in row order).
 * Counting and placing are one thread's loops over the n rows; the prefix sum over the leaves
 * is chunked over the workgroup. cursor [2^k] is scratch.
 */
export function bucketKernel(k: number): Kernel {
  const leaves = 2 ** k;
  const chunk = Math.ceil((leaves + 1) / SORT_THREADS);
  const bindings: KernelBinding[] = [
    { name: "codes", access: "read" },
    { name: "leafStart", access: "read_write" },
    { name: "perm", access: "read_write" },
    { name: "cursor", access: "read_write" },
  ];
  const label = `treeBucket k=${k}`;
  const code = `// ${label}
${CALL_UNIFORM_WGSL}
${storageDeclarations(bindings, { codes: "i32", leafStart: "i32", perm: "i32", cursor: "i32" })}
var<workgroup> totals: array<i32, ${SORT_THREADS}>;

@compute @workgroup_size(${SORT_THREADS})
fn main(@builtin(local_invocation_index) lid: u32) {
  let first = lid * ${u32(chunk)};
  let last = min(first + ${u32(chunk)}, ${u32(leaves + 1)});
  for (var c = first; c < last; c++) { leafStart[c] = 0; }
  storageBarrier();
  if (lid == 0u) {
    for (var e = 0u; e < call.n; e++) {
      let at = u32(codes[e]) + 1u;
      leafStart[at] = leafStart[at] + 1;
    }
  }
  storageBarrier();
  var running = 0;
  for (var c = first; c < last; c++) {
    running = running + leafStart[c];
    leafStart[c] = running;
  }
  totals[lid] = running;
  workgroupBarrier();
  if (lid == 0u) {
    var sum = 0;
    for (var t = 0u; t < ${u32(SORT_THREADS)}; t++) {
      let own = totals[t];
      totals[t] = sum;
      sum = sum + own;
    }
  }
  workgroupBarrier();
  let offset = totals[lid];
  for (var c = first; c < last; c++) {
    leafStart[c] = leafStart[c] + offset;
    if (c < ${u32(leaves)}) { cursor[c] = leafStart[c]; }
  }
  storageBarrier();
  if (lid == 0u) {
    for (var e = 0u; e < call.n; e++) {
      let c = u32(codes[e]);
      let slot = cursor[c];
      perm[u32(slot)] = i32(e);
      cursor[c] = slot + 1;
    }
  }
}
`;
  return { label, code, bindings, grid: () => [1, 1, 1] };
}

/**
 * leafStart as counts would be: cumulative with leafStart[0] = 0 (the sort above counts into
 * [c + 1] and then prefix-sums, so the entries are the starts). Rows [leafStart[p << (k-l)],
 * leafStart[(p + 1) << (k-l)]) are node (l, p)'s. This helper is the WGSL of a node's bounds.
 */
function nodeBounds(k: number): string {
  return `fn nodeLevel(heapIndex: u32) -> u32 { return firstLeadingBit(heapIndex + 1u); }
fn nodeRows(heapIndex: u32) -> vec2<u32> {
  let l = nodeLevel(heapIndex);
  let p = heapIndex + 1u - (1u << l);
  let shift = ${u32(k)} - l;
  return vec2u(u32(leafStart[p << shift]), u32(leafStart[(p + 1u) << shift]));
}`;
}

/** dst[r, :] = src[perm[r], :] over n rows of `width` (one thread per element). */
export function gatherRowsKernel(width: number): Kernel {
  return elementKernel({
    label: `treeGatherRows width=${width}`,
    bindings: [
      { name: "src", access: "read" },
      { name: "perm", access: "read" },
      { name: "dst", access: "read_write" },
    ],
    types: { perm: "i32" },
    count: (n) => n * width,
    countExpr: `call.n * ${u32(width)}`,
    body: `  let r = i / ${u32(width)};
  let j = i % ${u32(width)};
  dst[i] = src[u32(perm[r]) * ${u32(width)} + j];`,
  });
}

/** dst[perm[r], :] += src[r, :] (perm is a permutation: no two threads share a row). */
export function scatterAddRowsKernel(width: number): Kernel {
  return elementKernel({
    label: `treeScatterAddRows width=${width}`,
    bindings: [
      { name: "src", access: "read" },
      { name: "perm", access: "read" },
      { name: "dst", access: "read_write" },
    ],
    types: { perm: "i32" },
    count: (n) => n * width,
    countExpr: `call.n * ${u32(width)}`,
    body: `  let r = i / ${u32(width)};
  let at = u32(perm[r]) * ${u32(width)} + i % ${u32(width)};
  dst[at] = dst[at] + src[i];`,
  });
}

/**
 * The lazy decay's catch-up factors (catchUpNode): for each node (all of them when `all`, else
 * those the batch touches) f = exp(Λ - last) in f32; where f != 1, last += log f and the node's
 * factor is f, else 1. The scaling itself is scaleKernel (weights are shared by many threads).
 */
export function catchUpKernel(k: number, nodes: number, all: boolean): Kernel {
  return elementKernel({
    label: `treeCatchUp k=${k}${all ? " all" : ""}`,
    bindings: [
      { name: "leafStart", access: "read" },
      { name: "last", access: "read_write" },
      { name: "factor", access: "read_write" },
      { name: "words", access: "read" },
    ],
    types: { leafStart: "i32", words: "u32" },
    declarations: `${MATH_WGSL}\n${MATH_EXTRA_WGSL}\n${nodeBounds(k)}`,
    count: () => nodes,
    countExpr: u32(nodes),
    body: `  var f = 1.0;
  let rows = nodeRows(i);
  if (${all ? "true" : "rows.y > rows.x && call.n > 0u"}) {
    let lambda = bitcast<f32>(words[2]);
    let old = last[i];
    f = expCephes(lambda - old);
    if (f != 1.0) { last[i] = old + logCephes(f); }
  }
  factor[i] = f;`,
  });
}

const SCALE_CHUNK = 4096;
export const SCALE_THREADS = 256;

/** w[node] *= factor[node] over each node's slice (workgroups of a node whose factor is 1 return at once). */
export function scaleKernel(nodes: number, slice: number): Kernel {
  const chunks = Math.ceil(slice / SCALE_CHUNK);
  const bindings: KernelBinding[] = [
    { name: "w", access: "read_write" },
    { name: "factor", access: "read" },
  ];
  const label = `treeScale nodes=${nodes} slice=${slice}`;
  const code = `// ${label}
${CALL_UNIFORM_WGSL}
${storageDeclarations(bindings)}

@compute @workgroup_size(${SCALE_THREADS})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let flat = wid.y * groups.x + wid.x;
  let node = flat / ${u32(chunks)};
  if (node >= ${u32(nodes)}) { return; }
  let f = factor[node];
  if (f == 1.0) { return; }
  let start = (flat % ${u32(chunks)}) * ${u32(SCALE_CHUNK)};
  let end = min(start + ${u32(SCALE_CHUNK)}, ${u32(slice)});
  for (var e = start + lid; e < end; e += ${u32(SCALE_THREADS)}) {
    let at = node * ${u32(slice)} + e;
    w[at] = w[at] * f;
  }
}
`;
  return { label, code, bindings, grid: () => groupGrid(nodes * chunks) };
}

/** Learning-rate multiplier of a node of level l touched by `count` of n examples (levelScale). */
export type LevelMode = "uniform" | "scaled" | "bucket";

/** WGSL of the multiplier, reading `l` (the node's level), `count` (u32: its examples) and call.n. */
export function levelScale(mode: LevelMode, max: number): string {
  if (mode === "uniform") return "1.0";
  if (mode === "scaled") return `min(f32(1u << l), ${f32(max)})`;
  return `min(f32(call.n) / f32(count), ${f32(max)})`;
}

/**
 * The method's SGD with the exact lazy L2 on the touched nodes (treeUpdate): T = F·T - lr_node·dT
 * (one workgroup per node and chunk of 4096 weights; untouched nodes return at once). Nothing
 * changes when the step's loss is not finite.
 */
export function updateWeightsKernel(k: number, nodes: number, slice: number, mode: LevelMode, max: number): Kernel {
  const chunks = Math.ceil(slice / SCALE_CHUNK);
  const bindings: KernelBinding[] = [
    { name: "w", access: "read_write" },
    { name: "grad", access: "read" },
    { name: "leafStart", access: "read" },
    { name: "words", access: "read" },
    { name: "loss", access: "read" },
  ];
  const label = `treeUpdateWeights k=${k} slice=${slice} ${mode}`;
  const code = `// ${label}
${CALL_UNIFORM_WGSL}
${storageDeclarations(bindings, { leafStart: "i32", words: "u32" })}
${NON_FINITE_WGSL}
${nodeBounds(k)}

@compute @workgroup_size(${SCALE_THREADS})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  ${LOSS_GUARD}
  let flat = wid.y * groups.x + wid.x;
  let node = flat / ${u32(chunks)};
  if (node >= ${u32(nodes)} || call.n == 0u) { return; }
  let rows = nodeRows(node);
  let count = rows.y - rows.x;
  if (count == 0u) { return; }
  let l = nodeLevel(node);
  let lr = call.lr * ${levelScale(mode, max)};
  let f = bitcast<f32>(words[3]);
  let start = (flat % ${u32(chunks)}) * ${u32(SCALE_CHUNK)};
  let end = min(start + ${u32(SCALE_CHUNK)}, ${u32(slice)});
  for (var e = start + lid; e < end; e += ${u32(SCALE_THREADS)}) {
    let at = node * ${u32(slice)} + e;
    w[at] = f * w[at] - lr * grad[at];
  }
}
`;
  return { label, code, bindings, grid: () => groupGrid(nodes * chunks) };
}

/** The biases and decay stamps of the touched nodes: c -= lr_node·dc, last += log F (one thread per node). */
export function updateBiasKernel(k: number, nodes: number, units: number, mode: LevelMode, max: number): Kernel {
  return elementKernel({
    label: `treeUpdateBias k=${k} units=${units} ${mode}`,
    bindings: [
      { name: "bias", access: "read_write" },
      { name: "grad", access: "read" },
      { name: "last", access: "read_write" },
      { name: "leafStart", access: "read" },
      { name: "words", access: "read" },
      { name: "loss", access: "read" },
    ],
    types: { leafStart: "i32", words: "u32" },
    declarations: `${NON_FINITE_WGSL}\n${nodeBounds(k)}`,
    count: () => nodes,
    countExpr: u32(nodes),
    body: `  ${LOSS_GUARD}
  if (call.n == 0u) { return; }
  let rows = nodeRows(i);
  let count = rows.y - rows.x;
  if (count == 0u) { return; }
  let l = nodeLevel(i);
  let lr = call.lr * ${levelScale(mode, max)};
  for (var u = 0u; u < ${u32(units)}; u++) {
    let at = i * ${u32(units)} + u;
    bias[at] = bias[at] - lr * grad[at];
  }
  last[i] = last[i] + bitcast<f32>(words[4]);`,
  });
}

/**
 * REINFORCE on the gaters (treeReinforceSignal): per-example loss -log p[label], baseline the
 * batch mean; gz ← (L_e - mean)/n · (b - sigm(g)), in place. One thread computes the mean, then
 * each (example, bit) its element; both in one workgroup per 256 elements, the mean recomputed
 * by every workgroup in the same order.
 */
export function reinforceSignalKernel(k: number, classes: number): Kernel {
  return elementKernel({
    label: `treeReinforceSignal k=${k}`,
    bindings: [
      { name: "gz", access: "read_write" },
      { name: "bits", access: "read" },
      { name: "probs", access: "read" },
      { name: "labels", access: "read" },
    ],
    types: { labels: "i32" },
    declarations: `${MATH_WGSL}\n${MATH_EXTRA_WGSL}
fn exampleLoss(e: u32) -> f32 {
  let label = labels[e];
  if (label < 0 || label >= ${classes}) { return 0.0; }
  return -logCephes(max(probs[e * ${u32(classes)} + u32(label)], ${f32(1e-30)}));
}`,
    count: (n) => n * k,
    countExpr: `call.n * ${u32(k)}`,
    body: `  var mean = 0.0;
  for (var e = 0u; e < call.n; e++) { mean = mean + exampleLoss(e); }
  mean = mean / f32(call.n);
  let e = i / ${u32(k)};
  let adv = (exampleLoss(e) - mean) / f32(call.n);
  let s = 1.0 / (1.0 + expCephes(-gz[i]));
  gz[i] = adv * (bits[i] - s);`,
  });
}
