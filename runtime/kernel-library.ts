/**
 * @fileoverview The prebuilt kernel library (runtime/kernels/, built by scripts/build-kernels.mjs):
 * loaded once per SIMD flavour with a dynamic import of its base64 module (so every bundler
 * splits it into its own chunk and Node needs no file access), compiled once per flavour and
 * memory kind, and instantiated once per thread over the model's memory with that thread's
 * scratch block. A model on several threads needs the library's memory import declared shared:
 * that variant is the same bytes with the import's limits patched (sharedMemoryVariant), which
 * is exactly what asc --sharedMemory emits (tests/threads/shared-library.test.ts).
 */
import { KERNEL_LIBRARY } from "./generated/kernel-library.js";

export { KERNEL_LIBRARY };

export type SimdFlavour = "plain" | "relaxed";

/** The library's memory, as the model's memory is created: private (one thread) or shared (a pool). */
export type MemoryKind = "private" | "shared";

const compiled = new Map<`${SimdFlavour}/${MemoryKind}`, Promise<WebAssembly.Module>>();

/** Pages a shared memory import declares as its maximum: all of wasm32. */
export const SHARED_MAXIMUM_PAGES = 65536;

function decodeBase64(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** The library's bytes for a flavour. */
export async function kernelLibraryBytes(simd: SimdFlavour): Promise<Uint8Array> {
  const text = simd === "relaxed" ? (await import("./generated/kernels-relaxed.js")).KERNELS_RELAXED_BASE64 : (await import("./generated/kernels-plain.js")).KERNELS_PLAIN_BASE64;
  return decodeBase64(text);
}

/** The compiled library for a flavour and memory kind (compiled once per process or page). */
export function kernelLibraryModule(simd: SimdFlavour, memory: MemoryKind = "private"): Promise<WebAssembly.Module> {
  const key = `${simd}/${memory}` as const;
  let pending = compiled.get(key);
  if (!pending) {
    pending = kernelLibraryBytes(simd).then((bytes) => WebAssembly.compile((memory === "shared" ? sharedMemoryVariant(bytes) : bytes) as BufferSource));
    compiled.set(key, pending);
    pending.catch(() => compiled.delete(key));
  }
  return pending;
}

/**
 * The library with its memory import declared shared (limits flag 3, maximum 4 GiB), every
 * other byte unchanged. Throws when the module has no memory import (a library build bug).
 */
export function sharedMemoryVariant(bytes: Uint8Array): Uint8Array {
  const reader = new ByteReader(bytes, 8);
  const out: number[] = Array.from(bytes.subarray(0, 8));
  let patched = false;
  while (reader.pos < bytes.length) {
    const id = reader.byte();
    const size = reader.u32();
    const end = reader.pos + size;
    if (id !== 2) {
      out.push(id, ...leb(size));
      for (let i = reader.pos; i < end; i++) out.push(bytes[i]!);
      reader.pos = end;
      continue;
    }
    const body: number[] = [];
    const count = reader.u32();
    body.push(...leb(count));
    for (let i = 0; i < count; i++) {
      const start = reader.pos;
      reader.skipName();
      reader.skipName();
      const kind = reader.byte();
      for (let p = start; p < reader.pos; p++) body.push(bytes[p]!);
      if (kind === 2) {
        const flags = reader.byte();
        const min = reader.u32();
        if (flags & 1) reader.u32();
        body.push(3, ...leb(min), ...leb(SHARED_MAXIMUM_PAGES));
        patched = true;
      } else {
        const from = reader.pos;
        reader.skipImportDescription(kind);
        for (let p = from; p < reader.pos; p++) body.push(bytes[p]!);
      }
    }
    if (reader.pos !== end) throw new Error("kernel library: malformed import section");
    out.push(id, ...leb(body.length), ...body);
  }
  if (!patched) throw new Error("kernel library: no memory import to share (a condc build bug)");
  return new Uint8Array(out);
}

function leb(value: number): number[] {
  const out: number[] = [];
  do {
    let b = value & 0x7f;
    value >>>= 7;
    if (value !== 0) b |= 0x80;
    out.push(b);
  } while (value !== 0);
  return out;
}

class ByteReader {
  constructor(readonly bytes: Uint8Array, public pos: number) {}
  byte(): number {
    if (this.pos >= this.bytes.length) throw new Error("kernel library: truncated module");
    return this.bytes[this.pos++]!;
  }
  u32(): number {
    let result = 0;
    let shift = 0;
    let b: number;
    do {
      b = this.byte();
      result |= (b & 0x7f) << shift;
      shift += 7;
    } while (b & 0x80);
    return result >>> 0;
  }
  skipName(): void {
    const n = this.u32();
    this.pos += n;
  }
  /** Skips an import's description after its kind byte (function, table, global; memory is handled by the caller). */
  skipImportDescription(kind: number): void {
    if (kind === 0) this.u32();
    else if (kind === 1) {
      this.byte();
      const flags = this.byte();
      this.u32();
      if (flags & 1) this.u32();
    } else if (kind === 3) {
      this.byte();
      this.byte();
    } else throw new Error(`kernel library: unknown import kind ${kind}`);
  }
}

export interface KernelInstance {
  exports: Record<string, unknown> & {
    setScratch(base: number): void;
    /** The index of the first of `count` f32 at `ptr` that is not finite, or -1. */
    firstNonFinite(ptr: number, count: number): number;
  };
}

/** Instantiates the library over `memory`, with this instance's scratch block at `scratch`. */
export async function instantiateKernels(module: WebAssembly.Module, memory: WebAssembly.Memory, scratch: number): Promise<KernelInstance> {
  const instance = await WebAssembly.instantiate(module, {
    env: {
      memory,
      abort(): never {
        throw new Error("a kernel aborted (a condc bug: please report it)");
      },
    },
  });
  const exports = instance.exports as KernelInstance["exports"];
  exports.setScratch(scratch);
  return { exports };
}
