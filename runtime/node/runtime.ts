/**
 * @fileoverview `condc/runtime` as Node imports it: the same API as runtime/index.ts, with
 * saveModel / loadWeights also reading and writing files (plain paths, file:// URLs), and
 * models on worker_threads (thread-host.ts).
 */
import "./storage.js";
import "./thread-host.js";

export * from "../index.js";
