/**
 * @fileoverview Helpers of the tests that drive moe layers through compiled models: compile and
 * instantiate, fill parameters with random values, read i32 regions, seeded batches.
 */
import v8 from "node:v8";
v8.setFlagsFromString("--experimental-wasm-relaxed-simd");

import { compile, type CompileSuccess } from "../../compiler/compile.js";
import { findRegion } from "../../runtime/manifest.js";
import { loadModel, type Model } from "../../runtime/model.js";
import { randomArray } from "../kernels/harness.js";

export type Simd = "plain" | "relaxed";

export async function compileModel(text: string, maxBatch: number): Promise<CompileSuccess> {
  const result = await compile(text, { file: "moe-test.cond", maxBatch, simd: "both" });
  if (!result.ok) throw new Error(`does not compile: ${result.diagnostics.map((d) => `${d.code} ${d.message}`).join("; ")}`);
  return result;
}

export async function instantiate(result: CompileSuccess, simd: Simd): Promise<Model> {
  return loadModel(simd === "relaxed" ? result.relaxedWasm! : result.wasm, result.manifest);
}

/** Every parameter uniform in [-scale, scale] (biases too: zeros hide bugs), seeded per tensor. */
export function randomizeParameters(model: Model, seed: number, scale = 0.5): void {
  model.manifest.params.forEach((p, i) => {
    const count = p.shape.reduce((a, b) => a * b, 1);
    model.setParameter(p.name, randomArray(count, seed * 101 + i, -scale, scale));
  });
}

/** A copy of an i32 region of the memory plan. */
export function i32Region(model: Model, name: string): Int32Array {
  const r = findRegion(model.manifest, name);
  return new Int32Array(model.wasmMemory.buffer, r.offset, r.bytes / 4).slice();
}

/** Inputs uniform in [-1, 1] and labels, from a seed. */
export function batch(width: number, classes: number, n: number, seed: number): { x: Float32Array; labels: Int32Array } {
  const x = randomArray(n * width, seed, -1, 1);
  const u = randomArray(n, seed + 1, 0, 1);
  return { x, labels: Int32Array.from(u, (v) => Math.min(classes - 1, Math.floor(v * classes))) };
}

/** Sets the module's step counter (the gating noise is keyed by it). */
export function setStep(model: Model, step: number): void {
  (model.wasmExports["setStep"] as (s: number) => void)(step);
}

/** Bitwise equality of two float arrays. */
export function sameBits(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}
