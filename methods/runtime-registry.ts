/**
 * @fileoverview The runtime's registry of methods (the runtime halves of the units in
 * `registry.ts`) and the methods' public runtime API, re-exported by `runtime/index.ts`.
 * Imports nothing of the compiler, so a bundle of the runtime stays small.
 */
import type { MethodRuntime } from "./runtime-unit.js";
import { denseRuntime } from "./dense/runtime.js";
import { lowrankRuntime } from "./lowrank/runtime.js";
import { treeRuntime } from "./tree/runtime.js";
import { policyRuntime } from "./policy/runtime.js";
import { moeRuntime } from "./moe/runtime.js";

/** Every method runtime `loadModel` uses: the built-in ones and those registered from outside. */
export const METHOD_RUNTIMES: MethodRuntime[] = [denseRuntime, lowrankRuntime, treeRuntime, policyRuntime, moeRuntime] as MethodRuntime<any>[];

/** Adds the runtime half of a method from outside (see `registerMethod`); a key already taken is a TypeError. */
export function registerMethodRuntime(runtime: MethodRuntime<any>): void {
  if (typeof runtime !== "object" || runtime === null || typeof runtime.key !== "string") throw new TypeError("registerMethodRuntime: expected a method runtime unit with a key");
  if (METHOD_RUNTIMES.some((r) => r.key === runtime.key)) throw new TypeError(`registerMethodRuntime: a method runtime with key '${runtime.key}' is already registered`);
  METHOD_RUNTIMES.push(runtime);
}

export { refreshEstimators, setEstimatorsEnabled, measureLowRank, lowrankLayers } from "./lowrank/runtime.js";
export type { LowRankMetrics, LowRankLayerMetrics } from "./lowrank/runtime.js";
export { truncatedSvd } from "../runtime/linalg/svd.js";
export { setPolicyMode, getPolicyMode, setPolicySeed, setPolicyLearningRate, getPolicyLearningRate, readPolicyStats, resetPolicyStats, measuredMacs, hasPolicy } from "./policy/runtime.js";
export type { PolicyTestMode, PolicyLayerStats } from "./policy/runtime.js";
export { treeLayers, treeCounters, resetTreeCounters, measuredMacsPerExample } from "./tree/runtime.js";
export type { TreeLayerInfo, TreeCounters } from "./tree/runtime.js";
export { moeStats } from "./moe/runtime.js";
export type { MoeLayerStats } from "./moe/runtime.js";
