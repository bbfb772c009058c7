/**
 * @fileoverview Element-wise WGSL kernels of the dense spine, as in the wasm elementwise.ts:
 * the activation derivative from the activation's OUTPUT h (in place on the delta), and the
 * bias gradient as column sums. The forward bias and activation live in the GEMM epilogue.
 */
import { activationExpr } from "./gemm.js";
import { MATH_WGSL } from "./math.js";
import {
  CALL_UNIFORM_WGSL,
  dimExpr,
  dimValue,
  GROUP_BUILTINS,
  GROUP_INDEX,
  groupGrid,
  LINEAR_INDEX,
  linearGrid,
  storageDeclarations,
  u32,
  type Dim,
  type Kernel,
  type KernelBinding,
} from "./wgsl.js";

export type Activation = "relu" | "tanh" | "sigmoid" | "linear";

/** dz = dh · f'(h) where h = f(z), computed from h exactly as the wasm kernels do. */
function derivative(activation: Exclude<Activation, "linear">): string {
  switch (activation) {
    case "relu":
      return "select(0.0, d, y > 0.0)";
    case "tanh":
      return "d * (1.0 - y * y)";
    case "sigmoid":
      return "d * (y * (1.0 - y))";
  }
}

/** delta[rows x units] ← delta ⊙ f'(h), in place (a linear activation needs no pass). */
export function activationBackwardKernel(activation: Exclude<Activation, "linear">, rows: Dim, units: number): Kernel {
  const bindings: KernelBinding[] = [
    { name: "delta", access: "read_write" },
    { name: "h", access: "read" },
  ];
  const label = `${activation}Backward rows=${rows} units=${units}`;
  const code = `// ${label}
${CALL_UNIFORM_WGSL}
${storageDeclarations(bindings)}

@compute @workgroup_size(256)
fn main(${GROUP_BUILTINS}) {
  ${LINEAR_INDEX}
  if (i >= ${dimExpr(rows)} * ${u32(units)}) { return; }
  let d = delta[i];
  let y = h[i];
  delta[i] = ${derivative(activation)};
}
`;
  return { label, code, bindings, grid: (n) => linearGrid(dimValue(rows, n) * units) };
}

/** h = f(h) in place over rows x units (for layers whose bias and sum are not one GEMM's epilogue). */
export function activationForwardKernel(activation: Exclude<Activation, "linear">, rows: Dim, units: number): Kernel {
  const bindings: KernelBinding[] = [{ name: "h", access: "read_write" }];
  const label = `${activation}Forward rows=${rows} units=${units}`;
  const code = `// ${label}
${CALL_UNIFORM_WGSL}
${storageDeclarations(bindings)}
${activation === "relu" ? "" : MATH_WGSL}

@compute @workgroup_size(256)
fn main(${GROUP_BUILTINS}) {
  ${LINEAR_INDEX}
  if (i >= ${dimExpr(rows)} * ${u32(units)}) { return; }
  h[i] = ${activationExpr(activation, "h[i]")};
}
`;
  return { label, code, bindings, grid: (n) => linearGrid(dimValue(rows, n) * units) };
}

const COLUMNS = 16;
const LANES = 16;

/**
 * db[j] = Σ_i delta[i, j] over rows (the bias gradient; overwrites db). No atomics: a
 * workgroup owns 16 columns, its 16 lanes each sum rows lane, lane+16, ... in order, and the
 * lanes' partial sums are added by a fixed tree, so the result is the same on every run.
 */
export function columnSumsKernel(rows: Dim, units: number): Kernel {
  const bindings: KernelBinding[] = [
    { name: "delta", access: "read" },
    { name: "db", access: "read_write" },
  ];
  const label = `columnSums rows=${rows} units=${units}`;
  const code = `// ${label}
${CALL_UNIFORM_WGSL}
${storageDeclarations(bindings)}
var<workgroup> partial: array<f32, ${COLUMNS * LANES}>;

@compute @workgroup_size(${COLUMNS * LANES})
fn main(${GROUP_BUILTINS}) {
  ${GROUP_INDEX}
  let column = lid % ${u32(COLUMNS)};
  let lane = lid / ${u32(COLUMNS)};
  let j = group * ${u32(COLUMNS)} + column;
  let rows = ${dimExpr(rows)};
  var sum = 0.0;
  if (j < ${u32(units)}) {
    for (var i = lane; i < rows; i += ${u32(LANES)}) { sum = sum + delta[i * ${u32(units)} + j]; }
  }
  partial[lid] = sum;
  workgroupBarrier();
  for (var stride = ${u32(LANES / 2)}; stride > 0u; stride = stride / 2u) {
    if (lane < stride) { partial[lid] = partial[lid] + partial[lid + stride * ${u32(COLUMNS)}]; }
    workgroupBarrier();
  }
  if (lane == 0u && j < ${u32(units)}) { db[j] = partial[column]; }
}
`;
  return { label, code, bindings, grid: () => groupGrid(Math.ceil(units / COLUMNS)) };
}
