/**
 * @fileoverview How a low-rank gated layer's kernels split over threads (runtime/pool/). The
 * forward, for batches of more than 2 * GEMM_SMALL_M rows, takes 2-4 joins and no serial pass
 * over the batch: the input's nonzeros counted by row tiles; one fused tile per row range
 * (sparse projection, estimate Ẑ = T V + b over its rows, active lists, and the exact part per
 * example where the input's density chooses it); then the exact part by columns (dense and
 * masked) or by unit ranges (each tile builds its units' example lists), if not done (and T = X U
 * as one GEMM before the fused tiles where the input is dense). Smaller batches run
 * the phases one by one (phasedForward). The choices between the kernels' paths are the
 * kernels' own (lowrankProjectionMode, lowrankExactMode), so every value is computed by the
 * same code as in lowrankForward on one thread. The backward's dW rows split by units (each row
 * summed over the examples in order), dX by examples. Small work stays on the calling thread.
 */
import type { DispatcherFactory, Dispatchers, KernelFunction, ParallelContext } from "../../runtime/pool/parallel.js";
import { GEMM_COLUMN_ALIGN as COLUMN_ALIGN, GEMM_SMALL_M, MAX_TILES, tileLength } from "../../runtime/pool/parallel.js";
import { SPLIT_THRESHOLDS } from "../../runtime/pool/thresholds.js";
import { LOWRANK_EXACT_BY_EXAMPLE, LOWRANK_EXACT_BY_UNIT, LOWRANK_EXACT_DENSE, LOWRANK_PROJECT_GEMM } from "../../runtime/kernels/codes/lowrank.js";

/**
 * Least work per tile (runtime/pool/thresholds.ts): multiply-adds for the estimate and the
 * dense exact part (packed GEMMs), for the dot products of the projection, the sparse exact
 * parts and the backward (GEMV-like); estimated units for the active lists (measured by
 * bench/thread-thresholds.mjs: break-even at 16,000 units per tile, rows of 1,000).
 */
export const LOWRANK_SPLIT = {
  macs: SPLIT_THRESHOLDS.gemm,
  dots: SPLIT_THRESHOLDS.gemv,
  lists: 16_384,
};

const forward: DispatcherFactory = (ctx) => {
  const L = ctx.local;
  const whole = L["lowrankForward"]!;
  const projectionMode = L["lowrankProjectionMode"]!;
  const exactMode = L["lowrankExactMode"]!;
  const addStats = L["lowrankForwardStats"]!;
  const gemmNN = ctx.dispatched("gemmNN");
  const countRows = ctx.op("lowrankCountRows");
  const fusedRows = ctx.op("lowrankFusedRows");
  const denseMasked = ctx.op("lowrankDenseMaskedColumns");
  const unitRange = ctx.op("lowrankExactUnitRange");
  const exactRows = ctx.op("lowrankExactRows");
  const gatherLimit = L["lowrankScratchGatherInputs"]!()!;
  const memory = ctx.i32;
  const phased = phasedForward(ctx);
  // Each layer's (by its stats block) active fraction at its last call: whether to compute the
  // exact part per example inside the row tiles before the active count is known. Only the speed
  // depends on it: the mode is always chosen from this call's count, and a guess that turns out
  // wrong costs a pass (the dense part overwrites the outputs; a missing per-example part runs
  // after the tiles).
  const lastActive = new Map<number, number>();

  return (n, nin, nout, r, x, w, b, u, v, theta, h, t, zhat, active, counts, nzIdx, nzVal, stats, unitListsAt, unitStart) => {
    if (n <= 0 || ctx.threads === 1) return whole(n, nin, nout, r, x, w, b, u, v, theta, h, t, zhat, active, counts, nzIdx, nzVal, stats, unitListsAt, unitStart);
    // Row tiles of more than GEMM_SMALL_M rows each (the estimate's GEMM over a tile's rows then
    // takes the packed path, as over all n), each gathering into its own thread's scratch.
    const rowTiles = Math.min(ctx.tiles(LOWRANK_SPLIT.dots, n * nin + n * r * nout, n), Math.floor(n / (GEMM_SMALL_M + 1)));
    if (rowTiles <= 1 || nin > gatherLimit) return phased(n, nin, nout, r, x, w, b, u, v, theta, h, t, zhat, active, counts, nzIdx, nzVal, stats, unitListsAt, unitStart);
    const rowLen = tileLength(n, rowTiles, 1);
    const rowCount = Math.ceil(n / rowLen);

    // The fused path: 1. the input's nonzeros by row tiles (integer sums: any order gives the same).
    for (let tile = rowCount - 1; tile >= 0; tile--) ctx.run(tile, countRows, x, nin, tile * rowLen, Math.min(n, (tile + 1) * rowLen));
    ctx.join();
    let nnzTotal = 0;
    for (let tile = 0; tile < rowCount; tile++) nnzTotal += ctx.result(tile);
    let macs = 0;
    const project = projectionMode(n, nin, nnzTotal) !== LOWRANK_PROJECT_GEMM;
    if (project) {
      macs += nnzTotal * r;
    } else {
      gemmNN(n, r, nin, x, nin, u, r, t, r, 0);
      macs += n * nin * r;
    }
    macs += n * r * nout;
    // 2. By row tiles: projection, estimate, active lists, and the exact part per example where
    // the input's nonzeros choose it whatever the active count (that count can only switch it to
    // the dense part, which then overwrites every output: rare for a trained layer).
    const guess = Math.round((lastActive.get(stats) ?? 0) * n * nout);
    const byExample = exactMode(n, nin, nout, guess, nnzTotal) === LOWRANK_EXACT_BY_EXAMPLE;
    for (let tile = rowCount - 1; tile >= 0; tile--) {
      ctx.run(tile, fusedRows, nin, nout, r, x, w, b, u, v, theta, h, t, zhat, active, counts, project ? 1 : 0, byExample ? 1 : 0, tile * rowLen, Math.min(n, (tile + 1) * rowLen));
    }
    ctx.join();
    let computed = 0;
    for (let i = 0, at = counts >>> 2; i < n; i++) computed += memory[at + i]!;
    const mode = exactMode(n, nin, nout, computed, nnzTotal);
    lastActive.set(stats, computed / (n * nout));
    // 3. The exact part, unless done.
    if (mode === LOWRANK_EXACT_BY_EXAMPLE && byExample) {
      for (let tile = 0; tile < rowCount; tile++) macs += ctx.result(tile);
    } else if (mode === LOWRANK_EXACT_BY_EXAMPLE) {
      for (let tile = rowCount - 1; tile >= 0; tile--) ctx.run(tile, exactRows, nin, nout, x, w, b, h, active, counts, 0, 0, tile * rowLen, Math.min(n, (tile + 1) * rowLen));
      ctx.join();
      for (let tile = 0; tile < rowCount; tile++) macs += ctx.result(tile);
    } else if (mode === LOWRANK_EXACT_DENSE) {
      const tiles = ctx.tiles(LOWRANK_SPLIT.macs, n * nin * nout, Math.ceil(nout / COLUMN_ALIGN));
      const len = tileLength(nout, tiles, COLUMN_ALIGN);
      for (let tile = Math.ceil(nout / len) - 1; tile >= 0; tile--) ctx.run(tile, denseMasked, n, nin, nout, x, w, b, theta, h, zhat, tile * len, Math.min(nout, (tile + 1) * len));
      ctx.join();
      macs += n * nin * nout;
    } else {
      // Unit ranges of equal width, each building its units' example lists (unitListsAt: n per
      // unit; unitStart: their counts); more tiles than for the other phases, since their work
      // differs with the units' activity and is only known inside the tiles.
      const tiles = ctx.tiles(LOWRANK_SPLIT.dots, computed * nin, nout, UNIT_TILES_PER_THREAD);
      const len = tileLength(nout, tiles, 1);
      for (let tile = Math.ceil(nout / len) - 1; tile >= 0; tile--) {
        ctx.run(tile, unitRange, n, nin, nout, x, w, b, h, active, counts, unitListsAt, unitStart, tile * len, Math.min(nout, (tile + 1) * len));
      }
      ctx.join();
      macs += computed * nin;
    }
    addStats(stats, n, computed, macs);
  };
};

/** Tiles per thread of the unit-major exact part (balanced by taking, not by counts). */
const UNIT_TILES_PER_THREAD = 8;

/**
 * The forward phase by phase (batches of at most 2 * GEMM_SMALL_M rows, or inputs wider than a
 * thread's gather buffer): the sparse projection by examples, the estimate by columns, the
 * active lists by examples, the exact part by columns, units or examples.
 */
function phasedForward(ctx: ParallelContext): KernelFunction {
  const L = ctx.local;
  const countNonzeros = L["lowrankCountNonzeros"]!;
  const projectionMode = L["lowrankProjectionMode"]!;
  const exactMode = L["lowrankExactMode"]!;
  const unitLists = L["lowrankUnitLists"]!;
  const addStats = L["lowrankForwardStats"]!;
  const estimateWhole = L["lowrankEstimateColumns"]!;
  const compactWhole = L["lowrankCompactRows"]!;
  const denseMaskedWhole = L["lowrankDenseMaskedColumns"]!;
  const byUnitWhole = L["lowrankExactUnits"]!;
  const gemmNN = ctx.dispatched("gemmNN");
  const project = ctx.op("lowrankProjectRows");
  const estimate = ctx.op("lowrankEstimateColumns");
  const compact = ctx.op("lowrankCompactRows");
  const denseMasked = ctx.op("lowrankDenseMaskedColumns");
  const byUnit = ctx.op("lowrankExactUnits");
  const byExample = ctx.op("lowrankExactRows");
  const gatherLimit = L["lowrankScratchGatherInputs"]!()!;
  const memory = ctx.i32;
  const bounds = new Int32Array(2 * MAX_TILES);

  const run: KernelFunction = (n, nin, nout, r, x, w, b, u, v, theta, h, t, zhat, active, counts, nzIdx, nzVal, stats, unitListsAt, unitStart) => {
    let macs = 0;
    let nnzTotal = countNonzeros(x, n, nin)!;
    if (projectionMode(n, nin, nnzTotal) === LOWRANK_PROJECT_GEMM) {
      gemmNN(n, r, nin, x, nin, u, r, t, r, 0);
      macs += n * nin * r;
    } else {
      // Each tile gathers into its own thread's scratch (nzIdx 0), which holds gatherLimit inputs.
      // Work: the inputs scanned and the multiply-adds of the nonzeros (counted when n >= 8).
      const tiles = nin <= gatherLimit ? ctx.tiles(LOWRANK_SPLIT.dots, n * nin + nnzTotal * r, n) : 1;
      if (tiles <= 1) {
        nnzTotal = L["lowrankProjectRows"]!(x, nin, r, u, t, nzIdx, nzVal, 0, n)!;
      } else {
        const len = tileLength(n, tiles, 1);
        const count = Math.ceil(n / len);
        for (let tile = count - 1; tile >= 0; tile--) ctx.run(tile, project, x, nin, r, u, t, 0, 0, tile * len, Math.min(n, (tile + 1) * len));
        ctx.join();
        nnzTotal = 0;
        for (let tile = 0; tile < count; tile++) nnzTotal += ctx.result(tile);
      }
      macs += nnzTotal * r;
    }
    // Each phase runs whole on this thread where its work is too small to split.
    let tiles = ctx.tiles(LOWRANK_SPLIT.macs, n * r * nout, Math.ceil(nout / COLUMN_ALIGN));
    let len = tileLength(nout, tiles, COLUMN_ALIGN);
    if (tiles <= 1) {
      estimateWhole(n, nout, r, t, v, b, zhat, 0, nout);
    } else {
      for (let tile = Math.ceil(nout / len) - 1; tile >= 0; tile--) ctx.run(tile, estimate, n, nout, r, t, v, b, zhat, tile * len, Math.min(nout, (tile + 1) * len));
      ctx.join();
    }
    macs += n * r * nout;

    let computed = 0;
    const rowTiles = ctx.tiles(LOWRANK_SPLIT.lists, n * nout, n);
    if (rowTiles <= 1) {
      computed = compactWhole(zhat, nout, theta, active, counts, 0, n)!;
    } else {
      const rowLen = tileLength(n, rowTiles, 1);
      const rowCount = Math.ceil(n / rowLen);
      for (let tile = rowCount - 1; tile >= 0; tile--) ctx.run(tile, compact, zhat, nout, theta, active, counts, tile * rowLen, Math.min(n, (tile + 1) * rowLen));
      ctx.join();
      for (let tile = 0; tile < rowCount; tile++) computed += ctx.result(tile);
    }

    const mode = exactMode(n, nin, nout, computed, nnzTotal);
    if (mode === LOWRANK_EXACT_DENSE) {
      tiles = ctx.tiles(LOWRANK_SPLIT.macs, n * nin * nout, Math.ceil(nout / COLUMN_ALIGN));
      if (tiles <= 1) {
        denseMaskedWhole(n, nin, nout, x, w, b, theta, h, zhat, 0, nout);
      } else {
        len = tileLength(nout, tiles, COLUMN_ALIGN);
        for (let tile = Math.ceil(nout / len) - 1; tile >= 0; tile--) ctx.run(tile, denseMasked, n, nin, nout, x, w, b, theta, h, zhat, tile * len, Math.min(nout, (tile + 1) * len));
        ctx.join();
      }
      macs += n * nin * nout;
    } else if (mode === LOWRANK_EXACT_BY_UNIT) {
      unitLists(n, nout, active, counts, unitListsAt, unitStart);
      tiles = ctx.tiles(LOWRANK_SPLIT.dots, computed * nin, nout);
      // Units [bounds[k], bounds[k + 1]) per tile, balanced by the examples each unit computes.
      const starts = unitStart >>> 2;
      let count = 0;
      let from = 0;
      for (let k = 1; k <= tiles; k++) {
        const to = k === tiles ? nout : Math.max(from, firstAtLeast(memory, starts, nout, Math.ceil((computed * k) / tiles)));
        if (to > from) {
          bounds[2 * count] = from;
          bounds[2 * count + 1] = to;
          count++;
          from = to;
        }
      }
      if (count <= 1) {
        byUnitWhole(n, nin, nout, x, w, b, h, unitListsAt, unitStart, 0, nout);
      } else {
        for (let tile = count - 1; tile >= 0; tile--) ctx.run(tile, byUnit, n, nin, nout, x, w, b, h, unitListsAt, unitStart, bounds[2 * tile]!, bounds[2 * tile + 1]!);
        ctx.join();
      }
      macs += computed * nin;
    } else {
      tiles = nin <= gatherLimit ? ctx.tiles(LOWRANK_SPLIT.dots, computed * nin, n) : 1;
      if (tiles <= 1) {
        macs += L["lowrankExactRows"]!(nin, nout, x, w, b, h, active, counts, nzIdx, nzVal, 0, n)!;
      } else {
        len = tileLength(n, tiles, 1);
        const count = Math.ceil(n / len);
        for (let tile = count - 1; tile >= 0; tile--) ctx.run(tile, byExample, nin, nout, x, w, b, h, active, counts, 0, 0, tile * len, Math.min(n, (tile + 1) * len));
        ctx.join();
        for (let tile = 0; tile < count; tile++) macs += ctx.result(tile);
      }
    }
    addStats(stats, n, computed, macs);
    return undefined;
  };
  return run;
}

/** The first j in [0, units] with starts[j] >= target (starts ascending, in i32 words of `memory`). */
function firstAtLeast(memory: Int32Array, starts: number, units: number, target: number): number {
  let lo = 0;
  let hi = units;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (memory[starts + mid]! >= target) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

const backward: DispatcherFactory = (ctx) => {
  const whole = ctx.local["lowrankBackward"]!;
  const units = ctx.op("lowrankBackwardUnits");
  const input = ctx.op("lowrankBackwardInput");
  const memory = ctx.i32;
  return (n, nin, nout, x, w, delta, active, counts, dw, db, dx, dxBeta) => {
    if (ctx.threads === 1) return whole(n, nin, nout, x, w, delta, active, counts, dw, db, dx, dxBeta);
    let computed = 0;
    for (let i = 0, at = counts >>> 2; i < n; i++) computed += memory[at + i]!;
    const work = computed * nin;
    const unitTiles = ctx.tiles(LOWRANK_SPLIT.dots, work, nout);
    const exampleTiles = dx !== 0 ? ctx.tiles(LOWRANK_SPLIT.dots, work, n) : 0;
    if (unitTiles <= 1 && exampleTiles <= 1) return whole(n, nin, nout, x, w, delta, active, counts, dw, db, dx, dxBeta);
    const unitLen = tileLength(nout, unitTiles, 1);
    for (let tile = Math.ceil(nout / unitLen) - 1; tile >= 0; tile--) ctx.run(tile, units, n, nin, nout, x, delta, active, counts, dw, db, tile * unitLen, Math.min(nout, (tile + 1) * unitLen));
    ctx.join();
    if (dx === 0) return;
    const rowLen = tileLength(n, Math.max(1, exampleTiles), 1);
    for (let tile = Math.ceil(n / rowLen) - 1; tile >= 0; tile--) ctx.run(tile, input, n, nin, nout, w, delta, active, counts, dx, dxBeta, tile * rowLen, Math.min(n, (tile + 1) * rowLen));
    ctx.join();
  };
};

export const LOWRANK_DISPATCHERS: Dispatchers = {
  lowrankForward: forward,
  lowrankBackward: backward,
};
