/**
 * @fileoverview A model on the GPU behind the wasm Model's interface, asynchronous: weights,
 * gradients, optimizer state and method state in GPU buffers; `predict` reads back only the
 * probabilities, `trainStep` only the loss slots. A wasm Model of the same build (the host)
 * supplies what is not a GPU pass: `init(seed)` (the same initial weights), checkpoint decoding
 * and the methods' host hooks (estimator factors by SVD, measurements), run on the host with the
 * GPU's weights copied in; `save()` writes the same safetensors bytes as Model.save().
 */
import { encodeSafetensors, type DecodeOptions } from "../checkpoint/safetensors.js";
import type { Dataset } from "../data/dataset.js";
import type { Manifest, ManifestRegion } from "../manifest.js";
import { findRegion } from "../manifest.js";
import { NonFiniteError, type Evaluation, type Model, type TrainStepOptions } from "../model.js";
import { assembleFigures, type ModelFigures, type Phase } from "../report.js";
import type { LayerReport, RuntimeLayer } from "../../methods/runtime-unit.js";
import type { GpuDevice } from "./device.js";
import { GpuExecutor, type Program } from "./executor.js";
import { buildFrame, LOSS, type GpuFrame, type GpuIo } from "./frame.js";
import { adamCorrections } from "./kernels/optim.js";
import type { GpuCall, GpuMethod } from "./method.js";
import { checkCount, checkRows, describe, evaluationOf, now, scoreRows, type Score } from "../checks.js";

/** Regions that hold the model's state, copied from a wasm model (f64 ones are the methods' to translate). */
const STATE_ROLES: ReadonlySet<string> = new Set(["param", "grad", "optimizer", "state"]);
const MAX_SEED = 2 ** 32;

export class GpuModel {
  readonly backend = "webgpu" as const;
  readonly manifest: Manifest;
  readonly gpu: GpuDevice;
  /** The wasm model of the same build that initialises, decodes and runs host hooks. */
  private readonly host: Model;
  private readonly executor: GpuExecutor;
  private readonly frame: GpuFrame;
  private readonly predictProgram: Program;
  private readonly trainProgram: Program;
  private readonly flushProgram: Program | null;
  private steps = 0;
  private readonly ownsDevice: boolean;

  private constructor(gpu: GpuDevice, host: Model, executor: GpuExecutor, frame: GpuFrame, programs: { predict: Program; train: Program; flush: Program | null }, ownsDevice: boolean) {
    this.gpu = gpu;
    this.ownsDevice = ownsDevice;
    this.host = host;
    this.manifest = host.manifest;
    this.executor = executor;
    this.frame = frame;
    this.predictProgram = programs.predict;
    this.trainProgram = programs.train;
    this.flushProgram = programs.flush;
  }

  /**
   * Builds the model's buffers and pipelines on `gpu` and copies the host's state in (a host
   * after `init(seed)` gives the GPU model its weights). Rejects with GpuUnsupportedModelError
   * (a layer whose method has no GPU program, or an option it has not built) or GpuLimitError
   * (a buffer past the device's limits) before allocating anything. With `ownsDevice`, destroy()
   * destroys the device too.
   */
  static async create(gpu: GpuDevice, host: Model, options: { ownsDevice?: boolean } = {}): Promise<GpuModel> {
    const methods = new Map<string, GpuMethod<unknown, unknown>>();
    for (const group of host.methodGroups()) {
      const program = await group.runtime.webgpu?.();
      if (program) methods.set(group.runtime.key, program as GpuMethod<unknown, unknown>);
    }
    let executor: GpuExecutor | null = null;
    const io: GpuIo = {
      upload: (region, data) => executor!.upload(region, data),
      download: (region) => executor!.download(region),
    };
    const frame = buildFrame(host.manifest, methods, io);
    executor = await GpuExecutor.create(gpu, frame.regions, host.manifest.model);
    try {
      for (const { region, data } of frame.initial) await executor.upload(region, data);
      const name = host.manifest.model;
      const predict = await executor.compile(`${name} predict`, frame.predict);
      const train = await executor.compile(`${name} trainStep`, frame.train);
      const flush = frame.flush.length > 0 ? await executor.compile(`${name} flush`, frame.flush) : null;
      const model = new GpuModel(gpu, host, executor, frame, { predict, train, flush }, options.ownsDevice === true);
      await model.copyFrom(host);
      return model;
    } catch (error) {
      executor.destroy();
      throw error;
    }
  }

  get maxBatch(): number {
    return this.manifest.maxBatch;
  }

  /** Training steps taken (set by init, copyFrom and load). */
  get step(): number {
    return this.steps;
  }

  /** The layers of a method (by registry key), from the manifest. */
  layersOf<O>(method: string): RuntimeLayer<O>[] {
    return this.host.layersOf<O>(method);
  }

  /** Each method runtime present, with its layers. */
  methodGroups(): ReturnType<Model["methodGroups"]> {
    return this.host.methodGroups();
  }

  /** A method's host-side GPU state (seeds, modes, switches), for its runtime unit's functions. */
  methodState<S>(method: string): S | undefined {
    return this.frame.state(method) as S | undefined;
  }

  /**
   * Initialise parameters from `seed` exactly as the wasm build does (the host runs `init(seed)`
   * and its methods' hooks; the results are uploaded), reset optimizer state and step.
   */
  async init(seed: number): Promise<void> {
    if (typeof seed !== "number" || !Number.isInteger(seed) || seed < 0 || seed >= MAX_SEED) {
      throw new RangeError(`init: seed must be an integer in [0, 2^32), got ${describe(seed)}`);
    }
    this.host.init(seed);
    await this.uploadState(this.host);
    this.steps = 0;
    await this.frame.afterUpload(seed);
  }

  /** Copies parameters, gradients, optimizer and method state and the step count from a wasm model of the same build. */
  async copyFrom(model: Model): Promise<void> {
    const same = model.manifest.sourceHash === this.manifest.sourceHash && model.manifest.model === this.manifest.model && model.manifest.memory.end === this.manifest.memory.end;
    if (!same) {
      throw new TypeError(`copyFrom: model is '${model.manifest.model}' (${model.manifest.sourceHash.slice(0, 12)}), this GPU model is '${this.manifest.model}' (${this.manifest.sourceHash.slice(0, 12)})`);
    }
    model.flush();
    await this.uploadState(model);
    this.steps = model.step;
    await this.frame.afterUpload(null);
  }

  /** Class probabilities, row-major n x classes. Any n >= 0: runs in chunks of maxBatch. */
  async predict(x: Float32Array, n: number): Promise<Float32Array> {
    checkCount("predict", n, Number.MAX_SAFE_INTEGER);
    checkRows("predict", x, n, this.manifest.input.width);
    return this.predictRows(x, n);
  }

  /**
   * One step of training on 1 <= n <= maxBatch examples; resolves with the loss (the loss slots
   * are all that is read back). A step whose loss is not finite rejects with NonFiniteError and
   * changes no parameter.
   */
  async trainStep(x: Float32Array, labels: Uint8Array | Int32Array, n: number, options: TrainStepOptions = {}): Promise<{ loss: number }> {
    const width = this.manifest.input.width;
    checkCount("trainStep", n, this.maxBatch, 1);
    checkRows("trainStep", x, n, width);
    if (!(labels instanceof Uint8Array || labels instanceof Int32Array)) throw new TypeError(`trainStep: labels must be a Uint8Array or Int32Array, got ${describe(labels)}`);
    if (labels.length < n) throw new RangeError(`trainStep: labels holds ${labels.length} values for ${n} examples`);
    if (typeof options !== "object" || options === null) throw new TypeError("trainStep: options must be an object");
    const lr = this.learningRate("trainStep", options.lr);
    const labelData = this.labelsOf("trainStep", labels, n, (i) => i);
    const { loss } = await this.runStep(x.subarray(0, n * width), labelData, n, lr);
    return { loss };
  }

  /** One step on examples `indices[start .. start+n)` of a dataset; also counts those the forward pass got right. */
  async trainStepOn(dataset: Dataset, indices: ArrayLike<number>, start: number, n: number, lr?: number): Promise<{ loss: number; correct: number }> {
    const width = this.manifest.input.width;
    checkCount("trainStepOn", n, this.maxBatch, 1);
    const rate = this.learningRate("trainStepOn", lr);
    const labelData = this.labelsOf("trainStepOn", dataset.labels, n, (i) => indices[start + i]!);
    const x = new Float32Array(n * width);
    for (let i = 0; i < n; i++) {
      const row = indices[start + i]!;
      x.set(dataset.images.subarray(row * width, (row + 1) * width), i * width);
    }
    return this.runStep(x, labelData, n, rate);
  }

  /** Accuracy and mean cross-entropy over a dataset (the probabilities read back per chunk). */
  async evaluate(dataset: Dataset): Promise<Evaluation> {
    await this.flush();
    const t0 = now();
    const width = this.manifest.input.width;
    const classes = this.manifest.classes;
    const score: Score = { correct: 0, lossSum: 0 };
    for (let start = 0; start < dataset.count; start += this.maxBatch) {
      const rows = Math.min(this.maxBatch, dataset.count - start);
      scoreRows(score, await this.predictRows(dataset.images.subarray(start * width, (start + rows) * width), rows), classes, dataset.labels, start, rows);
    }
    return evaluationOf(score, dataset.count, (now() - t0) / 1000);
  }

  /** Brings lazily updated parameters up to date on the GPU (the methods' flush passes). */
  async flush(): Promise<void> {
    if (!this.flushProgram) return;
    // The methods' current values (the lazy decay's Λ) go in as for any call on no rows.
    const call: GpuCall = { n: 0, phase: "predict", step: this.steps, lr: 0 };
    await this.executor.run(this.flushProgram, { call: this.uniform(0, this.steps), writes: this.frame.writes(call) });
  }

  /** The parameters as safetensors bytes: Model.save()'s layout and metadata. */
  async save(): Promise<Uint8Array> {
    await this.flush();
    const tensors = [];
    for (const p of this.manifest.params) tensors.push({ name: p.name, shape: p.shape, data: await this.read(findRegion(this.manifest, p.region)) });
    return encodeSafetensors(tensors, {
      model: this.manifest.model,
      source_sha256: this.manifest.sourceHash,
      compiler: `condc ${this.manifest.compilerVersion}`,
      step: String(this.steps),
    });
  }

  /**
   * Replaces the parameters (and the step count) with a checkpoint's, decoded and checked by the
   * host exactly as Model.load does (derived tensors it lacks are recomputed there); a bad
   * checkpoint rejects naming every problem and changes nothing on the GPU.
   */
  async load(bytes: Uint8Array, fileLabel = "checkpoint", options: DecodeOptions = {}): Promise<void> {
    this.host.load(bytes, fileLabel, options);
    await this.flush();
    for (const p of this.manifest.params) await this.executor.upload(p.region, this.host.regionView(p.region));
    this.steps = this.host.step;
    await this.frame.afterUpload(null);
  }

  /** A copy of one parameter tensor. */
  async parameter(name: string): Promise<Float32Array> {
    const param = this.findParam("parameter", name);
    await this.flush();
    return this.read(findRegion(this.manifest, param.region));
  }

  /** Overwrites one parameter tensor. */
  async setParameter(name: string, values: Float32Array): Promise<void> {
    const param = this.findParam("setParameter", name);
    if (!(values instanceof Float32Array)) throw new TypeError(`setParameter: values must be a Float32Array, got ${describe(values)}`);
    const region = findRegion(this.manifest, param.region);
    if (values.length * 4 !== region.bytes) throw new RangeError(`setParameter: ${name} holds ${region.bytes / 4} values, got ${values.length}`);
    await this.flush();
    await this.executor.upload(region.name, values);
  }

  /** A copy of any region (the plan's or the back end's own `#...`), as f32. */
  async region(name: string): Promise<Float32Array> {
    return new Float32Array(await this.executor.download(name));
  }

  /** Zeroes the methods' counters of a phase. */
  async resetCounters(phase: Phase): Promise<void> {
    this.frame.resetHostCounters(phase);
    for (const { region, bytes } of this.frame.counters(phase)) await this.executor.upload(region, new Uint8Array(bytes));
  }

  /** The shared figures (docs/reports.md) since the last reset: the methods' GPU counters where they count. */
  async figures(phase: Phase): Promise<ModelFigures> {
    const reports = new Map<string, LayerReport | undefined>();
    for (const layer of this.manifest.layers) if (layer.delta !== null) reports.set(layer.name, await this.frame.report(layer.name, phase));
    return assembleFigures(this.manifest, reports);
  }

  /**
   * Runs `work` on the host with the GPU's current parameters copied in (for the methods' host
   * hooks: estimator refresh, measurements), then uploads the derived parameters (those nothing
   * trains, e.g. estimator factors) the work may have recomputed.
   */
  async withHost<T>(work: (host: Model) => T): Promise<T> {
    await this.flush();
    for (const p of this.manifest.params) this.host.regionView(p.region).set(await this.read(findRegion(this.manifest, p.region)));
    const result = work(this.host);
    for (const p of this.manifest.params) if (p.update === "none") await this.executor.upload(p.region, this.host.regionView(p.region));
    return result;
  }

  /** After each training epoch: the methods' hooks (e.g. the estimator refresh), on the host. */
  async afterEpoch(epoch: { index: number; last: boolean }): Promise<void> {
    const due = this.methodGroups().filter((g) => g.runtime.afterEpoch);
    if (due.length > 0) await this.withHost((host) => due.forEach((g) => g.runtime.afterEpoch!(host, g.layers, epoch)));
  }

  /** Frees the model's buffers and its host's threads; the device stays usable unless the model acquired it itself. */
  destroy(): void {
    this.executor.destroy();
    this.host.dispose();
    if (this.ownsDevice) this.gpu.destroy();
  }

  private async uploadState(model: Model): Promise<void> {
    for (const r of this.manifest.memory.regions) {
      if (!STATE_ROLES.has(r.role) || r.dtype === "f64") continue;
      const bytes = new Uint8Array(model.wasmMemory.buffer, findRegion(model.manifest, r.name).offset, r.bytes).slice();
      await this.executor.upload(r.name, bytes);
    }
  }

  private async predictRows(x: Float32Array, n: number): Promise<Float32Array> {
    const width = this.manifest.input.width;
    const classes = this.manifest.classes;
    const result = new Float32Array(n * classes);
    for (let start = 0; start < n; start += this.maxBatch) {
      const rows = Math.min(this.maxBatch, n - start);
      const call: GpuCall = { n: rows, phase: "predict", step: this.steps, lr: 0 };
      const bytes = await this.executor.run(this.predictProgram, {
        call: this.uniform(rows, this.steps),
        writes: [{ region: "input", data: x.subarray(start * width, (start + rows) * width) }, ...this.frame.writes(call)],
        readback: { region: "probs", bytes: 4 * rows * classes },
      });
      this.frame.afterCall(call, true);
      result.set(new Float32Array(bytes!), start * classes);
    }
    return result;
  }

  private async runStep(x: Float32Array, labels: Int32Array, n: number, lr: number): Promise<{ loss: number; correct: number }> {
    const o = this.manifest.train.optimizer;
    const t = this.steps + 1;
    const corrections = o["kind"] === "adam" ? adamCorrections(Number(o["beta1"]), Number(o["beta2"]), t) : { adamC1: 1, adamC2: 1 };
    const call: GpuCall = { n, phase: "train", step: this.steps, lr };
    const bytes = await this.executor.run(this.trainProgram, {
      call: { n, t, lr, ...corrections },
      writes: [{ region: "input", data: x }, { region: "labels", data: labels }, ...this.frame.writes(call)],
      readback: { region: LOSS, bytes: 4 * this.frame.lossWords },
    });
    const slots = new Float32Array(bytes!);
    const loss = slots[0]!;
    const finite = Number.isFinite(loss);
    if (finite) this.steps = t;
    this.frame.afterCall(call, finite);
    if (!finite) throw new NonFiniteError(t, await this.firstNonFiniteLayer(n), loss);
    return { loss, correct: slots[this.frame.correctSlot]! };
  }

  private uniform(n: number, t: number) {
    return { n, t, lr: 0, adamC1: 1, adamC2: 1 };
  }

  private learningRate(method: string, lr: number | undefined): number {
    const rate = lr ?? Number(this.manifest.train.optimizer["lr"]);
    if (typeof rate !== "number" || !Number.isFinite(Math.fround(rate)) || rate < 0) {
      throw new RangeError(`${method}: lr must be a finite number >= 0 (as f32), got ${describe(lr)}`);
    }
    return rate;
  }

  private labelsOf(method: string, labels: ArrayLike<number>, n: number, row: (i: number) => number): Int32Array {
    const classes = this.manifest.classes;
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const example = row(i);
      const label = labels[example]!;
      if (!(Number.isInteger(label) && label >= 0 && label < classes)) {
        throw new RangeError(`${method}: label ${label} of example ${example} is not a class in [0, ${classes})`);
      }
      out[i] = label;
    }
    return out;
  }

  private findParam(method: string, name: string) {
    if (typeof name !== "string") throw new TypeError(`${method}: the parameter name must be a string, got ${describe(name)}`);
    const param = this.manifest.params.find((p) => p.name === name);
    if (!param) throw new RangeError(`${method}: model '${this.manifest.model}' has no parameter '${name}'`);
    return param;
  }

  private async read(region: ManifestRegion): Promise<Float32Array> {
    return new Float32Array(await this.executor.download(region.name));
  }

  private async firstNonFiniteLayer(n: number): Promise<string> {
    for (const layer of this.manifest.layers) {
      if (!layer.delta) continue;
      const values = await this.read(findRegion(this.manifest, layer.output));
      if (values.subarray(0, n * layer.units).some((v) => !Number.isFinite(v))) return layer.name;
    }
    return this.manifest.layers.find((l) => l.isOutput)!.name;
  }
}

