/**
 * @fileoverview `condc/worker` in browsers: `loadModelInWorker` on a module Web Worker
 * running worker-browser.js (by default the file next to this one).
 */
import type { Manifest } from "../index.js";
import { WorkerModel, type WorkerPort } from "./client.js";

export { WorkerModel, WorkerError } from "./client.js";
export type { TransferOption, WorkerTrainOptions, WorkerPort } from "./client.js";

export interface WorkerSpawnOptions {
  /** The worker script (default: worker-browser.js beside this module; a bundled app's own entry). */
  url?: string | URL;
  /** Makes the worker yourself (e.g. `() => new Worker(new URL("./w.js", import.meta.url), { type: "module" })`). */
  create?: () => Worker;
}

export function webWorkerPort(worker: Worker): WorkerPort {
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
  return {
    post: (message, transfer) => worker.postMessage(message, transfer),
    onMessage: (handler) => worker.addEventListener("message", (event) => handler(event.data)),
    onFailure: (handler) => {
      worker.addEventListener("error", (event) => {
        event.preventDefault();
        handler((event as ErrorEvent).message || "the worker script failed to load or threw an uncaught error");
      });
      worker.addEventListener("messageerror", () => handler("a message from the worker could not be read"));
    },
    setKeepAlive: () => undefined,
    terminate: () => worker.terminate(),
    sharedMemory: isolated && typeof SharedArrayBuffer !== "undefined",
  };
}

/**
 * Loads a compiled model in a new Web Worker: `loadModel(wasm, manifest, options)` runs there
 * with `options` as given. Returns a handle whose Model methods return promises.
 */
export function loadModelInWorker(
  wasm: Uint8Array | ArrayBuffer | WebAssembly.Module,
  manifest: Manifest,
  options?: unknown,
  spawn: WorkerSpawnOptions = {},
): Promise<WorkerModel> {
  const create = spawn.create ?? (() => new Worker(spawn.url ?? new URL("./worker-browser.js", import.meta.url), { type: "module" }));
  return WorkerModel.start(() => webWorkerPort(create()), wasm, manifest, options);
}
