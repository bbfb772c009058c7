/**
 * @fileoverview The worker_threads script of `condc/worker` in Node: serves one model to the
 * thread that started it.
 */
import { parentPort } from "node:worker_threads";
import "./thread-host.js";
import { serveModel } from "../worker/serve.js";
import type { ToWorker } from "../worker/protocol.js";

if (!parentPort) throw new Error("worker-node.js runs as a worker_threads Worker (started by loadModelInWorker)");
const port = parentPort;
serveModel({
  post: (message, transfer) => port.postMessage(message, transfer as never),
  onMessage: (handler) => port.on("message", (message: ToWorker) => handler(message)),
});
