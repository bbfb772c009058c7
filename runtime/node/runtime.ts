/**
 * @fileoverview `condc/runtime` as Node imports it: the same API as runtime/index.ts, with
 * saveModel / loadWeights also reading and writing files (plain paths, file:// URLs).
 */
import "./storage.js";

export * from "../index.js";
