/**
 * @fileoverview Node's thread host: worker_threads workers running the pool worker's script as
 * eval code, released (unref) once started so that idle workers never keep a process alive.
 * Importing this module makes it the default host (runtime/node/runtime.ts, the Node entry of
 * `condc/runtime`, and the condc command do).
 */
import os from "node:os";
import { Worker } from "node:worker_threads";
import { registerDefaultThreadHost, type PoolThread, type ThreadHost } from "../pool/host.js";
import { POOL_WORKER_NODE } from "../generated/pool-worker-node.js";

export function nodeThreadHost(): ThreadHost {
  return {
    cores: () => (typeof os.availableParallelism === "function" ? os.availableParallelism() : os.cpus().length) || 1,
    unavailable: () => null,
    canBlock: () => true,
    spawn(script = POOL_WORKER_NODE): PoolThread {
      const worker = new Worker(script, { eval: true });
      return {
        post: (message) => worker.postMessage(message),
        onMessage: (handler) => worker.on("message", handler),
        onFailure(handler) {
          worker.on("error", (error) => handler(`${error.name}: ${error.message}`));
          worker.on("messageerror", () => handler("a message from the thread could not be read"));
          worker.on("exit", (code) => handler(`it exited with code ${code}`));
        },
        release: () => worker.unref(),
        terminate: () => void worker.terminate(),
      };
    },
  };
}

registerDefaultThreadHost(nodeThreadHost());
