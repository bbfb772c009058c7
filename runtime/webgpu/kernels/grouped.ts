/**
 * @fileoverview Grouped (bucketed) products in WGSL: the tiled GEMM of gemm.ts run over the rows
 * of each group (a bucket of examples, an expert's routed rows, the examples with a block
 * active) against that group's own slice of a stacked weight, as MegaBlocks runs one
 * product per expert. A group's rows are a range [starts[g·stride], starts[(g+1)·stride]) of a
 * row-sorted buffer, or a member list (`members[g·capacity + m]`, m < counts[g]) gathered and
 * scattered in place. The grid is sized for the most rows a group can hold; tiles past a group's
 * rows return at once (the bound is read through workgroupUniformLoad, so the early return is
 * uniform and the barriers stay legal). No atomics: each C element is one thread's k-ordered sum.
 */
import type { Activation } from "./elementwise.js";
import { DEFAULT_TILE, epilogueStore, tiledKernel, tileSpan, type GemmTile } from "./gemm.js";
import { MATH_WGSL } from "./math.js";
import {
  CALL_UNIFORM_WGSL,
  dimExpr,
  dimValue,
  GROUP_BUILTINS,
  GROUP_INDEX,
  groupGrid,
  storageDeclarations,
  u32,
  type Dim,
  type Kernel,
  type KernelBinding,
} from "./wgsl.js";

/** Where a group's rows are. */
export type GroupRows =
  | { kind: "range"; stride: number }
  | { kind: "list"; capacity: number };

/** The most rows a group may hold: `dim` (a constant or the call's n) times `times`. */
export interface RowBound {
  dim: Dim;
  times: number;
}

export interface GroupedProductSpec {
  /** NT: C_g = A_g B_gᵀ, B_g [cols x k]; NN: C_g = A_g B_g, B_g [k x cols]. */
  shape: "NT" | "NN";
  groups: number;
  rows: GroupRows;
  maxRows: RowBound;
  /** Columns of C per group; the last group is cut at `totalCols` (a short last block). */
  cols: number;
  totalCols?: number;
  k: number;
  lda: number;
  ldb: number;
  ldc: number;
  /** B_g starts at bBase + g·bStride (elements). */
  bBase: number;
  bStride: number;
  /** C columns of group g start at g·cColStride (0: every group writes columns [0, cols)). */
  cColStride: number;
  beta: 0 | 1;
  /** Bias of group g at biasBase + g·biasStride + j, then the activation. */
  epilogue?: { biasBase: number; biasStride: number; activation: Activation };
  /**
   * Run over a tile table (binding `tiles`, made by tileScheduleKernel for the same tile rows)
   * instead of every group's worst case: the grid is then ceil(rows / tile rows) + groups, not
   * groups · ceil(rows / tile rows): with many small groups (a tree's deep levels) the empty
   * workgroups otherwise outnumber the working ones. Range rows only.
   */
  scheduled?: boolean;
}

const BOUNDS = `var<workgroup> bounds: vec2<u32>;`;
const SCHEDULED_BOUNDS = `var<workgroup> bounds: vec4<u32>;`;

function boundsFill(rows: GroupRows, g: string): string {
  return rows.kind === "range"
    ? `bounds = vec2u(u32(starts[${g} * ${u32(rows.stride)}]), u32(starts[(${g} + 1u) * ${u32(rows.stride)}]));`
    : `bounds = vec2u(0u, u32(counts[${g}]));`;
}

function rowBindings(rows: GroupRows): KernelBinding[] {
  return rows.kind === "range" ? [{ name: "starts", access: "read" }] : [{ name: "counts", access: "read" }, { name: "members", access: "read" }];
}

const rowTypes = { starts: "i32", counts: "i32", members: "i32" };

/** Grouped NT / NN with the gemm epilogue (per-group bias, activation). */
export function groupedProductKernel(spec: GroupedProductSpec, tile: GemmTile = DEFAULT_TILE): Kernel {
  const { rows: BM, cols: BN } = tileSpan(tile);
  const bindings: KernelBinding[] = [
    { name: "a", access: "read" },
    { name: "b", access: "read" },
    { name: "c", access: "read_write" },
    ...rowBindings(spec.rows),
  ];
  if (spec.epilogue) bindings.push({ name: "bias", access: "read" });
  const activation = spec.epilogue?.activation ?? "linear";
  const list = spec.rows.kind === "list";
  const maxRows = `(${dimExpr(spec.maxRows.dim)} * ${u32(spec.maxRows.times)})`;
  const width = spec.totalCols === undefined ? u32(spec.cols) : `min(${u32(spec.cols)}, ${u32(spec.totalCols)} - grp * ${u32(spec.cColStride)})`;
  // Absolute row (of A and C) of tile row i.
  const row = (i: string) => (list ? `u32(rowIdx[${i} - row0])` : `(base + ${i})`);
  const bIndex =
    spec.shape === "NT"
      ? (p: string, j: string) => `b[${u32(spec.bBase)} + grp * ${u32(spec.bStride)} + ${j} * ${u32(spec.ldb)} + ${p}]`
      : (p: string, j: string) => `b[${u32(spec.bBase)} + grp * ${u32(spec.bStride)} + ${p} * ${u32(spec.ldb)} + ${j}]`;
  const label = `grouped${spec.shape} groups=${spec.groups} ${spec.rows.kind}${spec.scheduled ? " scheduled" : ""} cols=${spec.cols} k=${spec.k} beta=${spec.beta}${spec.epilogue ? ` +bias,${activation}` : ""}`;
  if (spec.scheduled && list) throw new RangeError("groupedProductKernel: a tile table serves row ranges only");
  if (spec.scheduled) bindings.push({ name: "tiles", access: "read" });
  const stride = spec.rows.kind === "range" ? spec.rows.stride : 0;
  const prologue = spec.scheduled
    ? `  let col0 = wid.x * ${u32(BN)};
  if (tid == 0u) {
    if (wid.y < tiles[0]) {
      let g = tiles[1u + 2u * wid.y];
      bounds = vec4u(u32(starts[g * ${u32(stride)}]), u32(starts[(g + 1u) * ${u32(stride)}]), g, tiles[2u + 2u * wid.y]);
    } else {
      bounds = vec4u(0u, 0u, 0u, 0u);
    }
  }
  let groupRows = workgroupUniformLoad(&bounds);
  let grp = groupRows.z;
  let row0 = groupRows.w;
  let base = groupRows.x;
  let M = groupRows.y - groupRows.x;
  let N = ${width};
  let K = ${u32(spec.k)};
  if (row0 >= M || col0 >= N) { return; }`
    : `  let tiles = (${maxRows} + ${u32(BM - 1)}) / ${u32(BM)};
  let grp = wid.y / max(tiles, 1u);
  let row0 = (wid.y % max(tiles, 1u)) * ${u32(BM)};
  let col0 = wid.x * ${u32(BN)};
  if (tid == 0u) { ${boundsFill(spec.rows, "grp")} }
  let groupRows = workgroupUniformLoad(&bounds);
  let base = groupRows.x;
  let M = groupRows.y - groupRows.x;
  let N = ${width};
  let K = ${u32(spec.k)};
  if (row0 >= M || col0 >= N) { return; }${
    list
      ? `
  if (tid < ${u32(BM)}) {
    var member = 0;
    if (row0 + tid < M) { member = members[grp * ${u32((spec.rows as { capacity: number }).capacity)} + row0 + tid]; }
    rowIdx[tid] = member;
  }
  workgroupBarrier();`
      : ""
  }`;
  const rowTiles = (n: number) => Math.ceil((dimValue(spec.maxRows.dim, n) * spec.maxRows.times) / BM);
  return tiledKernel(
    {
      label,
      bindings,
      types: { ...rowTypes, tiles: "u32" },
      declarations: `${spec.scheduled ? SCHEDULED_BOUNDS : BOUNDS}\n${list ? `var<workgroup> rowIdx: array<i32, ${BM}>;` : ""}\n${activation === "tanh" || activation === "sigmoid" ? MATH_WGSL : ""}`,
      prologue,
      a: (i, p) => `a[${row(i)} * ${u32(spec.lda)} + ${p}]`,
      aContiguousInK: true,
      b: bIndex,
      bContiguousInK: spec.shape === "NT",
      store: (i, j, v) =>
        epilogueStore(
          `${row(i)} * ${u32(spec.ldc)} + grp * ${u32(spec.cColStride)} + ${j}`,
          v,
          spec.beta,
          spec.epilogue ? `bias[${u32(spec.epilogue.biasBase)} + grp * ${u32(spec.epilogue.biasStride)} + ${j}]` : null,
          activation,
        ),
      grid: (n) => [Math.ceil(spec.cols / BN), spec.scheduled ? rowTiles(n) + spec.groups : spec.groups * Math.max(1, rowTiles(n)), 1],
    },
    tile,
  );
}

export interface GroupedWeightGradSpec {
  groups: number;
  /** Row ranges of the groups (range kind only: a gradient sums over contiguous rows). */
  stride: number;
  /** C_g [m x n] = Σ over the group's rows r of A[r, i] · B[r, j]. */
  m: number;
  n: number;
  lda: number;
  ldb: number;
  /** C_g starts at cBase + g·cStride; rows of C_g are ldc apart. */
  cBase: number;
  cStride: number;
  ldc: number;
  /** A group with no rows: its gradient is written as zeros ("zero") or left as it is ("skip"). */
  empty: "zero" | "skip";
  /**
   * With "skip": run over a list of the non-empty groups (binding `groupList`, made by
   * groupListKernel) and a grid for at most min(groups, the call's n) of them, instead of every
   * group: a deep tree level has far more buckets than a small batch touches.
   */
  listed?: boolean;
}

/** Per-group weight gradients: the TN product over each group's rows (beta 0). */
export function groupedWeightGradKernel(spec: GroupedWeightGradSpec, tile: GemmTile = DEFAULT_TILE): Kernel {
  const { rows: BM, cols: BN } = tileSpan(tile);
  if (spec.listed && spec.empty !== "skip") throw new RangeError("groupedWeightGradKernel: a listed gradient skips empty groups");
  const bindings: KernelBinding[] = [
    { name: "a", access: "read" },
    { name: "b", access: "read" },
    { name: "c", access: "read_write" },
    { name: "starts", access: "read" },
  ];
  if (spec.listed) bindings.push({ name: "groupList", access: "read" });
  const tilesM = Math.ceil(spec.m / BM);
  const label = `groupedTN groups=${spec.groups} m=${spec.m} n=${spec.n} empty=${spec.empty}${spec.listed ? " listed" : ""}`;
  const fill = spec.listed
    ? `if (tid == 0u) {
    let slot = wid.y / ${u32(tilesM)};
    if (slot < groupList[0]) {
      let g = groupList[1u + 2u * slot];
      bounds = vec4u(u32(starts[g * ${u32(spec.stride)}]), u32(starts[(g + 1u) * ${u32(spec.stride)}]), g, 0u);
    } else {
      bounds = vec4u(0u, 0u, 0u, 0u);
    }
  }`
    : `if (tid == 0u) { let g = wid.y / ${u32(tilesM)}; bounds = vec4u(u32(starts[g * ${u32(spec.stride)}]), u32(starts[(g + 1u) * ${u32(spec.stride)}]), g, 0u); }`;
  return tiledKernel(
    {
      label,
      bindings,
      types: { ...rowTypes, groupList: "u32" },
      declarations: SCHEDULED_BOUNDS,
      prologue: `  let row0 = (wid.y % ${u32(tilesM)}) * ${u32(BM)};
  let col0 = wid.x * ${u32(BN)};
  ${fill}
  let groupRows = workgroupUniformLoad(&bounds);
  let grp = groupRows.z;
  let base = groupRows.x;
  let M = ${u32(spec.m)};
  let N = ${u32(spec.n)};
  let K = groupRows.y - groupRows.x;${spec.empty === "skip" ? "\n  if (K == 0u) { return; }" : ""}`,
      a: (i, p) => `a[(base + ${p}) * ${u32(spec.lda)} + ${i}]`,
      aContiguousInK: false,
      b: (p, j) => `b[(base + ${p}) * ${u32(spec.ldb)} + ${j}]`,
      bContiguousInK: false,
      store: (i, j, v) => `c[${u32(spec.cBase)} + grp * ${u32(spec.cStride)} + ${i} * ${u32(spec.ldc)} + ${j}] = ${v};`,
      grid: (n) => [Math.ceil(spec.n / BN), (spec.listed ? Math.max(1, Math.min(spec.groups, n)) : spec.groups) * tilesM, 1],
    },
    tile,
  );
}

/**
 * The non-empty groups of a range grouping, in order (one thread): [0] their count, then each
 * one's index (words 1 + 2i; the layout of a tile table with one tile per group).
 */
export function groupListKernel(groups: number, stride: number): Kernel {
  return tileScheduleKernel(groups, stride, 0x7fffffff);
}

const COLUMNS = 16;
const LANES = 16;

/**
 * Per-group column sums over each group's row range (bias gradients of the groups): db_g[j] =
 * Σ_r D[r, j], 16 lanes striding the rows in order, then a fixed tree (no atomics). Empty
 * groups as in groupedWeightGradKernel.
 */
export function groupedColumnSumsKernel(groups: number, stride: number, cols: number, ld: number, dbBase: number, dbStride: number, empty: "zero" | "skip", listed = false): Kernel {
  const bindings: KernelBinding[] = [
    { name: "delta", access: "read" },
    { name: "db", access: "read_write" },
    { name: "starts", access: "read" },
  ];
  if (listed) bindings.push({ name: "groupList", access: "read" });
  const chunks = Math.ceil(cols / COLUMNS);
  const label = `groupedColumnSums groups=${groups} cols=${cols} empty=${empty}${listed ? " listed" : ""}`;
  // The listed group is read through workgroupUniformLoad: the early return stays uniform.
  const groupOf = listed
    ? `if (lid == 0u) {
    let slot = group / ${u32(chunks)};
    if (slot < groupList[0]) { picked = vec2u(1u, groupList[1u + 2u * slot]); } else { picked = vec2u(0u, 0u); }
  }
  let pick = workgroupUniformLoad(&picked);
  if (pick.x == 0u) { return; }
  let grp = pick.y;`
    : `let grp = group / ${u32(chunks)};`;
  const code = `// ${label}
${CALL_UNIFORM_WGSL}
${storageDeclarations(bindings, { ...rowTypes, groupList: "u32" })}
var<workgroup> partial: array<f32, ${COLUMNS * LANES}>;
${listed ? "var<workgroup> picked: vec2<u32>;" : ""}

@compute @workgroup_size(${COLUMNS * LANES})
fn main(${GROUP_BUILTINS}) {
  ${GROUP_INDEX}
  ${groupOf}
  let column = lid % ${u32(COLUMNS)};
  let lane = lid / ${u32(COLUMNS)};
  let j = (group % ${u32(chunks)}) * ${u32(COLUMNS)} + column;
  let start = u32(starts[grp * ${u32(stride)}]);
  let end = u32(starts[(grp + 1u) * ${u32(stride)}]);
  var sum = 0.0;
  if (j < ${u32(cols)}) {
    for (var r = start + lane; r < end; r += ${u32(LANES)}) { sum = sum + delta[r * ${u32(ld)} + j]; }
  }
  partial[lid] = sum;
  workgroupBarrier();
  for (var s = ${u32(LANES / 2)}; s > 0u; s = s / 2u) {
    if (lane < s) { partial[lid] = partial[lid] + partial[lid + s * ${u32(COLUMNS)}]; }
    workgroupBarrier();
  }
  if (lane == 0u && j < ${u32(cols)}${empty === "skip" ? " && end > start" : ""}) { db[${u32(dbBase)} + grp * ${u32(dbStride)} + j] = partial[column]; }
}
`;
  return { label, code, bindings, grid: (n) => groupGrid((listed ? Math.max(1, Math.min(groups, n)) : groups) * chunks) };
}

/** Tiles of 16 and 4 rows (64 columns) for groups that hold few rows. */
const TILE_16_ROWS: GemmTile = { wx: 16, wy: 4, tm: 4, tn: 4, bk: 16 };
const TILE_4_ROWS: GemmTile = { wx: 16, wy: 4, tm: 1, tn: 4, bk: 16 };

/**
 * The tile for a grouped product whose groups hold about `expectedRows` rows (a tree level's
 * buckets hold n / 2^l, an expert n·k / E): a 64-row tile over a bucket of 2 rows would compute
 * 32 times the work it keeps, so small groups get 16- or 4-row tiles.
 */
export function tileForGroups(expectedRows: number): GemmTile {
  if (expectedRows >= 48) return DEFAULT_TILE;
  if (expectedRows >= 12) return TILE_16_ROWS;
  return TILE_4_ROWS;
}

/** Words of the tile table of `groups` groups over at most `maxRows` rows in tiles of `tileRows`. */
export function tileTableWords(groups: number, maxRows: number, tileRows: number): number {
  return 1 + 2 * (Math.ceil(maxRows / tileRows) + groups);
}

/**
 * The tile table of a scheduled grouped product (one thread, groups in order): [0] the number of
 * tiles, then (group, first row) of each tile of `tileRows` rows of every non-empty group.
 */
export function tileScheduleKernel(groups: number, stride: number, tileRows: number): Kernel {
  const bindings: KernelBinding[] = [
    { name: "starts", access: "read" },
    { name: "tiles", access: "read_write" },
  ];
  const label = `tileSchedule groups=${groups} stride=${stride} rows=${tileRows}`;
  const code = `// ${label}
${CALL_UNIFORM_WGSL}
${storageDeclarations(bindings, { starts: "i32", tiles: "u32" })}

@compute @workgroup_size(1)
fn main() {
  var count = 0u;
  for (var g = 0u; g < ${u32(groups)}; g++) {
    let rows = u32(starts[(g + 1u) * ${u32(stride)}] - starts[g * ${u32(stride)}]);
    for (var r = 0u; r < rows; r += ${u32(tileRows)}) {
      tiles[1u + 2u * count] = g;
      tiles[2u + 2u * count] = r;
      count = count + 1u;
    }
  }
  tiles[0] = count;
}
`;
  return { label, code, bindings, grid: () => [1, 1, 1] };
}
