/**
 * @fileoverview The control block a pool shares with its worker threads (a SharedArrayBuffer
 * apart from the model's memory). A task is a list of chunks (a kernel and its arguments each,
 * written by the calling thread); every thread, the caller included, takes the next chunk
 * with a compare-exchange on `next` until none is left, so a thread the OS has not scheduled
 * yet (a busy machine) takes none and holds nobody up, and a slow one holds up only its
 * chunk. Chunks compute the same bits whoever runs them. Imported by the pool and by the
 * worker's script (worker-serve.ts), so both agree. Offsets are in bytes; i32 fields unless
 * said otherwise; fields written by different threads sit on different cache lines.
 */

/** The task number: bumped once per task; workers wait on it. */
export const AT_SEQ = 0;
/** 1 once the pool is disposed: workers leave their loop. */
export const AT_STOP = 4;
/** Workers sleeping in Atomics.wait on AT_SEQ (the caller notifies when it is not 0). */
export const AT_SLEEPERS = 8;
/**
 * (task << 16) | index of the next chunk to take, task = the task number & 0x7fff: a thread
 * serves only the task it was woken for, and a compare-exchange on the exact value, which
 * changes before a new task's chunks are written, never hands out a chunk being rewritten.
 */
export const AT_NEXT = 64;
/** Chunks finished (run or failed). */
export const AT_FINISHED = 128;
/** 1 while the calling thread sleeps in Atomics.wait on AT_FINISHED (the last finisher notifies). */
export const AT_CALLER_SLEEPS = 132;
/** Chunks in the task. */
export const AT_CHUNKS = 192;
/** 1 once a chunk failed on a worker (the first failure's fields follow). */
export const AT_FAILED = 196;
/** The failed chunk's worker (1-based) and kernel index, and its error text's length. */
export const AT_FAILED_WORKER = 200;
export const AT_FAILED_OP = 204;
export const AT_ERROR_LENGTH = 208;
/** u16[ERROR_CHARS]: the first failure's error text (cut to fit). */
export const AT_ERROR = 256;
export const ERROR_CHARS = 384;

/** The chunk table. */
export const AT_CHUNK_TABLE = 1024;
/** Bytes of one chunk: its kernel (i32), arguments (f64[MAX_ARGS] at +8), result (f64). */
export const CHUNK_BYTES = 256;
export const CHUNK_ARGS = 8;
export const CHUNK_RESULT = 248;
/** Arguments a chunk may pass (f64 each: i32, f32 and f64 parameters all fit exactly). */
export const MAX_ARGS = 24;
/** Chunks a task may have. */
export const MAX_CHUNKS = 128;
export const CONTROL_BYTES = AT_CHUNK_TABLE + MAX_CHUNKS * CHUNK_BYTES;

/** What the pool sends a worker to start it. */
export interface WorkerStart {
  kind: "start";
  /** The kernel library compiled with a shared memory import. */
  library: WebAssembly.Module;
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer;
  /** This worker's number (1-based; the caller is 0). */
  worker: number;
  /** This worker's scratch block (setScratch). */
  scratch: number;
  /** The kernel table: export names, in index order. */
  kernels: string[];
  /** Polls of the task number before sleeping in Atomics.wait: at most, and at least. */
  spin: number;
  minSpin: number;
  /** A sleep shorter than this (ms) ended by work was premature: the poll budget grows. */
  shortSleepMs: number;
}

/** What a worker answers once: ready to run tasks, or why it cannot. */
export type WorkerHello = { kind: "ready" } | { kind: "failed"; message: string };
