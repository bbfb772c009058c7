/**
 * @fileoverview How a moe layer's kernels split over threads (runtime/pool/): the router's
 * logits by examples (the columns of its product), gather, combine and their backward passes by
 * rows or examples, and the experts' products by tiles over the buckets: consecutive experts
 * grouped until a tile holds its share of the work, an expert of more split into ranges of its
 * output columns (in 16s, where the GEMM computes every column as in one call), FFN experts and
 * the backward in two phases. The router's backward runs its per-example part on the calling
 * thread and its products through the GEMM dispatchers. Top-k, the dispatch (counting sort),
 * centring, the balance loss and the counters stay on the calling thread: short passes, and
 * the entropy and balance loss are sums over examples in order. Every value is computed by the
 * code and in the order of one call (runtime/kernels/moe.ts, moerouter.ts).
 */
import type { DispatcherFactory, Dispatchers, KernelFunction, ParallelContext } from "../../runtime/pool/parallel.js";
import { GEMM_COLUMN_ALIGN as COLUMN_ALIGN, GEMM_SMALL_M, MAX_TILES, tileLength, tilesOf } from "../../runtime/pool/parallel.js";
import { SPLIT_THRESHOLDS } from "../../runtime/pool/thresholds.js";

/** Fields of a planned tile: experts [i0, i1), columns [c0, c1). */
const PLAN_FIELDS = 4;
/** A plan has at most 3 tiles per tile wanted, plus one (see planTiles). */
const MAX_WANTED = Math.floor((MAX_TILES - 1) / 3);

/**
 * Least work per tile (runtime/pool/thresholds.ts): multiply-adds for the products (the
 * buckets mostly take the GEMM's small-m path: they hold few rows, in calls of 8), elements
 * for the passes over memory (gather, combine, scatter, a one-layer expert's activation
 * backward).
 */
export const MOE_SPLIT = {
  macs: SPLIT_THRESHOLDS.gemv,
  elements: SPLIT_THRESHOLDS.elementwise,
};

/**
 * Plans tiles over the experts' buckets for a phase whose work is rows x `columns` x `perCell`
 * (columns: the outputs that may split): experts in order, grouped until a group holds the
 * target work (total / tiles wanted), an expert of more than the target on its own, in
 * round(work / target) column ranges. Every expert is in exactly one tile or split over
 * several (the backward's zeroing of empty experts needs them all). Writes the tiles into
 * `plan`; returns their count, 0 to run the phase whole on the calling thread.
 */
function planTiles(ctx: ParallelContext, plan: Int32Array, expertStart: number, experts: number, columns: number, perCell: number, minWork: number): number {
  const at = expertStart >>> 2;
  const maxPieces = Math.ceil(columns / COLUMN_ALIGN);
  const total = ctx.i32[at + experts]! * columns * perCell;
  const wanted = Math.min(MAX_WANTED, ctx.tiles(minWork, total, experts * maxPieces));
  if (wanted <= 1 || total === 0) return 0;
  const target = total / wanted;
  let count = 0;
  let groupStart = 0;
  let groupWork = 0;
  for (let i = 0; i < experts; i++) {
    const work = (ctx.i32[at + i + 1]! - ctx.i32[at + i]!) * columns * perCell;
    if (work > target) {
      if (i > groupStart) setTile(plan, count++, groupStart, i, 0, columns);
      const len = tileLength(columns, Math.min(maxPieces, Math.max(1, Math.round(work / target))), COLUMN_ALIGN);
      for (let c0 = 0; c0 < columns; c0 += len) setTile(plan, count++, i, i + 1, c0, Math.min(columns, c0 + len));
      groupStart = i + 1;
      groupWork = 0;
      continue;
    }
    groupWork += work;
    if (groupWork >= target) {
      setTile(plan, count++, groupStart, i + 1, 0, columns);
      groupStart = i + 1;
      groupWork = 0;
    }
  }
  if (groupStart < experts) setTile(plan, count++, groupStart, experts, 0, columns);
  return count;
}

function setTile(plan: Int32Array, t: number, i0: number, i1: number, c0: number, c1: number): void {
  const p = t * PLAN_FIELDS;
  plan[p] = i0;
  plan[p + 1] = i1;
  plan[p + 2] = c0;
  plan[p + 3] = c1;
}

/** MACs of moeExpertsForward / moeExpertsBackward: rows x `perRow`, summed over the experts in order (integers: exact). */
function macsOf(ctx: ParallelContext, expertStart: number, experts: number, perRow: number): number {
  const at = expertStart >>> 2;
  let macs = 0;
  for (let i = 0; i < experts; i++) macs += (ctx.i32[at + i + 1]! - ctx.i32[at + i]!) * perRow;
  return macs;
}

const routerLogits: DispatcherFactory = (ctx) => {
  const whole = ctx.local["moeRouterLogits"]!;
  const op = ctx.op("moeRouterLogitsColumns");
  return (x, n, inputs, experts, wg, wn, logits, noiseLogits, scratch) => {
    // Up to GEMM_SMALL_M examples the product is x Wgᵀ, whose path a split would change.
    const products = wn !== 0 ? 2 : 1;
    const tiles = n <= GEMM_SMALL_M ? 1 : ctx.tiles(MOE_SPLIT.macs, products * n * experts * inputs, Math.ceil(n / COLUMN_ALIGN));
    if (tiles <= 1) return whole(x, n, inputs, experts, wg, wn, logits, noiseLogits, scratch);
    const len = tileLength(n, tiles, COLUMN_ALIGN);
    for (let t = tilesOf(n, len) - 1; t >= 0; t--) ctx.run(t, op, x, n, inputs, experts, wg, wn, logits, noiseLogits, scratch, t * len, Math.min(n, (t + 1) * len));
    ctx.join();
    return ctx.result(0);
  };
};

/** The length of each tile of `rows` rows (or examples) for `work` elements in all; 0: run the call whole. */
function rowTiles(ctx: ParallelContext, rows: number, work: number): number {
  const tiles = ctx.tiles(MOE_SPLIT.elements, work, rows);
  return tiles <= 1 ? 0 : tileLength(rows, tiles, 1);
}

const gather: DispatcherFactory = (ctx) => {
  const whole = ctx.local["moeGather"]!;
  const op = ctx.op("moeGatherRows");
  return (x, inputs, k, rowPair, expertStart, experts, xs) => {
    const rows = ctx.i32[(expertStart >>> 2) + experts]!;
    const len = rowTiles(ctx, rows, rows * inputs);
    if (len === 0) return whole(x, inputs, k, rowPair, expertStart, experts, xs);
    for (let t = tilesOf(rows, len) - 1; t >= 0; t--) ctx.run(t, op, x, inputs, k, rowPair, xs, t * len, Math.min(rows, (t + 1) * len));
    ctx.join();
  };
};

const combine: DispatcherFactory = (ctx) => {
  const whole = ctx.local["moeCombine"]!;
  const op = ctx.op("moeCombineRows");
  return (ys, units, n, k, pairRow, gates, h) => {
    const len = rowTiles(ctx, n, n * k * units);
    if (len === 0) return whole(ys, units, n, k, pairRow, gates, h);
    for (let t = tilesOf(n, len) - 1; t >= 0; t--) ctx.run(t, op, ys, units, k, pairRow, gates, h, t * len, Math.min(n, (t + 1) * len));
    ctx.join();
  };
};

/** By examples: an example's pairs, their rows of dys and their gates are its own. */
const combineBackward: DispatcherFactory = (ctx) => {
  const whole = ctx.local["moeCombineBackward"]!;
  const op = ctx.op("moeCombineBackwardRows");
  return (dh, ys, units, n, k, pairRow, gates, dys, dgates) => {
    const len = rowTiles(ctx, n, 2 * n * k * units);
    if (len === 0) return whole(dh, ys, units, n, k, pairRow, gates, dys, dgates);
    for (let t = tilesOf(n, len) - 1; t >= 0; t--) ctx.run(t, op, dh, ys, units, k, pairRow, gates, dys, dgates, t * len, Math.min(n, (t + 1) * len));
    ctx.join();
  };
};

const scatterInput: DispatcherFactory = (ctx) => {
  const whole = ctx.local["moeScatterInput"]!;
  const op = ctx.op("moeScatterInputRows");
  return (dxs, inputs, n, k, pairRow, dx, accumulate) => {
    const len = rowTiles(ctx, n, n * k * inputs);
    if (len === 0) return whole(dxs, inputs, n, k, pairRow, dx, accumulate);
    for (let t = tilesOf(n, len) - 1; t >= 0; t--) ctx.run(t, op, dxs, inputs, k, pairRow, dx, accumulate, t * len, Math.min(n, (t + 1) * len));
    ctx.join();
  };
};

/** Tile t's experts and columns in a plan. */
const planned = (plan: Int32Array, t: number, field: number): number => plan[t * PLAN_FIELDS + field]!;

const expertsForward: DispatcherFactory = (ctx) => {
  const whole = ctx.local["moeExpertsForward"]!;
  const secondWhole = ctx.local["moeExpertsForwardSecond"]!;
  const first = ctx.op("moeExpertsForwardFirst");
  const second = ctx.op("moeExpertsForwardSecond");
  const plan = new Int32Array(PLAN_FIELDS * MAX_TILES);
  return (xs, expertStart, experts, inputs, units, hidden, act, w1, b1, w2, b2, hs, ys) => {
    const width = hidden > 0 ? hidden : units;
    const count = planTiles(ctx, plan, expertStart, experts, width, inputs, MOE_SPLIT.macs);
    if (count === 0) return whole(xs, expertStart, experts, inputs, units, hidden, act, w1, b1, w2, b2, hs, ys);
    for (let t = count - 1; t >= 0; t--) {
      ctx.run(t, first, xs, expertStart, experts, inputs, units, hidden, act, w1, b1, hs, ys, planned(plan, t, 0), planned(plan, t, 1), planned(plan, t, 2), planned(plan, t, 3));
    }
    ctx.join();
    if (hidden > 0) {
      const secondCount = planTiles(ctx, plan, expertStart, experts, units, hidden, MOE_SPLIT.macs);
      if (secondCount === 0) secondWhole(expertStart, experts, units, hidden, w2, b2, hs, ys, 0, experts, 0, units);
      for (let t = secondCount - 1; t >= 0; t--) {
        ctx.run(t, second, expertStart, experts, units, hidden, w2, b2, hs, ys, planned(plan, t, 0), planned(plan, t, 1), planned(plan, t, 2), planned(plan, t, 3));
      }
      ctx.join();
    }
    return macsOf(ctx, expertStart, experts, width * inputs + units * hidden);
  };
};

const expertsBackward: DispatcherFactory = (ctx) => {
  const whole = ctx.local["moeExpertsBackward"]!;
  const firstWhole = ctx.local["moeExpertsBackwardFirst"]!;
  const secondWhole = ctx.local["moeExpertsBackwardSecond"]!;
  const first = ctx.op("moeExpertsBackwardFirst");
  const second = ctx.op("moeExpertsBackwardSecond");
  const firstPlan = new Int32Array(PLAN_FIELDS * MAX_TILES);
  const secondPlan = new Int32Array(PLAN_FIELDS * MAX_TILES);
  return (xs, hs, ys, dys, dhs, expertStart, experts, inputs, units, hidden, act, w1, w2, gradW1, gradB1, gradW2, gradB2, dxs, zeroUntouched) => {
    const width = hidden > 0 ? hidden : units;
    // Phase 1: FFN experts' dW2 and dhs (products over the hidden columns); one-layer experts' activation backward (a pass over dys).
    const firstCount = hidden > 0
      ? planTiles(ctx, firstPlan, expertStart, experts, hidden, 2 * units, MOE_SPLIT.macs)
      : planTiles(ctx, firstPlan, expertStart, experts, units, 1, MOE_SPLIT.elements);
    // Phase 2: dW1 and dxs over the input columns.
    const secondCount = planTiles(ctx, secondPlan, expertStart, experts, inputs, dxs !== 0 ? 2 * width : width, MOE_SPLIT.macs);
    if (firstCount === 0 && secondCount === 0) {
      return whole(xs, hs, ys, dys, dhs, expertStart, experts, inputs, units, hidden, act, w1, w2, gradW1, gradB1, gradW2, gradB2, dxs, zeroUntouched);
    }
    if (firstCount === 0) firstWhole(hs, ys, dys, dhs, expertStart, units, hidden, act, w2, gradW2, gradB2, 0, experts, 0, width);
    for (let t = firstCount - 1; t >= 0; t--) {
      ctx.run(t, first, hs, ys, dys, dhs, expertStart, units, hidden, act, w2, gradW2, gradB2, planned(firstPlan, t, 0), planned(firstPlan, t, 1), planned(firstPlan, t, 2), planned(firstPlan, t, 3));
    }
    ctx.join();
    if (secondCount === 0) secondWhole(xs, dys, dhs, expertStart, inputs, units, hidden, w1, gradW1, gradB1, gradW2, gradB2, dxs, zeroUntouched, 0, experts, 0, inputs);
    for (let t = secondCount - 1; t >= 0; t--) {
      ctx.run(t, second, xs, dys, dhs, expertStart, inputs, units, hidden, w1, gradW1, gradB1, gradW2, gradB2, dxs, zeroUntouched,
        planned(secondPlan, t, 0), planned(secondPlan, t, 1), planned(secondPlan, t, 2), planned(secondPlan, t, 3));
    }
    ctx.join();
    const slice1 = width * inputs;
    return macsOf(ctx, expertStart, experts, slice1 + 2 * units * hidden + (dxs !== 0 ? slice1 : 0));
  };
};

const routerBackward: DispatcherFactory = (ctx) => {
  const logitsPart = ctx.local["moeRouterBackwardLogits"]!;
  let gemmTN: KernelFunction | undefined;
  let gemmNN: KernelFunction | undefined;
  return (kind, c1, c2, zLoss, centred, x, inputs, n, experts, k, noisy, wg, wn, logits, noiseLogits, noise, gateLogits, probs,
    topIdx, gates, dgates, dLogits, dNoiseLogits, gradWg, gradWn, dx, work) => {
    const value = logitsPart(kind, c1, c2, zLoss, centred, x, inputs, n, experts, k, noisy, wg, wn, logits, noiseLogits, noise, gateLogits, probs,
      topIdx, gates, dgates, dLogits, dNoiseLogits, gradWg, gradWn, dx, work);
    if (experts === 1 || n <= 0) return value;
    // The products of moeRouterBackward, each split as any GEMM (runtime/pool/dense-kernels.ts).
    gemmTN ??= ctx.dispatched("gemmTN");
    gemmNN ??= ctx.dispatched("gemmNN");
    gemmTN(experts, inputs, n, dLogits, experts, x, inputs, gradWg, inputs, 0);
    if (noisy) gemmTN(experts, inputs, n, dNoiseLogits, experts, x, inputs, gradWn, inputs, 0);
    if (dx !== 0) {
      gemmNN(n, inputs, experts, dLogits, experts, wg, inputs, dx, inputs, 1);
      if (noisy) gemmNN(n, inputs, experts, dNoiseLogits, experts, wn, inputs, dx, inputs, 1);
    }
    return value;
  };
};

export const MOE_DISPATCHERS: Dispatchers = {
  moeRouterLogits: routerLogits,
  moeGather: gather,
  moeExpertsForward: expertsForward,
  moeCombine: combine,
  moeCombineBackward: combineBackward,
  moeExpertsBackward: expertsBackward,
  moeScatterInput: scatterInput,
  moeRouterBackward: routerBackward,
};
