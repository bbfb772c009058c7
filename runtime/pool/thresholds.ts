/**
 * @fileoverview The least work per tile for which splitting a kernel call over threads pays,
 * per kernel family, in the family's own unit. Below it a call runs on the calling thread.
 * Measured by bench/thread-thresholds.mjs (docs/performance.md, "Threads"): each is the work
 * at which 2 threads first beat 1 thread, rounded up. Methods keep theirs in their own folder.
 */

export interface SplitThresholds {
  /** GEMM (all three forms): multiply-adds per tile. */
  gemm: number;
  /** Element-wise kernels (activations, bias, column sums, softmax): elements per tile. */
  elementwise: number;
  /** Optimizer steps (SGD, Adam): parameters per tile. */
  optimizer: number;
  /** Zeroing memory: bytes per tile. */
  zero: number;
}

export const SPLIT_THRESHOLDS: SplitThresholds = {
  gemm: 40_000,
  elementwise: 16_384,
  optimizer: 16_384,
  zero: 262_144,
};
