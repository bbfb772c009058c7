/**
 * @fileoverview The pool worker's script in browsers (a Web Worker started from a Blob URL by
 * browser-host.ts): the first message starts it (worker-serve.ts).
 */
import type { WorkerStart } from "./layout.js";
import { serve } from "./worker-serve.js";

interface WorkerScope {
  postMessage(message: unknown): void;
  addEventListener(type: "message", handler: (event: { data: unknown }) => void): void;
  removeEventListener(type: "message", handler: (event: { data: unknown }) => void): void;
}

const scope = globalThis as unknown as WorkerScope;
const onStart = (event: { data: unknown }): void => {
  scope.removeEventListener("message", onStart);
  serve(event.data as WorkerStart, (message) => scope.postMessage(message));
};
scope.addEventListener("message", onStart);
