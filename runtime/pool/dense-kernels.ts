/**
 * @fileoverview Dispatchers of the kernels every model uses: the three GEMMs, the element-wise
 * kernels, bias and column sums, softmax, the optimizer steps and zeroing. Each splits its
 * output into tiles whose elements are computed exactly as in one call:
 * - GEMM: columns of C in multiples of 16 (the small-m path groups columns by 16, 8 and 4 from
 *   the start, so aligned tiles group them alike; the packed path computes each element alone),
 *   or rows of C when the packed path (m > GEMM_SMALL_M) stays on in every tile (the small-m
 *   path is chosen by m: a tile of few rows would change paths). k is never split. A packed
 *   GEMM gets one tile per thread, split where the tiles repack less of the operand they share
 *   (measured: 4 tiles per thread made the MLP's training step 25% slower on 2 threads).
 * - element-wise and optimizer steps: element ranges in multiples of 16 (the SIMD body and the
 *   scalar tail split where they do in one call); bias and softmax: rows; column sums: columns.
 */
import type { DispatcherFactory, Dispatchers, KernelFunction, ParallelContext } from "./parallel.js";
import { GEMM_COLUMN_ALIGN, GEMM_SMALL_M, TILES_PER_THREAD, alignedCut, tileLength } from "./parallel.js";
import { SPLIT_THRESHOLDS as T } from "./thresholds.js";

/** Element ranges are a multiple of this. */
const ELEMENT_ALIGN = 16;

type GemmForm = "gemmNT" | "gemmNN" | "gemmTN";

function gemm(form: GemmForm): DispatcherFactory {
  return (ctx) => {
    const op = ctx.op(form);
    const local = ctx.local[form]!;
    const bColumnsAreRows = form === "gemmNT";
    const aRowsAreColumns = form === "gemmTN";
    return (m, n, k, a, lda, b, ldb, c, ldc, beta) => {
      // The packed path repacks the operand all tiles share once per tile (A for column tiles,
      // B for row tiles): one tile per thread. The small-m path packs nothing.
      const small = m <= GEMM_SMALL_M;
      const wanted = ctx.tiles(small ? T.gemv : T.gemm, m * n * k, Infinity, small ? TILES_PER_THREAD : 1);
      if (wanted <= 1 || m <= 0 || n <= 0 || k <= 0) return local(m, n, k, a, lda, b, ldb, c, ldc, beta);
      const columnTiles = Math.ceil(n / GEMM_COLUMN_ALIGN);
      const rowTiles = small ? 1 : Math.floor(m / (GEMM_SMALL_M + 1));
      // Packed: column tiles each repack A (m x k, 16 bytes an element: splatted), row tiles B
      // (k x n, 4 bytes an element); split where less is repacked, when it gives the tiles.
      const rowsRepackLess = !small && 4 * n < 16 * m && rowTiles >= wanted;
      if (!rowsRepackLess && (columnTiles >= wanted || columnTiles >= rowTiles)) {
        const tiles = Math.min(wanted, columnTiles);
        if (tiles <= 1) return local(m, n, k, a, lda, b, ldb, c, ldc, beta);
        // Cuts as even as multiples of 16 allow (a packed GEMM has one tile per thread: the
        // longest tile sets the time).
        let count = 0;
        for (let t = 0; t < tiles; t++) {
          const j0 = alignedCut(n, tiles, t, GEMM_COLUMN_ALIGN);
          const cols = alignedCut(n, tiles, t + 1, GEMM_COLUMN_ALIGN) - j0;
          if (cols <= 0) continue;
          const bt = b + (bColumnsAreRows ? j0 * ldb * 4 : j0 * 4);
          ctx.run(count++, op, m, cols, k, a, lda, bt, ldb, c + j0 * 4, ldc, beta);
        }
        ctx.join();
        return;
      }
      const tiles = Math.min(wanted, rowTiles);
      // Every tile keeps more than GEMM_SMALL_M rows: equal shares, the remainder spread.
      const share = Math.floor(m / tiles);
      const extra = m - share * tiles;
      for (let t = tiles - 1; t >= 0; t--) {
        const i0 = t * share + Math.min(t, extra);
        const rows = share + (t < extra ? 1 : 0);
        const at = a + (aRowsAreColumns ? i0 * 4 : i0 * lda * 4);
        ctx.run(t, op, rows, n, k, at, lda, b, ldb, c + i0 * ldc * 4, ldc, beta);
      }
      ctx.join();
    };
  };
}

/** f(src, dst, count) over element ranges; `minWork` the kernel's threshold. */
function unary(name: string, minWork: number): DispatcherFactory {
  return (ctx) => {
    const op = ctx.op(name);
    const local = ctx.local[name]!;
    return (src, dst, count) => {
      const tiles = ctx.tiles(minWork, count, Math.ceil(count / ELEMENT_ALIGN));
      if (tiles <= 1) return local(src, dst, count);
      const len = tileLength(count, tiles, ELEMENT_ALIGN);
      for (let t = Math.ceil(count / len) - 1; t >= 0; t--) {
        const s = t * len;
        ctx.run(t, op, src + s * 4, dst + s * 4, Math.min(len, count - s));
      }
      ctx.join();
    };
  };
}

/** f(dh, h, dz, count) over element ranges. */
function binary(name: string): DispatcherFactory {
  return (ctx) => {
    const op = ctx.op(name);
    const local = ctx.local[name]!;
    return (dh, h, dz, count) => {
      // The backward passes are cheap for every activation (the derivative comes from h).
      const tiles = ctx.tiles(T.elementwise, count, Math.ceil(count / ELEMENT_ALIGN));
      if (tiles <= 1) return local(dh, h, dz, count);
      const len = tileLength(count, tiles, ELEMENT_ALIGN);
      for (let t = Math.ceil(count / len) - 1; t >= 0; t--) {
        const s = t * len;
        ctx.run(t, op, dh + s * 4, h + s * 4, dz + s * 4, Math.min(len, count - s));
      }
      ctx.join();
    };
  };
}

/** f(x, other, rows, width) over row ranges (addBias, softmax: each row alone). */
function byRows(name: string, secondIsPerRow: boolean, minWork: number): DispatcherFactory {
  return (ctx) => {
    const op = ctx.op(name);
    const local = ctx.local[name]!;
    return (x, other, rows, width) => {
      const tiles = ctx.tiles(minWork, rows * width, rows);
      if (tiles <= 1) return local(x, other, rows, width);
      const len = tileLength(rows, tiles, 1);
      for (let t = Math.ceil(rows / len) - 1; t >= 0; t--) {
        const r0 = t * len;
        const offset = r0 * width * 4;
        ctx.run(t, op, x + offset, secondIsPerRow ? other + offset : other, Math.min(len, rows - r0), width);
      }
      ctx.join();
    };
  };
}

const columnSums: DispatcherFactory = (ctx) => {
  const op = ctx.op("columnSumsRange");
  const local = ctx.local["columnSums"]!;
  return (dz, m, n, db) => {
    const tiles = ctx.tiles(T.elementwise, m * n, Math.ceil(n / ELEMENT_ALIGN));
    if (tiles <= 1) return local(dz, m, n, db);
    const len = tileLength(n, tiles, ELEMENT_ALIGN);
    for (let t = Math.ceil(n / len) - 1; t >= 0; t--) ctx.run(t, op, dz, m, n, db, t * len, Math.min(n, (t + 1) * len));
    ctx.join();
  };
};

const sgdStep: DispatcherFactory = (ctx) => {
  const op = ctx.op("sgdStep");
  const local = ctx.local["sgdStep"]!;
  return (param, grad, velocity, count, lr, momentum, decay) => {
    const tiles = ctx.tiles(T.optimizer, count, Math.ceil(count / ELEMENT_ALIGN));
    if (tiles <= 1) return local(param, grad, velocity, count, lr, momentum, decay);
    const len = tileLength(count, tiles, ELEMENT_ALIGN);
    for (let t = Math.ceil(count / len) - 1; t >= 0; t--) {
      const o = t * len * 4;
      ctx.run(t, op, param + o, grad + o, velocity + o, Math.min(len, count - t * len), lr, momentum, decay);
    }
    ctx.join();
  };
};

const adamStep: DispatcherFactory = (ctx) => {
  const op = ctx.op("adamStep");
  const local = ctx.local["adamStep"]!;
  return (param, grad, m1, m2, count, lr, beta1, beta2, eps, decay, step) => {
    const tiles = ctx.tiles(T.optimizer, count, Math.ceil(count / ELEMENT_ALIGN));
    if (tiles <= 1) return local(param, grad, m1, m2, count, lr, beta1, beta2, eps, decay, step);
    const len = tileLength(count, tiles, ELEMENT_ALIGN);
    for (let t = Math.ceil(count / len) - 1; t >= 0; t--) {
      const o = t * len * 4;
      ctx.run(t, op, param + o, grad + o, m1 + o, m2 + o, Math.min(len, count - t * len), lr, beta1, beta2, eps, decay, step);
    }
    ctx.join();
  };
};

const zeroBytes: DispatcherFactory = (ctx) => {
  const op = ctx.op("zeroBytes");
  const local = ctx.local["zeroBytes"]!;
  return (ptr, size) => {
    // usize: above 2 GiB the i32 arrives negative.
    const bytes = size >>> 0;
    const tiles = ctx.tiles(T.zero, bytes, Math.ceil(bytes / 64));
    if (tiles <= 1) return local(ptr, size);
    const len = tileLength(bytes, tiles, 64);
    for (let t = Math.ceil(bytes / len) - 1; t >= 0; t--) ctx.run(t, op, (ptr >>> 0) + t * len, Math.min(len, bytes - t * len));
    ctx.join();
  };
};

/** The dispatchers of the kernels every model may import, by import name. */
export const DENSE_DISPATCHERS: Dispatchers = {
  gemmNT: gemm("gemmNT"),
  gemmNN: gemm("gemmNN"),
  gemmTN: gemm("gemmTN"),
  reluForward: unary("reluForward", T.elementwise),
  tanhForward: unary("tanhForward", T.transcendental),
  sigmoidForward: unary("sigmoidForward", T.transcendental),
  reluBackward: binary("reluBackward"),
  tanhBackward: binary("tanhBackward"),
  sigmoidBackward: binary("sigmoidBackward"),
  addBias: byRows("addBias", false, T.elementwise),
  softmax: byRows("softmax", true, T.transcendental),
  columnSums,
  sgdStep,
  adamStep,
  zeroBytes,
};

export type { KernelFunction, ParallelContext };
