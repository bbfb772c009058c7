// Small functions a model module calls besides the kernels: AssemblyScript's own Math.log (so
// that every engine rounds alike), memory zeroing, and where the library's static data ends.

/** Math.log of AssemblyScript's library. */
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
