/**
 * @fileoverview The messages between a WorkerModel handle and its worker, and how errors
 * cross the boundary with their class (RangeError, CheckpointError, ...) and fields intact.
 */
import { CheckpointError, DataError, NonFiniteCheckpointError, NonFiniteError, StorageError } from "../index.js";
import type { Dataset, DecisionsReport, EpochReport, Manifest, ModelAnalyses, ModelFigures, Phase, TrainProgress } from "../index.js";

/** The Model methods a handle forwards, with their arguments as sent. */
export interface CallArgs {
  init: [seed: number];
  predict: [x: Float32Array, n: number];
  trainStep: [x: Float32Array, labels: Uint8Array | Int32Array, n: number, lr: number | undefined];
  evaluate: [dataset: Dataset];
  save: [];
  load: [bytes: Uint8Array, fileLabel: string, allowNonFinite: boolean];
  decisions: [x: Float32Array, n: number, keep: number];
  analyze: [dataset: Dataset];
  figures: [phase: Phase];
  resetCounters: [phase: Phase];
}

/** What each call resolves to. */
export interface CallResults {
  init: void;
  predict: Float32Array;
  trainStep: { loss: number };
  evaluate: import("../index.js").Evaluation;
  save: Uint8Array;
  load: void;
  decisions: DecisionsReport;
  analyze: ModelAnalyses;
  figures: ModelFigures;
  resetCounters: void;
}
export type MethodName = keyof CallArgs;

/** Resolved training settings (the manifest's where the caller gave none). */
export interface WorkerTrainSettings {
  epochs: number;
  batch: number;
  seed: number;
  lr: number;
  schedule: { kind: string; every?: number; factor?: number };
  progressEvery: number;
  /** Progress events carry the epoch's figures so far (`collectFigures(model, "train")`). */
  figures: boolean;
  /** After each epoch, every method's `analyze` on the first this many test examples (0: none). */
  analyze: number;
}

export type ToWorker =
  | { kind: "open"; wasm: Uint8Array | ArrayBuffer | WebAssembly.Module; manifest: Manifest; options: unknown }
  | { [M in MethodName]: { kind: "call"; id: number; method: M; args: CallArgs[M] } }[MethodName]
  | {
      kind: "train";
      id: number;
      train: Dataset;
      test: Dataset;
      settings: WorkerTrainSettings;
      /** Int32 flag set to 1 to cancel at the next step (null without shared memory). */
      cancel: SharedArrayBuffer | null;
      /** Post the weights after each epoch (cancellation without shared memory restarts from them). */
      snapshots: boolean;
    };

export interface SerializedError {
  name: string;
  message: string;
  fields: Record<string, string | number | boolean | null>;
}

export type FromWorker =
  | { kind: "opened"; maxBatch: number; step: number }
  | { kind: "open-failed"; error: SerializedError }
  | { kind: "result"; id: number; value: unknown; step: number }
  | { kind: "error"; id: number; error: SerializedError; step: number }
  | { kind: "progress"; id: number; progress: TrainProgress; step: number; figures: ModelFigures | null }
  | { kind: "epoch"; id: number; report: EpochReport; step: number; snapshot: Uint8Array | null; analyses: ModelAnalyses | null }
  | { kind: "cancelled"; id: number; epochs: EpochReport[]; step: number };

export function serializeError(error: unknown): SerializedError {
  if (!(error instanceof Error)) return { name: "Error", message: String(error), fields: {} };
  const fields: SerializedError["fields"] = {};
  for (const [key, value] of Object.entries(error)) {
    if (value === null || ["string", "number", "boolean"].includes(typeof value)) fields[key] = value as string | number | boolean | null;
  }
  return { name: error.name, message: error.message, fields };
}

/** Errors rebuilt as their own class, so `instanceof` works on the caller's side. */
const CLASSES: Record<string, { prototype: Error }> = {
  Error,
  TypeError,
  RangeError,
  CheckpointError,
  NonFiniteCheckpointError,
  StorageError,
  NonFiniteError,
  DataError,
};

export function reviveError(data: SerializedError): Error {
  const error = new Error(data.message);
  const proto = Object.hasOwn(CLASSES, data.name) ? CLASSES[data.name]!.prototype : Error.prototype;
  Object.setPrototypeOf(error, proto);
  Object.assign(error, data.fields);
  Object.defineProperty(error, "name", { value: data.name, writable: true, configurable: true, enumerable: false });
  return error;
}
