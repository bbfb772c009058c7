// Test harness for the kernel library: compiles a re-exporting entry with the in-memory asc
// wrapper (plain and relaxed builds), and gives a bump allocator over the module's memory.
import v8 from "node:v8";
// @ts-ignore: a JavaScript build script, typed by use
import { compileAssemblyScript } from "../../scripts/asc.mjs";

// Relaxed SIMD is behind a flag on Node 20; it must be set before any wasm is compiled.
v8.setFlagsFromString("--experimental-wasm-relaxed-simd");

export type Variant = "plain" | "relaxed";
export const VARIANTS: Variant[] = ["plain", "relaxed"];

export interface KernelModule {
  variant: Variant;
  exports: Record<string, any>;
  memory: WebAssembly.Memory;
  wasm: Uint8Array;
  text?: string;
  /** Frees everything allocated so far. */
  reset(): void;
  /** 64-byte aligned allocation of `bytes` bytes (memory grows as needed); returns the address. */
  alloc(bytes: number): number;
  f32(ptr: number, count: number): Float32Array;
  i32(ptr: number, count: number): Int32Array;
  u32(ptr: number, count: number): Uint32Array;
  /** Allocates and copies `values` in; returns the address. */
  putF32(values: ArrayLike<number>): number;
}

/** Entry re-exporting the given kernel families, plus heapBase(). */
export function entrySource(families: string[]): string {
  return (
    families.map((f) => `export * from "./kernels/${f}";`).join("\n") +
    `\nexport { setScratch, scratchBytes } from "./kernels/scratch";\nexport function heapBase(): usize { return __heap_base; }\n`
  );
}

export async function compileKernels(families: string[], variant: Variant, emitText = false): Promise<KernelModule> {
  const result = await compileAssemblyScript({ "entry.ts": entrySource(families) }, "entry.ts", {
    relaxedSimd: variant === "relaxed",
    emitText,
  });
  if (!result.ok) throw new Error(`asc failed (${variant}):\n${result.stderr}`);
  const { instance } = await WebAssembly.instantiate(result.wasm, {});
  const exports = instance.exports as Record<string, any>;
  const memory = exports.memory as WebAssembly.Memory;
  let base = (Number(exports.heapBase()) + 63) & ~63;
  let top = base;
  const mod: KernelModule = {
    variant,
    exports,
    memory,
    wasm: result.wasm,
    text: result.text,
    reset() { top = base; },
    alloc(bytes: number) {
      const ptr = top;
      top = (top + bytes + 63) & ~63;
      const need = Math.ceil(top / 65536) - memory.buffer.byteLength / 65536;
      if (need > 0) memory.grow(need);
      return ptr;
    },
    f32: (ptr, count) => new Float32Array(memory.buffer, ptr, count),
    i32: (ptr, count) => new Int32Array(memory.buffer, ptr, count),
    u32: (ptr, count) => new Uint32Array(memory.buffer, ptr, count),
    putF32(values) {
      const ptr = mod.alloc(values.length * 4);
      mod.f32(ptr, values.length).set(values);
      return ptr;
    },
  };
  // Each instance's packing buffers and temporaries (kernels/scratch.ts), above the static data.
  exports.setScratch(mod.alloc(Number(exports.scratchBytes())));
  base = top;
  return mod;
}

/** Deterministic test data: mulberry32 uniform in [lo, hi). */
export function randomArray(count: number, seed: number, lo = -1, hi = 1): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const u = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    out[i] = lo + (hi - lo) * u;
  }
  return out;
}

/** max |a - b| / max(max |b|, floor). */
export function relativeMaxError(actual: ArrayLike<number>, expected: ArrayLike<number>, floor = 1e-30): number {
  let diff = 0;
  let scale = floor;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i]! - expected[i]!));
    scale = Math.max(scale, Math.abs(expected[i]!));
  }
  return Number.isNaN(diff) ? Infinity : diff / scale;
}

/** Largest per-element |a - b| / max(|b|, floor). */
export function elementwiseRelativeError(actual: ArrayLike<number>, expected: ArrayLike<number>, floor: number): number {
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = Math.abs(actual[i]! - expected[i]!) / Math.max(Math.abs(expected[i]!), floor);
    worst = Math.max(worst, Number.isNaN(e) ? Infinity : e);
  }
  return worst;
}
