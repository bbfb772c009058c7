/**
 * @fileoverview The training loop: seeded epoch shuffles, minibatches gathered straight
 * into the model's memory, the learning-rate schedule, per-epoch evaluation.
 */
import type { Model, Evaluation } from "./model.js";
import type { Dataset } from "./data/dataset.js";
import { shuffledIndices } from "./random.js";
import { hasLowRank, lowrankLayers, refreshEstimators } from "./lowrank.js";

export interface TrainProgress {
  epoch: number;
  epochs: number;
  /** Examples seen this epoch, and the epoch's size. */
  done: number;
  total: number;
  /** Mean training loss so far this epoch. */
  loss: number;
  /** Training accuracy so far this epoch (on the batches as they were before each update). */
  accuracy: number;
  examplesPerSecond: number;
}

export interface EpochReport {
  epoch: number;
  trainLoss: number;
  trainAccuracy: number;
  test: Evaluation;
  lr: number;
  seconds: number;
  examplesPerSecond: number;
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
}

export interface TrainResult {
  epochs: EpochReport[];
  testAccuracy: number;
  /** Training examples per second over all epochs (evaluation excluded). */
  examplesPerSecond: number;
}

/** The learning rate of an epoch (0-based) under a schedule. */
export function learningRate(base: number, schedule: TrainOptions["schedule"], epoch: number): number {
  if (schedule.kind === "step" && schedule.every && schedule.factor !== undefined) {
    return base * Math.pow(schedule.factor, Math.floor(epoch / schedule.every));
  }
  return base;
}

/** Trains `model` (already initialised) on `train`, evaluating on `test` after each epoch. */
export function trainModel(model: Model, train: Dataset, test: Dataset, options: TrainOptions): TrainResult {
  if (options.batch > model.maxBatch) {
    throw new RangeError(`batch ${options.batch} exceeds the model's max batch ${model.maxBatch}; rebuild with --max-batch ${options.batch}`);
  }
  const reports: EpochReport[] = [];
  let trainSeconds = 0;
  let trainExamples = 0;
  const every = options.progressEvery ?? 10;
  // Low-rank gates: factors from the initial weights (in_loop trains through them), then
  // refreshed each epoch (refresh: epoch) and always after the last one.
  const lowrank = hasLowRank(model);
  const refreshEachEpoch = lowrank && lowrankLayers(model).some((l) => l.gate.refresh === "epoch");
  if (lowrank) refreshEstimators(model);
  for (let epoch = 0; epoch < options.epochs; epoch++) {
    const order = shuffledIndices(train.count, options.seed, epoch);
    const lr = learningRate(options.lr, options.schedule, epoch);
    const t0 = now();
    let lossSum = 0;
    let correct = 0;
    let steps = 0;
    for (let start = 0; start < train.count; start += options.batch) {
      const n = Math.min(options.batch, train.count - start);
      const result = model.trainStepOn(train, order, start, n, lr);
      lossSum += result.loss;
      correct += result.correct;
      steps++;
      if (options.onProgress && (steps % every === 0 || start + n === train.count)) {
        const elapsed = (now() - t0) / 1000;
        options.onProgress({
          epoch: epoch + 1,
          epochs: options.epochs,
          done: start + n,
          total: train.count,
          loss: lossSum / steps,
          accuracy: correct / (start + n),
          examplesPerSecond: (start + n) / Math.max(elapsed, 1e-9),
        });
      }
    }
    const seconds = (now() - t0) / 1000;
    if (lowrank && (refreshEachEpoch || epoch === options.epochs - 1)) refreshEstimators(model);
    trainSeconds += seconds;
    trainExamples += train.count;
    const report: EpochReport = {
      epoch: epoch + 1,
      trainLoss: lossSum / Math.max(steps, 1),
      trainAccuracy: correct / Math.max(train.count, 1),
      test: model.evaluate(test),
      lr,
      seconds,
      examplesPerSecond: train.count / Math.max(seconds, 1e-9),
    };
    reports.push(report);
    options.onEpoch?.(report);
  }
  return {
    epochs: reports,
    testAccuracy: reports.length > 0 ? reports[reports.length - 1]!.test.accuracy : model.evaluate(test).accuracy,
    examplesPerSecond: trainExamples / Math.max(trainSeconds, 1e-9),
  };
}

function now(): number {
  return typeof performance !== "undefined" ? performance.now() : Date.now();
}
