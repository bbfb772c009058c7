/**
 * @fileoverview A dense model on the GPU: the wasm Model's predict / trainStep / save / load,
 * asynchronous, with weights, gradients and optimizer state in GPU buffers. `predict` reads
 * back only the probabilities, `trainStep` only the loss; `save()` writes the same safetensors
 * bytes as Model.save() for the same weights, so checkpoints move freely between back ends.
 * Initial weights come from a wasm Model after init(seed) (copyFrom), or from a checkpoint.
 */
import { checkTensorsAgainst, decodeSafetensors, encodeSafetensors } from "../checkpoint/safetensors.js";
import type { Manifest, ManifestRegion } from "../manifest.js";
import { findRegion } from "../manifest.js";
import { NonFiniteError, type Model, type TrainStepOptions } from "../model.js";
import { densePrograms, LOSS, type GpuModelSpec } from "./dense.js";
import type { GpuDevice } from "./device.js";
import { GpuExecutor, type Program } from "./executor.js";
import { adamCorrections } from "./kernels/optim.js";

/** Regions that hold the model's state (what copyFrom carries over from a wasm model). */
const STATE_ROLES: ReadonlySet<string> = new Set(["param", "grad", "optimizer"]);

export class GpuModel {
  readonly manifest: Manifest;
  readonly gpu: GpuDevice;
  private readonly executor: GpuExecutor;
  private readonly predictProgram: Program;
  private readonly trainProgram: Program;
  private steps = 0;

  private constructor(gpu: GpuDevice, manifest: Manifest, executor: GpuExecutor, predict: Program, train: Program) {
    this.gpu = gpu;
    this.manifest = manifest;
    this.executor = executor;
    this.predictProgram = predict;
    this.trainProgram = train;
  }

  /**
   * Allocates the model's buffers (zeroed) and builds its pipelines. Rejects with
   * GpuUnsupportedModelError for layers the back end cannot run yet, GpuLimitError when a
   * buffer exceeds the device's limits.
   */
  static async create(gpu: GpuDevice, spec: GpuModelSpec): Promise<GpuModel> {
    const programs = densePrograms(spec);
    const executor = await GpuExecutor.create(gpu, programs.regions, spec.manifest.model);
    try {
      const predict = await executor.compile(`${spec.manifest.model} predict`, programs.predict);
      const train = await executor.compile(`${spec.manifest.model} trainStep`, programs.train);
      return new GpuModel(gpu, spec.manifest, executor, predict, train);
    } catch (error) {
      executor.destroy();
      throw error;
    }
  }

  get maxBatch(): number {
    return this.manifest.maxBatch;
  }

  /** Training steps taken (carried over by copyFrom and load). */
  get step(): number {
    return this.steps;
  }

  /** Copies parameters, gradients, optimizer state and the step count from a wasm model of the same build. */
  async copyFrom(model: Model): Promise<void> {
    if (model.manifest.sourceHash !== this.manifest.sourceHash || model.manifest.model !== this.manifest.model) {
      throw new TypeError(`copyFrom: model is '${model.manifest.model}' (${model.manifest.sourceHash.slice(0, 12)}), this GPU model is '${this.manifest.model}' (${this.manifest.sourceHash.slice(0, 12)})`);
    }
    model.flush();
    const copies = this.manifest.memory.regions.filter((r) => STATE_ROLES.has(r.role)).map((r) => ({ name: r.name, data: model.regionView(r.name).slice() }));
    for (const { name, data } of copies) await this.executor.upload(name, data);
    this.steps = model.step;
  }

  /** Class probabilities, row-major n x classes. Any n: runs in chunks of maxBatch. */
  async predict(x: Float32Array, n: number): Promise<Float32Array> {
    const width = this.manifest.input.width;
    const classes = this.manifest.classes;
    checkRows(x, n, width, "x");
    const result = new Float32Array(n * classes);
    for (let start = 0; start < n; start += this.maxBatch) {
      const rows = Math.min(this.maxBatch, n - start);
      const bytes = await this.executor.run(this.predictProgram, {
        call: { n: rows, t: this.steps, lr: 0, adamC1: 1, adamC2: 1 },
        writes: [{ region: "input", data: x.subarray(start * width, (start + rows) * width) }],
        readback: { region: "probs", bytes: 4 * rows * classes },
      });
      result.set(new Float32Array(bytes!), start * classes);
    }
    return result;
  }

  /** One step of training on 1 <= n <= maxBatch examples; resolves with the loss (the only value read back). */
  async trainStep(x: Float32Array, labels: Uint8Array | Int32Array, n: number, options: TrainStepOptions = {}): Promise<{ loss: number }> {
    const width = this.manifest.input.width;
    checkRows(x, n, width, "x");
    if (n < 1 || n > this.maxBatch) throw new RangeError(`trainStep: n = ${n} must be in [1, ${this.maxBatch}] (the model's max batch)`);
    if (labels.length < n) throw new RangeError(`trainStep: ${labels.length} labels for ${n} examples`);
    const classes = this.manifest.classes;
    const labelData = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const label = labels[i]!;
      if (!(label >= 0 && label < classes)) throw new RangeError(`label ${label} of example ${i} is not a class in [0, ${classes})`);
      labelData[i] = label;
    }
    const lr = options.lr ?? Number(this.manifest.train.optimizer["lr"]);
    if (!Number.isFinite(lr)) throw new RangeError(`trainStep: lr must be a finite number, got ${lr}`);
    const o = this.manifest.train.optimizer;
    const t = this.steps + 1;
    const corrections = o["kind"] === "adam" ? adamCorrections(Number(o["beta1"]), Number(o["beta2"]), t) : { adamC1: 1, adamC2: 1 };
    const bytes = await this.executor.run(this.trainProgram, {
      call: { n, t, lr, ...corrections },
      writes: [
        { region: "input", data: x.subarray(0, n * width) },
        { region: "labels", data: labelData },
      ],
      readback: { region: LOSS, bytes: 4 },
    });
    this.steps = t;
    const loss = new Float32Array(bytes!)[0]!;
    if (!Number.isFinite(loss)) throw new NonFiniteError(this.steps, await this.firstNonFiniteLayer(n), loss);
    return { loss };
  }

  /** The parameters as safetensors bytes: Model.save()'s layout and metadata. */
  async save(): Promise<Uint8Array> {
    const tensors = [];
    for (const p of this.manifest.params) tensors.push({ name: p.name, shape: p.shape, data: await this.read(findRegion(this.manifest, p.region)) });
    return encodeSafetensors(tensors, {
      model: this.manifest.model,
      source_sha256: this.manifest.sourceHash,
      compiler: `condc ${this.manifest.compilerVersion}`,
      step: String(this.steps),
    });
  }

  /** Replaces the parameters (and the step count) with a checkpoint's; throws naming every mismatch, changing nothing. */
  async load(bytes: Uint8Array, fileLabel = "checkpoint"): Promise<void> {
    const decoded = decodeSafetensors(bytes, fileLabel);
    checkTensorsAgainst(this.manifest.params.map((p) => ({ name: p.name, shape: p.shape })), decoded, fileLabel);
    for (const p of this.manifest.params) await this.executor.upload(p.region, decoded.tensors.get(p.name)!.data);
    const step = Number(decoded.metadata["step"] ?? 0);
    this.steps = Number.isInteger(step) && step >= 0 ? step : 0;
  }

  /** A copy of one parameter tensor. */
  async parameter(name: string): Promise<Float32Array> {
    const param = this.manifest.params.find((p) => p.name === name);
    if (!param) throw new RangeError(`model has no parameter '${name}'`);
    return this.read(findRegion(this.manifest, param.region));
  }

  /** A copy of any region of the memory plan (for tests and tools). */
  async region(name: string): Promise<Float32Array> {
    return this.read(findRegion(this.manifest, name));
  }

  /** Frees the model's buffers; the device stays usable. */
  destroy(): void {
    this.executor.destroy();
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
    for (const p of this.manifest.params) {
      if ((await this.read(findRegion(this.manifest, p.region))).some((v) => !Number.isFinite(v))) return p.layer;
    }
    return this.manifest.layers[this.manifest.layers.length - 1]!.name;
  }
}

function checkRows(x: Float32Array, n: number, width: number, what: string): void {
  if (!(x instanceof Float32Array)) throw new TypeError(`${what} must be a Float32Array`);
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`n must be a non-negative integer, got ${n}`);
  if (x.length < n * width) throw new RangeError(`${what} holds ${x.length} values, ${n} examples of width ${width} need ${n * width}`);
}
