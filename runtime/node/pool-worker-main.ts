/**
 * @fileoverview The pool worker's script in Node (an eval worker started by thread-host.ts):
 * the first message on its parent port starts it (runtime/pool/worker-serve.ts).
 */
import { parentPort } from "node:worker_threads";
import type { WorkerStart } from "../pool/layout.js";
import { serve } from "../pool/worker-serve.js";

if (!parentPort) throw new Error("the pool worker runs as a worker_threads Worker (started by a model's thread pool)");
const port = parentPort;
port.once("message", (start: WorkerStart) => serve(start, (message) => port.postMessage(message)));
