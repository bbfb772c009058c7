/**
 * @fileoverview The runtime's public API (`import { loadModel } from "condc/runtime"`).
 * Nothing here imports Node-only modules: the same code runs in browsers.
 */
export { loadModel, Model, NonFiniteError } from "./model.js";
export type { Evaluation, TrainStepOptions } from "./model.js";
export { trainModel, learningRate } from "./train.js";
export type { TrainOptions, TrainResult, EpochReport, TrainProgress } from "./train.js";
export type { Manifest } from "./manifest.js";
export { manifestProblems } from "./manifest.js";
export type { Dataset, DataSplit } from "./data/dataset.js";
export { pickWasm } from "./simd.js";
export { refreshEstimators, setEstimatorsEnabled, measureLowRank, truncatedSvd, lowrankLayers } from "./lowrank.js";
export type { LowRankMetrics, LowRankLayerMetrics } from "./lowrank.js";
export { setPolicyMode, getPolicyMode, setPolicySeed, setPolicyLearningRate, getPolicyLearningRate, readPolicyStats, resetPolicyStats, measuredMacs, hasPolicy } from "./policy.js";
export type { PolicyTestMode, PolicyLayerStats } from "./policy.js";
export { treeLayers, treeCounters, resetTreeCounters, measuredMacsPerExample } from "./tree.js";
export type { TreeLayerInfo, TreeCounters } from "./tree.js";
export { encodeSafetensors, decodeSafetensors } from "./checkpoint/safetensors.js";
export type { DecodeOptions, DecodedSafetensors, DecodedTensor, NamedTensor } from "./checkpoint/safetensors.js";
export { CheckpointError, NonFiniteCheckpointError } from "./checkpoint/errors.js";
export type { NonFiniteTensor } from "./checkpoint/errors.js";
export { mapTensors, parseImportMap } from "./checkpoint/mapping.js";
export type { ImportMapping, MapTarget, ModelTensor, ImportedTensor } from "./checkpoint/mapping.js";
export { DataError } from "./data/errors.js";
export { parseIdx, loadIdxPair } from "./data/idx.js";
export { saveModel, loadWeights, listSavedModels, removeSavedModel, parseStorageUrl } from "./storage/storage.js";
export type { LoadWeightsOptions, LoadedWeights, StorageLocation, StorageScheme } from "./storage/storage.js";
export type { StoredModelInfo } from "./storage/record.js";
export { StorageError } from "./storage/errors.js";
