/**
 * @fileoverview What every WGSL kernel shares: the Kernel description the executor runs, the
 * per-call uniform block, batch-dependent dimensions, exact f32 constants and the 2-D grid
 * that lets element-wise kernels cover more than 65,535 workgroups.
 *
 * Shapes are baked into the WGSL as constants (strides, unit counts, classes): each layer gets
 * its own pipeline, and the compiler folds the index arithmetic. The one thing that changes
 * between calls, the batch row count n (any n <= maxBatch), is read from the uniform block,
 * so one pipeline serves every n and nothing recompiles; the dispatch grid is sized per call.
 */

/** A dimension: a constant baked into the shader, or the call's batch row count ("n"). */
export type Dim = number | "n";

export type Access = "read" | "read_write";

/** A storage buffer a kernel binds (binding 1, 2, ... in list order; binding 0 is the uniform block). */
export interface KernelBinding {
  name: string;
  access: Access;
}

export interface Kernel {
  /** For error messages and GPU debuggers. */
  label: string;
  /** A WGSL module with one `@compute fn main`. */
  code: string;
  bindings: KernelBinding[];
  /** Workgroups to dispatch for a call on n rows. */
  grid(n: number): [number, number, number];
}

/**
 * The uniform block every kernel binds at @binding(0): the call's row count, the step count
 * (1-based, as the wasm module's `step` after its increment), the learning rate and Adam's
 * bias corrections 1/(1 - beta^t), computed on the CPU in f64 as the wasm kernel does.
 */
export const CALL_UNIFORM_WGSL = `struct Call {
  n: u32,
  t: u32,
  lr: f32,
  adamC1: f32,
  adamC2: f32,
  pad0: u32,
  pad1: u32,
  pad2: u32,
}
@group(0) @binding(0) var<uniform> call: Call;`;

/** Bytes of the Call block (WGSL rounds uniform structs to 16). */
export const CALL_UNIFORM_BYTES = 32;

export interface CallValues {
  n: number;
  t: number;
  lr: number;
  adamC1: number;
  adamC2: number;
}

/** The Call block's bytes. */
export function encodeCall(values: CallValues): ArrayBuffer {
  const buffer = new ArrayBuffer(CALL_UNIFORM_BYTES);
  const u32 = new Uint32Array(buffer);
  const f32 = new Float32Array(buffer);
  u32[0] = values.n;
  u32[1] = values.t;
  f32[2] = values.lr;
  f32[3] = values.adamC1;
  f32[4] = values.adamC2;
  return buffer;
}

/** The storage declarations of a binding list (f32 arrays unless typed otherwise). */
export function storageDeclarations(bindings: KernelBinding[], types: Record<string, string> = {}): string {
  return bindings
    .map((b, i) => `@group(0) @binding(${i + 1}) var<storage, ${b.access}> ${b.name}: array<${types[b.name] ?? "f32"}>;`)
    .join("\n");
}

/** The WGSL u32 expression of a dimension. */
export function dimExpr(dim: Dim): string {
  return dim === "n" ? "call.n" : `${checkedDim(dim)}u`;
}

/** A dimension's value for a call on n rows. */
export function dimValue(dim: Dim, n: number): number {
  return dim === "n" ? n : dim;
}

function checkedDim(value: number): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new RangeError(`kernel dimension ${value} is not a u32`);
  return value;
}

/** A u32 literal (checked). */
export function u32(value: number): string {
  return `${checkedDim(value)}u`;
}

/**
 * An f32 constant that is exactly Math.fround(value): written as its bit pattern, because WGSL
 * lets an implementation round a decimal literal to either neighbour.
 */
export function f32(value: number): string {
  const bits = new Uint32Array(new Float32Array([value]).buffer)[0]!;
  const exact = Math.fround(value);
  if (Number.isInteger(exact) && Math.abs(exact) < 2 ** 24) return `${exact}.0`;
  return `bitcast<f32>(0x${bits.toString(16).padStart(8, "0")}u) /* ${value} */`;
}

/** Threads per workgroup of the element-wise kernels. */
export const LINEAR_WORKGROUP = 256;
const MAX_GROUPS_X = 65535;

/** A grid of ceil(count / LINEAR_WORKGROUP) workgroups, folded into y past 65,535. */
export function linearGrid(count: number): [number, number, number] {
  const groups = Math.ceil(count / LINEAR_WORKGROUP);
  if (groups <= MAX_GROUPS_X) return [Math.max(groups, 1), 1, 1];
  return [MAX_GROUPS_X, Math.ceil(groups / MAX_GROUPS_X), 1];
}

/** A grid of `count` workgroups (one per row, say), folded into y past 65,535. */
export function groupGrid(count: number): [number, number, number] {
  if (count <= MAX_GROUPS_X) return [Math.max(count, 1), 1, 1];
  return [MAX_GROUPS_X, Math.ceil(count / MAX_GROUPS_X), 1];
}

/** The WGSL builtins and the flat workgroup index of a folded grid (`group`). */
export const GROUP_BUILTINS = `@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32`;
export const GROUP_INDEX = `let group = wid.y * groups.x + wid.x;`;

/** `let i = ...` the element index of a thread in a linearGrid dispatch. */
export const LINEAR_INDEX = `${GROUP_INDEX}\n  let i = group * ${LINEAR_WORKGROUP}u + lid;`;

/**
 * WGSL: whether an f32 is an infinity or NaN, tested on its bits (WGSL lets implementations
 * assume floats are finite, so `x != x` may be folded away).
 */
export const NON_FINITE_WGSL = `fn nonFinite(v: f32) -> bool { return (bitcast<u32>(v) & 0x7f800000u) == 0x7f800000u; }`;

/**
 * The guard of a kernel that changes state kept across steps (parameters, optimizer state): it
 * binds the loss slots as \`loss\` and leaves everything as it was when the step's total loss
 * (slot 0) is not finite, as the wasm module returns before its update. For kernels without
 * barriers (a plain early return).
 */
export const LOSS_GUARD = `if (nonFinite(loss[0])) { return; }`;

/** What `elementKernel` builds a kernel from. */
export interface ElementKernelSpec {
  label: string;
  bindings: KernelBinding[];
  /** Element types of bindings other than f32 (`i32`, `u32`). */
  types?: Record<string, string>;
  /** Module-scope WGSL (helper functions, constants). */
  declarations?: string;
  /** Threads for a call on n rows, and the same count as a WGSL u32 expression (`call.n * 8u`). */
  count(n: number): number;
  countExpr: string;
  /** The body for thread `i` (a u32, already below the count). */
  body: string;
}

/**
 * One thread per element (row, pair, block...) over a folded linear grid: the shape of the
 * methods' small kernels (masks, lists, gathers, per-row math) without the boilerplate.
 */
export function elementKernel(spec: ElementKernelSpec): Kernel {
  const code = `// ${spec.label}
${CALL_UNIFORM_WGSL}
${storageDeclarations(spec.bindings, spec.types)}
${spec.declarations ?? ""}

@compute @workgroup_size(${LINEAR_WORKGROUP})
fn main(${GROUP_BUILTINS}) {
  ${LINEAR_INDEX}
  if (i >= ${spec.countExpr}) { return; }
${spec.body}
}
`;
  return { label: spec.label, code, bindings: spec.bindings, grid: (n) => linearGrid(spec.count(n)) };
}

/** A method's per-call values in one of its regions: u32 words (f32 ones written as their bits). */
export function callWords(values: Array<{ u32: number } | { f32: number }>): Uint32Array {
  const words = new Uint32Array(Math.max(values.length, 1));
  const view = new Float32Array(words.buffer);
  values.forEach((v, i) => {
    if ("u32" in v) words[i] = v.u32 >>> 0;
    else view[i] = v.f32;
  });
  return words;
}

/**
 * WGSL statements adding a u32 `value` to the 64-bit counter `slot` of a u32 array (two words:
 * low, high): counts past 2^32 over an epoch without f64, which WGSL lacks. One thread adds.
 */
export function addCounter64(array: string, slot: string, value: string): string {
  return `{
    let add = ${value};
    let lo = ${array}[2u * (${slot})] + add;
    if (lo < add) { ${array}[2u * (${slot}) + 1u] = ${array}[2u * (${slot}) + 1u] + 1u; }
    ${array}[2u * (${slot})] = lo;
  }`;
}

/** The 64-bit counters of a u32 array's words as numbers (exact below 2^53). */
export function readCounters64(bytes: ArrayBuffer): number[] {
  const words = new Uint32Array(bytes);
  const out: number[] = [];
  for (let i = 0; i + 1 < words.length; i += 2) out.push(words[i + 1]! * 2 ** 32 + words[i]!);
  return out;
}
