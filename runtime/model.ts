/**
 * @fileoverview The runtime's Model: links a compiled model module to the kernel library over
 * one memory and drives it (init, predict, trainStep, evaluate, save, load), with every
 * argument checked at the boundary so a bad call throws and leaves the model as it was.
 * Method-specific work (estimator refresh, policy seeds, counters) is done by the methods'
 * runtime units (`methods/runtime-registry.ts`), found by the manifest's method keys.
 * On several threads the memory is shared, a pool of workers runs the kernel library beside the
 * calling thread, and the model module's kernel imports are dispatchers that split each call
 * (runtime/pool/). No Node-only imports: the same code runs in browsers.
 */
import type { Manifest, ManifestLayer, ManifestRegion } from "./manifest.js";
import { findRegion, manifestProblems } from "./manifest.js";
import type { Dataset } from "./data/dataset.js";
import { checkTensorsAgainst, decodeSafetensors, encodeSafetensors, type DecodeOptions } from "./checkpoint/safetensors.js";
import { KERNEL_LIBRARY, instantiateKernels, kernelLibraryModule, type KernelInstance, type SimdFlavour } from "./kernel-library.js";
import { usableThreads, warnOneThread } from "./pool/threads.js";
import type { Threads } from "./pool/start.js";
import type { SplitMode } from "./pool/parallel.js";
import { relaxedSimdSupported } from "./simd.js";
import { ModelLoadError, NonFiniteError, ThreadError } from "./errors.js";

export { ModelLoadError, NonFiniteError } from "./errors.js";
import { METHOD_RUNTIMES } from "../methods/runtime-registry.js";
import type { MethodRuntime, RuntimeLayer } from "../methods/runtime-unit.js";
import type { AnyModel, BackendOptions } from "./backend.js";
import { argmax, checkCount, checkRowsShape, describe, evaluationOf, nonFiniteInput, now, scoreRows, type Score } from "./checks.js";

/** The functions every compiled module exports. */
interface ModuleExports {
  init(seed: number): void;
  predict(n: number): void;
  trainStep(n: number, lr: number): number;
  getStep(): number;
  setStep(step: number): void;
}

export interface Evaluation {
  accuracy: number;
  loss: number;
  count: number;
  examplesPerSecond: number;
}

export interface TrainStepOptions {
  /** Learning rate for this step; defaults to the model file's. */
  lr?: number;
}

export interface LoadOptions extends BackendOptions {
  /** Runtime units of methods from outside the registry (with `compile(text, { methods })`). */
  methods?: readonly MethodRuntime[];
  /**
   * Threads to run on, the calling thread included (an integer >= 1). Default: the cores of the
   * machine (`os.availableParallelism()` in Node, `navigator.hardwareConcurrency` in browsers);
   * 1 for a model too small for any of its calls to be split (runtime/pool/thresholds.ts).
   * Where threads cannot run (a page that is not cross-origin isolated) the model runs on one
   * and says why once on the console. Results are bit-identical for every thread count.
   */
  threads?: number;
  /**
   * "measured" (default): a kernel call is split only where the split pays (measured
   * thresholds); "always": every call that can be split is (tests of the splits).
   */
  split?: SplitMode;
}

/** The method runtimes present in a model, each with its layers. */
interface MethodGroup {
  runtime: MethodRuntime;
  layers: RuntimeLayer<unknown>[];
}

const MAX_SEED = 2 ** 32;
/** More threads than any machine has cores: a typo, not a request. */
const MAX_THREADS = 1024;

export class Model {
  /** Where the model runs (a GPU model, from loadModel's `backend` option, says "webgpu"). */
  readonly backend = "wasm" as const;
  readonly manifest: Manifest;
  /** The SIMD flavour of the kernel library this model runs on. */
  readonly simd: SimdFlavour;
  private readonly exports: ModuleExports;
  private readonly memory: WebAssembly.Memory;
  private readonly input: ManifestRegion;
  private readonly labels: ManifestRegion;
  private readonly probs: ManifestRegion;
  private readonly groups: MethodGroup[];
  private readonly pool: Threads | null;

  /** @internal Use `loadModel`. */
  constructor(instance: WebAssembly.Instance, readonly kernels: KernelInstance, memory: WebAssembly.Memory, manifest: Manifest, simd: SimdFlavour, runtimes: readonly MethodRuntime[], pool: Threads | null = null) {
    this.manifest = manifest;
    this.pool = pool;
    this.simd = simd;
    this.exports = instance.exports as unknown as ModuleExports;
    this.memory = memory;
    this.input = findRegion(manifest, "input");
    this.labels = findRegion(manifest, "labels");
    this.probs = findRegion(manifest, "probs");
    this.groups = [];
    for (const runtime of runtimes) {
      const layers = manifest.layers.filter((l) => l.method === runtime.key) as RuntimeLayer<unknown>[];
      if (layers.length > 0) this.groups.push({ runtime, layers });
    }
  }

  /**
   * The module's raw exports, for methods' runtime units (`methods/<name>/runtime.ts`), which
   * find their functions by the names the manifest lists. Not for apps.
   */
  get wasmExports(): Record<string, unknown> {
    return this.exports as unknown as Record<string, unknown>;
  }

  /** The model's linear memory (shared with the kernel library). */
  get wasmMemory(): WebAssembly.Memory {
    return this.memory;
  }

  get maxBatch(): number {
    return this.manifest.maxBatch;
  }

  /** Threads the model runs on, the calling thread included (1 after `dispose`). */
  get threads(): number {
    return this.pool?.threads ?? 1;
  }

  /**
   * Ends the model's worker threads; the model keeps working on the calling thread. Not needed
   * for a process to exit (idle workers never keep it alive), but frees the threads at once.
   */
  dispose(): void {
    this.pool?.dispose();
  }

  /** Number of training steps taken since `init` (or as stored in the last loaded checkpoint). */
  get step(): number {
    return this.exports.getStep();
  }

  /** The layers of a method (by registry key), from the manifest. */
  layersOf<O>(method: string): RuntimeLayer<O>[] {
    return this.manifest.layers.filter((l) => l.method === method) as RuntimeLayer<O>[];
  }

  /** Each method runtime present, with its layers (for reports and hooks). */
  methodGroups(): readonly MethodGroup[] {
    return this.groups;
  }

  /**
   * Initialise parameters deterministically from `seed` (an integer in [0, 2^32)), reset the
   * optimizer state and step, and make every method ready (estimator factors, RNG seeds).
   */
  init(seed: number): void {
    if (typeof seed !== "number" || !Number.isInteger(seed) || seed < 0 || seed >= MAX_SEED) {
      throw new RangeError(`init: seed must be an integer in [0, 2^32), got ${describe(seed)}`);
    }
    this.exports.init(seed >>> 0);
    for (const g of this.groups) g.runtime.afterInit?.(this, g.layers, seed);
  }

  /** Class probabilities, row-major n x classes. Any n >= 0: runs in chunks of maxBatch. */
  predict(x: Float32Array, n: number): Float32Array {
    const width = this.manifest.input.width;
    const classes = this.manifest.classes;
    checkCount("predict", n, Number.MAX_SAFE_INTEGER);
    checkRowsShape("predict", x, n, width);
    const result = new Float32Array(n * classes);
    // More rows than one batch: every chunk is checked before the first runs (a bad call changes
    // nothing, the methods' counters included); one batch is checked as it is copied in.
    if (n > this.maxBatch) for (let start = 0; start < n; start += this.maxBatch) this.copyRowsIn("predict", x, start, Math.min(this.maxBatch, n - start));
    for (let start = 0; start < n; start += this.maxBatch) {
      const rows = Math.min(this.maxBatch, n - start);
      this.copyRowsIn("predict", x, start, rows);
      this.exports.predict(rows);
      result.set(this.f32(this.probs, rows * classes), start * classes);
    }
    return result;
  }

  /**
   * One step of training on 1 <= n <= maxBatch examples. Inputs are checked first (finite
   * values, labels in range, a finite learning rate >= 0); a step whose loss is not finite
   * throws NonFiniteError and changes no parameter.
   */
  trainStep(x: Float32Array, labels: Uint8Array | Int32Array, n: number, options: TrainStepOptions = {}): { loss: number } {
    const width = this.manifest.input.width;
    checkCount("trainStep", n, this.maxBatch, 1);
    checkRowsShape("trainStep", x, n, width);
    if (!(labels instanceof Uint8Array || labels instanceof Int32Array)) throw new TypeError(`trainStep: labels must be a Uint8Array or Int32Array, got ${describe(labels)}`);
    if (labels.length < n) throw new RangeError(`trainStep: labels holds ${labels.length} values for ${n} examples`);
    if (typeof options !== "object" || options === null) throw new TypeError("trainStep: options must be an object");
    const lr = this.learningRate("trainStep", options.lr);
    this.checkLabels("trainStep", labels, n, (i) => i);
    this.copyRowsIn("trainStep", x, 0, n);
    this.writeLabels(labels, n, (i) => i);
    return { loss: this.runStep(n, lr) };
  }

  /**
   * Rows [start, start + rows) of x into the input region, then their values checked there by
   * the kernel library (SIMD: a JavaScript loop over them was serial work on a par with a
   * layer's on several threads). Throws a RangeError naming the first value that is not finite
   * before the model runs (only the input region, which the next call overwrites, has changed).
   */
  private copyRowsIn(method: string, x: Float32Array, start: number, rows: number): void {
    const width = this.manifest.input.width;
    this.f32(this.input, rows * width).set(x.subarray(start * width, (start + rows) * width));
    const bad = this.kernels.exports.firstNonFinite(this.input.offset, rows * width);
    if (bad >= 0) throw nonFiniteInput(method, x, start * width + bad, width);
  }

  /**
   * One step on examples `indices[start .. start+n)` of a dataset, gathered in place; also
   * counts how many the forward pass got right (training accuracy).
   */
  trainStepOn(dataset: Dataset, indices: ArrayLike<number>, start: number, n: number, lr?: number): { loss: number; correct: number } {
    const width = this.manifest.input.width;
    checkCount("trainStepOn", n, this.maxBatch, 1);
    const rate = this.learningRate("trainStepOn", lr);
    this.checkLabels("trainStepOn", dataset.labels, n, (i) => indices[start + i]!);
    const view = this.f32(this.input, n * width);
    for (let i = 0; i < n; i++) {
      const row = indices[start + i]!;
      view.set(dataset.images.subarray(row * width, (row + 1) * width), i * width);
    }
    this.writeLabels(dataset.labels, n, (i) => indices[start + i]!);
    const loss = this.runStep(n, rate);
    return { loss, correct: this.correctInLastBatch(n) };
  }

  /** How many of the last training batch's n examples the forward pass got right. */
  private correctInLastBatch(n: number): number {
    const classes = this.manifest.classes;
    const probs = this.f32(this.probs, n * classes);
    const labels = new Int32Array(this.memory.buffer, this.labels.offset, n);
    let correct = 0;
    for (let r = 0; r < n; r++) if (argmax(probs, r * classes, classes) === labels[r]) correct++;
    return correct;
  }

  /** Brings lazily updated parameters up to date (every layer's `flush` export, e.g. tree decay). */
  flush(): void {
    for (const layer of this.manifest.layers) {
      const name = layer.exports["flush"];
      if (name !== undefined) (this.exports as unknown as Record<string, () => void>)[name]!();
    }
  }

  /** Accuracy and mean cross-entropy over a dataset. */
  evaluate(dataset: Dataset): Evaluation {
    this.flush();
    const t0 = now();
    const width = this.manifest.input.width;
    const classes = this.manifest.classes;
    const score: Score = { correct: 0, lossSum: 0 };
    for (let start = 0; start < dataset.count; start += this.maxBatch) {
      const rows = Math.min(this.maxBatch, dataset.count - start);
      this.f32(this.input, rows * width).set(dataset.images.subarray(start * width, (start + rows) * width));
      this.exports.predict(rows);
      scoreRows(score, this.f32(this.probs, rows * classes), classes, dataset.labels, start, rows);
    }
    return evaluationOf(score, dataset.count, (now() - t0) / 1000);
  }

  /** The parameters as a safetensors file (bit-identical for identical weights). */
  save(): Uint8Array {
    this.flush();
    const tensors = this.manifest.params.map((p) => ({ name: p.name, shape: p.shape, data: this.f32(findRegion(this.manifest, p.region)) }));
    return encodeSafetensors(tensors, {
      model: this.manifest.model,
      source_sha256: this.manifest.sourceHash,
      compiler: `condc ${this.manifest.compilerVersion}`,
      step: String(this.step),
    });
  }

  /**
   * Replaces the parameters with a checkpoint's (F32, F16, BF16 or F64); throws naming every
   * mismatch, or every tensor holding NaN/Infinity unless `options.allowNonFinite`, and leaves
   * the model as it was. Derived tensors (estimator factors) may be absent: they are recomputed.
   */
  load(bytes: Uint8Array, fileLabel = "checkpoint", options: DecodeOptions = {}): void {
    if (!(bytes instanceof Uint8Array)) throw new TypeError(`load: the checkpoint must be a Uint8Array, got ${describe(bytes)}`);
    if (typeof fileLabel !== "string") throw new TypeError("load: fileLabel must be a string");
    if (typeof options !== "object" || options === null) throw new TypeError("load: options must be an object");
    const decoded = decodeSafetensors(bytes, fileLabel, options);
    const expected = this.manifest.params.filter((p) => p.update !== "none" || decoded.tensors.has(p.name));
    checkTensorsAgainst(expected.map((p) => ({ name: p.name, shape: p.shape })), decoded, fileLabel);
    const missing = this.manifest.params.filter((p) => !decoded.tensors.has(p.name)).map((p) => p.name);
    this.flush();
    for (const p of expected) this.f32(findRegion(this.manifest, p.region)).set(decoded.tensors.get(p.name)!.data);
    const step = Number(decoded.metadata["step"] ?? 0);
    this.exports.setStep(Number.isInteger(step) && step >= 0 && step < 2 ** 31 ? step : 0);
    for (const g of this.groups) g.runtime.afterLoad?.(this, g.layers, missing);
  }

  /** A copy of one parameter tensor (for tests and tools). */
  parameter(name: string): Float32Array {
    const param = this.findParam("parameter", name);
    this.flush();
    return this.f32(findRegion(this.manifest, param.region)).slice();
  }

  /** Overwrites one parameter tensor (for tests and tools). */
  setParameter(name: string, values: Float32Array): void {
    const param = this.findParam("setParameter", name);
    if (!(values instanceof Float32Array)) throw new TypeError(`setParameter: values must be a Float32Array, got ${describe(values)}`);
    const region = findRegion(this.manifest, param.region);
    if (values.length * 4 !== region.bytes) throw new RangeError(`setParameter: ${name} holds ${region.bytes / 4} values, got ${values.length}`);
    this.flush();
    this.f32(region).set(values);
  }

  /** A live view of an f32 region (valid until the next call into the model). */
  regionView(name: string): Float32Array {
    return this.f32(findRegion(this.manifest, name));
  }

  /** A live view of an f64 region (counters, decay bookkeeping). */
  regionViewF64(name: string): Float64Array {
    const region = findRegion(this.manifest, name);
    return new Float64Array(this.memory.buffer, region.offset, region.bytes / 8);
  }

  private findParam(method: string, name: string) {
    if (typeof name !== "string") throw new TypeError(`${method}: the parameter name must be a string, got ${describe(name)}`);
    const param = this.manifest.params.find((p) => p.name === name);
    if (!param) throw new RangeError(`${method}: model '${this.manifest.model}' has no parameter '${name}'`);
    return param;
  }

  private learningRate(method: string, lr: number | undefined): number {
    const rate = lr ?? Number(this.manifest.train.optimizer["lr"]);
    // lr 0 is allowed: a step that computes gradients and changes no weight (gradient checks).
    if (typeof rate !== "number" || !Number.isFinite(Math.fround(rate)) || rate < 0) {
      throw new RangeError(`${method}: lr must be a finite number >= 0 (as f32), got ${describe(lr)}`);
    }
    return rate;
  }

  private runStep(n: number, lr: number): number {
    const loss = this.exports.trainStep(n, lr);
    if (!Number.isFinite(loss)) throw new NonFiniteError(this.step + 1, this.firstNonFiniteLayer(n), loss);
    return loss;
  }

  private firstNonFiniteLayer(n: number): string {
    for (const layer of this.manifest.layers) {
      if (!layer.delta) continue;
      const values = this.f32(findRegion(this.manifest, layer.output), n * layer.units);
      if (values.some((v) => !Number.isFinite(v))) return layer.name;
    }
    return this.manifest.layers.find((l) => l.isOutput)!.name;
  }

  private checkLabels(method: string, labels: ArrayLike<number>, n: number, row: (i: number) => number): void {
    const classes = this.manifest.classes;
    for (let i = 0; i < n; i++) {
      const example = row(i);
      const label = labels[example]!;
      if (!(Number.isInteger(label) && label >= 0 && label < classes)) {
        throw new RangeError(`${method}: label ${label} of example ${example} is not a class in [0, ${classes})`);
      }
    }
  }

  private writeLabels(labels: ArrayLike<number>, n: number, row: (i: number) => number): void {
    const view = new Int32Array(this.memory.buffer, this.labels.offset, n);
    for (let i = 0; i < n; i++) view[i] = labels[row(i)]!;
  }

  private f32(region: ManifestRegion, count = region.bytes / 4): Float32Array {
    return new Float32Array(this.memory.buffer, region.offset, count);
  }
}

/** The JSON of the module's build section, or null when it has none. */
function buildSection(module: WebAssembly.Module): { buildId?: unknown; simd?: unknown; kernels?: unknown } | null {
  const sections = WebAssembly.Module.customSections(module, "condc");
  if (sections.length !== 1) return null;
  try {
    return JSON.parse(new TextDecoder().decode(sections[0]!)) as { buildId?: unknown; simd?: unknown };
  } catch {
    return null;
  }
}

/**
 * Instantiates a compiled model: `wasm` (a model module's bytes or compiled module) with the
 * manifest it was built with. Refuses, naming the problem, a module and manifest of different
 * builds, a module built for another kernel library, and a relaxed build where the engine
 * cannot run relaxed SIMD.
 */
export async function loadModel(wasm: Uint8Array | ArrayBuffer | WebAssembly.Module, manifest: Manifest, options?: LoadOptions & { backend?: "wasm" }): Promise<Model>;
/** With `backend: "webgpu"` or `"auto"`: a GpuModel (runtime/backend.ts), or for "auto" the wasm Model when no GPU fits. */
export async function loadModel(wasm: Uint8Array | ArrayBuffer | WebAssembly.Module, manifest: Manifest, options: LoadOptions): Promise<AnyModel>;
export async function loadModel(wasm: Uint8Array | ArrayBuffer | WebAssembly.Module, manifest: Manifest, options: LoadOptions = {}): Promise<AnyModel> {
  if (typeof options !== "object" || options === null) throw new TypeError(`loadModel: options must be an object, got ${describe(options)}`);
  if (options.backend !== undefined) (await import("./backend.js")).checkBackendOptions(options);
  if (!(wasm instanceof Uint8Array || wasm instanceof ArrayBuffer || wasm instanceof WebAssembly.Module)) {
    throw new TypeError(`loadModel: wasm must be a Uint8Array, ArrayBuffer or WebAssembly.Module, got ${describe(wasm)}`);
  }
  const problems = manifestProblems(manifest);
  if (problems.length > 0) throw new ModelLoadError(`invalid manifest: ${problems.join("; ")}`);
  let module: WebAssembly.Module;
  try {
    module = wasm instanceof WebAssembly.Module ? wasm : await WebAssembly.compile(wasm as BufferSource);
  } catch (error) {
    throw new ModelLoadError(`model '${manifest.model}': not a WebAssembly module (${(error as Error).message})`);
  }
  const section = buildSection(module);
  if (!section || typeof section.buildId !== "string") throw new ModelLoadError(`model '${manifest.model}': the module is not a condc model module (no build section)`);
  if (section.buildId !== manifest.buildId) {
    throw new ModelLoadError(`model '${manifest.model}': the module (build ${section.buildId}) and the manifest (build ${manifest.buildId}) come from different builds; load the files of one build`);
  }
  if (manifest.kernels.id !== KERNEL_LIBRARY.id) {
    throw new ModelLoadError(`model '${manifest.model}' was built for kernel library ${manifest.kernels.id}; this runtime has ${KERNEL_LIBRARY.id}: rebuild it with this condc`);
  }
  const simd: SimdFlavour = section.simd === "relaxed" ? "relaxed" : "plain";
  if (simd === "relaxed" && !relaxedSimdSupported()) {
    throw new ModelLoadError(`model '${manifest.model}': this is the relaxed-SIMD build and this engine does not run relaxed SIMD; load the plain build (pickWasm chooses)`);
  }
  // A GPU model's wasm host only initialises, decodes and runs host hooks: one thread unless asked.
  const threads = checkThreads(options.backend === "webgpu" && options.threads === undefined ? { ...options, threads: 1 } : options, manifest);
  const runtimes = [...METHOD_RUNTIMES, ...(options.methods ?? [])];
  // One scratch block per thread above the plan; the calling thread's is the first.
  const scratch = Math.ceil(manifest.memory.end / 64) * 64;
  const bytes = scratch + KERNEL_LIBRARY.scratchBytes * threads;
  if (bytes > 2 ** 32) throw new ModelLoadError(`model '${manifest.model}' needs ${bytes} bytes of memory${threads > 1 ? ` on ${threads} threads` : ""}, more than the 4 GiB of wasm32`);
  const pages = Math.ceil(bytes / 65536);
  const shared = threads > 1;
  let memory: WebAssembly.Memory;
  try {
    memory = new WebAssembly.Memory({ initial: pages, maximum: pages, ...(shared ? { shared: true } : {}) });
  } catch (error) {
    throw new ModelLoadError(`model '${manifest.model}': cannot allocate ${bytes} bytes of ${shared ? "shared " : ""}memory (${(error as Error).message})`);
  }
  const library = await kernelLibraryModule(simd, shared ? "shared" : "private");
  const kernels = await instantiateKernels(library, memory, scratch);
  let pool: Threads | null = null;
  let imports = kernels.exports as WebAssembly.ModuleImports;
  if (shared) {
    const scratchOf = (thread: number) => scratch + KERNEL_LIBRARY.scratchBytes * thread;
    try {
      const { startThreads } = await import("./pool/start.js");
      pool = await startThreads({ threads, library, memory, scratchOf, local: kernels.exports, module, runtimes, split: options.split ?? "measured" });
    } catch (error) {
      // Threads the caller asked for are an error; the default falls back to one thread, said once.
      if (options.threads !== undefined) throw new ModelLoadError(`model '${manifest.model}': ${(error as Error).message}; load it with { threads: 1 } to run on this thread alone`);
      warnOneThread(threads, `the worker threads could not start (${error instanceof ThreadError ? error.reason : (error as Error).message})`);
      return loadModel(module, manifest, { ...options, threads: 1 });
    }
    imports = pool.imports;
  }
  let instance: WebAssembly.Instance;
  try {
    instance = await WebAssembly.instantiate(module, { kernels: imports });
  } catch (error) {
    pool?.dispose();
    throw new ModelLoadError(`model '${manifest.model}': the module does not link against this kernel library (${(error as Error).message})`);
  }
  const model = new Model(instance, kernels, memory, manifest, simd, runtimes, pool);
  if (pool) pool.disposeWith(model);
  return options.backend === undefined || options.backend === "wasm" ? model : (await import("./backend.js")).onBackend(model, options);
}

/** The thread count to run on: the option, checked, else the cores (for a model with work to split); 1 where threads cannot run. */
function checkThreads(options: LoadOptions, manifest: Manifest): number {
  const { threads, split } = options;
  if (threads !== undefined && (typeof threads !== "number" || !Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS)) {
    throw new RangeError(`loadModel: threads must be an integer in [1, ${MAX_THREADS}], got ${describe(threads)}`);
  }
  if (split !== undefined && split !== "measured" && split !== "always") throw new RangeError(`loadModel: split must be "measured" or "always", got ${describe(split)}`);
  const largestWork = Math.max(0, ...manifest.layers.map((l) => l.inputs * l.units * manifest.maxBatch));
  return usableThreads(threads, largestWork);
}

export type { ManifestLayer };
