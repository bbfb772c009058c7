/**
 * @fileoverview The runtime's public API (`import { loadModel } from "condc/runtime"`).
 * Nothing here imports Node-only modules: the same code runs in browsers.
 */
export { loadModel, Model, NonFiniteError, ModelLoadError } from "./model.js";
export type { Evaluation, TrainStepOptions, LoadOptions } from "./model.js";
export { trainModel, trainModelAsync, learningRate, DivergenceError } from "./train.js";
export { resetCountersOf, figuresOf, afterEpochOf, analyzeOf, isGpuModel } from "./backend.js";
export type { AnyModel, Backend, BackendOptions } from "./backend.js";
export type { TrainOptions, TrainResult, EpochReport, TrainProgress, DivergenceOptions } from "./train.js";
export { collectFigures, resetCounters, analyzeModel } from "./report.js";
export type { ModelFigures, LayerFigures, Phase, ModelAnalyses } from "./report.js";
export { gateDecisions } from "./decisions.js";
export { timeDenseAgainstConditional, timePairs, copyWeightsByShape, type BenchPair } from "./bench.js";
export type { TimedCase } from "./bench.js";
export type { GateDecisions, DecisionsReport, DecisionsOptions } from "./decisions.js";
export type { Manifest, ManifestLayer, ManifestParam, ManifestRegion } from "./manifest.js";
export { manifestProblems } from "./manifest.js";
export type { Dataset, DataSplit } from "./data/dataset.js";
export { pickWasm, relaxedSimdSupported } from "./simd.js";
export { setThreadHost, threadHost } from "./pool/host.js";
export type { ThreadHost, PoolThread } from "./pool/host.js";
export { ThreadError } from "./errors.js";
export type { SplitMode } from "./pool/parallel.js";
export { KERNEL_LIBRARY, kernelLibraryBytes } from "./kernel-library.js";
export * from "../methods/runtime-registry.js";
export type { MethodRuntime, RuntimeLayer, LayerReport, LayerDecisions, DecisionUnit } from "../methods/runtime-unit.js";
export { defineRuntime } from "../methods/runtime-unit.js";
export { encodeSafetensors, decodeSafetensors } from "./checkpoint/safetensors.js";
export type { DecodeOptions, DecodedSafetensors, DecodedTensor, NamedTensor } from "./checkpoint/safetensors.js";
export { CheckpointError, NonFiniteCheckpointError } from "./checkpoint/errors.js";
export type { NonFiniteTensor } from "./checkpoint/errors.js";
export { mapTensors, parseImportMap } from "./checkpoint/mapping.js";
export type { ImportMapping, MapTarget, ModelTensor, ImportedTensor } from "./checkpoint/mapping.js";
export { DataError } from "./data/errors.js";
export { parseIdx, loadIdxPair } from "./data/idx.js";
export { saveModel, loadWeights, listSavedModels, removeSavedModel, parseStorageUrl } from "./storage/storage.js";
export type { LoadWeightsOptions, LoadedWeights, StorageLocation, StorageScheme, WeightsHolder } from "./storage/storage.js";
export type { StoredModelInfo } from "./storage/record.js";
export { StorageError } from "./storage/errors.js";
