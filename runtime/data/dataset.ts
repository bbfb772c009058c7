/**
 * @fileoverview The in-memory data set every loader produces (images as pixels/255 floats,
 * row-major), plus subsetting, minibatch gathering and an invariant check.
 */
import { DataError } from "./errors.js";

/** A classification data set held in memory. */
export interface Dataset {
  name: string;
  /** Number of examples. */
  count: number;
  /** Features per example (784 for 28 × 28 images). */
  width: number;
  /** Number of classes; every label is < classes. */
  classes: number;
  /** count × width floats, row-major, pixel values / 255 in [0, 1]. */
  images: Float32Array;
  /** count labels. */
  labels: Uint8Array;
}

export interface DataSplit {
  train: Dataset;
  test: Dataset;
}

/** A new data set holding the examples at `indices`, in that order (copies the data). */
export function subset(ds: Dataset, indices: ArrayLike<number>, name = `${ds.name}[subset]`): Dataset {
  const { width } = ds;
  const images = new Float32Array(indices.length * width);
  const labels = new Uint8Array(indices.length);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k];
    checkIndex(ds, i, "subset");
    images.set(ds.images.subarray(i * width, (i + 1) * width), k * width);
    labels[k] = ds.labels[i];
  }
  return { name, count: indices.length, width, classes: ds.classes, images, labels };
}

/**
 * Gathers examples indices[start .. start+n) into preallocated buffers: xOut receives n × width
 * floats, yOut n labels. Returns n. Throws RangeError when a buffer or the index range is short.
 */
export function batchInto(
  ds: Dataset,
  indices: ArrayLike<number>,
  start: number,
  n: number,
  xOut: Float32Array,
  yOut: Int32Array,
): number {
  const { width } = ds;
  if (!Number.isInteger(start) || !Number.isInteger(n) || start < 0 || n < 0 || start + n > indices.length) {
    throw new RangeError(`batchInto: range [${start}, ${start + n}) outside ${indices.length} indices`);
  }
  if (xOut.length < n * width) throw new RangeError(`batchInto: xOut holds ${xOut.length} floats, need ${n * width}`);
  if (yOut.length < n) throw new RangeError(`batchInto: yOut holds ${yOut.length} labels, need ${n}`);
  for (let k = 0; k < n; k++) {
    const i = indices[start + k];
    checkIndex(ds, i, "batchInto");
    xOut.set(ds.images.subarray(i * width, (i + 1) * width), k * width);
    yOut[k] = ds.labels[i];
  }
  return n;
}

function checkIndex(ds: Dataset, i: number, where: string): void {
  if (!Number.isInteger(i) || i < 0 || i >= ds.count) {
    throw new RangeError(`${where}: index ${i} outside ${ds.name} (${ds.count} examples)`);
  }
}

/**
 * Checks the invariants: buffer lengths match count and width, labels < classes, pixels finite
 * and in [0, 1]. Throws a DataError naming the data set and the first problem found.
 */
export function validateDataset(ds: Dataset): void {
  const fail = (problem: string): never => {
    throw new DataError(ds.name, problem);
  };
  for (const [key, value] of [["count", ds.count], ["width", ds.width], ["classes", ds.classes]] as const) {
    if (!Number.isInteger(value) || value < 0) fail(`${key} must be a non-negative integer, got ${value}`);
  }
  if (ds.classes < 1 || ds.classes > 256) fail(`classes must be in [1, 256], got ${ds.classes}`);
  if (ds.images.length !== ds.count * ds.width) {
    fail(`images hold ${ds.images.length} floats, expected ${ds.count}×${ds.width} = ${ds.count * ds.width}`);
  }
  if (ds.labels.length !== ds.count) fail(`labels hold ${ds.labels.length} entries, expected ${ds.count}`);
  for (let i = 0; i < ds.count; i++) {
    if (ds.labels[i] >= ds.classes) fail(`label ${ds.labels[i]} at example ${i} is not < ${ds.classes} classes`);
  }
  for (let j = 0; j < ds.images.length; j++) {
    const v = ds.images[j];
    if (!(v >= 0 && v <= 1)) {
      fail(`pixel ${v} at example ${Math.floor(j / ds.width)}, feature ${j % ds.width} is outside [0, 1]`);
    }
  }
}
