/**
 * @fileoverview The bundled digits in the page: fetch the gzipped digits file, inflate it with
 * the runtime's gunzip (bounded), decode it, and split it as the CLI splits the `mnist` package
 * (the same seeded, stratified 8,000 / 2,000 split), so accuracies match `condc train`.
 */
import type { DataSplit } from "../../../runtime/data/dataset.js";
import { subset } from "../../../runtime/data/dataset.js";
import { DataError } from "../../../runtime/data/errors.js";
import { browserGunzip } from "../../../runtime/data/gzip.js";
import { MNIST_SPLIT_SEED, MNIST_TEST_COUNT, stratifiedSplitIndices } from "../../../runtime/data/mnist-digits.js";
import { decodeDigits } from "./digits-format.js";

export const DIGITS_URL = "mnist-digits.bin.gz";
/** Far above the file's 7.9 MB: the inflated size is bounded before decoding. */
const MAX_INFLATED = 16 << 20;

/** The split the CLI uses for `data = mnist`. */
export function splitDigits(bytes: Uint8Array, fileLabel: string): DataSplit {
  const all = decodeDigits(bytes, fileLabel);
  const { train, test } = stratifiedSplitIndices(all.labels, all.classes, MNIST_TEST_COUNT, MNIST_SPLIT_SEED);
  return { train: subset(all, train, "mnist:train"), test: subset(all, test, "mnist:test") };
}

export async function fetchBundledDigits(url = DIGITS_URL): Promise<DataSplit> {
  let response: Response;
  try {
    response = await fetch(url);
  } catch (error) {
    throw new DataError(url, `fetch failed: ${(error as Error).message}`);
  }
  if (!response.ok) throw new DataError(url, `HTTP ${response.status} ${response.statusText}`.trimEnd());
  let inflated: Uint8Array;
  try {
    inflated = await browserGunzip(new Uint8Array(await response.arrayBuffer()), MAX_INFLATED + 1);
  } catch (error) {
    throw new DataError(url, `not a readable gzip file (${(error as Error).message})`);
  }
  if (inflated.length > MAX_INFLATED) throw new DataError(url, `inflates to more than ${MAX_INFLATED} bytes`);
  return splitDigits(inflated, url);
}
