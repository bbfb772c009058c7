/**
 * @fileoverview The control block a pool shares with its worker threads (a SharedArrayBuffer
 * apart from the model's memory): one slot per worker, which the calling thread writes (the
 * kernel, its arguments, a sequence number) and the worker answers (done, status, result, the
 * error text). Imported by the pool and by the worker's script (worker-main.ts), so both agree.
 */

/** Bytes of one worker's slot (the two halves sit on different cache lines). */
export const SLOT_BYTES = 1024;
/** Arguments a tile may pass (f64 each: i32, f32 and f64 parameters all fit exactly). */
export const MAX_ARGS = 24;

// Calling thread -> worker (byte offsets in a slot).
/** i32: bumped once per task; the worker runs a task when it changes. */
export const AT_SEQ = 0;
/** i32: the kernel's index in the worker's table, or OP_STOP. */
export const AT_OP = 4;
/** f64[MAX_ARGS]: the kernel's arguments. */
export const AT_ARGS = 8;
/** i32: 1 while the calling thread sleeps in Atomics.wait on AT_DONE (the worker then notifies). */
export const AT_CALLER_SLEEPS = 208;
/**
 * i32: the sequence number of the last task claimed. Task s is run by whoever moves this from
 * s - 1 to s first (compareExchange): its worker, or the calling thread when the worker is late
 * (descheduled, asleep), so a busy machine never leaves the caller waiting for a thread that
 * has not started. Tiles compute the same bits whoever runs them.
 */
export const AT_CLAIM = 212;

// Worker -> calling thread.
/** i32: the sequence number of the last task finished. */
export const AT_DONE = 256;
/** i32: 0 when the last task returned, 1 when it threw. */
export const AT_STATUS = 260;
/** i32: characters of the error text. */
export const AT_ERROR_LENGTH = 264;
/** i32: 1 while the worker sleeps in Atomics.wait on AT_SEQ (the caller then notifies). */
export const AT_WORKER_SLEEPS = 268;
/** f64: the kernel's result (0 for kernels that return nothing). */
export const AT_RESULT = 272;
/** u16[ERROR_CHARS]: the error text (cut to fit). */
export const AT_ERROR = 280;
export const ERROR_CHARS = (SLOT_BYTES - AT_ERROR) / 2;

/** The op that ends a worker's loop. */
export const OP_STOP = -1;

/** What the pool sends a worker to start it. */
export interface WorkerStart {
  kind: "start";
  /** The kernel library compiled with a shared memory import. */
  library: WebAssembly.Module;
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer;
  slot: number;
  /** This worker's scratch block (setScratch). */
  scratch: number;
  /** The kernel table: export names, in op order. */
  kernels: string[];
  /** Polls of the sequence number before sleeping in Atomics.wait. */
  spin: number;
}

/** What a worker answers once: ready to run tasks, or why it cannot. */
export type WorkerHello = { kind: "ready" } | { kind: "failed"; message: string };
