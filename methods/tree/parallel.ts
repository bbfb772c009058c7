/**
 * @fileoverview How a tree layer's kernels split over threads (runtime/pool/). Shared layout:
 * the bucket products split by columns of their outputs (units forward, inputs backward; in
 * multiples of 16, so each bucket's GEMM groups them as in one call), gathers and scatters by
 * rows, bits by examples, and the lazy decay and SGD steps by units (rows of every node's
 * slice), with the nodes' timestamps advanced once afterwards (the ...Commit kernels).
 * Per-unit layout: a row (node, unit) belongs to one unit, so gradients, catch-ups and steps
 * split by units (each row summed over the examples in order) and the forward, the paths and
 * dX by examples. Every value is computed by the same code as in one call.
 */
import type { DispatcherFactory, Dispatchers } from "../../runtime/pool/parallel.js";
import { GEMM_COLUMN_ALIGN as COLUMN_ALIGN, tileLength, tilesOf } from "../../runtime/pool/parallel.js";
import { SPLIT_THRESHOLDS } from "../../runtime/pool/thresholds.js";

/**
 * Least work per tile (runtime/pool/thresholds.ts): multiply-adds for the bucket products
 * (their GEMMs mostly take the small-m path: buckets hold few rows) and the per-unit dot
 * products, elements for passes over memory, random bits as the policy's sampling.
 */
export const TREE_SPLIT = {
  macs: SPLIT_THRESHOLDS.gemv,
  elements: SPLIT_THRESHOLDS.elementwise,
  randomBits: 512,
};

const bits: DispatcherFactory = (ctx) => {
  const whole = ctx.local["treeBits"]!;
  const op = ctx.op("treeBitsRows");
  return (gz, n, k, bitsAt, codes, mode, sigma, seed, step, layer) => {
    const tiles = mode === 0 ? ctx.tiles(TREE_SPLIT.elements, n * k, n) : ctx.tiles(TREE_SPLIT.randomBits, n * k, n);
    if (tiles <= 1) return whole(gz, n, k, bitsAt, codes, mode, sigma, seed, step, layer);
    const len = tileLength(n, tiles, 1);
    for (let t = tilesOf(n, len) - 1; t >= 0; t--) ctx.run(t, op, gz, n, k, bitsAt, codes, mode, sigma, seed, step, layer, t * len, Math.min(n, (t + 1) * len));
    ctx.join();
  };
};

/** treeGatherRows / treeScatterAddRows (src, perm, n, width, dst) by rows. */
function rows(name: string): DispatcherFactory {
  return (ctx) => {
    const whole = ctx.local[name]!;
    const op = ctx.op(`${name}Range`);
    return (src, perm, n, width, dst) => {
      const tiles = ctx.tiles(TREE_SPLIT.elements, n * width, n);
      if (tiles <= 1) return whole(src, perm, n, width, dst);
      const len = tileLength(n, tiles, 1);
      for (let t = tilesOf(n, len) - 1; t >= 0; t--) ctx.run(t, op, src, perm, n, width, dst, t * len, Math.min(n, (t + 1) * len));
      ctx.join();
    };
  };
}

/** Nodes of the batch's buckets (levels 0..k) whose decay catch-up scales them (f32(exp(λ - last)) != 1). */
function nodesToScale(f64: Float64Array, i32: Int32Array, last: number, k: number, leafStart: number, lambda: number): number {
  const starts = leafStart >>> 2;
  const at = last >>> 3;
  let nodes = 0;
  for (let l = 0; l <= k; l++) {
    for (let p = 0; p < 1 << l; p++) {
      if (i32[starts + (p << (k - l))] === i32[starts + ((p + 1) << (k - l))]) continue;
      if (Math.fround(Math.exp(lambda - f64[at + (1 << l) - 1 + p]!)) !== 1) nodes++;
    }
  }
  return nodes;
}

const catchUp: DispatcherFactory = (ctx) => {
  const whole = ctx.local["treeCatchUp"]!;
  const commit = ctx.local["treeCatchUpCommit"]!;
  const op = ctx.op("treeCatchUpRange");
  return (weight, last, k, units, inputs, leafStart, n, lambda) => {
    const work = n > 0 ? nodesToScale(ctx.f64, ctx.i32, last, k, leafStart, lambda) * units * inputs : 0;
    const tiles = ctx.tiles(TREE_SPLIT.elements, work, units);
    if (tiles <= 1) return whole(weight, last, k, units, inputs, leafStart, n, lambda);
    const len = tileLength(units, tiles, 1);
    for (let t = tilesOf(units, len) - 1; t >= 0; t--) ctx.run(t, op, weight, last, k, units, inputs, leafStart, n, lambda, t * len, Math.min(units, (t + 1) * len));
    ctx.join();
    commit(last, k, leafStart, n, lambda);
  };
};

const flush: DispatcherFactory = (ctx) => {
  const whole = ctx.local["treeFlush"]!;
  const commit = ctx.local["treeFlushCommit"]!;
  const op = ctx.op("treeFlushRange");
  return (weight, last, nodes, units, inputs, lambda) => {
    let pending = 0;
    for (let node = 0, at = last >>> 3; node < nodes; node++) if (Math.fround(Math.exp(lambda - ctx.f64[at + node]!)) !== 1) pending++;
    const tiles = ctx.tiles(TREE_SPLIT.elements, pending * units * inputs, units);
    if (tiles <= 1) return whole(weight, last, nodes, units, inputs, lambda);
    const len = tileLength(units, tiles, 1);
    for (let t = tilesOf(units, len) - 1; t >= 0; t--) ctx.run(t, op, weight, last, nodes, units, inputs, lambda, t * len, Math.min(units, (t + 1) * len));
    ctx.join();
    commit(last, nodes, lambda);
  };
};

const forwardLevels: DispatcherFactory = (ctx) => {
  const whole = ctx.local["treeForwardLevels"]!;
  const op = ctx.op("treeForwardLevelsColumns");
  return (xs, n, inputs, units, k, leafStart, weight, bias, zs) => {
    const tiles = ctx.tiles(TREE_SPLIT.macs, n * k * units * inputs, Math.ceil(units / COLUMN_ALIGN));
    if (tiles <= 1) return whole(xs, n, inputs, units, k, leafStart, weight, bias, zs);
    const len = tileLength(units, tiles, COLUMN_ALIGN);
    for (let t = tilesOf(units, len) - 1; t >= 0; t--) ctx.run(t, op, xs, n, inputs, units, k, leafStart, weight, bias, zs, t * len, Math.min(units, (t + 1) * len));
    ctx.join();
    return ctx.result(0);
  };
};

const backwardLevels: DispatcherFactory = (ctx) => {
  const whole = ctx.local["treeBackwardLevels"]!;
  const op = ctx.op("treeBackwardLevelsRange");
  return (xs, ds, n, inputs, units, k, leafStart, gradWeight, gradBias) => {
    const tiles = ctx.tiles(TREE_SPLIT.macs, n * k * units * inputs, Math.max(Math.ceil(inputs / COLUMN_ALIGN), units));
    if (tiles <= 1) return whole(xs, ds, n, inputs, units, k, leafStart, gradWeight, gradBias);
    // Tile t: the weight gradients' input columns of chunk t and the bias gradients' units of chunk t.
    const columnLen = tileLength(inputs, tiles, COLUMN_ALIGN);
    const unitLen = tileLength(units, tiles, 1);
    for (let t = Math.max(tilesOf(inputs, columnLen), tilesOf(units, unitLen)) - 1; t >= 0; t--) {
      const c0 = Math.min(inputs, t * columnLen);
      const u0 = Math.min(units, t * unitLen);
      ctx.run(t, op, xs, ds, n, inputs, units, k, leafStart, gradWeight, gradBias, c0, Math.min(inputs, c0 + columnLen), u0, Math.min(units, u0 + unitLen));
    }
    ctx.join();
  };
};

const backwardInput: DispatcherFactory = (ctx) => {
  const whole = ctx.local["treeBackwardInput"]!;
  const op = ctx.op("treeBackwardInputColumns");
  return (ds, n, inputs, units, k, leafStart, weight, dxs) => {
    const tiles = ctx.tiles(TREE_SPLIT.macs, n * k * units * inputs, Math.ceil(inputs / COLUMN_ALIGN));
    if (tiles <= 1) return whole(ds, n, inputs, units, k, leafStart, weight, dxs);
    const len = tileLength(inputs, tiles, COLUMN_ALIGN);
    for (let t = tilesOf(inputs, len) - 1; t >= 0; t--) ctx.run(t, op, ds, n, inputs, units, k, leafStart, weight, dxs, t * len, Math.min(inputs, (t + 1) * len));
    ctx.join();
  };
};

const update: DispatcherFactory = (ctx) => {
  const whole = ctx.local["treeUpdate"]!;
  const commit = ctx.local["treeUpdateCommit"]!;
  const op = ctx.op("treeUpdateRange");
  return (weight, bias, gradWeight, gradBias, last, k, units, inputs, leafStart, n, lr, decay, levelMode, levelMax) => {
    const tiles = ctx.tiles(TREE_SPLIT.elements, (k + 1) * units * inputs, units);
    if (tiles <= 1 || n <= 0) return whole(weight, bias, gradWeight, gradBias, last, k, units, inputs, leafStart, n, lr, decay, levelMode, levelMax);
    const len = tileLength(units, tiles, 1);
    for (let t = tilesOf(units, len) - 1; t >= 0; t--) ctx.run(t, op, weight, bias, gradWeight, gradBias, k, units, inputs, leafStart, n, lr, decay, levelMode, levelMax, t * len, Math.min(units, (t + 1) * len));
    ctx.join();
    commit(last, k, leafStart, n, lr, decay);
  };
};

// Per-unit layout.

const unitPaths: DispatcherFactory = (ctx) => {
  const whole = ctx.local["treeUnitPaths"]!;
  const op = ctx.op("treeUnitPathsRows");
  return (bitsAt, n, k, units, order, path) => {
    const tiles = ctx.tiles(TREE_SPLIT.elements, n * units * k, n);
    if (tiles <= 1) return whole(bitsAt, n, k, units, order, path);
    const len = tileLength(n, tiles, 1);
    for (let t = tilesOf(n, len) - 1; t >= 0; t--) ctx.run(t, op, bitsAt, n, k, units, order, path, t * len, Math.min(n, (t + 1) * len));
    ctx.join();
  };
};

const unitCatchUpRoot: DispatcherFactory = (ctx) => {
  const whole = ctx.local["treeUnitCatchUpRoot"]!;
  const op = ctx.op("treeUnitFlushRows");
  return (weight, last, n, units, inputs, lambda) => {
    const tiles = ctx.tiles(TREE_SPLIT.elements, units * inputs, units);
    if (tiles <= 1 || n <= 0) return whole(weight, last, n, units, inputs, lambda);
    const len = tileLength(units, tiles, 1);
    for (let t = tilesOf(units, len) - 1; t >= 0; t--) ctx.run(t, op, weight, last, units, inputs, lambda, t * len, Math.min(units, (t + 1) * len));
    ctx.join();
  };
};

const unitCatchUp: DispatcherFactory = (ctx) => {
  const whole = ctx.local["treeUnitCatchUp"]!;
  const op = ctx.op("treeUnitCatchUpUnits");
  return (weight, last, path, n, k, units, inputs, lambda) => {
    const tiles = ctx.tiles(TREE_SPLIT.elements, n * units * k, units);
    if (tiles <= 1) return whole(weight, last, path, n, k, units, inputs, lambda);
    const len = tileLength(units, tiles, 1);
    for (let t = tilesOf(units, len) - 1; t >= 0; t--) ctx.run(t, op, weight, last, path, n, k, units, inputs, lambda, t * len, Math.min(units, (t + 1) * len));
    ctx.join();
  };
};

const unitFlush: DispatcherFactory = (ctx) => {
  const whole = ctx.local["treeUnitFlush"]!;
  const op = ctx.op("treeUnitFlushRows");
  return (weight, last, rowCount, inputs, lambda) => {
    const tiles = ctx.tiles(TREE_SPLIT.elements, rowCount * inputs, rowCount);
    if (tiles <= 1) return whole(weight, last, rowCount, inputs, lambda);
    const len = tileLength(rowCount, tiles, 1);
    for (let t = tilesOf(rowCount, len) - 1; t >= 0; t--) ctx.run(t, op, weight, last, rowCount, inputs, lambda, t * len, Math.min(rowCount, (t + 1) * len));
    ctx.join();
  };
};

const unitForward: DispatcherFactory = (ctx) => {
  const whole = ctx.local["treeUnitForward"]!;
  const op = ctx.op("treeUnitForwardRows");
  return (x, n, inputs, units, k, path, weight, bias, z) => {
    const tiles = ctx.tiles(TREE_SPLIT.macs, n * units * k * inputs, n);
    if (tiles <= 1) return whole(x, n, inputs, units, k, path, weight, bias, z);
    const len = tileLength(n, tiles, 1);
    const count = tilesOf(n, len);
    for (let t = count - 1; t >= 0; t--) ctx.run(t, op, x, n, inputs, units, k, path, weight, bias, z, t * len, Math.min(n, (t + 1) * len));
    ctx.join();
    let macs = 0;
    for (let t = 0; t < count; t++) macs += ctx.result(t);
    return macs;
  };
};

const unitBackward: DispatcherFactory = (ctx) => {
  const whole = ctx.local["treeUnitBackward"]!;
  const units = ctx.op("treeUnitBackwardUnits");
  const input = ctx.op("treeUnitBackwardInput");
  return (x, delta, n, inputs, unitCount, k, path, weight, gradWeight, gradBias, mark, gen, dx) => {
    const work = n * unitCount * k * inputs;
    const unitTiles = ctx.tiles(TREE_SPLIT.macs, work, unitCount);
    if (unitTiles <= 1) return whole(x, delta, n, inputs, unitCount, k, path, weight, gradWeight, gradBias, mark, gen, dx);
    const len = tileLength(unitCount, unitTiles, 1);
    for (let t = tilesOf(unitCount, len) - 1; t >= 0; t--) ctx.run(t, units, x, delta, n, inputs, unitCount, k, path, gradWeight, gradBias, mark, gen, t * len, Math.min(unitCount, (t + 1) * len));
    ctx.join();
    if (dx === 0) return;
    const rowLen = tileLength(n, ctx.tiles(TREE_SPLIT.macs, work, n), 1);
    for (let t = tilesOf(n, rowLen) - 1; t >= 0; t--) ctx.run(t, input, delta, n, inputs, unitCount, k, path, weight, dx, t * rowLen, Math.min(n, (t + 1) * rowLen));
    ctx.join();
  };
};

const unitUpdate: DispatcherFactory = (ctx) => {
  const whole = ctx.local["treeUnitUpdate"]!;
  const op = ctx.op("treeUnitUpdateUnits");
  return (weight, bias, gradWeight, gradBias, last, path, n, k, units, inputs, mark, gen, lr, decay, levelMode, levelMax, counts) => {
    const tiles = ctx.tiles(TREE_SPLIT.elements, (n * k + 1) * units * inputs, units);
    if (tiles <= 1) return whole(weight, bias, gradWeight, gradBias, last, path, n, k, units, inputs, mark, gen, lr, decay, levelMode, levelMax, counts);
    const len = tileLength(units, tiles, 1);
    for (let t = tilesOf(units, len) - 1; t >= 0; t--) {
      ctx.run(t, op, weight, bias, gradWeight, gradBias, last, path, n, k, units, inputs, mark, gen, lr, decay, levelMode, levelMax, counts, t * len, Math.min(units, (t + 1) * len));
    }
    ctx.join();
  };
};

export const TREE_DISPATCHERS: Dispatchers = {
  treeBits: bits,
  treeGatherRows: rows("treeGatherRows"),
  treeScatterAddRows: rows("treeScatterAddRows"),
  treeCatchUp: catchUp,
  treeFlush: flush,
  treeForwardLevels: forwardLevels,
  treeBackwardLevels: backwardLevels,
  treeBackwardInput: backwardInput,
  treeUpdate: update,
  treeUnitPaths: unitPaths,
  treeUnitCatchUpRoot: unitCatchUpRoot,
  treeUnitCatchUp: unitCatchUp,
  treeUnitFlush: unitFlush,
  treeUnitForward: unitForward,
  treeUnitBackward: unitBackward,
  treeUnitUpdate: unitUpdate,
};
