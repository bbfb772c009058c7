/**
 * @fileoverview What build, train and eval share: compile a model file (printing its
 * diagnostics), load the build this engine runs best, resolve `--data`, and turn the
 * runtime's expected failures (bad data, bad checkpoint, divergence) into one-line errors.
 */
import { compile, type CompileSuccess } from "../compiler/compile.js";
import { formatDiagnostics } from "../compiler/frontend/diagnostics.js";
import { checkSource } from "../compiler/frontend/frontend.js";
import type { DatasetSpec } from "../compiler/frontend/model.js";
import type { DataSplit } from "../runtime/data/dataset.js";
import type { AnyModel, Backend } from "../runtime/backend.js";
import { loadOnBackend } from "./backend.js";
import { loadDataset } from "../runtime/node/data.js";
import { DataError } from "../runtime/data/errors.js";
import { FileWriteError, prepareOutputDirectory, prepareOutputFile } from "../runtime/node/files.js";
import { isExpectedFailure } from "./failures.js";

export { isExpectedFailure } from "./failures.js";
import { pickWasm } from "../runtime/simd.js";
import { CliError, ExitCode, quotePath, readSource, type CliIO } from "./io.js";

export interface CompiledFile {
  result: CompileSuccess;
  model: AnyModel;
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

/**
 * Compiles `file` and instantiates the relaxed-SIMD build where the engine validates it, on the
 * back end asked for (`--backend`; what runs where is printed on stderr).
 */
export async function compileAndLoad(io: CliIO, command: string, file: string, options: { maxBatch?: number; plain?: boolean; backend?: Backend; threads?: number } = {}): Promise<CompiledFile> {
  const result = await compileFile(io, command, file, { maxBatch: options.maxBatch, simd: options.plain ? "plain" : "both", fitTrainBatch: true });
  const chosen = options.plain ? { wasm: result.wasm, simd: "plain" as const } : pickWasm(result.wasm, result.relaxedWasm);
  const model = await loadOnBackend(chosen.wasm, result.manifest, options.backend ?? "wasm", (line) => io.stderr(line), options.threads);
  return { result, model, simd: chosen.simd };
}

/** The most threads a flag may ask for (as loadModel). */
const MAX_THREADS_FLAG = 1024;

/** `--threads N`: an integer in [1, 1024]. */
export function threadsFlag(command: string, value: string | boolean | undefined): number | undefined {
  return integerFlag(command, "threads", value, 1, MAX_THREADS_FLAG, `an integer in [1, ${MAX_THREADS_FLAG}]`);
}

/** `--threads 1,2,4`: a list of such integers, at most 16, without repeats. */
export function threadsListFlag(command: string, value: string | boolean | undefined): number[] | undefined {
  if (value === undefined) return undefined;
  const parts = String(value).split(",");
  if (parts.length > 16) throw new CliError(`condc ${command}: --threads takes at most 16 values, got ${parts.length}`);
  const counts = parts.map((part) => threadsFlag(command, part.trim())!);
  if (new Set(counts).size !== counts.length) throw new CliError(`condc ${command}: --threads lists ${counts.find((c, i) => counts.indexOf(c) !== i)} twice`);
  return counts;
}

/** `mnist`, `fashion-mnist` (or `fashion_mnist`), `idx:DIR`. */
export function parseDataOption(command: string, value: string): DatasetSpec {
  if (value === "mnist") return { kind: "mnist" };
  if (value === "fashion-mnist" || value === "fashion_mnist") return { kind: "fashion_mnist" };
  if (value.startsWith("idx:") && value.length > 4) return { kind: "idx", dir: value.slice(4) };
  throw new CliError(`condc ${command}: --data must be mnist, fashion-mnist or idx:DIR, got '${value}'`);
}

/**
 * Loads a data set for a model: labels are checked against the model's class count (an
 * IDX set may have any number of classes up to it), widths must match, neither split may
 * be empty.
 */
export async function loadData(spec: DatasetSpec, width: number, classes: number): Promise<DataSplit> {
  const split = await loadDataset(spec, { classes });
  for (const ds of [split.train, split.test]) {
    if (ds.count === 0) throw new DataError(ds.name, "has no examples: training and evaluation need at least one");
    if (ds.width !== width) throw new DataError(ds.name, `examples are ${ds.width} wide but the model's input is ${width} wide`);
    if (ds.classes > classes) throw new DataError(ds.name, `has ${ds.classes} classes but the model's target has ${classes}`);
  }
  return split;
}

const DECIMAL_INTEGER = /^[0-9]+$/;
const DECIMAL_NUMBER = /^(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;
/** Counts the runtime keeps in i32 (epochs, batch, repetitions). */
const MAX_FLAG_INTEGER = 2 ** 31 - 1;

/**
 * An integer flag in [min, max], written in plain decimal digits (`0x10`, `1e3`, `12abc`,
 * `''` and ` 5` are refused, not read as JavaScript would). Usage error naming it otherwise.
 */
export function integerFlag(
  command: string,
  name: string,
  value: string | boolean | undefined,
  min: number,
  max: number,
  range = max === MAX_FLAG_INTEGER && min === 1 ? "a positive integer" : `an integer in [${min}, ${max}]`,
): number | undefined {
  if (value === undefined) return undefined;
  const n = typeof value === "string" && DECIMAL_INTEGER.test(value) ? Number(value) : NaN;
  if (!(n >= min && n <= max)) throw new CliError(`condc ${command}: --${name} must be ${range}, got ${quotePath(String(value))}`);
  return n;
}

/** Positive integer option (at most 2^31 - 1) or a usage error naming it. */
export function positiveInteger(command: string, name: string, value: string | boolean | undefined): number | undefined {
  return integerFlag(command, name, value, 1, MAX_FLAG_INTEGER);
}

/** `--seed`: an integer in [0, 2^32), the range of the generated module's u32 seed. */
export function seedFlag(command: string, value: string | boolean | undefined): number | undefined {
  return integerFlag(command, "seed", value, 0, 2 ** 32 - 1, "an integer in [0, 2^32)");
}

/** A comma-separated list of positive integers (`--batch 1,50,128`), at most 64 entries. */
export function positiveIntegerList(command: string, name: string, value: string | boolean | undefined): number[] | undefined {
  if (value === undefined) return undefined;
  const parts = String(value).split(",");
  if (parts.length > 64) throw new CliError(`condc ${command}: --${name} takes at most 64 values, got ${parts.length}`);
  return parts.map((part) => positiveInteger(command, name, part.trim())!);
}

/**
 * A positive number flag (`--lr`), decimal, whose f32 rounding is still positive and finite
 * (the module computes in f32: `1e-50` would be 0, `1e39` infinite).
 */
export function positiveNumber(command: string, name: string, value: string | boolean | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = typeof value === "string" && DECIMAL_NUMBER.test(value) ? Number(value) : NaN;
  const rounded = Math.fround(n);
  if (!(rounded > 0) || !Number.isFinite(rounded)) {
    const why = !(n > 0 && Number.isFinite(n)) ? "" : rounded === 0 ? " (0 in 32-bit floating point)" : " (too large for 32-bit floating point)";
    throw new CliError(`condc ${command}: --${name} must be a positive number, got ${quotePath(String(value))}${why}`);
  }
  return n;
}

/**
 * Checks, before any long work, that a file can be written at `path` (`--out`): one line
 * naming the path otherwise (exit 1; an empty path is a usage error, exit 2).
 */
export async function prepareOutput(command: string, path: string): Promise<void> {
  if (path === "") throw new CliError(`condc ${command}: --out must name a file, got ''`);
  try {
    await prepareOutputFile(path, "to");
  } catch (error) {
    if (error instanceof FileWriteError) throw new CliError(`condc ${command}: cannot write ${quotePath(path)}: ${error.reason}`, ExitCode.sourceErrors);
    throw error;
  }
}

/** As `prepareOutput`, for a directory that receives several files (`build -o DIR`). */
export async function prepareOutputDir(command: string, dir: string): Promise<void> {
  if (dir === "") throw new CliError(`condc ${command}: -o must name a directory, got ''`);
  try {
    await prepareOutputDirectory(dir);
  } catch (error) {
    if (error instanceof FileWriteError) throw new CliError(`condc ${command}: cannot write into ${quotePath(dir)}: ${error.reason}`, ExitCode.sourceErrors);
    throw error;
  }
}


/** Runs `body`, turning the runtime's expected failures into one-line CLI errors (exit 1). */
export async function reportingRuntimeErrors<T>(command: string, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (error) {
    if (isExpectedFailure(error)) throw new CliError(`condc ${command}: ${error.message}`, ExitCode.sourceErrors);
    throw error;
  }
}
