/**
 * @fileoverview The runtime's Model: instantiates a compiled module with its manifest
 * and drives it (init, predict, trainStep, evaluate, save, load). No Node-only imports:
 * the same code runs in browsers.
 */
import type { Manifest, ManifestRegion } from "./manifest.js";
import { findRegion, layerExportName, manifestProblems } from "./manifest.js";
import type { Dataset } from "./data/dataset.js";
import { checkTensorsAgainst, decodeSafetensors, encodeSafetensors, type DecodeOptions } from "./checkpoint/safetensors.js";

/** The functions every compiled module exports. */
interface ModuleExports {
  memory: WebAssembly.Memory;
  init(seed: number): void;
  predict(n: number): void;
  trainStep(n: number, lr: number): number;
  getStep(): number;
  setStep(step: number): void;
}

/** Training produced NaN or Inf: names the step and the first layer where it appeared. */
export class NonFiniteError extends Error {
  constructor(readonly step: number, readonly layer: string, readonly loss: number) {
    super(`training diverged at step ${step}: ${Number.isNaN(loss) ? "NaN" : loss > 0 ? "Inf" : "-Inf"} loss; first non-finite values in layer '${layer}'`);
    this.name = "NonFiniteError";
  }
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

export class Model {
  readonly manifest: Manifest;
  private readonly exports: ModuleExports;
  private readonly input: ManifestRegion;
  private readonly labels: ManifestRegion;
  private readonly probs: ManifestRegion;

  constructor(instance: WebAssembly.Instance, manifest: Manifest) {
    this.manifest = manifest;
    this.exports = instance.exports as unknown as ModuleExports;
    this.input = findRegion(manifest, "input");
    this.labels = findRegion(manifest, "labels");
    this.probs = findRegion(manifest, "probs");
  }

  /**
   * The module's raw exports, for method-specific runtime helpers (estimator refresh,
   * policy settings, metrics) that live beside this file. Not for apps.
   */
  get wasmExports(): Record<string, unknown> & { memory: WebAssembly.Memory } {
    return this.exports as unknown as Record<string, unknown> & { memory: WebAssembly.Memory };
  }

  get maxBatch(): number {
    return this.manifest.maxBatch;
  }

  /** Number of training steps taken since `init`. */
  get step(): number {
    return this.exports.getStep();
  }

  /** Initialise parameters deterministically from `seed` and reset optimizer state. */
  init(seed: number): void {
    this.exports.init(seed >>> 0);
  }

  /** Class probabilities, row-major n x classes. Any n: runs in chunks of maxBatch. */
  predict(x: Float32Array, n: number): Float32Array {
    const width = this.manifest.input.width;
    const classes = this.manifest.classes;
    this.checkRows(x, n, width, "x");
    const result = new Float32Array(n * classes);
    for (let start = 0; start < n; start += this.maxBatch) {
      const rows = Math.min(this.maxBatch, n - start);
      this.f32(this.input, rows * width).set(x.subarray(start * width, (start + rows) * width));
      this.exports.predict(rows);
      result.set(this.f32(this.probs, rows * classes), start * classes);
    }
    return result;
  }

  /** One step of training on n <= maxBatch examples. */
  trainStep(x: Float32Array, labels: Uint8Array | Int32Array, n: number, options: TrainStepOptions = {}): { loss: number } {
    const width = this.manifest.input.width;
    this.checkRows(x, n, width, "x");
    if (n > this.maxBatch) throw new RangeError(`trainStep: n = ${n} exceeds the model's max batch ${this.maxBatch}`);
    if (labels.length < n) throw new RangeError(`trainStep: ${labels.length} labels for ${n} examples`);
    this.f32(this.input, n * width).set(x.subarray(0, n * width));
    this.writeLabels(labels, 0, n, (i) => i);
    return { loss: this.runStep(n, options.lr) };
  }

  /** One step on examples `indices[start .. start+n)` of a dataset, gathered in place. */
  trainStepOn(dataset: Dataset, indices: ArrayLike<number>, start: number, n: number, lr?: number): { loss: number; correct: number } {
    const width = this.manifest.input.width;
    if (n > this.maxBatch) throw new RangeError(`trainStepOn: n = ${n} exceeds the model's max batch ${this.maxBatch}`);
    const view = this.f32(this.input, n * width);
    for (let i = 0; i < n; i++) {
      const row = indices[start + i]!;
      view.set(dataset.images.subarray(row * width, (row + 1) * width), i * width);
    }
    this.writeLabels(dataset.labels, start, n, (i) => indices[i]!);
    const loss = this.runStep(n, lr);
    return { loss, correct: this.correctInLastBatch(n) };
  }

  /** How many of the last training batch's n examples the forward pass got right. */
  private correctInLastBatch(n: number): number {
    const classes = this.manifest.classes;
    const probs = this.f32(this.probs, n * classes);
    const labels = new Int32Array(this.exports.memory.buffer, this.labels.offset, n);
    let correct = 0;
    for (let r = 0; r < n; r++) {
      let best = 0;
      for (let c = 1; c < classes; c++) if (probs[r * classes + c]! > probs[r * classes + best]!) best = c;
      if (best === labels[r]) correct++;
    }
    return correct;
  }

  /**
   * Brings lazily updated parameters up to date: calls every `<layer>__flush` export
   * (tree layers' lazy weight decay). Done before weights are read, saved or replaced.
   */
  flush(): void {
    const exports = this.exports as unknown as Record<string, unknown>;
    for (const layer of this.manifest.layers) {
      const fn = exports[layerExportName(layer.name, "flush")];
      if (typeof fn === "function") (fn as () => void)();
    }
  }

  /** Accuracy and mean cross-entropy over a dataset. */
  evaluate(dataset: Dataset): Evaluation {
    this.flush();
    const t0 = now();
    const width = this.manifest.input.width;
    const classes = this.manifest.classes;
    let correct = 0;
    let lossSum = 0;
    for (let start = 0; start < dataset.count; start += this.maxBatch) {
      const rows = Math.min(this.maxBatch, dataset.count - start);
      this.f32(this.input, rows * width).set(dataset.images.subarray(start * width, (start + rows) * width));
      this.exports.predict(rows);
      const probs = this.f32(this.probs, rows * classes);
      for (let r = 0; r < rows; r++) {
        const label = dataset.labels[start + r]!;
        let best = 0;
        for (let c = 1; c < classes; c++) if (probs[r * classes + c]! > probs[r * classes + best]!) best = c;
        if (best === label) correct++;
        lossSum -= Math.log(Math.max(probs[r * classes + label]!, 1e-30));
      }
    }
    const seconds = (now() - t0) / 1000;
    return {
      accuracy: correct / dataset.count,
      loss: lossSum / dataset.count,
      count: dataset.count,
      examplesPerSecond: dataset.count / Math.max(seconds, 1e-9),
    };
  }

  /** The parameters as a safetensors file (bit-identical for identical weights). */
  save(): Uint8Array {
    this.flush();
    const tensors = this.manifest.params.map((p) => ({
      name: p.name,
      shape: p.shape,
      data: this.f32(findRegion(this.manifest, p.region)),
    }));
    return encodeSafetensors(tensors, {
      model: this.manifest.model,
      source_sha256: this.manifest.sourceHash,
      compiler: `condc ${this.manifest.compilerVersion}`,
      step: String(this.step),
    });
  }

  /**
   * Replace the parameters with a checkpoint's (F32, F16, BF16 or F64); throws naming every
   * mismatch, or every tensor holding NaN/Infinity unless `options.allowNonFinite`.
   */
  load(bytes: Uint8Array, fileLabel = "checkpoint", options: DecodeOptions = {}): void {
    const decoded = decodeSafetensors(bytes, fileLabel, options);
    checkTensorsAgainst(
      this.manifest.params.map((p) => ({ name: p.name, shape: p.shape })),
      decoded,
      fileLabel,
    );
    this.flush();
    for (const p of this.manifest.params) {
      this.f32(findRegion(this.manifest, p.region)).set(decoded.tensors.get(p.name)!.data);
    }
    const step = Number(decoded.metadata["step"] ?? 0);
    this.exports.setStep(Number.isInteger(step) ? step : 0);
  }

  /** A copy of one parameter tensor (for tests and tools). */
  parameter(name: string): Float32Array {
    const param = this.manifest.params.find((p) => p.name === name);
    if (!param) throw new Error(`model has no parameter '${name}'`);
    this.flush();
    return this.f32(findRegion(this.manifest, param.region)).slice();
  }

  /** Overwrite one parameter tensor (for tests and tools). */
  setParameter(name: string, values: Float32Array): void {
    const param = this.manifest.params.find((p) => p.name === name);
    if (!param) throw new Error(`model has no parameter '${name}'`);
    this.flush();
    const view = this.f32(findRegion(this.manifest, param.region));
    if (values.length !== view.length) throw new RangeError(`${name}: ${values.length} values for ${view.length}`);
    view.set(values);
  }

  /** A live view of a memory region (valid until the next call into the model). */
  regionView(name: string): Float32Array {
    return this.f32(findRegion(this.manifest, name));
  }

  private runStep(n: number, lr = Number(this.manifest.train.optimizer["lr"])): number {
    const loss = this.exports.trainStep(n, lr);
    if (!Number.isFinite(loss)) throw new NonFiniteError(this.step, this.firstNonFiniteLayer(n), loss);
    return loss;
  }

  private firstNonFiniteLayer(n: number): string {
    for (const layer of this.manifest.layers) {
      if (!layer.delta) continue;
      const values = this.f32(findRegion(this.manifest, layer.output), n * layer.units);
      if (values.some((v) => !Number.isFinite(v))) return layer.name;
    }
    for (const p of this.manifest.params) {
      if (this.f32(findRegion(this.manifest, p.region)).some((v) => !Number.isFinite(v))) return p.layer;
    }
    return this.manifest.layers[this.manifest.layers.length - 1]!.name;
  }

  private writeLabels(labels: ArrayLike<number>, start: number, n: number, row: (i: number) => number): void {
    const view = new Int32Array(this.exports.memory.buffer, this.labels.offset, n);
    const classes = this.manifest.classes;
    for (let i = 0; i < n; i++) {
      const example = row(start + i);
      const label = labels[example]!;
      if (!(label >= 0 && label < classes) || !Number.isInteger(label)) {
        throw new RangeError(`label ${label} of example ${example} is not a class in [0, ${classes})`);
      }
      view[i] = label;
    }
  }

  private checkRows(x: Float32Array, n: number, width: number, what: string): void {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`n must be a non-negative integer, got ${n}`);
    if (x.length < n * width) throw new RangeError(`${what} holds ${x.length} values, ${n} examples of width ${width} need ${n * width}`);
  }

  private f32(region: ManifestRegion, count = region.bytes / 4): Float32Array {
    return new Float32Array(this.exports.memory.buffer, region.offset, count);
  }
}

/** Instantiate a compiled model. `wasm` is the module's bytes (or a compiled module). */
export async function loadModel(wasm: Uint8Array | ArrayBuffer | WebAssembly.Module, manifest: Manifest): Promise<Model> {
  const problems = manifestProblems(manifest);
  if (problems.length > 0) throw new Error(`invalid manifest: ${problems.join("; ")}`);
  const module = wasm instanceof WebAssembly.Module ? wasm : await WebAssembly.compile(wasm as BufferSource);
  const instance = await WebAssembly.instantiate(module, {
    env: {
      abort(): never {
        throw new Error(`model '${manifest.model}' aborted`);
      },
    },
  });
  const model = new Model(instance, manifest);
  const needed = manifest.memory.end;
  const have = (instance.exports as unknown as ModuleExports).memory.buffer.byteLength;
  if (have < needed) throw new Error(`model '${manifest.model}' has ${have} bytes of memory, its plan needs ${needed}`);
  return model;
}

function now(): number {
  return typeof performance !== "undefined" ? performance.now() : Date.now();
}
