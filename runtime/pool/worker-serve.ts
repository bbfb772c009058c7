/**
 * @fileoverview A pool worker's work, whatever the platform: instantiates the kernel library over
 * the model's shared memory with its own scratch block, says it is ready, then serves tasks
 * (layout.ts) until told to stop, never returning to its event loop. The platform's entry
 * (worker-browser-main.ts, runtime/node/pool-worker-main.ts) gives it the start message and a
 * way to answer; scripts/build-pool-worker.mjs bundles each entry into one self-contained string
 * (runtime/generated/pool-worker-*.ts) that its host starts, so no bundler has to find a file.
 */
import {
  AT_CALLER_SLEEPS, AT_CHUNKS, AT_CHUNK_TABLE, AT_ERROR, AT_ERROR_LENGTH, AT_FAILED, AT_FAILED_OP, AT_FAILED_WORKER, AT_FINISHED, AT_NEXT, AT_SEQ,
  AT_SLEEPERS, AT_STOP, CHUNK_ARGS, CHUNK_BYTES, CHUNK_RESULT, ERROR_CHARS, type WorkerHello, type WorkerStart,
} from "./layout.js";

type Kernel = (...args: number[]) => unknown;

/** How a worker answers its starter. */
export type Answer = (message: WorkerHello) => void;

function describe(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

/** Serves the pool that sent `start`; `answer` says ready (or why not) once. */
export function serve(start: WorkerStart, answer: Answer): void {
  let kernels: Kernel[];
  try {
    const instance = new WebAssembly.Instance(start.library, {
      env: {
        memory: start.memory,
        abort(): never {
          throw new Error("a kernel aborted (a condc bug: please report it)");
        },
      },
    });
    const exports = instance.exports as Record<string, unknown>;
    (exports["setScratch"] as (base: number) => void)(start.scratch);
    kernels = start.kernels.map((name) => {
      const fn = exports[name];
      if (typeof fn !== "function") throw new Error(`the kernel library has no function '${name}'`);
      return fn as Kernel;
    });
  } catch (error) {
    answer({ kind: "failed", message: describe(error) });
    return;
  }
  answer({ kind: "ready" });
  const ints = new Int32Array(start.control);
  const floats = new Float64Array(start.control);
  const chars = new Uint16Array(start.control);
  // Polls of the task number before sleeping: doubled when a task came while polling, halved
  // when none did (idle gaps, or a busy machine where polling only keeps the caller off the
  // core), never below minSpin (a few microseconds: the gaps between a call's tasks).
  let spin = start.spin;
  // Task numbers start at 0; the caller's first task may be posted before this line runs.
  let seen = 0;
  for (;;) {
    let seq = Atomics.load(ints, AT_SEQ >> 2);
    let polls = 0;
    while (seq === seen && polls < spin) {
      seq = Atomics.load(ints, AT_SEQ >> 2);
      polls++;
    }
    if (seq !== seen) {
      if (polls > 0 && spin < start.spin) spin = Math.min(start.spin, 2 * spin);
    } else {
      spin = Math.max(start.minSpin, spin >> 1);
      // A task soon after falling asleep means the budget was too short for the gaps between
      // this caller's tasks (say, between calls in a loop): it grows back, else every call would
      // pay a wake-up. Long sleeps (idle between bursts) keep halving it.
      const asleep = performance.now();
      while (seq === seen) {
        Atomics.add(ints, AT_SLEEPERS >> 2, 1);
        Atomics.wait(ints, AT_SEQ >> 2, seen);
        Atomics.sub(ints, AT_SLEEPERS >> 2, 1);
        seq = Atomics.load(ints, AT_SEQ >> 2);
      }
      if (performance.now() - asleep < start.shortSleepMs) spin = Math.min(start.spin, 4 * spin);
    }
    seen = seq;
    if (Atomics.load(ints, AT_STOP >> 2) !== 0) break;
    const task = seq & 0x7fff;
    for (;;) {
      const next = Atomics.load(ints, AT_NEXT >> 2);
      if (next >>> 16 !== task) break;
      const index = next & 0xffff;
      if (index >= Atomics.load(ints, AT_CHUNKS >> 2)) break;
      if (Atomics.compareExchange(ints, AT_NEXT >> 2, next, next + 1) !== next) continue;
      const at = AT_CHUNK_TABLE + index * CHUNK_BYTES;
      const op = ints[at >> 2]!;
      try {
        const f = floats;
        const a = (at + CHUNK_ARGS) >> 3;
        const result = kernels[op]!(f[a]!, f[a + 1]!, f[a + 2]!, f[a + 3]!, f[a + 4]!, f[a + 5]!, f[a + 6]!, f[a + 7]!, f[a + 8]!, f[a + 9]!, f[a + 10]!, f[a + 11]!,
          f[a + 12]!, f[a + 13]!, f[a + 14]!, f[a + 15]!, f[a + 16]!, f[a + 17]!, f[a + 18]!, f[a + 19]!, f[a + 20]!, f[a + 21]!, f[a + 22]!, f[a + 23]!);
        floats[(at + CHUNK_RESULT) >> 3] = typeof result === "number" ? result : 0;
      } catch (error) {
        if (Atomics.compareExchange(ints, AT_FAILED >> 2, 0, 1) === 0) {
          const text = describe(error);
          const length = Math.min(text.length, ERROR_CHARS);
          for (let i = 0; i < length; i++) chars[(AT_ERROR >> 1) + i] = text.charCodeAt(i);
          ints[AT_ERROR_LENGTH >> 2] = length;
          ints[AT_FAILED_WORKER >> 2] = start.worker;
          ints[AT_FAILED_OP >> 2] = op;
        }
      }
      const finished = Atomics.add(ints, AT_FINISHED >> 2, 1) + 1;
      if (finished === Atomics.load(ints, AT_CHUNKS >> 2) && Atomics.load(ints, AT_CALLER_SLEEPS >> 2) !== 0) Atomics.notify(ints, AT_FINISHED >> 2);
    }
  }
}
