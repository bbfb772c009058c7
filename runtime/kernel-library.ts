/**
 * @fileoverview The prebuilt kernel library (runtime/kernels/, built by scripts/build-kernels.mjs):
 * loaded once per SIMD flavour with a dynamic import of its base64 module (so every bundler
 * splits it into its own chunk and Node needs no file access), compiled once, and instantiated
 * once per thread over the model's memory with that thread's scratch block.
 */
import { KERNEL_LIBRARY } from "./generated/kernel-library.js";

export { KERNEL_LIBRARY };

export type SimdFlavour = "plain" | "relaxed";

const compiled = new Map<SimdFlavour, Promise<WebAssembly.Module>>();

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

/** The compiled library for a flavour (compiled once per process or page). */
export function kernelLibraryModule(simd: SimdFlavour): Promise<WebAssembly.Module> {
  let pending = compiled.get(simd);
  if (!pending) {
    pending = kernelLibraryBytes(simd).then((bytes) => WebAssembly.compile(bytes as BufferSource));
    compiled.set(simd, pending);
    pending.catch(() => compiled.delete(simd));
  }
  return pending;
}

export interface KernelInstance {
  exports: Record<string, unknown> & { setScratch(base: number): void };
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
