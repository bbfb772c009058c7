/**
 * @fileoverview The runtime's registry of methods (the runtime halves of the units in
 * `registry.ts`) and the methods' public runtime API, re-exported by `runtime/index.ts`.
 * Imports nothing of the compiler, so a bundle of the runtime stays small.
 */
import type { MethodRuntime } from "./runtime-unit.js";
import { lowrankRuntime } from "./lowrank/runtime.js";
import { treeRuntime } from "./tree/runtime.js";
import { policyRuntime } from "./policy/runtime.js";
import { moeRuntime } from "./moe/runtime.js";

export const METHOD_RUNTIMES: readonly MethodRuntime[] = [lowrankRuntime, treeRuntime, policyRuntime, moeRuntime] as readonly MethodRuntime<any>[];

export { refreshEstimators, setEstimatorsEnabled, measureLowRank, lowrankLayers } from "./lowrank/runtime.js";
export type { LowRankMetrics, LowRankLayerMetrics } from "./lowrank/runtime.js";
export { truncatedSvd } from "../runtime/linalg/svd.js";
export { setPolicyMode, getPolicyMode, setPolicySeed, setPolicyLearningRate, getPolicyLearningRate, readPolicyStats, resetPolicyStats, measuredMacs, hasPolicy } from "./policy/runtime.js";
export type { PolicyTestMode, PolicyLayerStats } from "./policy/runtime.js";
export { treeLayers, treeCounters, resetTreeCounters, measuredMacsPerExample } from "./tree/runtime.js";
export type { TreeLayerInfo, TreeCounters } from "./tree/runtime.js";
export { moeStats } from "./moe/runtime.js";
export type { MoeLayerStats } from "./moe/runtime.js";
