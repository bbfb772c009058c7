/**
 * @fileoverview A pool of worker threads over one model's shared memory: each worker runs its
 * own instance of the kernel library (its own scratch block). The calling thread writes a
 * task's chunks (a kernel and its arguments each) into the control block (layout.ts), wakes
 * the workers, takes chunks itself like any of them, and waits for the chunks in flight on
 * others: it polls for a while, then sleeps in Atomics.wait where it may (spinning where it
 * may not: a browser's main thread). Running a task allocates nothing. A chunk that throws in a
 * worker (a trap) is reported as a ThreadError naming the thread, the kernel and the cause; the
 * workers stay ready.
 */
import { ThreadError } from "../errors.js";
import type { PoolThread, ThreadHost } from "./host.js";
import {
  AT_CALLER_SLEEPS, AT_CHUNKS, AT_CHUNK_TABLE, AT_ERROR, AT_ERROR_LENGTH, AT_FAILED, AT_FAILED_OP, AT_FAILED_WORKER, AT_FINISHED, AT_NEXT, AT_SEQ,
  AT_SLEEPERS, AT_STOP, CHUNK_ARGS, CHUNK_BYTES, CHUNK_RESULT, CONTROL_BYTES, MAX_ARGS, MAX_CHUNKS, type WorkerHello, type WorkerStart,
} from "./layout.js";

export { ThreadError };

type Kernel = (...args: number[]) => number | undefined;

export interface PoolOptions {
  host: ThreadHost;
  /** Worker threads to start (the calling thread is one more). */
  workers: number;
  /** The kernel library compiled with a shared memory import. */
  library: WebAssembly.Module;
  memory: WebAssembly.Memory;
  /** Each worker's scratch block. */
  scratch: readonly number[];
  /** The kernel table (export names); a chunk names its kernel by index. */
  kernels: readonly string[];
  /** The same kernels on the calling thread. */
  local: readonly Kernel[];
  /** Polls before sleeping, at most: a worker waiting for a task, the caller waiting for chunks in flight. */
  workerSpin: number;
  callerSpin: number;
  /** Polls before sleeping, at least (both). */
  minSpin: number;
  /** A sleep shorter than this (ms) ended by work was premature: the poll budget grows (both). */
  shortSleepMs: number;
  /** How long a worker may take to start. */
  startTimeoutMs: number;
}

export class ThreadPool {
  readonly workers: number;
  /** The control block as f64: chunk c's arguments start at `argsAt(c)`. */
  readonly floats: Float64Array;
  private readonly ints: Int32Array;
  private readonly chars: Uint16Array;
  private readonly threads: PoolThread[];
  private readonly kernels: readonly string[];
  private readonly local: readonly Kernel[];
  private readonly callerSpin: number;
  private readonly minSpin: number;
  private readonly shortSleepMs: number;
  /** Polls before sleeping now: doubled when the chunks in flight finish while polling, halved when not (see execute). */
  private spin: number;
  private readonly canBlock: boolean;
  private seq = 0;
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
    this.minSpin = options.minSpin;
    this.shortSleepMs = options.shortSleepMs;
    this.spin = options.callerSpin;
    this.canBlock = options.host.canBlock();
    threads.forEach((thread, w) =>
      thread.onFailure((reason) => {
        if (!this.disposed && this.broken === null) this.broken = `worker thread ${w + 1} stopped (${reason})`;
      }),
    );
  }

  /** Starts the workers and resolves once every one is ready; rejects (stopping them all) when one is not. */
  static async start(options: PoolOptions): Promise<ThreadPool> {
    const control = new SharedArrayBuffer(CONTROL_BYTES);
    const threads: PoolThread[] = [];
    try {
      const hellos: Promise<void>[] = [];
      for (let w = 0; w < options.workers; w++) {
        const thread = options.host.spawn();
        threads.push(thread);
        hellos.push(waitForHello(thread, w, options));
        const start: WorkerStart = {
          kind: "start",
          library: options.library,
          memory: options.memory,
          control,
          worker: w + 1,
          scratch: options.scratch[w]!,
          kernels: [...options.kernels],
          spin: options.workerSpin,
          minSpin: options.minSpin,
          shortSleepMs: options.shortSleepMs,
        };
        thread.post(start);
      }
      await Promise.all(hellos);
    } catch (error) {
      for (const t of threads) t.terminate();
      throw error instanceof ThreadError ? error : new ThreadError(`could not start the worker threads: ${(error as Error).message ?? String(error)}`);
    }
    for (const t of threads) t.release();
    return new ThreadPool(options, control, threads);
  }

  /** Index in `floats` of chunk c's first argument (c < MAX_CHUNKS); its kernel goes to setKernel. */
  argsAt(c: number): number {
    return (AT_CHUNK_TABLE + c * CHUNK_BYTES + CHUNK_ARGS) >> 3;
  }

  setKernel(c: number, op: number): void {
    this.ints[(AT_CHUNK_TABLE + c * CHUNK_BYTES) >> 2] = op;
  }

  /**
   * Runs chunks 0..count-1 (written with argsAt / setKernel) on the workers and this thread,
   * and returns once all have finished. Throws the error of a chunk this thread ran, else a
   * ThreadError for the first that failed on a worker (after every chunk has finished, so no
   * worker still writes memory when the caller goes on).
   */
  execute(count: number): void {
    if (count > MAX_CHUNKS) throw new ThreadError(`a kernel call was split into ${count} tiles, more than ${MAX_CHUNKS} (a condc bug)`);
    if (count === 1) {
      this.runHere(0);
      return;
    }
    if (this.broken !== null) throw new ThreadError(`${this.broken}; dispose() the model (it then runs on the calling thread) or load it again`);
    const ints = this.ints;
    const seq = (this.seq + 1) | 0;
    this.seq = seq;
    const task = seq & 0x7fff;
    Atomics.store(ints, AT_CHUNKS >> 2, count);
    Atomics.store(ints, AT_FINISHED >> 2, 0);
    Atomics.store(ints, AT_FAILED >> 2, 0);
    Atomics.store(ints, AT_NEXT >> 2, task << 16);
    Atomics.store(ints, AT_SEQ >> 2, seq);
    if (Atomics.load(ints, AT_SLEEPERS >> 2) !== 0) Atomics.notify(ints, AT_SEQ >> 2);
    let ownError: unknown = null;
    let ownFailed = false;
    for (;;) {
      const next = Atomics.load(ints, AT_NEXT >> 2);
      const index = next & 0xffff;
      if (index >= count) break;
      if (Atomics.compareExchange(ints, AT_NEXT >> 2, next, next + 1) !== next) continue;
      try {
        this.runHere(index);
      } catch (error) {
        if (!ownFailed) ownError = error;
        ownFailed = true;
      }
      Atomics.add(ints, AT_FINISHED >> 2, 1);
    }
    // Poll for the chunks in flight, then sleep. Polling pays while the workers run on cores of
    // their own; where they share this thread's core (a busy machine) it only delays them, and
    // the polls that came to nothing halve the budget, so this thread soon sleeps at once.
    let finished = Atomics.load(ints, AT_FINISHED >> 2);
    let polls = 0;
    while (finished !== count && polls < this.spin) {
      finished = Atomics.load(ints, AT_FINISHED >> 2);
      polls++;
    }
    if (finished === count) {
      if (polls > 0 && this.spin < this.callerSpin) this.spin = Math.min(this.callerSpin, 2 * this.spin);
    } else {
      this.spin = Math.max(this.minSpin, this.spin >> 1);
      if (this.canBlock) {
        // As a worker does (worker-serve.ts): chunks that finish soon after this thread fell
        // asleep mean its budget was too short for this model's tiles, so it grows back.
        const asleep = performance.now();
        while (finished !== count) {
          Atomics.store(ints, AT_CALLER_SLEEPS >> 2, 1);
          Atomics.wait(ints, AT_FINISHED >> 2, finished);
          Atomics.store(ints, AT_CALLER_SLEEPS >> 2, 0);
          finished = Atomics.load(ints, AT_FINISHED >> 2);
        }
        if (performance.now() - asleep < this.shortSleepMs) this.spin = Math.min(this.callerSpin, 4 * this.spin);
      } else {
        while (finished !== count) finished = Atomics.load(ints, AT_FINISHED >> 2);
      }
    }
    // Late workers (woken after every chunk was taken) see no chunk of this task from now on.
    Atomics.store(ints, AT_NEXT >> 2, (task << 16) | 0xffff);
    if (ownFailed) throw ownError;
    if (Atomics.load(ints, AT_FAILED >> 2) !== 0) throw this.failure();
  }

  /** Chunk c's result (valid after execute). */
  result(c: number): number {
    return this.floats[(AT_CHUNK_TABLE + c * CHUNK_BYTES + CHUNK_RESULT) >> 3]!;
  }

  /** Stops the workers (idempotent). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    Atomics.store(this.ints, AT_STOP >> 2, 1);
    Atomics.store(this.ints, AT_SEQ >> 2, (this.seq + 1) | 0);
    Atomics.notify(this.ints, AT_SEQ >> 2);
    for (const thread of this.threads) thread.terminate();
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  private runHere(c: number): void {
    const at = AT_CHUNK_TABLE + c * CHUNK_BYTES;
    const f = this.floats;
    const a = (at + CHUNK_ARGS) >> 3;
    const result = this.local[this.ints[at >> 2]!]!(f[a]!, f[a + 1]!, f[a + 2]!, f[a + 3]!, f[a + 4]!, f[a + 5]!, f[a + 6]!, f[a + 7]!, f[a + 8]!, f[a + 9]!, f[a + 10]!, f[a + 11]!,
      f[a + 12]!, f[a + 13]!, f[a + 14]!, f[a + 15]!, f[a + 16]!, f[a + 17]!, f[a + 18]!, f[a + 19]!, f[a + 20]!, f[a + 21]!, f[a + 22]!, f[a + 23]!);
    f[(at + CHUNK_RESULT) >> 3] = result ?? 0;
  }

  private failure(): ThreadError {
    const length = this.ints[AT_ERROR_LENGTH >> 2]!;
    let text = "";
    for (let i = 0; i < length; i++) text += String.fromCharCode(this.chars[(AT_ERROR >> 1) + i]!);
    const worker = this.ints[AT_FAILED_WORKER >> 2]!;
    const kernel = this.kernels[this.ints[AT_FAILED_OP >> 2]!] ?? "a kernel";
    return new ThreadError(`worker thread ${worker} of ${this.workers} failed in ${kernel}: ${text}; the call's results are undefined (the model and its threads remain usable)`);
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
      else if (hello?.kind === "failed") settle(new ThreadError(`worker thread ${index + 1} could not start: ${hello.message}`, hello.message));
    });
    thread.onFailure((reason) => settle(new ThreadError(`worker thread ${index + 1} could not start: ${reason}`, reason)));
  });
}

export { MAX_ARGS, MAX_CHUNKS };
