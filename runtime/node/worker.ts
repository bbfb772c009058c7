/**
 * @fileoverview `condc/worker` in Node: `loadModelInWorker` on a worker_threads Worker running
 * worker-node.js. The worker keeps the process alive only while calls are pending, so a script
 * that forgets dispose() still exits.
 */
import { Worker } from "node:worker_threads";
import type { Manifest } from "../index.js";
import { WorkerModel, type WorkerPort } from "../worker/client.js";

export { WorkerModel, WorkerError } from "../worker/client.js";
export type { TransferOption, WorkerTrainOptions, WorkerPort } from "../worker/client.js";

export interface WorkerSpawnOptions {
  /** The worker script (default: worker-node.js beside this module). */
  url?: string | URL;
  /** Makes the worker yourself. */
  create?: () => Worker;
}

export function nodeWorkerPort(worker: Worker): WorkerPort {
  let exited = false;
  return {
    post: (message, transfer) => worker.postMessage(message, transfer as never),
    onMessage: (handler) => worker.on("message", handler),
    onFailure: (handler) => {
      worker.on("error", (error) => handler(`${error.name}: ${error.message}`));
      worker.on("messageerror", () => handler("a message from the worker could not be read"));
      worker.on("exit", (code) => {
        exited = true;
        handler(`it exited with code ${code}`);
      });
    },
    setKeepAlive: (on) => (exited ? undefined : on ? worker.ref() : worker.unref()),
    terminate: () => void worker.terminate(),
    sharedMemory: true,
  };
}

/**
 * Loads a compiled model in a new worker thread: `loadModel(wasm, manifest, options)` runs
 * there with `options` as given. Returns a handle whose Model methods return promises.
 */
export function loadModelInWorker(
  wasm: Uint8Array | ArrayBuffer | WebAssembly.Module,
  manifest: Manifest,
  options?: unknown,
  spawn: WorkerSpawnOptions = {},
): Promise<WorkerModel> {
  const create = spawn.create ?? (() => new Worker(spawn.url ?? new URL("./worker-node.js", import.meta.url)));
  return WorkerModel.start(() => nodeWorkerPort(create()), wasm, manifest, options);
}
