/**
 * @fileoverview Messages between the speed panel and its benchmark worker.
 */
import type { Manifest } from "../../../runtime/manifest.js";

export interface BenchRequest {
  conditional: { wasm: Uint8Array; manifest: Manifest };
  dense: { wasm: Uint8Array; manifest: Manifest };
  /** The conditional model's weights (a checkpoint). */
  weights: Uint8Array;
  /** Initialises the dense build first: layers without a tensor of the same shape keep these weights. */
  seed: number;
  /** maxBatch rows of input. */
  x: Float32Array;
  batches: number[];
  reps: number;
}

export interface BenchCaseResult {
  batch: number;
  denseMs: number;
  conditionalMs: number;
  /** MACs per example of the conditional build as run (counted where its methods count), and dense. */
  macs: number;
  denseMacs: number;
}

export type BenchReply =
  | { kind: "case"; result: BenchCaseResult }
  | { kind: "done"; apart: string[] }
  | { kind: "error"; message: string };
