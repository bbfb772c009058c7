/**
 * @fileoverview The least work per tile for which splitting a kernel call over threads pays,
 * per kernel family, in the family's own unit. Below it a call runs on the calling thread.
 * Measured by bench/thread-thresholds.mjs (docs/performance.md, "Threads"): each is the work
 * per tile at which 2 threads first beat 1 thread (2 tiles), on 2 AMD EPYC cores with a
 * parallel capacity of 1.8x (the other jobs of the machine quiet), rounded up. Methods keep
 * the figures of their own kernels in their folders (methods/<name>/parallel.ts).
 */

export interface SplitThresholds {
  /** GEMM, packed path (m > 8 rows): multiply-adds per tile. */
  gemm: number;
  /** GEMM, small-m path (m <= 8: GEMV-like, bound by memory): multiply-adds per tile. */
  gemv: number;
  /** Cheap element-wise kernels (ReLU, bias, column sums): elements per tile. */
  elementwise: number;
  /** Element-wise kernels with a transcendental per element (tanh, sigmoid, softmax): elements per tile. */
  transcendental: number;
  /** Optimizer steps (SGD, Adam): parameters per tile. */
  optimizer: number;
  /** Zeroing memory: bytes per tile. */
  zero: number;
}

export const SPLIT_THRESHOLDS: SplitThresholds = {
  gemm: 196_608,
  gemv: 65_536,
  elementwise: 131_072,
  transcendental: 512,
  optimizer: 32_768,
  zero: 720_896,
};
