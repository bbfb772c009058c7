/**
 * @fileoverview The worker's side: loads the model with the public `loadModel` (options passed
 * through unchanged), runs each call in order, streams training progress, and stops training
 * at a step boundary when the caller cancels.
 */
import { analyzeModel, collectFigures, gateDecisions, loadModel, resetCounters, trainModel, type Dataset, type EpochReport, type Model, type TrainProgress } from "../index.js";
import { serializeError, type CallArgs, type FromWorker, type MethodName, type ToWorker } from "./protocol.js";

/** The worker's end of the channel (Web Worker `self`, Node `parentPort`). */
export interface ParentPort {
  post(message: FromWorker, transfer: ArrayBuffer[]): void;
  onMessage(handler: (message: ToWorker) => void): void;
}

type Reply = { value: unknown; transfer: ArrayBuffer[] };

const METHODS: { [M in MethodName]: (model: Model, args: CallArgs[M]) => Reply } = {
  init: (model, [seed]) => (model.init(seed), { value: undefined, transfer: [] }),
  predict: (model, [x, n]) => {
    const probs = model.predict(x, n);
    return { value: probs, transfer: [probs.buffer as ArrayBuffer] };
  },
  trainStep: (model, [x, labels, n, lr]) => ({ value: model.trainStep(x, labels, n, lr === undefined ? {} : { lr }), transfer: [] }),
  evaluate: (model, [dataset]) => ({ value: model.evaluate(dataset), transfer: [] }),
  save: (model) => {
    const bytes = model.save();
    return { value: bytes, transfer: [bytes.buffer as ArrayBuffer] };
  },
  load: (model, [bytes, fileLabel, allowNonFinite]) => (model.load(bytes, fileLabel, { allowNonFinite }), { value: undefined, transfer: [] }),
  decisions: (model, [x, n, keep]) => {
    const report = gateDecisions(model, x, n, { keep });
    const transfer = [report.probs.buffer, ...report.layers.flatMap((l) => [l.counts.buffer, ...l.perExample.map((a) => a.buffer)])];
    return { value: report, transfer: [...new Set(transfer)] as ArrayBuffer[] };
  },
  analyze: (model, [dataset]) => ({ value: analyzeModel(model, dataset), transfer: [] }),
  figures: (model, [phase]) => ({ value: collectFigures(model, checkPhase(phase)), transfer: [] }),
  resetCounters: (model, [phase]) => (resetCounters(model, checkPhase(phase)), { value: undefined, transfer: [] }),
};

function checkPhase(phase: unknown): "train" | "eval" {
  if (phase !== "train" && phase !== "eval") throw new RangeError(`phase must be "train" or "eval", got ${JSON.stringify(phase)}`);
  return phase;
}

/** The first `count` examples of a data set (views, no copy). */
function prefix(data: Dataset, count: number): Dataset {
  const n = Math.min(count, data.count);
  return { ...data, count: n, images: data.images.subarray(0, n * data.width), labels: data.labels.subarray(0, n) };
}

/** Thrown from the progress callback to unwind trainModel between two steps. */
const CANCELLED = Symbol("cancelled");

export function serveModel(port: ParentPort): void {
  let model: Model | undefined;
  port.onMessage((message) => {
    if (message.kind === "open") {
      // `loadModel`'s options are the caller's, passed on as given (their type belongs to loadModel),
      // except a GPU back end: the worker drives its model synchronously.
      const backend = (message.options as { backend?: unknown } | undefined)?.backend;
      if (backend !== undefined && backend !== "wasm") {
        const error = new RangeError(`loadModelInWorker: options.backend ${JSON.stringify(backend)}: a model in a worker runs on wasm; load a GPU model on the page with loadModel(..., { backend })`);
        port.post({ kind: "open-failed", error: serializeError(error) }, []);
        return;
      }
      const load = loadModel as (wasm: unknown, manifest: unknown, options?: unknown) => Promise<Model>;
      load(message.wasm, message.manifest, message.options).then(
        (loaded) => {
          model = loaded;
          port.post({ kind: "opened", maxBatch: loaded.maxBatch, step: loaded.step }, []);
        },
        (error) => port.post({ kind: "open-failed", error: serializeError(error) }, []),
      );
      return;
    }
    if (!model) {
      port.post({ kind: "error", id: message.id, error: serializeError(new Error("the model is not loaded yet")), step: 0 }, []);
      return;
    }
    try {
      if (message.kind === "train") {
        train(port, model, message);
      } else {
        const run = METHODS[message.method] as (model: Model, args: unknown) => Reply;
        const { value, transfer } = run(model, message.args);
        port.post({ kind: "result", id: message.id, value, step: model.step }, transfer);
      }
    } catch (error) {
      port.post({ kind: "error", id: message.id, error: serializeError(error), step: model.step }, []);
    }
  });
}

function train(port: ParentPort, model: Model, message: Extract<ToWorker, { kind: "train" }>): void {
  const { id, settings } = message;
  const flag = message.cancel ? new Int32Array(message.cancel) : null;
  const epochs: EpochReport[] = [];
  let stepInEpoch = 0;
  let epochOfStep = 0;
  const onProgress = (progress: TrainProgress): void => {
    if (progress.epoch !== epochOfStep) {
      epochOfStep = progress.epoch;
      stepInEpoch = 0;
    }
    stepInEpoch++;
    if (stepInEpoch % settings.progressEvery === 0 || progress.done === progress.total) {
      port.post({ kind: "progress", id, progress, step: model.step, figures: settings.figures ? collectFigures(model, "train") : null }, []);
    }
    // Checked after every step: the step has completed, so the model is consistent.
    if (flag && Atomics.load(flag, 0) !== 0) throw CANCELLED;
  };
  try {
    const result = trainModel(model, message.train, message.test, {
      ...settings,
      progressEvery: 1,
      onProgress,
      onEpoch: (report) => {
        epochs.push(report);
        // After the test pass and its figures: the next epoch resets the counters the analyses use.
        const analyses = settings.analyze > 0 ? analyzeModel(model, prefix(message.test, settings.analyze)) : null;
        const snapshot = message.snapshots ? model.save() : null;
        port.post({ kind: "epoch", id, report, step: model.step, snapshot, analyses }, snapshot ? [snapshot.buffer as ArrayBuffer] : []);
      },
    });
    port.post({ kind: "result", id, value: result, step: model.step }, []);
  } catch (error) {
    if (error !== CANCELLED) throw error;
    port.post({ kind: "cancelled", id, epochs, step: model.step }, []);
  }
}
