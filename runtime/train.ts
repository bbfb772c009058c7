/**
 * @fileoverview The training loop: seeded epoch shuffles, minibatches gathered straight into the
 * model's memory, the learning-rate schedule, per-epoch evaluation and figures, the methods'
 * per-epoch hooks (estimator refresh), and a stop on divergence naming the step and the layer.
 * One loop (a generator of the operations it needs) drives a wasm Model synchronously and a
 * model on either back end asynchronously.
 */
import type { Model, Evaluation } from "./model.js";
import type { Manifest } from "./manifest.js";
import type { AnyModel } from "./backend.js";
import type { Dataset } from "./data/dataset.js";
import { shuffledIndices } from "./random.js";
import { collectFigures, resetCounters, type ModelFigures, type Phase } from "./report.js";
import { DivergenceError } from "./errors.js";
import { now } from "./checks.js";

export { DivergenceError } from "./errors.js";

export interface TrainProgress {
  epoch: number;
  epochs: number;
  /** Examples seen this epoch, and the epoch's size. */
  done: number;
  total: number;
  /** Mean training loss so far this epoch, and the last step's. */
  loss: number;
  stepLoss: number;
  /** Training accuracy so far this epoch (on the batches as they were before each update). */
  accuracy: number;
  examplesPerSecond: number;
  /** Training steps taken in all (the model's step counter). */
  step: number;
}

export interface EpochReport {
  epoch: number;
  trainLoss: number;
  trainAccuracy: number;
  test: Evaluation;
  lr: number;
  seconds: number;
  examplesPerSecond: number;
  /** The epoch's figures while training, and on the test set. */
  trainFigures: ModelFigures;
  testFigures: ModelFigures;
}

export interface DivergenceOptions {
  /** A step loss above factor * ln(classes) counts as diverging. Default 100. */
  factor?: number;
  /** After this many diverging steps in a row, stop. Default 3. */
  steps?: number;
}

export interface TrainOptions {
  epochs: number;
  batch: number;
  seed: number;
  lr: number;
  schedule: { kind: string; every?: number; factor?: number };
  onProgress?: (progress: TrainProgress) => void;
  onEpoch?: (report: EpochReport) => void;
  /** How often onProgress fires, in steps. */
  progressEvery?: number;
  /** Checked between steps: when it returns true, training stops at that step boundary. */
  shouldStop?: () => boolean;
  /** Divergence detection (false: off). */
  divergence?: DivergenceOptions | false;
}

export interface TrainResult {
  epochs: EpochReport[];
  testAccuracy: number;
  /** Training examples per second over all epochs (evaluation excluded). */
  examplesPerSecond: number;
  /** True when `shouldStop` ended training early. */
  stopped: boolean;
}

/** The learning rate of an epoch (0-based) under a schedule. */
export function learningRate(base: number, schedule: TrainOptions["schedule"], epoch: number): number {
  if (schedule.kind === "step" && schedule.every && schedule.factor !== undefined) {
    return base * Math.pow(schedule.factor, Math.floor(epoch / schedule.every));
  }
  return base;
}

/** The layer whose parameters hold the largest magnitude. */
function largestIn(manifest: Manifest, parameter: (name: string) => Float32Array): string {
  let best = manifest.layers[0]!.name;
  let largest = -1;
  for (const p of manifest.params) {
    const values = parameter(p.name);
    for (let i = 0; i < values.length; i++) {
      const a = Math.abs(values[i]!);
      if (!(a <= largest)) {
        largest = a;
        best = p.layer;
      }
    }
  }
  return best;
}

/**
 * What the loop asks of the model, one operation at a time: the same loop drives a wasm Model
 * synchronously (trainModel) and a model on either back end asynchronously (trainModelAsync).
 */
type LoopOp =
  | { kind: "resetCounters"; phase: Phase }
  | { kind: "step"; order: Uint32Array; start: number; n: number; lr: number }
  | { kind: "figures"; phase: Phase }
  | { kind: "afterEpoch"; epoch: { index: number; last: boolean } }
  | { kind: "evaluate" }
  | { kind: "stepCount" }
  | { kind: "largestWeights" };

type LoopResult = { loss: number; correct: number } | ModelFigures | Evaluation | number | string | void;

function* trainLoop(manifest: Manifest, maxBatch: number, train: Dataset, test: Dataset, options: TrainOptions): Generator<LoopOp, TrainResult, LoopResult> {
  if (!Number.isInteger(options.batch) || options.batch < 1) throw new RangeError(`train: batch must be a positive integer, got ${options.batch}`);
  if (options.batch > maxBatch) {
    throw new RangeError(`train: batch ${options.batch} exceeds the model's max batch ${maxBatch}; rebuild with --max-batch ${options.batch}`);
  }
  if (!Number.isInteger(options.epochs) || options.epochs < 0) throw new RangeError(`train: epochs must be an integer >= 0, got ${options.epochs}`);
  if (train.count === 0) throw new RangeError(`train: the training set '${train.name}' is empty`);
  if (test.count === 0) throw new RangeError(`train: the test set '${test.name}' is empty`);
  const reports: EpochReport[] = [];
  let trainSeconds = 0;
  let trainExamples = 0;
  const every = options.progressEvery ?? 10;
  const divergence = options.divergence === false ? null : { factor: options.divergence?.factor ?? 100, steps: options.divergence?.steps ?? 3 };
  const limit = divergence ? divergence.factor * Math.log(manifest.classes) : Infinity;
  let diverging = 0;
  let stopped = false;
  for (let epoch = 0; epoch < options.epochs && !stopped; epoch++) {
    const order = shuffledIndices(train.count, options.seed, epoch);
    const lr = learningRate(options.lr, options.schedule, epoch);
    yield { kind: "resetCounters", phase: "train" };
    const t0 = now();
    let lossSum = 0;
    let correct = 0;
    let steps = 0;
    let seen = 0;
    for (let start = 0; start < train.count; start += options.batch) {
      if (options.shouldStop?.()) {
        stopped = true;
        break;
      }
      const n = Math.min(options.batch, train.count - start);
      const result = (yield { kind: "step", order, start, n, lr }) as { loss: number; correct: number };
      lossSum += result.loss;
      correct += result.correct;
      steps++;
      seen = start + n;
      diverging = result.loss > limit ? diverging + 1 : 0;
      if (divergence && diverging >= divergence.steps) {
        const step = (yield { kind: "stepCount" }) as number;
        throw new DivergenceError(step, (yield { kind: "largestWeights" }) as string, result.loss, limit);
      }
      if (options.onProgress && (steps % every === 0 || seen === train.count)) {
        const elapsed = (now() - t0) / 1000;
        options.onProgress({
          epoch: epoch + 1,
          epochs: options.epochs,
          done: seen,
          total: train.count,
          loss: lossSum / steps,
          stepLoss: result.loss,
          accuracy: correct / seen,
          examplesPerSecond: seen / Math.max(elapsed, 1e-9),
          step: (yield { kind: "stepCount" }) as number,
        });
      }
    }
    const seconds = (now() - t0) / 1000;
    if (stopped) break;
    const trainFigures = (yield { kind: "figures", phase: "train" }) as ModelFigures;
    yield { kind: "afterEpoch", epoch: { index: epoch, last: epoch === options.epochs - 1 } };
    trainSeconds += seconds;
    trainExamples += seen;
    yield { kind: "resetCounters", phase: "eval" };
    const testEvaluation = (yield { kind: "evaluate" }) as Evaluation;
    const report: EpochReport = {
      epoch: epoch + 1,
      trainLoss: lossSum / Math.max(steps, 1),
      trainAccuracy: correct / Math.max(seen, 1),
      test: testEvaluation,
      lr,
      seconds,
      examplesPerSecond: seen / Math.max(seconds, 1e-9),
      trainFigures,
      testFigures: (yield { kind: "figures", phase: "eval" }) as ModelFigures,
    };
    reports.push(report);
    options.onEpoch?.(report);
  }
  return {
    epochs: reports,
    testAccuracy: reports.length > 0 ? reports[reports.length - 1]!.test.accuracy : ((yield { kind: "evaluate" }) as Evaluation).accuracy,
    examplesPerSecond: trainExamples / Math.max(trainSeconds, 1e-9),
    stopped,
  };
}

/** Trains `model` (already initialised) on `train`, evaluating on `test` after each epoch. */
export function trainModel(model: Model, train: Dataset, test: Dataset, options: TrainOptions): TrainResult {
  const loop = trainLoop(model.manifest, model.maxBatch, train, test, options);
  let next = loop.next();
  while (!next.done) {
    const op = next.value;
    let result: LoopResult;
    switch (op.kind) {
      case "resetCounters":
        result = resetCounters(model, op.phase);
        break;
      case "step":
        result = model.trainStepOn(train, op.order, op.start, op.n, op.lr);
        break;
      case "figures":
        result = collectFigures(model, op.phase);
        break;
      case "afterEpoch":
        for (const g of model.methodGroups()) g.runtime.afterEpoch?.(model, g.layers, op.epoch);
        result = undefined;
        break;
      case "evaluate":
        result = model.evaluate(test);
        break;
      case "stepCount":
        result = model.step;
        break;
      case "largestWeights":
        result = largestIn(model.manifest, (name) => model.parameter(name));
        break;
    }
    next = loop.next(result);
  }
  return next.value;
}

/**
 * trainModel for a model on either back end (loadModel's `backend` option): the same loop, the
 * same reports; a GPU model's steps, figures and evaluations are awaited.
 */
export async function trainModelAsync(model: AnyModel, train: Dataset, test: Dataset, options: TrainOptions): Promise<TrainResult> {
  if (model.backend === "wasm") return trainModel(model, train, test, options);
  const loop = trainLoop(model.manifest, model.maxBatch, train, test, options);
  let next = loop.next();
  while (!next.done) {
    const op = next.value;
    let result: LoopResult;
    switch (op.kind) {
      case "resetCounters":
        result = await model.resetCounters(op.phase);
        break;
      case "step":
        result = await model.trainStepOn(train, op.order, op.start, op.n, op.lr);
        break;
      case "figures":
        result = await model.figures(op.phase);
        break;
      case "afterEpoch":
        result = await model.afterEpoch(op.epoch);
        break;
      case "evaluate":
        result = await model.evaluate(test);
        break;
      case "stepCount":
        result = model.step;
        break;
      case "largestWeights": {
        const values = new Map<string, Float32Array>();
        for (const p of model.manifest.params) values.set(p.name, await model.parameter(p.name));
        result = largestIn(model.manifest, (name) => values.get(name)!);
        break;
      }
    }
    next = loop.next(result);
  }
  return next.value;
}

