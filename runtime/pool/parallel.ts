/**
 * @fileoverview What a kernel dispatcher sees: the threads, the calling thread's own kernels,
 * and tiles. A dispatcher replaces one kernel import of the model module; it splits the call
 * into tiles of the output (so every element's arithmetic is the same as in one call), writes
 * them, and joins: every thread, the caller included, runs tiles until none is left. Tiles
 * worth running come from the work and the kernel's measured threshold (thresholds.ts);
 * `"always"` splits whatever can be split (tests). After dispose, or on one thread, everything
 * runs on the calling thread.
 */
import { MAX_ARGS, MAX_CHUNKS, ThreadError, type ThreadPool } from "./pool.js";

/** A kernel as exported by the library (numbers in, a number or nothing out). */
export type KernelFunction = (...args: number[]) => number | undefined;

/** How a call is split: by measured thresholds, or always (every split a kernel allows; tests). */
export type SplitMode = "measured" | "always";

/** Makes one kernel's dispatcher for a model (called once at load). */
export type DispatcherFactory = (ctx: ParallelContext) => KernelFunction;

/** Dispatchers by kernel import name. */
export type Dispatchers = Readonly<Record<string, DispatcherFactory>>;

export class ParallelContext {
  private tilesWritten = 0;
  private readonly ops: Map<string, number>;

  /** The model's memory as i32 (for dispatchers that balance tiles by counts the kernels wrote). */
  readonly i32: Int32Array;
  /** The same as f64 (timestamps, counters). */
  readonly f64: Float64Array;
  private readonly dispatchedKernels = new Map<string, KernelFunction>();

  constructor(
    private readonly pool: ThreadPool,
    /** The calling thread's kernels. */
    readonly local: Readonly<Record<string, KernelFunction>>,
    kernels: readonly string[],
    private readonly mode: SplitMode,
    memory: WebAssembly.Memory,
    private readonly dispatchers: Dispatchers,
  ) {
    this.ops = new Map(kernels.map((name, i) => [name, i]));
    this.i32 = new Int32Array(memory.buffer);
    this.f64 = new Float64Array(memory.buffer);
  }

  /** A kernel as the model module calls it: its dispatcher where it has one (e.g. a GEMM inside a method's phases). */
  dispatched(name: string): KernelFunction {
    let fn = this.dispatchedKernels.get(name);
    if (!fn) {
      const factory = Object.prototype.hasOwnProperty.call(this.dispatchers, name) ? this.dispatchers[name] : undefined;
      fn = factory ? factory(this) : this.local[name];
      if (!fn) throw new ThreadError(`the kernel library has no kernel '${name}' (a condc bug)`);
      this.dispatchedKernels.set(name, fn);
    }
    return fn;
  }

  /** Threads in all, the calling thread included (1 once disposed). */
  get threads(): number {
    return this.pool.isDisposed ? 1 : this.pool.workers + 1;
  }

  /** A kernel's index for `run` (throws for a name the library does not export: a condc bug). */
  op(name: string): number {
    const op = this.ops.get(name);
    if (op === undefined) throw new ThreadError(`the kernel library has no kernel '${name}' (a condc bug)`);
    return op;
  }

  /**
   * Tiles to split `work` into: as many as give each at least `minWorkPerTile` (the kernel's
   * measured break-even, in its own unit), at most `limit` (what the split allows) and
   * `perThread` per thread (tiles are taken by whichever thread is free, so a thread the OS
   * runs late holds up one small tile at most; kernels whose tiles each repeat some work, as a
   * packed GEMM repacks its shared operand, ask for fewer); 1 means: run on the calling thread.
   */
  tiles(minWorkPerTile: number, work: number, limit: number, perThread = TILES_PER_THREAD): number {
    const threads = this.threads;
    if (threads === 1 || limit <= 1) return 1;
    const cap = Math.min(limit, threads * perThread, MAX_CHUNKS);
    if (this.mode === "always") return cap;
    const worth = Math.floor(work / minWorkPerTile);
    return worth <= 1 ? 1 : Math.min(cap, worth);
  }

  /** Writes tile t (0 <= t < tiles): the kernel `op` with its arguments (extra ones are ignored). */
  run(t: number, op: number, a0?: number, a1?: number, a2?: number, a3?: number, a4?: number, a5?: number, a6?: number, a7?: number, a8?: number, a9?: number, a10?: number, a11?: number,
    a12?: number, a13?: number, a14?: number, a15?: number, a16?: number, a17?: number, a18?: number, a19?: number, a20?: number, a21?: number, a22?: number, a23?: number): void {
    const f = this.pool.floats;
    const at = this.pool.argsAt(t);
    this.pool.setKernel(t, op);
    f[at] = a0!; f[at + 1] = a1!; f[at + 2] = a2!; f[at + 3] = a3!; f[at + 4] = a4!; f[at + 5] = a5!;
    f[at + 6] = a6!; f[at + 7] = a7!; f[at + 8] = a8!; f[at + 9] = a9!; f[at + 10] = a10!; f[at + 11] = a11!;
    f[at + 12] = a12!; f[at + 13] = a13!; f[at + 14] = a14!; f[at + 15] = a15!; f[at + 16] = a16!; f[at + 17] = a17!;
    f[at + 18] = a18!; f[at + 19] = a19!; f[at + 20] = a20!; f[at + 21] = a21!; f[at + 22] = a22!; f[at + 23] = a23!;
    if (t + 1 > this.tilesWritten) this.tilesWritten = t + 1;
  }

  /** Runs the tiles written, on every thread, and returns when all have finished (throws a tile's error). */
  join(): void {
    const count = this.tilesWritten;
    this.tilesWritten = 0;
    if (count > 0) this.pool.execute(count);
  }

  /** Tile t's result after join. */
  result(t: number): number {
    return this.pool.result(t);
  }
}

/** Tiles a call may have per thread. */
export const TILES_PER_THREAD = 4;

/** Columns of a GEMM tile are a multiple of this: the GEMM groups columns from the first by 16, so a column range computes as in the whole product. */
export const GEMM_COLUMN_ALIGN = 16;
/** The GEMM's small-m path takes m at or below this (runtime/kernels/gemm.ts GEMM_SMALL_M): a split by rows must keep every tile on the whole call's path. */
export const GEMM_SMALL_M = 8;

/** Tiles of `len` that cover `total`. */
export const tilesOf = (total: number, len: number): number => Math.ceil(total / len);

/** The length of each tile's range when `total` items are split into about `tiles` pieces aligned to `align`. */
export function tileLength(total: number, tiles: number, align: number): number {
  return Math.max(align, Math.ceil(total / tiles / align) * align);
}

/**
 * Where tile t of `tiles` starts when `total` items are split as evenly as cuts at multiples of
 * `align` allow (t = tiles gives total): with one tile per thread, rounding every length up
 * (tileLength) left 2 tiles of 1,000 columns at 512 and 488, 2.4% off an even split.
 */
export function alignedCut(total: number, tiles: number, t: number, align: number): number {
  if (t >= tiles) return total;
  return Math.min(total, Math.round((t * total) / tiles / align) * align);
}

/** Arguments a tile may pass to its kernel. */
export const ARGUMENTS_PER_TILE = MAX_ARGS;
/** Tiles a call may have in all. */
export const MAX_TILES = MAX_CHUNKS;
