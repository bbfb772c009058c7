/**
 * @fileoverview The tree layer's WGSL kernels of layout `per_unit` (the GPU side of the treeUnit*
 * kernels of runtime/kernels/tree.ts): unit j reads the gater bits in its own order, so every
 * (example, unit) has its own path and every (node, unit) row [inputs] of the tree weight its own
 * gradient, decay stamp and step. Row r = node · units + j. Each pass is one thread (or one
 * workgroup) per output element or row, summing over the batch's examples in order: no atomics,
 * the same result on every run. `counts` [rows] holds the batch's examples at each row (the root
 * rows: n), made in the forward pass by one thread per unit (a unit's rows are its own).
 */
import { MATH_EXTRA_WGSL, MATH_WGSL } from "../../runtime/webgpu/kernels/math.js";
import {
  CALL_UNIFORM_WGSL,
  elementKernel,
  groupGrid,
  LOSS_GUARD,
  NON_FINITE_WGSL,
  storageDeclarations,
  u32,
  type Kernel,
  type KernelBinding,
} from "../../runtime/webgpu/kernels/wgsl.js";
import { levelScale, SCALE_THREADS, type LevelMode } from "./wgsl.js";

/** A row's node and level (the root is level 0). */
const ROW_WGSL = (units: number) => `fn rowNode(row: u32) -> u32 { return row / ${u32(units)}; }
fn nodeLevel(node: u32) -> u32 { return firstLeadingBit(node + 1u); }`;

/** path [n x units x k]: the node of levels 1..k of each (example, unit), one thread per pair. */
export function unitPathsKernel(k: number, units: number): Kernel {
  return elementKernel({
    label: `treeUnitPaths k=${k} units=${units}`,
    bindings: [
      { name: "bits", access: "read" },
      { name: "order", access: "read" },
      { name: "path", access: "read_write" },
    ],
    types: { order: "i32", path: "i32" },
    count: (n) => n * units,
    countExpr: `call.n * ${u32(units)}`,
    body: `  let e = i / ${u32(units)};
  let j = i % ${u32(units)};
  var p = 0u;
  for (var l = 1u; l <= ${u32(k)}; l++) {
    let bit = u32(order[j * ${u32(k)} + l - 1u]);
    p = (p << 1u) | select(0u, 1u, bits[e * ${u32(k)} + bit] > 0.0);
    path[i * ${u32(k)} + l - 1u] = i32((1u << l) - 1u + p);
  }`,
  });
}

/** counts [rows]: the batch's examples at each row (root rows n), one thread per unit over its own rows. */
export function unitCountKernel(k: number, units: number, nodes: number): Kernel {
  return elementKernel({
    label: `treeUnitCount k=${k} units=${units}`,
    bindings: [
      { name: "path", access: "read" },
      { name: "counts", access: "read_write" },
    ],
    types: { path: "i32", counts: "i32" },
    count: () => units,
    countExpr: u32(units),
    body: `  for (var node = 1u; node < ${u32(nodes)}; node++) { counts[node * ${u32(units)} + i] = 0; }
  counts[i] = i32(call.n);
  for (var e = 0u; e < call.n; e++) {
    let at = (e * ${u32(units)} + i) * ${u32(k)};
    for (var l = 0u; l < ${u32(k)}; l++) {
      let row = u32(path[at + l]) * ${u32(units)} + i;
      counts[row] = counts[row] + 1;
    }
  }`,
  });
}

/**
 * The lazy decay's catch-up factors per row (treeUnitCatchUp, treeUnitFlush): for every row the
 * batch touches (every row when `all`) f = exp(Λ - last) in f32; where f != 1, last += log f.
 * The scaling is the shared layout's scaleKernel with a row for a node.
 */
export function unitCatchUpKernel(rows: number, all: boolean): Kernel {
  return elementKernel({
    label: `treeUnitCatchUp rows=${rows}${all ? " all" : ""}`,
    bindings: [
      { name: "counts", access: "read" },
      { name: "last", access: "read_write" },
      { name: "factor", access: "read_write" },
      { name: "words", access: "read" },
    ],
    types: { counts: "i32", words: "u32" },
    declarations: `${MATH_WGSL}\n${MATH_EXTRA_WGSL}`,
    count: () => rows,
    countExpr: u32(rows),
    body: `  var f = 1.0;
  if (${all ? "true" : "call.n > 0u && counts[i] > 0"}) {
    let lambda = bitcast<f32>(words[2]);
    let old = last[i];
    f = expCephes(lambda - old);
    if (f != 1.0) { last[i] = old + logCephes(f); }
  }
  factor[i] = f;`,
  });
}

/** z [n x units] += Σ_{l=1..k} x_e · T(node_l(e, j), j) + c(node_l(e, j), j) (treeUnitForward), one thread per (e, j). */
export function unitForwardKernel(k: number, units: number, inputs: number): Kernel {
  return elementKernel({
    label: `treeUnitForward k=${k} units=${units} inputs=${inputs}`,
    bindings: [
      { name: "x", access: "read" },
      { name: "path", access: "read" },
      { name: "w", access: "read" },
      { name: "bias", access: "read" },
      { name: "z", access: "read_write" },
    ],
    types: { path: "i32" },
    count: (n) => n * units,
    countExpr: `call.n * ${u32(units)}`,
    body: `  let e = i / ${u32(units)};
  let j = i % ${u32(units)};
  var s = 0.0;
  for (var l = 0u; l < ${u32(k)}; l++) {
    let row = u32(path[i * ${u32(k)} + l]) * ${u32(units)} + j;
    var d = 0.0;
    for (var c = 0u; c < ${u32(inputs)}; c++) { d = d + w[row * ${u32(inputs)} + c] * x[e * ${u32(inputs)} + c]; }
    s = s + d + bias[row];
  }
  z[i] = z[i] + s;`,
  });
}

const GRAD_THREADS = 64;

/**
 * Gradients of the touched rows of levels 1..k (treeUnitBackward, overwritten): dT(row) =
 * Σ_e δ_ej x_e and dc(row) = Σ_e δ_ej over the examples whose unit-j path passes the row's node,
 * in example order. One workgroup per row; untouched rows return at once (their gradients are
 * not read: the update skips them too).
 */
export function unitWeightGradKernel(k: number, units: number, inputs: number, nodes: number): Kernel {
  const rows = (nodes - 1) * units;
  const bindings: KernelBinding[] = [
    { name: "x", access: "read" },
    { name: "delta", access: "read" },
    { name: "path", access: "read" },
    { name: "counts", access: "read" },
    { name: "gradW", access: "read_write" },
    { name: "gradB", access: "read_write" },
  ];
  const label = `treeUnitWeightGrad k=${k} units=${units} inputs=${inputs}`;
  const sum = (term: string) => `var acc = 0.0;
    for (var e = 0u; e < call.n; e++) {
      if (u32(path[(e * ${u32(units)} + j) * ${u32(k)} + level - 1u]) == node) { acc = acc + delta[e * ${u32(units)} + j] * ${term}; }
    }`;
  const code = `// ${label}
${CALL_UNIFORM_WGSL}
${storageDeclarations(bindings, { path: "i32", counts: "i32" })}
${ROW_WGSL(units)}

@compute @workgroup_size(${GRAD_THREADS})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let flat = wid.y * groups.x + wid.x;
  if (flat >= ${u32(rows)}) { return; }
  let row = ${u32(units)} + flat;
  if (counts[row] == 0) { return; }
  let node = rowNode(row);
  let j = row % ${u32(units)};
  let level = nodeLevel(node);
  for (var c = lid; c < ${u32(inputs)}; c += ${u32(GRAD_THREADS)}) {
    ${sum(`x[e * ${u32(inputs)} + c]`)}
    gradW[row * ${u32(inputs)} + c] = acc;
  }
  if (lid == 0u) {
    ${sum("1.0")}
    gradB[row] = acc;
  }
}
`;
  return { label, code, bindings, grid: () => groupGrid(rows) };
}

/** dx_e += Σ_j Σ_l δ_ej T(node_l(e, j), j) (treeUnitBackwardInput), one thread per (e, input). */
export function unitInputGradKernel(k: number, units: number, inputs: number): Kernel {
  return elementKernel({
    label: `treeUnitInputGrad k=${k} units=${units} inputs=${inputs}`,
    bindings: [
      { name: "delta", access: "read" },
      { name: "path", access: "read" },
      { name: "w", access: "read" },
      { name: "dx", access: "read_write" },
    ],
    types: { path: "i32" },
    count: (n) => n * inputs,
    countExpr: `call.n * ${u32(inputs)}`,
    body: `  let e = i / ${u32(inputs)};
  let c = i % ${u32(inputs)};
  var acc = 0.0;
  for (var j = 0u; j < ${u32(units)}; j++) {
    let d = delta[e * ${u32(units)} + j];
    let at = (e * ${u32(units)} + j) * ${u32(k)};
    for (var l = 0u; l < ${u32(k)}; l++) {
      acc = acc + d * w[(u32(path[at + l]) * ${u32(units)} + j) * ${u32(inputs)} + c];
    }
  }
  dx[i] = dx[i] + acc;`,
  });
}

/**
 * The method's SGD with the exact lazy L2 on every touched row, root rows included
 * (treeUnitUpdate): T = F·T - lr_row·dT, c -= lr_row·dc, last += log F, lr_row the base rate times
 * the level multiplier of the row's node and count. One workgroup per row; nothing changes when
 * the step's loss is not finite.
 */
export function unitUpdateKernel(units: number, inputs: number, nodes: number, mode: LevelMode, max: number): Kernel {
  const rows = nodes * units;
  const bindings: KernelBinding[] = [
    { name: "w", access: "read_write" },
    { name: "bias", access: "read_write" },
    { name: "gradW", access: "read" },
    { name: "gradB", access: "read" },
    { name: "last", access: "read_write" },
    { name: "counts", access: "read" },
    { name: "words", access: "read" },
    { name: "loss", access: "read" },
  ];
  const label = `treeUnitUpdate units=${units} inputs=${inputs} ${mode}`;
  const code = `// ${label}
${CALL_UNIFORM_WGSL}
${storageDeclarations(bindings, { counts: "i32", words: "u32" })}
${NON_FINITE_WGSL}
${ROW_WGSL(units)}

@compute @workgroup_size(${SCALE_THREADS})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  ${LOSS_GUARD}
  let row = wid.y * groups.x + wid.x;
  if (row >= ${u32(rows)} || call.n == 0u) { return; }
  let touched = counts[row];
  if (touched <= 0) { return; }
  let count = u32(touched);
  let l = nodeLevel(rowNode(row));
  let lr = call.lr * ${levelScale(mode, max)};
  let f = bitcast<f32>(words[3]);
  for (var c = lid; c < ${u32(inputs)}; c += ${u32(SCALE_THREADS)}) {
    let at = row * ${u32(inputs)} + c;
    w[at] = f * w[at] - lr * gradW[at];
  }
  if (lid == 0u) {
    bias[row] = bias[row] - lr * gradB[row];
    last[row] = last[row] + bitcast<f32>(words[4]);
  }
}
`;
  return { label, code, bindings, grid: () => groupGrid(rows) };
}
