/**
 * @fileoverview IDX (LeCun's MNIST format) parsing and encoding, and the checked loader that
 * turns an images file and a labels file into a Dataset. Sizes and data are big-endian.
 */
import type { Dataset } from "./dataset.js";
import { DataError } from "./errors.js";
import { browserGunzip, isGzip, maybeGunzip, type Gunzip } from "./gzip.js";

/**
 * The largest IDX file (after gunzip) a loader accepts: 1 GiB is 1.3 million 28×28 images,
 * 22 times MNIST's training set, and 4 GiB once held as f32 pixels.
 */
export const MAX_IDX_BYTES = 2 ** 30;

export type IdxType = "uint8" | "int8" | "int16" | "int32" | "float32" | "float64";
export type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

/** A parsed IDX file: element type, dimension sizes and row-major data in native order. */
export interface IdxArray {
  type: IdxType;
  dims: number[];
  data: IdxData;
}

interface IdxTypeInfo {
  type: IdxType;
  code: number;
  size: number;
}

const TYPES: readonly IdxTypeInfo[] = [
  { type: "uint8", code: 0x08, size: 1 },
  { type: "int8", code: 0x09, size: 1 },
  { type: "int16", code: 0x0b, size: 2 },
  { type: "int32", code: 0x0c, size: 4 },
  { type: "float32", code: 0x0d, size: 4 },
  { type: "float64", code: 0x0e, size: 8 },
];

const hex2 = (n: number): string => n.toString(16).padStart(2, "0");

/** Parses an (already gunzipped) IDX file, checking the header against the byte count. */
export function parseIdx(bytes: Uint8Array, fileLabel: string): IdxArray {
  const fail = (problem: string): never => {
    throw new DataError(fileLabel, problem);
  };
  if (bytes.length < 4) fail(`too short for an IDX header: ${bytes.length} bytes`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    const first = Array.from(bytes.subarray(0, 4), hex2).join(" ");
    fail(`not an IDX file: starts ${first}, expected 00 00 <type> <dimensions>`);
  }
  const info = TYPES.find((t) => t.code === bytes[2]);
  if (!info) fail(`unknown IDX element type 0x${hex2(bytes[2])} (known: 0x08, 0x09, 0x0b, 0x0c, 0x0d, 0x0e)`);
  const { type, size } = info as IdxTypeInfo;
  const rank = bytes[3];
  const headerBytes = 4 + 4 * rank;
  if (bytes.length < headerBytes) {
    fail(`truncated: header declares ${rank} dimensions (${headerBytes} header bytes) but the file has ${bytes.length} bytes`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  for (let k = 0; k < rank; k++) dims.push(view.getUint32(4 + 4 * k, false));
  const count = dims.reduce((a, b) => a * b, 1);
  const expected = count * size;
  const follow = bytes.length - headerBytes;
  if (expected !== follow) {
    const what = follow < expected ? "truncated" : "trailing bytes";
    fail(`${what}: header says ${describeShape(dims)} ${type} (${byteCount(expected)}) but ${follow} bytes follow`);
  }
  return { type, dims, data: readBigEndian(view, headerBytes, count, type) };
}

/** "784 bytes"; beyond 2^53 an approximation, never "Infinity bytes". */
function byteCount(bytes: number): string {
  if (Number.isSafeInteger(bytes)) return `${bytes} bytes`;
  return Number.isFinite(bytes) ? `about ${bytes.toExponential(2)} bytes` : "more bytes than a double holds";
}

/** Bytes an IDX file whose header is `head` declares (header included); needs the whole header. */
function declaredBytes(head: Uint8Array): number {
  const size = TYPES.find((t) => t.code === head[2])?.size ?? 1;
  const rank = head[3];
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  let bytes = size;
  for (let k = 0; k < rank; k++) bytes *= view.getUint32(4 + 4 * k, false);
  return 4 + 4 * rank + bytes;
}

/**
 * An IDX file's bytes, gunzipped when gzipped, never inflating more than its header
 * declares: the header is inflated first, then at most the declared size and one byte
 * (a gzip bomb stops at what it promised), and no more than MAX_IDX_BYTES in any case.
 */
async function inflateIdx(bytes: Uint8Array, fileLabel: string, gunzip: Gunzip, magic: number, what: string): Promise<Uint8Array> {
  const headerBytes = 4 + 4 * (magic & 0xff);
  const head = await maybeGunzip(bytes, fileLabel, gunzip, headerBytes);
  checkMagic(head, fileLabel, magic, what);
  if (head.length < headerBytes) {
    throw new DataError(fileLabel, `truncated: the header needs ${headerBytes} bytes but the file has ${head.length}`);
  }
  const declared = declaredBytes(head);
  if (declared > MAX_IDX_BYTES) {
    throw new DataError(fileLabel, `header declares ${byteCount(declared)}, more than the ${byteCount(MAX_IDX_BYTES)} an IDX file may have`);
  }
  if (!isGzip(bytes)) return bytes;
  const raw = await maybeGunzip(bytes, fileLabel, gunzip, declared + 1);
  if (raw.length > declared) {
    throw new DataError(fileLabel, `trailing bytes: inflates to more than the ${byteCount(declared)} its header declares`);
  }
  return raw;
}

function describeShape(dims: readonly number[]): string {
  return dims.length === 0 ? "scalar" : dims.join("×");
}

function readBigEndian(view: DataView, offset: number, count: number, type: IdxType): IdxData {
  const bytes = new Uint8Array(view.buffer, view.byteOffset + offset, count * sizeOf(type));
  switch (type) {
    case "uint8":
      return bytes.slice();
    case "int8":
      return new Int8Array(bytes.slice().buffer);
    case "int16": {
      const out = new Int16Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt16(offset + 2 * i, false);
      return out;
    }
    case "int32": {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt32(offset + 4 * i, false);
      return out;
    }
    case "float32": {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(offset + 4 * i, false);
      return out;
    }
    case "float64": {
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(offset + 8 * i, false);
      return out;
    }
  }
}

function sizeOf(type: IdxType): number {
  return (TYPES.find((t) => t.type === type) as IdxTypeInfo).size;
}

/** Encodes an IDX file (the inverse of parseIdx); used for fixtures and exports. */
export function encodeIdx(array: IdxArray): Uint8Array {
  const info = TYPES.find((t) => t.type === array.type);
  if (!info) throw new RangeError(`encodeIdx: unknown type ${String(array.type)}`);
  const count = array.dims.reduce((a, b) => a * b, 1);
  if (count !== array.data.length) {
    throw new RangeError(`encodeIdx: dims ${describeShape(array.dims)} hold ${count} elements, data has ${array.data.length}`);
  }
  const header = 4 + 4 * array.dims.length;
  const out = new Uint8Array(header + count * info.size);
  const view = new DataView(out.buffer);
  out[2] = info.code;
  out[3] = array.dims.length;
  array.dims.forEach((d, k) => view.setUint32(4 + 4 * k, d, false));
  const data = array.data;
  for (let i = 0; i < count; i++) {
    const at = header + i * info.size;
    switch (info.type) {
      case "uint8": view.setUint8(at, data[i]); break;
      case "int8": view.setInt8(at, data[i]); break;
      case "int16": view.setInt16(at, data[i], false); break;
      case "int32": view.setInt32(at, data[i], false); break;
      case "float32": view.setFloat32(at, data[i], false); break;
      case "float64": view.setFloat64(at, data[i], false); break;
    }
  }
  return out;
}

/** File labels used in messages, and the resulting data set's name. */
export interface IdxPairNames {
  name: string;
  images: string;
  labels: string;
}

export interface IdxPairOptions {
  gunzip?: Gunzip;
  /** Labels must be < classes (the model's class count); the data set reports it. Default 10. */
  classes?: number;
  /** Required image rows × columns. Default [28, 28]. */
  imageShape?: readonly [number, number];
}

const IMAGES_MAGIC = 2051; // 0x00000803: uint8, 3 dimensions
const LABELS_MAGIC = 2049; // 0x00000801: uint8, 1 dimension

/** Pixel byte -> float: v / 255, rounded once to float32. */
const PIXEL_TABLE = Float32Array.from({ length: 256 }, (_, v) => v / 255);

/**
 * Loads an images/labels IDX pair (each optionally gzipped) into a Dataset, checking magic
 * numbers, image shape, byte counts, equal counts and label range. Errors are DataErrors.
 */
export async function loadIdxPair(
  imagesBytes: Uint8Array,
  labelsBytes: Uint8Array,
  names: IdxPairNames,
  options: IdxPairOptions = {},
): Promise<Dataset> {
  const gunzip = options.gunzip ?? browserGunzip;
  const classes = options.classes ?? 10;
  if (!Number.isInteger(classes) || classes < 1) throw new RangeError(`loadIdxPair: classes must be a positive integer, got ${classes}`);
  const [rows, cols] = options.imageShape ?? [28, 28];
  const imagesRaw = await inflateIdx(imagesBytes, names.images, gunzip, IMAGES_MAGIC, "uint8 images with 3 dimensions");
  const images = parseIdx(imagesRaw, names.images);
  const [count, h, w] = images.dims;
  if (h !== rows || w !== cols) {
    throw new DataError(names.images, `wrong image size: header says ${describeShape(images.dims)}, expected N×${rows}×${cols}`);
  }
  const labelsRaw = await inflateIdx(labelsBytes, names.labels, gunzip, LABELS_MAGIC, "uint8 labels with 1 dimension");
  const labels = parseIdx(labelsRaw, names.labels).data as Uint8Array;
  if (labels.length !== count) {
    throw new DataError(names.labels, `count mismatch: ${labels.length} labels but ${names.images} has ${count} images`);
  }
  for (let i = 0; i < count; i++) {
    if (labels[i] >= classes) throw new DataError(names.labels, `label ${labels[i]} at index ${i} is not < ${classes} classes`);
  }
  const pixels = images.data as Uint8Array;
  const floats = new Float32Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) floats[i] = PIXEL_TABLE[pixels[i]];
  return { name: names.name, count, width: rows * cols, classes, images: floats, labels };
}

function checkMagic(bytes: Uint8Array, fileLabel: string, expected: number, what: string): void {
  if (bytes.length < 4) throw new DataError(fileLabel, `too short for an IDX header: ${bytes.length} bytes`);
  const magic = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, false);
  if (magic !== expected) {
    const hex = (n: number): string => `0x${n.toString(16).padStart(8, "0")}`;
    throw new DataError(fileLabel, `bad magic ${magic} (${hex(magic)}), expected ${expected} (${hex(expected)}, ${what})`);
  }
}
