/**
 * @fileoverview Starting a model's threads: the pool and the model module's kernel imports, each
 * a dispatcher where one exists (the dense kernels' and each method's, loaded here), else the
 * calling thread's kernel. Idle pools of unreachable models are stopped by a FinalizationRegistry.
 * Loaded on demand by loadModel (only for a model on several threads).
 */
import { KERNEL_SIGNATURES } from "../generated/kernel-library.js";
import type { MethodRuntime } from "../../methods/runtime-unit.js";
import { DENSE_DISPATCHERS } from "./dense-kernels.js";
import { threadHost } from "./host.js";
import { ParallelContext, type Dispatchers, type KernelFunction, type SplitMode } from "./parallel.js";
import { ThreadPool } from "./pool.js";

/** Polls of a worker waiting for its next task before it sleeps (about 50-100 µs). */
const WORKER_SPIN = 20_000;
/** Polls of the calling thread waiting for the workers before it sleeps. */
const CALLER_SPIN = 50_000;
/** The least either polls (a few microseconds), however often polling came to nothing. */
const MIN_SPIN = 4_096;
/** A sleep ended by work sooner than this (ms) was premature: the budget grows back (pool.ts, worker-serve.ts). */
const SHORT_SLEEP_MS = 1;
const START_TIMEOUT_MS = 20_000;

/** The kernel table shared by the pool and its workers: every exported kernel, by name. */
const KERNEL_NAMES: readonly string[] = Object.keys(KERNEL_SIGNATURES);

export interface ThreadsOptions {
  threads: number;
  library: WebAssembly.Module;
  memory: WebAssembly.Memory;
  /** The scratch block of thread t (0: the calling thread). */
  scratchOf(thread: number): number;
  /** The calling thread's kernels. */
  local: Record<string, unknown>;
  /** The model module, whose kernel imports get dispatchers. */
  module: WebAssembly.Module;
  runtimes: readonly MethodRuntime[];
  split: SplitMode;
}

export interface Threads {
  /** Threads in all (1 once disposed). */
  readonly threads: number;
  /** The model module's `kernels` imports. */
  readonly imports: WebAssembly.ModuleImports;
  dispose(): void;
  /** Stops the workers once `owner` is garbage-collected. */
  disposeWith(owner: object): void;
}

const finalizer = typeof FinalizationRegistry === "function" ? new FinalizationRegistry<ThreadPool>((pool) => pool.dispose()) : null;

export async function startThreads(options: ThreadsOptions): Promise<Threads> {
  const host = threadHost()!;
  const local = options.local as Record<string, KernelFunction>;
  const pool = await ThreadPool.start({
    host,
    workers: options.threads - 1,
    library: options.library,
    memory: options.memory,
    scratch: Array.from({ length: options.threads - 1 }, (_, w) => options.scratchOf(w + 1)),
    kernels: KERNEL_NAMES,
    local: KERNEL_NAMES.map((name) => local[name]!),
    workerSpin: WORKER_SPIN,
    callerSpin: CALLER_SPIN,
    minSpin: MIN_SPIN,
    shortSleepMs: SHORT_SLEEP_MS,
    startTimeoutMs: START_TIMEOUT_MS,
  });
  const own = await Promise.all(options.runtimes.map((r) => r.dispatchers?.() ?? {}));
  const dispatchers: Dispatchers = Object.assign({}, DENSE_DISPATCHERS, ...own);
  const ctx = new ParallelContext(pool, local, KERNEL_NAMES, options.split, options.memory, dispatchers);
  const imports: WebAssembly.ModuleImports = {};
  for (const entry of WebAssembly.Module.imports(options.module)) {
    if (entry.module === "kernels" && entry.kind === "function") imports[entry.name] = ctx.dispatched(entry.name);
  }
  return {
    get threads() {
      return ctx.threads;
    },
    imports,
    dispose: () => pool.dispose(),
    disposeWith: (owner) => finalizer?.register(owner, pool),
  };
}
