/**
 * @fileoverview Picks the build an engine can run: the relaxed-SIMD (FMA) module where it
 * validates, the plain-SIMD one otherwise.
 */

export function relaxedSimdSupported(relaxedWasm: Uint8Array): boolean {
  try {
    return WebAssembly.validate(relaxedWasm as BufferSource);
  } catch {
    return false;
  }
}

/** Returns the build to load and which one it is. */
export function pickWasm(plain: Uint8Array, relaxed?: Uint8Array): { wasm: Uint8Array; simd: "plain" | "relaxed" } {
  if (relaxed && relaxedSimdSupported(relaxed)) return { wasm: relaxed, simd: "relaxed" };
  return { wasm: plain, simd: "plain" };
}
