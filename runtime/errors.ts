/**
 * @fileoverview The runtime's named failures: a training step that went non-finite, a training
 * run that diverged, a module and manifest that cannot be loaded together, a worker thread that
 * failed. In a module of their
 * own so that callers can recognise them without loading the runtime.
 */

/** Training produced NaN or Inf: names the step and the first layer where it appeared. */
export class NonFiniteError extends Error {
  constructor(readonly step: number, readonly layer: string, readonly loss: number) {
    super(`training diverged at step ${step}: ${Number.isNaN(loss) ? "NaN" : loss > 0 ? "Inf" : "-Inf"} loss; first non-finite values in layer '${layer}'; the parameters are those before the step`);
    this.name = "NonFiniteError";
  }
}

/** Training diverged with a finite but exploding loss: the step, the layer whose weights grew most, the loss. */
export class DivergenceError extends Error {
  constructor(readonly step: number, readonly layer: string, readonly loss: number, readonly limit: number) {
    super(`training diverged at step ${step}: loss ${loss.toPrecision(3)} stayed above ${limit.toPrecision(3)}; the largest weights are in layer '${layer}' (lower the learning rate)`);
    this.name = "DivergenceError";
  }
}

/** A module and a manifest that do not belong together, or that this runtime cannot run. */
export class ModelLoadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ModelLoadError";
  }
}

/** A worker thread failed to start, or a chunk failed in one. */
export class ThreadError extends Error {
  /** @param reason the cause alone (a start failure's, without the thread's number) */
  constructor(message: string, readonly reason: string = message) {
    super(message);
    this.name = "ThreadError";
  }
}
