/**
 * @fileoverview Browsers' thread host: Web Workers started from a Blob URL of the pool script.
 * Threads need SharedArrayBuffer, which browsers give only to cross-origin isolated pages (the
 * Cross-Origin-Opener-Policy and Cross-Origin-Embedder-Policy headers); elsewhere the model runs
 * on one thread and the pool says so once. The main thread may not block: it spins instead.
 */
import type { PoolThread, ThreadHost } from "./host.js";
import { POOL_WORKER_BROWSER } from "../generated/pool-worker-browser.js";

interface BrowserScope {
  crossOriginIsolated?: boolean;
  navigator?: { hardwareConcurrency?: number };
  WorkerGlobalScope?: unknown;
}

export function browserThreadHost(): ThreadHost {
  const scope = globalThis as BrowserScope;
  return {
    cores: () => Math.max(1, scope.navigator?.hardwareConcurrency ?? 1),
    unavailable() {
      if (typeof SharedArrayBuffer === "undefined" || scope.crossOriginIsolated === false) {
        return "this page is not cross-origin isolated, so SharedArrayBuffer is unavailable: serve it with the headers Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp (or credentialless) to use several threads";
      }
      return null;
    },
    canBlock: () => scope.WorkerGlobalScope !== undefined,
    spawn(script = POOL_WORKER_BROWSER): PoolThread {
      const url = URL.createObjectURL(new Blob([script], { type: "text/javascript" }));
      let worker: Worker;
      try {
        worker = new Worker(url);
      } catch (error) {
        URL.revokeObjectURL(url);
        throw error;
      }
      // Revoked once the script has run (its first message) or failed to load.
      const revoke = (): void => URL.revokeObjectURL(url);
      return {
        post: (message) => worker.postMessage(message),
        onMessage: (handler) =>
          worker.addEventListener("message", (event) => {
            revoke();
            handler(event.data);
          }),
        onFailure(handler) {
          worker.addEventListener("error", (event) => {
            revoke();
            event.preventDefault();
            handler(event.message || "the thread's script failed to load or threw");
          });
          worker.addEventListener("messageerror", () => handler("a message from the thread could not be read"));
        },
        release: () => undefined,
        terminate: () => worker.terminate(),
      };
    },
  };
}
