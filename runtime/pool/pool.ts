/**
 * @fileoverview A pool of worker threads over one model's shared memory: each worker runs its
 * own instance of the kernel library (its own scratch block) and waits on its control slot
 * (layout.ts). The calling thread posts a task per worker (a kernel and its arguments), runs
 * its own share, then joins: it polls the workers' answers for a while and then sleeps in
 * Atomics.wait where it may (spinning where it may not: a browser's main thread). Posting and
 * joining allocate nothing. A task that throws in a worker (a trap) is reported by `join` as a
 * ThreadError naming the thread, the kernel and the cause; the worker stays ready.
 */
import type { PoolThread, ThreadHost } from "./host.js";
import { AT_ARGS, AT_CALLER_SLEEPS, AT_CLAIM, AT_DONE, AT_ERROR, AT_ERROR_LENGTH, AT_OP, AT_RESULT, AT_SEQ, AT_STATUS, AT_WORKER_SLEEPS, MAX_ARGS, OP_STOP, SLOT_BYTES, type WorkerHello, type WorkerStart } from "./layout.js";
import { POOL_WORKER_SOURCE } from "../generated/pool-worker.js";

/** A worker thread failed to start, or a task failed in one. */
export class ThreadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ThreadError";
  }
}

export interface PoolOptions {
  host: ThreadHost;
  /** Worker threads to start (the calling thread is one more). */
  workers: number;
  /** The kernel library compiled with a shared memory import. */
  library: WebAssembly.Module;
  memory: WebAssembly.Memory;
  /** Each worker's scratch block. */
  scratch: readonly number[];
  /** The kernel table (export names); a task names its kernel by index. */
  kernels: readonly string[];
  /** The same kernels on the calling thread (it runs the tasks of late workers). */
  local: readonly ((...args: number[]) => number | undefined)[];
  /** Polls before sleeping: a worker waiting for a task, the caller waiting for workers. */
  workerSpin: number;
  callerSpin: number;
  /** How long a worker may take to start. */
  startTimeoutMs: number;
}

export class ThreadPool {
  readonly workers: number;
  /** The control block as f64: tile t's arguments start at `argsAt(t)`. */
  readonly floats: Float64Array;
  private readonly ints: Int32Array;
  private readonly chars: Uint16Array;
  private readonly threads: PoolThread[];
  private readonly kernels: readonly string[];
  private readonly local: PoolOptions["local"];
  private readonly callerSpin: number;
  private readonly canBlock: boolean;
  private readonly seqs: Int32Array;
  private disposed = false;
  /** Why a worker died between calls (its exit or error event), or null. */
  private broken: string | null = null;

  private constructor(options: PoolOptions, control: SharedArrayBuffer, threads: PoolThread[]) {
    this.workers = options.workers;
    this.floats = new Float64Array(control);
    this.ints = new Int32Array(control);
    this.chars = new Uint16Array(control);
    this.threads = threads;
    this.kernels = options.kernels;
    this.local = options.local;
    this.callerSpin = options.callerSpin;
    this.canBlock = options.host.canBlock();
    this.seqs = new Int32Array(options.workers);
    threads.forEach((thread, w) =>
      thread.onFailure((reason) => {
        if (!this.disposed && this.broken === null) this.broken = `worker thread ${w + 1} stopped (${reason})`;
      }),
    );
  }

  /** Starts the workers and resolves once every one is ready; rejects (stopping them all) when one is not. */
  static async start(options: PoolOptions): Promise<ThreadPool> {
    const control = new SharedArrayBuffer(SLOT_BYTES * Math.max(1, options.workers));
    const threads: PoolThread[] = [];
    const stopAll = (): void => {
      for (const t of threads) t.terminate();
    };
    try {
      const hellos: Promise<void>[] = [];
      for (let w = 0; w < options.workers; w++) {
        const thread = options.host.spawn(POOL_WORKER_SOURCE);
        threads.push(thread);
        hellos.push(waitForHello(thread, w, options));
        const start: WorkerStart = {
          kind: "start",
          library: options.library,
          memory: options.memory,
          control,
          slot: w,
          scratch: options.scratch[w]!,
          kernels: [...options.kernels],
          spin: options.workerSpin,
        };
        thread.post(start);
      }
      await Promise.all(hellos);
    } catch (error) {
      stopAll();
      throw error instanceof ThreadError ? error : new ThreadError(`could not start the worker threads: ${(error as Error).message ?? String(error)}`);
    }
    for (const t of threads) t.release();
    return new ThreadPool(options, control, threads);
  }

  /** Index in `floats` of tile t's first argument (tiles 1..workers run on the workers). */
  argsAt(t: number): number {
    return ((t - 1) * SLOT_BYTES + AT_ARGS) >> 3;
  }

  /** Throws when a worker died since the pool started (a task posted to it would never finish). */
  checkAlive(): void {
    if (this.broken !== null) throw new ThreadError(`${this.broken}; dispose() the model (it then runs on the calling thread) or load it again`);
  }

  /** Starts tile t (1..workers) on its worker: kernel `op` with the arguments written at argsAt(t). */
  post(t: number, op: number): void {
    const base = (t - 1) * SLOT_BYTES;
    const ints = this.ints;
    ints[(base + AT_OP) >> 2] = op;
    const seq = (this.seqs[t - 1]! + 1) | 0;
    this.seqs[t - 1] = seq;
    Atomics.store(ints, (base + AT_SEQ) >> 2, seq);
    if (Atomics.load(ints, (base + AT_WORKER_SLEEPS) >> 2) !== 0) Atomics.notify(ints, (base + AT_SEQ) >> 2);
  }

  /**
   * Finishes tiles 1..tiles-1: runs each one its worker has not claimed yet on this thread,
   * waits for the others, then throws the first failure (after all have finished, so no worker
   * still writes memory when the caller goes on): a ThreadError for a worker's, the error itself
   * for a tile this thread ran.
   */
  join(tiles: number): void {
    const ints = this.ints;
    let failed = 0;
    let ownError: unknown = null;
    for (let t = 1; t < tiles; t++) {
      const base = (t - 1) * SLOT_BYTES;
      const seq = this.seqs[t - 1]!;
      const previous = (seq - 1) | 0;
      if (Atomics.compareExchange(ints, (base + AT_CLAIM) >> 2, previous, seq) === previous) {
        try {
          this.runHere(base);
        } catch (error) {
          if (ownError === null && failed === 0) ownError = error;
        }
        continue;
      }
      const doneAt = (base + AT_DONE) >> 2;
      let done = Atomics.load(ints, doneAt);
      for (let i = 0; done !== seq && i < this.callerSpin; i++) done = Atomics.load(ints, doneAt);
      if (done !== seq) {
        if (this.canBlock) {
          const sleepsAt = (base + AT_CALLER_SLEEPS) >> 2;
          while (done !== seq) {
            Atomics.store(ints, sleepsAt, 1);
            Atomics.wait(ints, doneAt, done);
            Atomics.store(ints, sleepsAt, 0);
            done = Atomics.load(ints, doneAt);
          }
        } else {
          while (done !== seq) done = Atomics.load(ints, doneAt);
        }
      }
      if (failed === 0 && ownError === null && ints[(base + AT_STATUS) >> 2] !== 0) failed = t;
    }
    if (ownError !== null) throw ownError;
    if (failed !== 0) throw this.failure(failed, tiles);
  }

  /** Runs a worker's posted task on this thread (its worker was late), result into its slot. */
  private runHere(base: number): void {
    const f = this.floats;
    const a = (base + AT_ARGS) >> 3;
    const op = this.ints[(base + AT_OP) >> 2]!;
    const result = this.local[op]!(f[a]!, f[a + 1]!, f[a + 2]!, f[a + 3]!, f[a + 4]!, f[a + 5]!, f[a + 6]!, f[a + 7]!, f[a + 8]!, f[a + 9]!, f[a + 10]!, f[a + 11]!,
      f[a + 12]!, f[a + 13]!, f[a + 14]!, f[a + 15]!, f[a + 16]!, f[a + 17]!, f[a + 18]!, f[a + 19]!, f[a + 20]!, f[a + 21]!, f[a + 22]!, f[a + 23]!);
    f[(base + AT_RESULT) >> 3] = result ?? 0;
  }

  /** The result of tile t's kernel (valid after join). */
  result(t: number): number {
    return this.floats[((t - 1) * SLOT_BYTES + AT_RESULT) >> 3]!;
  }

  /** Stops the workers (idempotent). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (let t = 1; t <= this.workers; t++) {
      const base = (t - 1) * SLOT_BYTES;
      this.ints[(base + AT_OP) >> 2] = OP_STOP;
      Atomics.store(this.ints, (base + AT_SEQ) >> 2, (this.seqs[t - 1]! + 1) | 0);
      Atomics.notify(this.ints, (base + AT_SEQ) >> 2);
    }
    for (const thread of this.threads) thread.terminate();
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  private failure(t: number, tiles: number): ThreadError {
    const base = (t - 1) * SLOT_BYTES;
    const length = this.ints[(base + AT_ERROR_LENGTH) >> 2]!;
    let text = "";
    for (let i = 0; i < length; i++) text += String.fromCharCode(this.chars[((base + AT_ERROR) >> 1) + i]!);
    const kernel = this.kernels[this.ints[(base + AT_OP) >> 2]!] ?? "a kernel";
    return new ThreadError(`worker thread ${t} of ${tiles - 1} failed in ${kernel}: ${text}; the call's results are undefined (the model and its threads remain usable)`);
  }
}

function waitForHello(thread: PoolThread, index: number, options: PoolOptions): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    const settle = (error: ThreadError | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error) reject(error);
      else resolve();
    };
    const timer = setTimeout(() => settle(new ThreadError(`worker thread ${index + 1} did not start within ${options.startTimeoutMs} ms`)), options.startTimeoutMs);
    thread.onMessage((message) => {
      const hello = message as WorkerHello;
      if (hello?.kind === "ready") settle(null);
      else if (hello?.kind === "failed") settle(new ThreadError(`worker thread ${index + 1} could not start: ${hello.message}`));
    });
    thread.onFailure((reason) => settle(new ThreadError(`worker thread ${index + 1} could not start: ${reason}`)));
  });
}

export { MAX_ARGS };
