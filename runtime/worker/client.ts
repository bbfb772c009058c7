/**
 * @fileoverview WorkerModel: a model running in a worker, driven with promises. One
 * implementation for Web Workers and Node worker_threads; an adapter (WorkerPort) hides which.
 * Arrays cross as transferred buffers; training streams progress and stops at a step boundary
 * when its AbortSignal fires; a worker that dies rejects every pending call with a WorkerError.
 */
import type { Dataset, DataSplit, DecisionsReport, Evaluation, Manifest, ModelAnalyses, ModelFigures, Phase, TrainResult } from "../index.js";
import { reviveError, type CallArgs, type FromWorker, type MethodName, type ToWorker, type WorkerTrainSettings } from "./protocol.js";
import type { EpochReport, TrainProgress } from "../index.js";

/** The main thread's end of a worker (a Web Worker or a worker_threads Worker). */
export interface WorkerPort {
  post(message: ToWorker, transfer: ArrayBuffer[]): void;
  onMessage(handler: (message: FromWorker) => void): void;
  /** The worker failed to start, threw an uncaught error, exited or sent an unreadable message. */
  onFailure(handler: (reason: string) => void): void;
  /** Node: whether the worker keeps the process alive (only while calls are pending). */
  setKeepAlive(on: boolean): void;
  terminate(): void;
  /** Whether a SharedArrayBuffer can be shared with the worker (for cancelling at a step). */
  readonly sharedMemory: boolean;
}

/** The worker stopped (crashed, exited, failed to start) or the handle was disposed. */
export class WorkerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WorkerError";
  }
}

export interface TransferOption {
  /**
   * Hand the input arrays' buffers to the worker instead of copying them (they become
   * detached, length 0, here). Only arrays that span their whole buffer are moved; others are
   * copied into a buffer of their own first.
   */
  transfer?: boolean;
}

export interface WorkerTrainOptions extends TransferOption {
  /** Defaults: the model file's training settings (its manifest's `train`). */
  epochs?: number;
  batch?: number;
  seed?: number;
  lr?: number;
  schedule?: WorkerTrainSettings["schedule"];
  /** Progress events every this many steps (and at each epoch's end); default 10. */
  progressEvery?: number;
  /** Progress events carry `figures`: the epoch's figures so far (docs/reports.md). Default false. */
  figures?: boolean;
  /**
   * After each epoch's test pass, run every method's extra measurements (`analyze`, e.g. sign
   * agreement) on the first this many test examples; epoch events carry them as `analyses`.
   * Default 0 (none). They run the data through the model again.
   */
  analyze?: number;
  onProgress?: (progress: TrainProgress & { step: number; figures: ModelFigures | null }) => void;
  onEpoch?: (report: EpochReport & { step: number; analyses: ModelAnalyses | null }) => void;
  /**
   * Cancels the run: the promise rejects with `signal.reason` once the model is usable again.
   * With shared memory (Node; browsers with cross-origin isolation) training stops after the
   * step in progress; otherwise the worker is restarted with the weights of the last completed
   * epoch (or those before the run), and the optimizer's momentum starts from zero.
   */
  signal?: AbortSignal;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
  train?: { options: WorkerTrainOptions; snapshot: Uint8Array | null; cancelled: boolean };
}

const isDataset = (d: unknown): d is Dataset => {
  const v = d as Partial<Dataset> | null;
  return typeof v === "object" && v !== null && v.images instanceof Float32Array && v.labels instanceof Uint8Array && Number.isInteger(v.count) && Number.isInteger(v.width);
};

/** A copy (or, with transfer, the array itself) whose whole buffer can be transferred. */
function sendable<T extends Float32Array | Uint8Array | Int32Array>(array: T, transfer: boolean | undefined, list: ArrayBuffer[]): T {
  const whole = array.byteOffset === 0 && array.byteLength === array.buffer.byteLength && array.buffer instanceof ArrayBuffer;
  const own = transfer && whole ? array : (array.slice() as T);
  list.push(own.buffer as ArrayBuffer);
  return own;
}

function sendDataset(d: Dataset, transfer: boolean | undefined, list: ArrayBuffer[]): Dataset {
  return { name: d.name, count: d.count, width: d.width, classes: d.classes, images: sendable(d.images, transfer, list), labels: sendable(d.labels, transfer, list) };
}

export class WorkerModel {
  readonly manifest: Manifest;
  private port: WorkerPort;
  private readonly spawn: () => WorkerPort;
  private readonly open: Extract<ToWorker, { kind: "open" }>;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private lastStep = 0;
  private stopped: string | null = null;
  /** Calls wait for this while a run that may restart the worker is in flight. */
  private barrier: Promise<void> = Promise.resolve();

  private constructor(spawn: () => WorkerPort, open: Extract<ToWorker, { kind: "open" }>) {
    this.spawn = spawn;
    this.open = open;
    this.manifest = open.manifest;
    this.port = spawn();
  }

  /** Starts a worker and loads the model in it (`loadModel(wasm, manifest, options)` there). */
  static async start(spawn: () => WorkerPort, wasm: Uint8Array | ArrayBuffer | WebAssembly.Module, manifest: Manifest, options: unknown): Promise<WorkerModel> {
    if (!(wasm instanceof Uint8Array || wasm instanceof ArrayBuffer || wasm instanceof WebAssembly.Module)) {
      throw new TypeError(`loadModelInWorker: wasm must be a Uint8Array, ArrayBuffer or WebAssembly.Module, got ${wasm === null ? "null" : typeof wasm}`);
    }
    if (typeof manifest !== "object" || manifest === null) throw new TypeError("loadModelInWorker: manifest must be a manifest object");
    const handle = new WorkerModel(spawn, { kind: "open", wasm, manifest, options });
    await handle.connect();
    return handle;
  }

  /** Wires the current port and loads the model in it; resolves when the worker has it. */
  private connect(): Promise<void> {
    const port = this.port;
    return new Promise<void>((resolve, reject) => {
      let opened = false;
      port.onMessage((message) => {
        if (port !== this.port) return; // a worker replaced after a cancel
        if (message.kind === "opened") {
          opened = true;
          this.lastStep = message.step;
          this.keepAlive();
          resolve();
        } else if (message.kind === "open-failed") {
          this.stop(`the model could not be loaded in the worker: ${message.error.message}`);
          reject(reviveError(message.error));
        } else {
          this.receive(message);
        }
      });
      port.onFailure((reason) => {
        if (port !== this.port || this.stopped) return;
        this.stop(opened ? `the model's worker stopped: ${reason}` : `the model's worker failed to start: ${reason}`);
        if (!opened) reject(new WorkerError(this.stopped!));
      });
      port.setKeepAlive(true);
      try {
        port.post(this.open, []);
      } catch (error) {
        // Options that cannot be cloned (functions, class instances holding them).
        this.stop(`the model's worker was not started: ${(error as Error).message}`);
        reject(new TypeError(`loadModelInWorker: wasm, manifest and options must be cloneable to a worker: ${(error as Error).message}`));
      }
    });
  }

  get maxBatch(): number {
    return this.manifest.maxBatch;
  }

  /** The step count as of the last call that finished. */
  get step(): number {
    return this.lastStep;
  }

  /** Whether the worker is running (false after dispose() or a crash). */
  get alive(): boolean {
    return this.stopped === null;
  }

  init(seed: number): Promise<void> {
    return this.call("init", [seed], []) as Promise<void>;
  }

  predict(x: Float32Array, n: number, options: TransferOption = {}): Promise<Float32Array> {
    if (!(x instanceof Float32Array)) return Promise.reject(new TypeError(`predict: x must be a Float32Array, got ${describe(x)}`));
    const transfer: ArrayBuffer[] = [];
    return this.call("predict", [sendable(x, options.transfer, transfer), n], transfer) as Promise<Float32Array>;
  }

  trainStep(x: Float32Array, labels: Uint8Array | Int32Array, n: number, options: TransferOption & { lr?: number } = {}): Promise<{ loss: number }> {
    if (!(x instanceof Float32Array)) return Promise.reject(new TypeError(`trainStep: x must be a Float32Array, got ${describe(x)}`));
    if (!(labels instanceof Uint8Array || labels instanceof Int32Array)) return Promise.reject(new TypeError(`trainStep: labels must be a Uint8Array or Int32Array, got ${describe(labels)}`));
    const transfer: ArrayBuffer[] = [];
    return this.call("trainStep", [sendable(x, options.transfer, transfer), sendable(labels, options.transfer, transfer), n, options.lr], transfer) as Promise<{ loss: number }>;
  }

  evaluate(dataset: Dataset, options: TransferOption = {}): Promise<Evaluation> {
    if (!isDataset(dataset)) return Promise.reject(new TypeError("evaluate: dataset must be a Dataset ({ count, width, classes, images: Float32Array, labels: Uint8Array })"));
    const transfer: ArrayBuffer[] = [];
    return this.call("evaluate", [sendDataset(dataset, options.transfer, transfer)], transfer) as Promise<Evaluation>;
  }

  save(): Promise<Uint8Array> {
    return this.call("save", [], []) as Promise<Uint8Array>;
  }

  load(bytes: Uint8Array, fileLabel = "checkpoint", options: TransferOption & { allowNonFinite?: boolean } = {}): Promise<void> {
    if (!(bytes instanceof Uint8Array)) return Promise.reject(new TypeError(`load: bytes must be a Uint8Array, got ${describe(bytes)}`));
    const transfer: ArrayBuffer[] = [];
    return this.call("load", [sendable(bytes, options.transfer, transfer), String(fileLabel), options.allowNonFinite === true], transfer) as Promise<void>;
  }

  /**
   * Runs n rows of x through the model and reports, per gated layer, which units, blocks,
   * leaves or experts each example used (`gateDecisions`); the first `keep` examples' lists
   * in full, counts over all n.
   */
  decisions(x: Float32Array, n: number, options: TransferOption & { keep?: number } = {}): Promise<DecisionsReport> {
    if (!(x instanceof Float32Array)) return Promise.reject(new TypeError(`decisions: x must be a Float32Array, got ${describe(x)}`));
    const transfer: ArrayBuffer[] = [];
    return this.call("decisions", [sendable(x, options.transfer, transfer), n, options.keep ?? 16], transfer) as Promise<DecisionsReport>;
  }

  /** Every method's extra measurements on a data set (`analyzeModel`). */
  analyze(dataset: Dataset, options: TransferOption = {}): Promise<ModelAnalyses> {
    if (!isDataset(dataset)) return Promise.reject(new TypeError("analyze: dataset must be a Dataset ({ count, width, classes, images: Float32Array, labels: Uint8Array })"));
    const transfer: ArrayBuffer[] = [];
    return this.call("analyze", [sendDataset(dataset, options.transfer, transfer)], transfer) as Promise<ModelAnalyses>;
  }

  /** The figures since the last counter reset of a phase (`collectFigures`). */
  figures(phase: Phase): Promise<ModelFigures> {
    return this.call("figures", [phase], []) as Promise<ModelFigures>;
  }

  /** Zeroes the counters of a phase (`resetCounters`). */
  resetCounters(phase: Phase): Promise<void> {
    return this.call("resetCounters", [phase], []) as Promise<void>;
  }

  /**
   * Trains on `data` (a Dataset, evaluated on itself after each epoch, or { train, test }) with
   * the runtime's trainModel in the worker; see WorkerTrainOptions for cancelling.
   */
  async train(data: Dataset | DataSplit, options: WorkerTrainOptions = {}): Promise<TrainResult> {
    const split = isDataset(data) ? { train: data, test: data } : (data as DataSplit);
    if (!isDataset(split?.train) || !isDataset(split?.test)) {
      throw new TypeError("train: data must be a Dataset or { train: Dataset, test: Dataset }");
    }
    const { signal } = options;
    if (signal?.aborted) throw signal.reason;
    const settings = this.trainSettings(options);
    const shared = this.port.sharedMemory && typeof SharedArrayBuffer !== "undefined";
    const cancel = shared ? new SharedArrayBuffer(4) : null;
    // Without shared memory a cancel restarts the worker: keep later calls until the run settles.
    let release = (): void => undefined;
    if (!shared) {
      const previous = this.barrier;
      this.barrier = new Promise<void>((resolve) => (release = resolve));
      await previous;
    }
    try {
      const snapshot = shared ? null : await this.send("save", [], []) as Uint8Array;
      const transfer: ArrayBuffer[] = [];
      const train = sendDataset(split.train, options.transfer, transfer);
      // One copy when the run evaluates on its training set (structured cloning keeps the identity).
      const test = split.test === split.train ? train : sendDataset(split.test, options.transfer, transfer);
      const message = { kind: "train" as const, train, test, settings, cancel, snapshots: !shared };
      return (await this.request(message, transfer, { options, snapshot, cancelled: false }, (id, pending) => {
        const onAbort = (): void => {
          pending.train!.cancelled = true;
          if (cancel) Atomics.store(new Int32Array(cancel), 0, 1);
          else void this.restartAfterCancel(id, pending);
        };
        signal?.addEventListener("abort", onAbort, { once: true });
        return () => signal?.removeEventListener("abort", onAbort);
      })) as TrainResult;
    } finally {
      release();
    }
  }

  /** Stops the worker; pending calls reject with a WorkerError. Safe to call twice. */
  dispose(): void {
    if (this.stopped) return;
    this.stop("the model's worker was disposed");
  }

  private trainSettings(options: WorkerTrainOptions): WorkerTrainSettings {
    const t = this.manifest.train;
    const settings: WorkerTrainSettings = {
      epochs: options.epochs ?? t.epochs,
      batch: options.batch ?? t.batch,
      seed: options.seed ?? t.seed,
      lr: options.lr ?? Number(t.optimizer["lr"]),
      schedule: options.schedule ?? t.schedule,
      progressEvery: options.progressEvery ?? 10,
      figures: options.figures === true,
      analyze: options.analyze ?? 0,
    };
    for (const key of ["epochs", "batch", "progressEvery", "analyze"] as const) {
      const least = key === "epochs" || key === "analyze" ? 0 : 1;
      if (!Number.isInteger(settings[key]) || settings[key] < least) throw new RangeError(`train: ${key} must be a ${least === 0 ? "non-negative" : "positive"} integer, got ${settings[key]}`);
    }
    if (!Number.isInteger(settings.seed) || settings.seed < 0 || settings.seed >= 2 ** 32) throw new RangeError(`train: seed must be an integer in [0, 2^32), got ${settings.seed}`);
    if (!(settings.lr > 0) || !Number.isFinite(settings.lr)) throw new RangeError(`train: lr must be a positive finite number, got ${settings.lr}`);
    return settings;
  }

  private async call<M extends MethodName>(method: M, args: CallArgs[M], transfer: ArrayBuffer[]): Promise<unknown> {
    await this.barrier;
    return this.send(method, args, transfer);
  }

  private send<M extends MethodName>(method: M, args: CallArgs[M], transfer: ArrayBuffer[]): Promise<unknown> {
    return this.request({ kind: "call", method, args } as Omit<Extract<ToWorker, { kind: "call" }>, "id">, transfer);
  }

  private request(
    message: Omit<Extract<ToWorker, { kind: "call" | "train" }>, "id">,
    transfer: ArrayBuffer[],
    train?: Pending["train"],
    attach?: (id: number, pending: Pending) => () => void,
  ): Promise<unknown> {
    if (this.stopped) return Promise.reject(new WorkerError(`${this.stopped}; the handle cannot be used any more`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      let detach = (): void => undefined;
      const pending: Pending = {
        resolve: (value) => (detach(), resolve(value)),
        reject: (error) => (detach(), reject(error)),
        train,
      };
      this.pending.set(id, pending);
      if (attach) detach = attach(id, pending);
      this.keepAlive();
      try {
        this.port.post({ ...message, id } as ToWorker, transfer);
      } catch (error) {
        const what = "method" in message ? message.method : "train";
        this.settle(id, (p) => p.reject(new TypeError(`${what}: the arguments cannot be sent to the worker: ${(error as Error).message}`)));
      }
    });
  }

  private receive(message: Exclude<FromWorker, { kind: "opened" | "open-failed" }>): void {
    const pending = this.pending.get(message.id);
    if (!pending) return;
    switch (message.kind) {
      case "progress":
        this.lastStep = message.step;
        pending.train?.options.onProgress?.({ ...message.progress, step: message.step, figures: message.figures });
        return;
      case "epoch":
        this.lastStep = message.step;
        if (pending.train && message.snapshot) pending.train.snapshot = message.snapshot;
        pending.train?.options.onEpoch?.({ ...message.report, step: message.step, analyses: message.analyses });
        return;
      case "cancelled":
        this.lastStep = message.step;
        this.settle(message.id, (p) => p.reject(pending.train!.options.signal!.reason));
        return;
      case "result":
        this.lastStep = message.step;
        this.settle(message.id, (p) => p.resolve(message.value));
        return;
      case "error":
        this.lastStep = message.step;
        this.settle(message.id, (p) => p.reject(reviveError(message.error)));
        return;
    }
  }

  private settle(id: number, how: (pending: Pending) => void): void {
    const pending = this.pending.get(id);
    if (!pending) return;
    this.pending.delete(id);
    this.keepAlive();
    how(pending);
  }

  /** Without shared memory: replace the worker, reload the last snapshot, then reject the run. */
  private async restartAfterCancel(id: number, pending: Pending): Promise<void> {
    const snapshot = pending.train!.snapshot!;
    const others = [...this.pending].filter(([other]) => other !== id);
    this.pending.clear();
    this.port.terminate();
    for (const [, p] of others) p.reject(new WorkerError("cancelled: the call was queued behind a training run that was cancelled"));
    try {
      this.port = this.spawn();
      await this.connect();
      await this.send("load", [snapshot, "snapshot", true], []);
      pending.reject(pending.train!.options.signal!.reason);
    } catch (error) {
      pending.reject(error instanceof Error ? error : new WorkerError(String(error)));
    }
  }

  private keepAlive(): void {
    this.port.setKeepAlive(this.pending.size > 0);
  }

  private stop(reason: string): void {
    this.stopped = reason;
    const error = new WorkerError(reason);
    const pending = [...this.pending.values()];
    this.pending.clear();
    this.port.setKeepAlive(false);
    this.port.terminate();
    for (const p of pending) p.reject(error);
  }
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value !== "object") return typeof value;
  return (value as object).constructor?.name ?? "object";
}
