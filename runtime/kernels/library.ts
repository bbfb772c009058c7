// The kernel library's entry: every family a compiled model calls, built once per SIMD flavour
// by scripts/build-kernels.mjs into one module that imports its memory. A model module imports
// these functions by name ("kernels" module) and passes byte addresses of its memory plan.
export * from "./gemm";
export * from "./elementwise";
export * from "./loss";
export * from "./optim";
export * from "./penalty";
export * from "./rng";
export * from "./lowrank";
export * from "./tree";
export * from "./blocksparse";
export * from "./policy";
export * from "./moe";
export { setScratch, scratchBytes } from "./scratch";

/** Math.log of AssemblyScript's library: models call it so that every engine rounds alike. */
export function logF64(x: f64): f64 {
  return Math.log(x);
}

/** Zero-fills [ptr, ptr + bytes). */
export function zeroBytes(ptr: usize, bytes: usize): void {
  memory.fill(ptr, 0, bytes);
}

/** First byte above the library's static data: a model's memory plan starts above it. */
export function staticDataEnd(): usize {
  return __heap_base;
}
