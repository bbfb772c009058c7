/**
 * @fileoverview The worker tests' setup: the runtime and condc/worker transpiled from source
 * (as tsc emits dist/) into a temp directory that Node's own loader can run as ES modules
 * (worker_threads load the worker script natively, outside vitest), and small compiled models.
 */
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { compile } from "../../compiler/index.js";
import type { Manifest } from "../../runtime/index.js";
import { transpileGraph, writeGraph } from "../browser/support.js";

export const WORKER_ENTRIES = ["runtime/node/worker.ts", "runtime/node/worker-node.ts", "runtime/index.ts"];

/** Writes the transpiled graph under a new temp directory; returns it. */
export async function transpiledRuntime(extra: string[] = []): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "condc-worker-"));
  await writeGraph(transpileGraph([...WORKER_ENTRIES, ...extra]), dir);
  await writeFile(join(dir, "package.json"), JSON.stringify({ type: "module" }));
  return dir;
}

export const importFrom = (dir: string, path: string): Promise<Record<string, unknown>> => import(/* @vite-ignore */ pathToFileURL(join(dir, path)).href);

export interface Built {
  wasm: Uint8Array;
  manifest: Manifest;
}

export async function build(source: string, file: string, maxBatch = 16): Promise<Built> {
  const compiled = await compile(source, { file, maxBatch, simd: "plain" });
  if (!compiled.ok) throw new Error(`${file} did not compile: ${JSON.stringify(compiled.diagnostics)}`);
  return { wasm: compiled.wasm, manifest: compiled.manifest };
}

/** A small MLP: 20 inputs, 3 classes. */
export const MLP = `model WorkerMlp {
  input  x: f32[20]
  target y: class[3]
  layer h   = dense(x, 16) relu
  layer out = dense(h, 3)
  loss = softmax_cross_entropy(out, y)
}
train { optimizer = sgd(lr: 0.1, momentum: 0.9) batch = 8 epochs = 3 seed = 5 }`;

/** A deterministic data set for MLP: `count` rows of a hashed pattern, labels by rule. */
export function dataset(count: number, name = "synthetic") {
  const width = 20;
  const images = new Float32Array(count * width);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    let h = (i + 1) * 2654435761;
    for (let k = 0; k < width; k++) {
      h = Math.imul(h ^ (h >>> 15), 2246822507) >>> 0;
      images[i * width + k] = (h % 1000) / 1000;
    }
    labels[i] = images[i * width]! + images[i * width + 1]! > 1 ? (images[i * width + 2]! > 0.5 ? 2 : 1) : 0;
  }
  return { name, count, width, classes: 3, images, labels };
}
