/**
 * @fileoverview A pool worker's script: instantiates the kernel library over the model's shared
 * memory with its own scratch block, says it is ready, then runs tasks from its control slot
 * until told to stop, never returning to its event loop. Built into one self-contained string
 * (runtime/generated/pool-worker.ts, by scripts/build-pool-worker.mjs) that the pool starts as a
 * Node eval worker or a Web Worker from a Blob URL, so no bundler has to find a worker file.
 */
import { AT_ARGS, AT_CALLER_SLEEPS, AT_CLAIM, AT_DONE, AT_ERROR, AT_ERROR_LENGTH, AT_OP, AT_RESULT, AT_SEQ, AT_STATUS, AT_WORKER_SLEEPS, ERROR_CHARS, OP_STOP, SLOT_BYTES, type WorkerHello, type WorkerStart } from "./layout.js";

type Kernel = (...args: number[]) => unknown;

interface NodePort {
  once(type: "message", handler: (message: WorkerStart) => void): void;
  postMessage(message: unknown): void;
}

declare const require: (id: string) => unknown;

interface Channel {
  once(handler: (message: WorkerStart) => void): void;
  post(message: WorkerHello): void;
}

function channel(): Channel {
  const scope = globalThis as unknown as { postMessage?: (m: unknown) => void; addEventListener?: (t: string, h: (e: { data: unknown }) => void) => void; WorkerGlobalScope?: unknown };
  if (scope.WorkerGlobalScope !== undefined && typeof scope.postMessage === "function") {
    return {
      once(handler) {
        const listener = (event: { data: unknown }): void => {
          (globalThis as unknown as { removeEventListener(t: string, h: unknown): void }).removeEventListener("message", listener);
          handler(event.data as WorkerStart);
        };
        scope.addEventListener!("message", listener);
      },
      post: (message) => scope.postMessage!(message),
    };
  }
  // A Node eval worker runs as CommonJS: require is the way to worker_threads.
  const { parentPort } = require("node:worker_threads") as { parentPort: NodePort };
  return {
    once: (handler) => parentPort.once("message", handler),
    post: (message) => parentPort.postMessage(message),
  };
}

function describe(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

function serve(start: WorkerStart, ch: Channel): void {
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
    ch.post({ kind: "failed", message: describe(error) });
    return;
  }
  ch.post({ kind: "ready" });
  const base = start.slot * SLOT_BYTES;
  const ints = new Int32Array(start.control);
  const floats = new Float64Array(start.control);
  const chars = new Uint16Array(start.control);
  const seqAt = (base + AT_SEQ) >> 2;
  const opAt = (base + AT_OP) >> 2;
  const a = (base + AT_ARGS) >> 3;
  const doneAt = (base + AT_DONE) >> 2;
  const statusAt = (base + AT_STATUS) >> 2;
  const lengthAt = (base + AT_ERROR_LENGTH) >> 2;
  const sleepsAt = (base + AT_WORKER_SLEEPS) >> 2;
  const callerSleepsAt = (base + AT_CALLER_SLEEPS) >> 2;
  const claimAt = (base + AT_CLAIM) >> 2;
  const resultAt = (base + AT_RESULT) >> 3;
  const errorAt = (base + AT_ERROR) >> 1;
  const spin = start.spin;
  // The caller's sequence numbers start at 0; its first task may be posted before this line runs.
  let seen = 0;
  for (;;) {
    let seq = Atomics.load(ints, seqAt);
    for (let i = 0; seq === seen && i < spin; i++) seq = Atomics.load(ints, seqAt);
    while (seq === seen) {
      Atomics.store(ints, sleepsAt, 1);
      Atomics.wait(ints, seqAt, seen);
      Atomics.store(ints, sleepsAt, 0);
      seq = Atomics.load(ints, seqAt);
    }
    seen = seq;
    if (ints[opAt] === OP_STOP) break;
    // Taken by the calling thread already: nothing to run (its arguments may be the next task's).
    if (Atomics.compareExchange(ints, claimAt, (seq - 1) | 0, seq) !== ((seq - 1) | 0)) {
      Atomics.store(ints, doneAt, seq);
      if (Atomics.load(ints, callerSleepsAt) !== 0) Atomics.notify(ints, doneAt);
      continue;
    }
    const op = ints[opAt]!;
    try {
      const f = floats;
      const result = kernels[op]!(f[a]!, f[a + 1]!, f[a + 2]!, f[a + 3]!, f[a + 4]!, f[a + 5]!, f[a + 6]!, f[a + 7]!, f[a + 8]!, f[a + 9]!, f[a + 10]!, f[a + 11]!,
        f[a + 12]!, f[a + 13]!, f[a + 14]!, f[a + 15]!, f[a + 16]!, f[a + 17]!, f[a + 18]!, f[a + 19]!, f[a + 20]!, f[a + 21]!, f[a + 22]!, f[a + 23]!);
      floats[resultAt] = typeof result === "number" ? result : 0;
      ints[statusAt] = 0;
    } catch (error) {
      const text = describe(error);
      const length = Math.min(text.length, ERROR_CHARS);
      for (let i = 0; i < length; i++) chars[errorAt + i] = text.charCodeAt(i);
      ints[lengthAt] = length;
      ints[statusAt] = 1;
    }
    Atomics.store(ints, doneAt, seq);
    if (Atomics.load(ints, callerSleepsAt) !== 0) Atomics.notify(ints, doneAt);
  }
}

const ch = channel();
ch.once((start) => serve(start, ch));
