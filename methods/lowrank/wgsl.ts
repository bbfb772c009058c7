/**
 * @fileoverview The low-rank gate's own WGSL kernels (the GPU side of runtime/kernels/lowrank.ts):
 * the computed units of each example (Ẑ > θ) as per-example lists and per-unit member lists, the
 * exact part over each unit's members (the unit's weight row staged in workgroup memory, one
 * thread per example), the masked backward over the same lists, and the counters.
 */
import { addCounter64, CALL_UNIFORM_WGSL, elementKernel, f32, groupGrid, storageDeclarations, u32, type Kernel, type KernelBinding } from "../../runtime/webgpu/kernels/wgsl.js";

/** Per example (one thread): the units with Ẑ > θ, in order, and their count (the kernels' active lists). */
export function exampleListsKernel(units: number, threshold: number): Kernel {
  return elementKernel({
    label: `lowrankExampleLists units=${units} threshold=${threshold}`,
    bindings: [
      { name: "zhat", access: "read" },
      { name: "activeList", access: "read_write" },
      { name: "count", access: "read_write" },
    ],
    types: { activeList: "i32", count: "i32" },
    count: (n) => n,
    countExpr: "call.n",
    body: `  var c = 0u;
  for (var j = 0u; j < ${u32(units)}; j++) {
    if (zhat[i * ${u32(units)} + j] > ${f32(threshold)}) {
      activeList[i * ${u32(units)} + c] = i32(j);
      c = c + 1u;
    }
  }
  count[i] = i32(c);`,
  });
}

/** Per unit (one thread): the examples that compute it, in row order (the exact part's groups). */
export function unitListsKernel(units: number, capacity: number, threshold: number): Kernel {
  return elementKernel({
    label: `lowrankUnitLists units=${units} threshold=${threshold}`,
    bindings: [
      { name: "zhat", access: "read" },
      { name: "counts", access: "read_write" },
      { name: "members", access: "read_write" },
    ],
    types: { counts: "i32", members: "i32" },
    count: () => units,
    countExpr: u32(units),
    body: `  var m = 0u;
  for (var r = 0u; r < call.n; r++) {
    if (zhat[r * ${u32(units)} + i] > ${f32(threshold)}) {
      members[i * ${u32(capacity)} + m] = i32(r);
      m = m + 1u;
    }
  }
  counts[i] = i32(m);`,
  });
}

const MEMBERS = 64;
const SLICE = 64;

/**
 * h[i, j] = relu(x_i · w_j + b_j) for the members i of unit j: one workgroup per (unit, 64
 * members), the unit's weight row staged 64 inputs at a time in workgroup memory and shared by
 * the 64 examples, each thread summing its example's dot in input order. Other outputs stay as
 * they are (the caller clears the output first).
 */
export function exactPartKernel(units: number, inputs: number, capacity: number): Kernel {
  const bindings: KernelBinding[] = [
    { name: "x", access: "read" },
    { name: "w", access: "read" },
    { name: "b", access: "read" },
    { name: "h", access: "read_write" },
    { name: "counts", access: "read" },
    { name: "members", access: "read" },
  ];
  const tiles = Math.ceil(capacity / MEMBERS);
  const label = `lowrankExactPart units=${units} inputs=${inputs}`;
  const code = `// ${label}
${CALL_UNIFORM_WGSL}
${storageDeclarations(bindings, { counts: "i32", members: "i32" })}
var<workgroup> slice: array<f32, ${SLICE}>;
var<workgroup> groupSize: u32;

@compute @workgroup_size(${MEMBERS})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let flat = wid.y * groups.x + wid.x;
  let unit = flat / ${u32(tiles)};
  if (unit >= ${u32(units)}) { return; }
  let first = (flat % ${u32(tiles)}) * ${u32(MEMBERS)};
  if (lid == 0u) { groupSize = u32(counts[unit]); }
  let size = workgroupUniformLoad(&groupSize);
  if (first >= size) { return; }
  let m = first + lid;
  var row = 0u;
  if (m < size) { row = u32(members[unit * ${u32(capacity)} + m]); }
  var z = 0.0;
  for (var k0 = 0u; k0 < ${u32(inputs)}; k0 += ${u32(SLICE)}) {
    if (k0 + lid < ${u32(inputs)}) { slice[lid] = w[unit * ${u32(inputs)} + k0 + lid]; }
    workgroupBarrier();
    if (m < size) {
      let end = min(${u32(SLICE)}, ${u32(inputs)} - k0);
      for (var k = 0u; k < end; k++) { z = z + x[row * ${u32(inputs)} + k0 + k] * slice[k]; }
    }
    workgroupBarrier();
  }
  if (m < size) { h[row * ${u32(units)} + unit] = max(z + b[unit], 0.0); }
}
`;
  return { label, code, bindings, grid: () => groupGrid(units * tiles) };
}

const COLUMNS = 256;

/**
 * The masked weight gradient: dW[j, k] = Σ over unit j's members i of d[i, j] x[i, k] (members in
 * row order; zero for a unit no example computed), one workgroup per (unit, 256 inputs).
 */
export function maskedWeightGradKernel(units: number, inputs: number, capacity: number): Kernel {
  const bindings: KernelBinding[] = [
    { name: "d", access: "read" },
    { name: "x", access: "read" },
    { name: "dw", access: "read_write" },
    { name: "counts", access: "read" },
    { name: "members", access: "read" },
  ];
  const chunks = Math.ceil(inputs / COLUMNS);
  const label = `lowrankMaskedWeightGrad units=${units} inputs=${inputs}`;
  const code = `// ${label}
${CALL_UNIFORM_WGSL}
${storageDeclarations(bindings, { counts: "i32", members: "i32" })}

@compute @workgroup_size(${COLUMNS})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let flat = wid.y * groups.x + wid.x;
  let unit = flat / ${u32(chunks)};
  let k = (flat % ${u32(chunks)}) * ${u32(COLUMNS)} + lid;
  if (unit >= ${u32(units)} || k >= ${u32(inputs)}) { return; }
  let size = u32(counts[unit]);
  var acc = 0.0;
  for (var m = 0u; m < size; m++) {
    let row = u32(members[unit * ${u32(capacity)} + m]);
    acc = acc + d[row * ${u32(units)} + unit] * x[row * ${u32(inputs)} + k];
  }
  dw[unit * ${u32(inputs)} + k] = acc;
}
`;
  return { label, code, bindings, grid: () => groupGrid(units * chunks) };
}

/** db[j] = Σ over unit j's members of d[i, j] (one thread per unit, members in row order). */
export function maskedBiasGradKernel(units: number, capacity: number): Kernel {
  return elementKernel({
    label: `lowrankMaskedBiasGrad units=${units}`,
    bindings: [
      { name: "d", access: "read" },
      { name: "db", access: "read_write" },
      { name: "counts", access: "read" },
      { name: "members", access: "read" },
    ],
    types: { counts: "i32", members: "i32" },
    count: () => units,
    countExpr: u32(units),
    body: `  var acc = 0.0;
  let size = u32(counts[i]);
  for (var m = 0u; m < size; m++) { acc = acc + d[u32(members[i * ${u32(capacity)} + m]) * ${u32(units)} + i]; }
  db[i] = acc;`,
  });
}

/**
 * The masked input gradient: dX[i, k] (=, or += with beta 1) Σ over example i's computed units
 * j of d[i, j] W[j, k], one workgroup per (example, 256 inputs), units in list order.
 */
export function maskedInputGradKernel(units: number, inputs: number, beta: 0 | 1): Kernel {
  const bindings: KernelBinding[] = [
    { name: "d", access: "read" },
    { name: "w", access: "read" },
    { name: "dx", access: "read_write" },
    { name: "activeList", access: "read" },
    { name: "count", access: "read" },
  ];
  const chunks = Math.ceil(inputs / COLUMNS);
  const label = `lowrankMaskedInputGrad units=${units} inputs=${inputs} beta=${beta}`;
  const code = `// ${label}
${CALL_UNIFORM_WGSL}
${storageDeclarations(bindings, { activeList: "i32", count: "i32" })}

@compute @workgroup_size(${COLUMNS})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let flat = wid.y * groups.x + wid.x;
  let row = flat / ${u32(chunks)};
  let k = (flat % ${u32(chunks)}) * ${u32(COLUMNS)} + lid;
  if (row >= call.n || k >= ${u32(inputs)}) { return; }
  let size = u32(count[row]);
  var acc = ${beta === 1 ? `dx[row * ${u32(inputs)} + k]` : "0.0"};
  for (var q = 0u; q < size; q++) {
    let unit = u32(activeList[row * ${u32(units)} + q]);
    acc = acc + d[row * ${u32(units)} + unit] * w[unit * ${u32(inputs)} + k];
  }
  dx[row * ${u32(inputs)} + k] = acc;
}
`;
  return { label, code, bindings, grid: (n) => groupGrid(n * chunks) };
}

/** Counters (64-bit, u32 words): [0] examples, [1] computed (example, unit) pairs. */
export function countersKernel(): Kernel {
  return elementKernel({
    label: "lowrankCounters",
    bindings: [
      { name: "count", access: "read" },
      { name: "counters", access: "read_write" },
    ],
    types: { count: "i32", counters: "u32" },
    count: () => 1,
    countExpr: "1u",
    body: `  var computed = 0u;
  for (var r = 0u; r < call.n; r++) { computed = computed + u32(count[r]); }
  ${addCounter64("counters", "0u", "call.n")}
  ${addCounter64("counters", "1u", "computed")}`,
  });
}
