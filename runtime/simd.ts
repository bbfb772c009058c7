/**
 * @fileoverview Which SIMD flavour an engine runs: the relaxed-SIMD (FMA) kernel library where
 * the engine validates relaxed instructions, the plain-SIMD one otherwise. A model's two builds
 * differ only in which library they are linked against.
 */

/** A module whose one function uses `f32x4.relaxed_madd`: valid only where relaxed SIMD is on. */
function relaxedProbe(): Uint8Array {
  const v128Zero = [0xfd, 0x0c, ...new Array<number>(16).fill(0)];
  const body = [0x00, ...v128Zero, ...v128Zero, ...v128Zero, 0xfd, 0x85, 0x02, 0x1a, 0x0b];
  const code = [0x01, body.length, ...body];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    0x01, 0x04, 0x01, 0x60, 0x00, 0x00,
    0x03, 0x02, 0x01, 0x00,
    0x0a, code.length, ...code,
  ]);
}

let relaxed: boolean | undefined;

/** True where the engine validates relaxed-SIMD instructions (Node 20 needs --experimental-wasm-relaxed-simd). */
export function relaxedSimdSupported(): boolean {
  if (relaxed === undefined) {
    try {
      relaxed = WebAssembly.validate(relaxedProbe() as BufferSource);
    } catch {
      relaxed = false;
    }
  }
  return relaxed;
}

/** Returns the build to load and which one it is. */
export function pickWasm(plain: Uint8Array, relaxedBuild?: Uint8Array): { wasm: Uint8Array; simd: "plain" | "relaxed" } {
  if (relaxedBuild && relaxedSimdSupported()) return { wasm: relaxedBuild, simd: "relaxed" };
  return { wasm: plain, simd: "plain" };
}
