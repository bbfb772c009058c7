/**
 * @fileoverview Where a pool's threads come from: a ThreadHost starts worker threads and says
 * how many cores there are, whether threads can run here at all and whether the calling thread
 * may block. Browsers' host (browser-host.ts) uses Web Workers; Node's (runtime/node/
 * thread-host.ts) uses worker_threads and registers itself as the default when imported (the
 * Node entry of `condc/runtime` does), so that nothing of Node's is in a browser's module graph.
 * `setThreadHost` replaces the host (an app's own workers, tests).
 */
import { browserThreadHost } from "./browser-host.js";

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
  /** Starts a thread running the pool worker's script (this host's own unless `script` is given). */
  spawn(script?: string): PoolThread;
}

let chosen: ThreadHost | null | undefined;
let registered: ThreadHost | null = null;

/**
 * Replaces the host every later `loadModel` uses: an app's own (e.g. workers it must create
 * itself), null for no threads anywhere, undefined to use the default again.
 */
export function setThreadHost(host: ThreadHost | null | undefined): void {
  chosen = host;
}

/** The platform's host, used unless setThreadHost chose another (Node's registers itself). */
export function registerDefaultThreadHost(host: ThreadHost): void {
  registered = host;
}

/** The host: set with setThreadHost, else the registered default, else the browser's where there are Web Workers, else none. */
export function threadHost(): ThreadHost | null {
  if (chosen !== undefined) return chosen;
  if (registered) return registered;
  return typeof Worker === "function" ? browserThreadHost() : null;
}
