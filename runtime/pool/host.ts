/**
 * @fileoverview Where a pool's threads come from: a ThreadHost starts worker threads and says
 * how many cores there are, whether threads can run here at all and whether the calling thread
 * may block. Node's host (node-host.ts) uses worker_threads, the browsers' (browser-host.ts) Web
 * Workers; one is found automatically, and `setThreadHost` replaces it (an app's own workers,
 * tests). No Node module is imported here: the runtime stays loadable by browsers as is.
 */
import { browserThreadHost } from "./browser-host.js";
import { nodeThreadHost, type BuiltinModules } from "./node-host.js";

/** One worker thread of a pool, as the pool sees it. */
export interface PoolThread {
  post(message: unknown): void;
  /** Messages from the thread (its hello). */
  onMessage(handler: (message: unknown) => void): void;
  /** The thread failed: its script did not load, it threw outside a task, or it exited. */
  onFailure(handler: (reason: string) => void): void;
  /** Lets the process exit while this thread idles (Node); nothing elsewhere. */
  release(): void;
  terminate(): void;
}

export interface ThreadHost {
  /** Logical cores this process or page may use (the default thread count). */
  cores(): number;
  /** Null when threads can run here; otherwise why not, for the one console message. */
  unavailable(): string | null;
  /** Whether the calling thread may block in Atomics.wait (a browser's main thread may not). */
  canBlock(): boolean;
  /** Starts a thread running `source` (the pool worker's script). */
  spawn(source: string): PoolThread;
}

let chosen: ThreadHost | null | undefined;

/**
 * Replaces the host every later `loadModel` uses: an app's own (e.g. workers it must create
 * itself), null for no threads anywhere, undefined to find this engine's again.
 */
export function setThreadHost(host: ThreadHost | null | undefined): void {
  chosen = host;
}

/** The host of this engine: set with setThreadHost, else Node's or the browser's, else none. */
export function threadHost(): ThreadHost | null {
  if (chosen === undefined) chosen = detectHost();
  return chosen;
}

function detectHost(): ThreadHost | null {
  const nodeProcess = (globalThis as { process?: { versions?: { node?: string }; getBuiltinModule?: (id: string) => unknown } }).process;
  if (typeof nodeProcess?.versions?.node === "string") {
    const builtin = nodeProcess.getBuiltinModule;
    // Node before 20.16 has no getBuiltinModule: its Node entry (runtime/node/runtime.ts) sets the host.
    if (typeof builtin !== "function") return null;
    return nodeThreadHost({
      workerThreads: builtin.call(nodeProcess, "node:worker_threads") as BuiltinModules["workerThreads"],
      os: builtin.call(nodeProcess, "node:os") as BuiltinModules["os"],
    });
  }
  if (typeof Worker === "function") return browserThreadHost();
  return null;
}
