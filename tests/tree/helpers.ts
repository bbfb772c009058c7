/**
 * @fileoverview Shared helpers of the tree-layer tests: build a one-tree-layer model, a
 * seeded RNG, and the naive f64 reference of the tree layer (docs/methods/tree.md §2.2).
 */
import v8 from "node:v8";
v8.setFlagsFromString("--experimental-wasm-relaxed-simd");

import { compile, type CompileSuccess } from "../../compiler/compile.js";
import { loadModel, type Model } from "../../runtime/model.js";

export interface TreeModelSpec {
  inputs: number;
  units: number;
  depth: number;
  classes?: number;
  activation?: string;
  options?: string;
  optimizer?: string;
}

export function treeSource(spec: TreeModelSpec): string {
  const classes = spec.classes ?? 5;
  const options = spec.options ? `, ${spec.options}` : "";
  return `
model TreeTest {
  input  x: f32[${spec.inputs}]
  target y: class[${classes}]
  layer h   = tree(x, ${spec.units}, depth: ${spec.depth}${options}) ${spec.activation ?? "relu"}
  layer out = dense(h, ${classes})
  loss = softmax_cross_entropy(out, y)
}
train { optimizer = ${spec.optimizer ?? "sgd(lr: 0.1)"} batch = 16 }`;
}

export async function compileText(text: string, maxBatch: number): Promise<CompileSuccess> {
  const result = await compile(text, { file: "tree-test.cond", maxBatch, simd: "both" });
  if (!result.ok) throw new Error(`does not compile: ${result.diagnostics.map((d) => `${d.code} ${d.message}`).join("; ")}`);
  return result;
}

export async function instantiate(result: CompileSuccess, simd: "plain" | "relaxed"): Promise<Model> {
  const wasm = simd === "relaxed" ? result.relaxedWasm : result.wasm;
  if (!wasm) throw new Error(`no ${simd} build`);
  return loadModel(wasm, result.manifest);
}

/** Mulberry32: a small seeded generator for test data. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomArray(n: number, next: () => number, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, () => (2 * next() - 1) * scale);
}

/** Prefix code of length l of a bit row (first bit most significant). */
export function prefix(bits: ArrayLike<number>, offset: number, l: number): number {
  let p = 0;
  for (let i = 0; i < l; i++) p = (p << 1) | (bits[offset + i]! > 0 ? 1 : 0);
  return p;
}

/**
 * The node of level l on unit j's path for example e: 2^l - 1 + prefix code, the bits read
 * in the unit's gater order (layout per_unit: order [units x k]) or in gater order (shared).
 */
export function nodeOf(bits: ArrayLike<number>, e: number, j: number, l: number, depth: number, order?: Int32Array): number {
  let p = 0;
  for (let i = 0; i < l; i++) {
    const gater = order ? order[j * depth + i]! : i;
    p = (p << 1) | (bits[e * depth + gater]! > 0 ? 1 : 0);
  }
  return 2 ** l - 1 + p;
}

/** Naive pre-activation of the tree layer, f64: z[e, j] = x_e · Σ_l T(j, p_l) + Σ_l c(j, p_l). */
export function naiveTree(x: Float32Array, bits: ArrayLike<number>, n: number, inputs: number, units: number, depth: number, weight: Float32Array, bias: Float32Array, order?: Int32Array): Float64Array {
  const z = new Float64Array(n * units);
  for (let e = 0; e < n; e++) {
    for (let j = 0; j < units; j++) {
      let s = 0;
      for (let l = 0; l <= depth; l++) {
        const node = nodeOf(bits, e, j, l, depth, order);
        const w = (node * units + j) * inputs;
        for (let i = 0; i < inputs; i++) s += x[e * inputs + i]! * weight[w + i]!;
        s += bias[node * units + j]!;
      }
      z[e * units + j] = s;
    }
  }
  return z;
}
