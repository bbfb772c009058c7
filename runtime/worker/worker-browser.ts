/**
 * @fileoverview The Web Worker script of `condc/worker` (a module worker): serves one model
 * to the page that started it. Bundled apps ship it as its own entry (`condc/worker-script`).
 */
import { serveModel } from "./serve.js";
import type { FromWorker, ToWorker } from "./protocol.js";

interface WorkerScope {
  postMessage(message: FromWorker, transfer: ArrayBuffer[]): void;
  addEventListener(type: "message", handler: (event: MessageEvent<ToWorker>) => void): void;
}

const scope = globalThis as unknown as WorkerScope;
serveModel({
  post: (message, transfer) => scope.postMessage(message, transfer),
  onMessage: (handler) => scope.addEventListener("message", (event) => handler(event.data)),
});
