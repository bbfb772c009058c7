/**
 * @fileoverview Tiled GEMM in WGSL for the three shapes the dense path uses, with the wasm
 * kernels' conventions (row-major, leading dimensions in elements):
 *   NT  C[m x n] = A[m x k] · Bᵀ, B stored n x k   (forward Z = X Wᵀ, W [units, inputs])
 *   TN  C[m x n] = Aᵀ · B[k x n], A stored k x m   (weight gradient dW = Δᵀ X)
 *   NN  C[m x n] = A[m x k] · B[k x n]             (input gradient dX = Δ W)
 * beta 0 overwrites C (never reads it), beta 1 accumulates. An optional epilogue adds a bias
 * row and applies the activation, so the forward layer is one pass.
 *
 * Each workgroup (16 x 16 threads) computes a 64 x 64 tile of C; each thread a 4 x 4 block
 * strided by 16 (neighbouring threads touch neighbouring columns: coalesced stores, no shared
 * memory bank conflicts on reads). The k dimension is walked in slices of 16 staged through
 * workgroup memory (8 KiB). Each element's sum runs in k order in one thread: deterministic.
 */
import type { Activation } from "./elementwise.js";
import { MATH_WGSL } from "./math.js";
import { CALL_UNIFORM_WGSL, dimExpr, dimValue, storageDeclarations, u32, type Dim, type Kernel, type KernelBinding } from "./wgsl.js";

export type GemmShape = "NN" | "NT" | "TN";

export interface GemmSpec {
  shape: GemmShape;
  m: Dim;
  n: Dim;
  k: Dim;
  lda: number;
  ldb: number;
  ldc: number;
  beta: 0 | 1;
  /** Z + bias[j], then the activation, applied to each C element as it is stored. */
  epilogue?: { bias: boolean; activation: Activation };
}

/** Threads (wx x wy) and per-thread block (tm x tn) of a workgroup; bk: the k slice. */
export interface GemmTile {
  wx: number;
  wy: number;
  tm: number;
  tn: number;
  bk: number;
}

export const DEFAULT_TILE: GemmTile = { wx: 16, wy: 16, tm: 4, tn: 4, bk: 16 };

/** op(A)(i, p) and op(B)(p, j) as WGSL index expressions. */
function operandIndex(shape: GemmShape, lda: number, ldb: number) {
  return {
    a: shape === "TN" ? (i: string, p: string) => `${p} * ${u32(lda)} + ${i}` : (i: string, p: string) => `${i} * ${u32(lda)} + ${p}`,
    b: shape === "NT" ? (p: string, j: string) => `${j} * ${u32(ldb)} + ${p}` : (p: string, j: string) => `${p} * ${u32(ldb)} + ${j}`,
    // Which tile coordinate is contiguous in memory: consecutive threads load consecutive addresses.
    aContiguousInK: shape !== "TN",
    bContiguousInK: shape === "NT",
  };
}

export function activationExpr(activation: Activation, v: string): string {
  switch (activation) {
    case "relu":
      return `max(${v}, 0.0)`;
    case "tanh":
      return `tanhCephes(${v})`;
    case "sigmoid":
      return `sigmoidCephes(${v})`;
    case "linear":
      return v;
  }
}

/**
 * What a tiled product needs besides the tile loop: bindings, how a workgroup finds its C tile
 * and bounds (`prologue`: lets M, N, K, row0, col0, uniform across the workgroup), how to read
 * op(A)(i, p) and op(B)(p, j) for an in-bounds tile row i (absolute, in [0, M)) and k index p,
 * and how to store a finished element (beta, bias, activation). The grouped products
 * (grouped.ts) are this loop with a group's rows, weights and outputs.
 */
export interface TiledParts {
  label: string;
  bindings: KernelBinding[];
  types?: Record<string, string>;
  /** Module-scope declarations (workgroup variables, helper functions). */
  declarations?: string;
  prologue: string;
  a(i: string, p: string): string;
  aContiguousInK: boolean;
  b(p: string, j: string): string;
  bContiguousInK: boolean;
  /** Statements storing the accumulated `v` of element (i, j) (i, j in bounds). */
  store(i: string, j: string, v: string): string;
  grid(n: number): [number, number, number];
}

/** The tile loop shared by every tiled product (see the file comment for the work split). */
export function tiledKernel(parts: TiledParts, tile: GemmTile = DEFAULT_TILE): Kernel {
  const { wx: WX, wy: WY, tm: TM, tn: TN, bk: BK } = tile;
  const BM = WY * TM;
  const BN = WX * TN;
  const THREADS = WX * WY;
  if ((BK * BM) % THREADS !== 0 || (BK * BN) % THREADS !== 0) {
    throw new RangeError(`tiledKernel: tile ${JSON.stringify(tile)} does not split its k slices evenly over ${THREADS} threads`);
  }
  const loadTile = (which: "A" | "B") => {
    const contiguousInK = which === "A" ? parts.aContiguousInK : parts.bContiguousInK;
    const span = which === "A" ? BM : BN;
    const outer = which === "A" ? "row0" : "col0";
    const limit = which === "A" ? "M" : "N";
    const coord = contiguousInK ? [`e / ${u32(BK)}`, `e % ${u32(BK)}`] : [`e % ${u32(span)}`, `e / ${u32(span)}`];
    const read = which === "A" ? parts.a("tileRow", "q") : parts.b("q", "tileRow");
    return `
      let x = ${coord[0]};
      let p = ${coord[1]};
      let tileRow = ${outer} + x;
      let q = k0 + p;
      var v = 0.0;
      if (tileRow < ${limit} && q < K) { v = ${read}; }
      tile${which}[p * ${u32(span)} + x] = v;`;
  };
  const rows = [...Array(TM).keys()];
  const cols = [...Array(TN).keys()];
  const each = (f: (r: number, c: number) => string, sep = "\n") => rows.flatMap((r) => cols.map((c) => f(r, c))).join(sep);
  const loads = (which: "A" | "B") =>
    [...Array((BK * (which === "A" ? BM : BN)) / THREADS).keys()]
      .map((r) => `
    {
      let e = tid + ${u32(r * THREADS)};${loadTile(which)}
    }`)
      .join("");
  // Unrolled with scalar accumulators (TM x TN registers): a shader compiler that does not
  // unroll loops itself (SwiftShader's) would otherwise keep the block in memory.
  const code = `// ${parts.label}
${CALL_UNIFORM_WGSL}
${storageDeclarations(parts.bindings, parts.types)}
${parts.declarations ?? ""}
var<workgroup> tileA: array<f32, ${BK * BM}>;
var<workgroup> tileB: array<f32, ${BK * BN}>;

@compute @workgroup_size(${WX}, ${WY})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) local: vec3u, @builtin(local_invocation_index) tid: u32) {
${parts.prologue}
${each((r, c) => `  var acc${r}_${c} = 0.0;`)}
  for (var k0 = 0u; k0 < K; k0 += ${u32(BK)}) {${loads("A")}${loads("B")}
    workgroupBarrier();
    for (var p = 0u; p < ${u32(BK)}; p++) {
${rows.map((r) => `      let a${r} = tileA[p * ${u32(BM)} + local.y + ${u32(r * WY)}];`).join("\n")}
${cols.map((c) => `      let b${c} = tileB[p * ${u32(BN)} + local.x + ${u32(c * WX)}];`).join("\n")}
${each((r, c) => `      acc${r}_${c} = acc${r}_${c} + a${r} * b${c};`)}
    }
    workgroupBarrier();
  }
${rows
  .map(
    (r) => `  {
    let i = row0 + local.y + ${u32(r * WY)};
    if (i < M) {
${cols
  .map(
    (c) => `      {
        let j = col0 + local.x + ${u32(c * WX)};
        if (j < N) {
          ${parts.store("i", "j", `acc${r}_${c}`)}
        }
      }`,
  )
  .join("\n")}
    }
  }`,
  )
  .join("\n")}
}
`;
  return { label: parts.label, code, bindings: parts.bindings, grid: parts.grid };
}

/** Rows x columns of C one workgroup of `tile` computes. */
export function tileSpan(tile: GemmTile = DEFAULT_TILE): { rows: number; cols: number } {
  return { rows: tile.wy * tile.tm, cols: tile.wx * tile.tn };
}

/** A tile for products whose C has few columns (a policy block, a handful of units): 64 rows x 16. */
export const NARROW_TILE: GemmTile = { wx: 4, wy: 32, tm: 2, tn: 4, bk: 16 };

/** The store of one C element: beta, bias and activation, as gemmKernel's epilogue. */
export function epilogueStore(at: string, v: string, beta: 0 | 1, bias: string | null, activation: Activation): string {
  return `let at = ${at};
          var v = ${v};${beta === 1 ? "\n          v = c[at] + v;" : ""}${bias ? `\n          v = v + ${bias};` : ""}
          c[at] = ${activationExpr(activation, "v")};`;
}

export function gemmKernel(spec: GemmSpec, tile: GemmTile = DEFAULT_TILE): Kernel {
  const { shape, lda, ldb, ldc, beta, epilogue } = spec;
  const { rows: BM, cols: BN } = tileSpan(tile);
  const index = operandIndex(shape, lda, ldb);
  const bindings: KernelBinding[] = [
    { name: "a", access: "read" },
    { name: "b", access: "read" },
    { name: "c", access: "read_write" },
  ];
  if (epilogue?.bias) bindings.push({ name: "bias", access: "read" });
  const activation = epilogue?.activation ?? "linear";
  return tiledKernel(
    {
      label: label(spec),
      bindings,
      declarations: activation === "tanh" || activation === "sigmoid" ? MATH_WGSL : "",
      prologue: `  let M = ${dimExpr(spec.m)};
  let N = ${dimExpr(spec.n)};
  let K = ${dimExpr(spec.k)};
  let row0 = wid.y * ${u32(BM)};
  let col0 = wid.x * ${u32(BN)};`,
      a: (i, p) => `a[${index.a(i, p)}]`,
      aContiguousInK: index.aContiguousInK,
      b: (p, j) => `b[${index.b(p, j)}]`,
      bContiguousInK: index.bContiguousInK,
      store: (i, j, v) => epilogueStore(`${i} * ${u32(ldc)} + ${j}`, v, beta, epilogue?.bias ? `bias[${j}]` : null, activation),
      grid: (n) => [Math.ceil(dimValue(spec.n, n) / BN), Math.ceil(dimValue(spec.m, n) / BM), 1],
    },
    tile,
  );
}

function label(spec: GemmSpec): string {
  const tail = spec.epilogue ? ` +${spec.epilogue.bias ? "bias," : ""}${spec.epilogue.activation}` : "";
  return `gemm${spec.shape} m=${spec.m} n=${spec.n} k=${spec.k} beta=${spec.beta}${tail}`;
}

/** Rows at or below this run the NT product through smallRowsNtKernel. */
export const SMALL_ROWS = 4;
const SMALL_COLUMNS = 8;
const SMALL_LANES = 32;

/**
 * NT for at most SMALL_ROWS rows of A (batch-1 inference): the tiled kernel would give one
 * row of workgroups, 63 of every 64 rows idle. Here a workgroup owns 8 columns of C; 32 lanes
 * split each W row's k (consecutive lanes, consecutive addresses), each lane adds its share in
 * k order for every row, and a fixed tree over the lanes finishes the sums: deterministic.
 * Same epilogue as gemmKernel. Requires m <= SMALL_ROWS (the caller's `when`).
 */
export function smallRowsNtKernel(spec: GemmSpec): Kernel {
  if (spec.shape !== "NT") throw new RangeError(`smallRowsNtKernel: shape ${spec.shape}, expected NT`);
  const { lda, ldb, ldc, beta, epilogue } = spec;
  const bindings: KernelBinding[] = [
    { name: "a", access: "read" },
    { name: "b", access: "read" },
    { name: "c", access: "read_write" },
  ];
  if (epilogue?.bias) bindings.push({ name: "bias", access: "read" });
  const activation = epilogue?.activation ?? "linear";
  const text = `small-rows ${label(spec)}`;
  const code = `// ${text}
${CALL_UNIFORM_WGSL}
${storageDeclarations(bindings)}
${activation === "tanh" || activation === "sigmoid" ? MATH_WGSL : ""}
var<workgroup> partial: array<f32, ${SMALL_COLUMNS * SMALL_ROWS * SMALL_LANES}>;

@compute @workgroup_size(${SMALL_COLUMNS * SMALL_LANES})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) tid: u32) {
  let M = min(${dimExpr(spec.m)}, ${u32(SMALL_ROWS)});
  let N = ${dimExpr(spec.n)};
  let K = ${dimExpr(spec.k)};
  let lane = tid % ${u32(SMALL_LANES)};
  let column = tid / ${u32(SMALL_LANES)};
  let j = wid.x * ${u32(SMALL_COLUMNS)} + column;
  var acc: array<f32, ${SMALL_ROWS}>;
  if (j < N) {
    for (var p = lane; p < K; p += ${u32(SMALL_LANES)}) {
      let w = b[j * ${u32(ldb)} + p];
      for (var r = 0u; r < M; r++) { acc[r] = acc[r] + a[r * ${u32(lda)} + p] * w; }
    }
  }
  for (var r = 0u; r < ${u32(SMALL_ROWS)}; r++) {
    partial[(column * ${u32(SMALL_ROWS)} + r) * ${u32(SMALL_LANES)} + lane] = acc[r];
  }
  workgroupBarrier();
  for (var stride = ${u32(SMALL_LANES / 2)}; stride > 0u; stride = stride / 2u) {
    if (lane < stride) {
      for (var r = 0u; r < ${u32(SMALL_ROWS)}; r++) {
        let at = (column * ${u32(SMALL_ROWS)} + r) * ${u32(SMALL_LANES)} + lane;
        partial[at] = partial[at] + partial[at + stride];
      }
    }
    workgroupBarrier();
  }
  if (lane < M && j < N) {
    let i = lane;
    let at = i * ${u32(ldc)} + j;
    var v = partial[(column * ${u32(SMALL_ROWS)} + i) * ${u32(SMALL_LANES)}];${beta === 1 ? "\n    v = c[at] + v;" : ""}${epilogue?.bias ? "\n    v = v + bias[j];" : ""}
    c[at] = ${activationExpr(activation, "v")};
  }
}
`;
  return { label: text, code, bindings, grid: (n) => [Math.ceil(dimValue(spec.n, n) / SMALL_COLUMNS), 1, 1] };
}
