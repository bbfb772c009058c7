/**
 * @fileoverview What build, train and eval share: compile a model file (printing its
 * diagnostics), load the build this engine runs best, resolve `--data`, and turn the
 * runtime's expected failures (bad data, bad checkpoint, divergence) into one-line errors.
 */
import { compile, type CompileSuccess } from "../compiler/compile.js";
import { formatDiagnostics } from "../compiler/frontend/diagnostics.js";
import { checkSource } from "../compiler/frontend/frontend.js";
import type { DatasetSpec } from "../compiler/frontend/model.js";
import { CheckpointError } from "../runtime/checkpoint/errors.js";
import { DataError } from "../runtime/data/errors.js";
import type { DataSplit } from "../runtime/data/dataset.js";
import { loadModel, NonFiniteError, type Model } from "../runtime/model.js";
import { loadDataset } from "../runtime/node/data.js";
import { FileAccessError } from "../runtime/node/files.js";
import { pickWasm } from "../runtime/simd.js";
import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { CliError, describeFsError, ExitCode, readSource, type CliIO } from "./io.js";

export interface CompiledFile {
  result: CompileSuccess;
  model: Model;
  simd: "plain" | "relaxed";
}

/** Reads and compiles `file`; on errors prints the diagnostics and throws (exit 1). */
export async function compileFile(io: CliIO, command: string, file: string, options: { maxBatch?: number; simd?: "both" | "plain" | "relaxed"; fitTrainBatch?: boolean } = {}): Promise<CompileSuccess> {
  const text = readSource(io, file);
  let maxBatch = options.maxBatch;
  if (maxBatch === undefined && options.fitTrainBatch) {
    // The build must hold the file's own `batch` when it is above compile()'s default (128).
    const batch = checkSource(text, file).model?.train.batch;
    if (batch !== undefined && batch > 128) maxBatch = batch;
  }
  const result = await compile(text, { file, maxBatch, simd: options.simd });
  if (result.diagnostics.length > 0) io.stderr(formatDiagnostics(result.diagnostics, result.source));
  if (!result.ok) throw new CliError(`condc ${command}: ${file} has errors`, ExitCode.sourceErrors);
  return result;
}

/** Compiles `file` and instantiates the relaxed-SIMD build where the engine validates it. */
export async function compileAndLoad(io: CliIO, command: string, file: string, options: { maxBatch?: number; plain?: boolean } = {}): Promise<CompiledFile> {
  const result = await compileFile(io, command, file, { maxBatch: options.maxBatch, simd: options.plain ? "plain" : "both", fitTrainBatch: true });
  const chosen = options.plain ? { wasm: result.wasm, simd: "plain" as const } : pickWasm(result.wasm, result.relaxedWasm);
  const model = await loadModel(chosen.wasm, result.manifest);
  return { result, model, simd: chosen.simd };
}

/** `mnist`, `fashion-mnist` (or `fashion_mnist`), `idx:DIR`. */
export function parseDataOption(command: string, value: string): DatasetSpec {
  if (value === "mnist") return { kind: "mnist" };
  if (value === "fashion-mnist" || value === "fashion_mnist") return { kind: "fashion_mnist" };
  if (value.startsWith("idx:") && value.length > 4) return { kind: "idx", dir: value.slice(4) };
  throw new CliError(`condc ${command}: --data must be mnist, fashion-mnist or idx:DIR, got '${value}'`);
}

export async function loadData(spec: DatasetSpec, width: number, classes: number): Promise<DataSplit> {
  const split = await loadDataset(spec);
  for (const ds of [split.train, split.test]) {
    if (ds.width !== width) throw new DataError(ds.name, `examples are ${ds.width} wide but the model's input is ${width} wide`);
    if (ds.classes > classes) throw new DataError(ds.name, `has ${ds.classes} classes but the model's target has ${classes}`);
  }
  return split;
}

/** Positive integer option or a usage error naming it. */
export function positiveInteger(command: string, name: string, value: string | boolean | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (typeof value !== "string" || !Number.isInteger(n) || n < 1) throw new CliError(`condc ${command}: --${name} must be a positive integer, got '${String(value)}'`);
  return n;
}

export function positiveNumber(command: string, name: string, value: string | boolean | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (typeof value !== "string" || !(n > 0) || !Number.isFinite(n)) throw new CliError(`condc ${command}: --${name} must be a positive number, got '${String(value)}'`);
  return n;
}

/**
 * Creates the directory an output file goes into, before any long work, so that a bad
 * path fails at once and not after training.
 */
export async function prepareOutput(command: string, path: string): Promise<void> {
  try {
    await mkdir(dirname(path), { recursive: true });
  } catch (error) {
    throw new CliError(`condc ${command}: cannot create the directory of '${path}': ${describeFsError(error)}`);
  }
}

/** Runs `body`, turning the runtime's expected failures into one-line CLI errors (exit 1). */
export async function reportingRuntimeErrors<T>(command: string, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (error) {
    if (error instanceof DataError || error instanceof CheckpointError || error instanceof NonFiniteError || error instanceof FileAccessError) {
      throw new CliError(`condc ${command}: ${error.message}`, ExitCode.sourceErrors);
    }
    const fsError = error as NodeJS.ErrnoException | null;
    if (fsError && typeof fsError.code === "string" && typeof fsError.path === "string") {
      throw new CliError(`condc ${command}: cannot write '${fsError.path}': ${describeFsError(error)}`, ExitCode.sourceErrors);
    }
    throw error;
  }
}
