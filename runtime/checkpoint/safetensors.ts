/**
 * @fileoverview safetensors encoding (F32) and checked decoding (F32, F16, BF16, F64 read as F32):
 * 8-byte little-endian header length, JSON header, little-endian data. Same tensors in,
 * bit-identical bytes out.
 */
import { CheckpointError, NonFiniteCheckpointError, type NonFiniteTensor } from "./errors.js";
import { describeValue, firstNonFinite, formatIndex, isFloatDtype, toFloat32, type FloatDtype } from "./dtypes.js";

export interface NamedTensor {
  name: string;
  shape: readonly number[];
  data: Float32Array;
}

/** One header entry: dtype, shape and [begin, end) byte offsets within the data section. */
export interface TensorEntry {
  dtype: string;
  shape: number[];
  dataOffsets: [number, number];
}

export interface SafetensorsHeader {
  tensors: Map<string, TensorEntry>;
  metadata: Record<string, string>;
  /** Byte offset of the data section within the file. */
  dataStart: number;
}

/** One tensor as read: always F32 data; `storedDtype` says what the file held. */
export interface DecodedTensor {
  shape: number[];
  data: Float32Array;
  storedDtype: FloatDtype;
}

export interface DecodedSafetensors {
  tensors: Map<string, DecodedTensor>;
  metadata: Record<string, string>;
}

const DTYPE_BYTES: Record<string, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, F8_E4M3: 1, F8_E5M2: 1,
  I64: 8, I32: 4, I16: 2, I8: 1, U64: 8, U32: 4, U16: 2, U8: 1, BOOL: 1,
};

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const formatShape = (shape: readonly number[]): string => `[${shape.join(", ")}]`;
const product = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/**
 * Encodes F32 tensors, laid out and listed in name order (code-unit order), metadata keys sorted
 * and `__metadata__` first; the header is space-padded so data starts 8-byte aligned.
 */
export function encodeSafetensors(tensors: readonly NamedTensor[], metadata: Record<string, string> = {}): Uint8Array {
  const sorted = [...tensors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const parts: string[] = [];
  const metaKeys = Object.keys(metadata).sort();
  if (metaKeys.length > 0) {
    const body = metaKeys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(String(metadata[k]))}`).join(",");
    parts.push(`"__metadata__":{${body}}`);
  }
  let offset = 0;
  sorted.forEach((t, i) => {
    if (t.name === "" || t.name === "__metadata__") throw new RangeError(`encodeSafetensors: invalid tensor name "${t.name}"`);
    if (i > 0 && sorted[i - 1].name === t.name) throw new RangeError(`encodeSafetensors: duplicate tensor name "${t.name}"`);
    if (!t.shape.every((d) => Number.isInteger(d) && d >= 0) || product(t.shape) !== t.data.length) {
      throw new RangeError(`encodeSafetensors: ${t.name}: shape ${formatShape(t.shape)} does not hold ${t.data.length} values`);
    }
    const end = offset + 4 * t.data.length;
    parts.push(`${JSON.stringify(t.name)}:{"dtype":"F32","shape":${JSON.stringify(t.shape)},"data_offsets":[${offset},${end}]}`);
    offset = end;
  });
  let header = new TextEncoder().encode(`{${parts.join(",")}}`);
  const padded = Math.ceil(header.length / 8) * 8;
  if (padded !== header.length) {
    const withPad = new Uint8Array(padded).fill(0x20);
    withPad.set(header);
    header = withPad;
  }
  const out = new Uint8Array(8 + header.length + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, header.length, true);
  view.setUint32(4, Math.floor(header.length / 2 ** 32), true);
  out.set(header, 8);
  let at = 8 + header.length;
  for (const t of sorted) {
    if (LITTLE_ENDIAN) out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    else t.data.forEach((v, i) => view.setFloat32(at + 4 * i, v, true));
    at += t.data.byteLength;
  }
  return out;
}

/**
 * Parses and checks the header without touching tensor data: header length within the file,
 * valid JSON, known dtypes, shape × element size = byte length, offsets in range, not
 * overlapping and covering the whole data section. Any dtype is accepted here.
 */
export function readSafetensorsHeader(bytes: Uint8Array, fileLabel: string): SafetensorsHeader {
  const fail = (problem: string): never => {
    throw new CheckpointError(fileLabel, problem);
  };
  if (bytes.length < 8) fail(`too short: ${bytes.length} bytes, but a safetensors file starts with an 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getUint32(0, true) + view.getUint32(4, true) * 2 ** 32;
  if (8 + headerLength > bytes.length) {
    fail(`header length ${headerLength} goes beyond the end of the file (${bytes.length} bytes, ${bytes.length - 8} after the length)`);
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + headerLength)));
  } catch (error) {
    fail(`bad header JSON (${(error as Error).message})`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) fail("bad header JSON (not an object)");
  const dataStart = 8 + headerLength;
  const dataLength = bytes.length - dataStart;
  let metadata: Record<string, string> = {};
  const tensors = new Map<string, TensorEntry>();
  for (const [name, value] of Object.entries(json as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (typeof value !== "object" || value === null || Array.isArray(value) || Object.values(value).some((v) => typeof v !== "string")) {
        fail("__metadata__ must map strings to strings");
      }
      metadata = Object.fromEntries(Object.entries(value as Record<string, string>)); // no __proto__ setter
      continue;
    }
    tensors.set(name, checkEntry(name, value, dataLength, fail));
  }
  checkLayout(tensors, dataLength, fail);
  return { tensors, metadata, dataStart };
}

function checkEntry(name: string, value: unknown, dataLength: number, fail: (problem: string) => never): TensorEntry {
  const entry = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown } | null;
  if (typeof entry !== "object" || entry === null || Array.isArray(entry)) fail(`${name}: header entry is not an object`);
  const { dtype, shape, data_offsets: offsets } = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
  if (typeof dtype !== "string" || !Object.hasOwn(DTYPE_BYTES, dtype)) fail(`${name}: unknown dtype ${JSON.stringify(dtype)}`);
  const isCount = (d: unknown): d is number => Number.isSafeInteger(d) && (d as number) >= 0;
  if (!Array.isArray(shape) || !shape.every(isCount)) fail(`${name}: shape ${JSON.stringify(shape)} is not a list of sizes`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount) || offsets[0] > offsets[1]) {
    fail(`${name}: data_offsets ${JSON.stringify(offsets)} is not [begin, end] with begin <= end`);
  }
  const [begin, end] = offsets as [number, number];
  if (end > dataLength) fail(`${name}: data_offsets [${begin}, ${end}] go beyond the data section (${dataLength} bytes)`);
  const needed = product(shape as number[]) * DTYPE_BYTES[dtype as string];
  if (needed !== end - begin) {
    fail(`${name}: shape ${formatShape(shape as number[])} ${dtype} needs ${needed} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`);
  }
  return { dtype: dtype as string, shape: shape as number[], dataOffsets: [begin, end] };
}

function checkLayout(tensors: Map<string, TensorEntry>, dataLength: number, fail: (problem: string) => never): void {
  const spans = [...tensors].sort(([, a], [, b]) => a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1]);
  let covered = 0;
  let coverer: [string, TensorEntry] | undefined; // the span reaching furthest so far
  for (const span of spans) {
    const [name, { dataOffsets: [begin, end] }] = span;
    if (begin < covered && coverer) {
      const [other, { dataOffsets }] = coverer;
      fail(`tensors ${other} ${formatShape(dataOffsets)} and ${name} [${begin}, ${end}] overlap`);
    }
    if (begin > covered) fail(`data bytes [${covered}, ${begin}) belong to no tensor`);
    coverer = span;
    covered = end;
  }
  if (covered < dataLength) fail(`data bytes [${covered}, ${dataLength}) belong to no tensor`);
}

export interface DecodeOptions {
  /**
   * Accept NaN and ±Infinity (and F64 values beyond the f32 range, which become ±Infinity).
   * For debugging a diverged run only: such weights make every prediction NaN.
   */
  allowNonFinite?: boolean;
}

/**
 * Decodes a safetensors file of floating-point tensors as F32: F32 as is, F16 and BF16 widened
 * exactly, F64 rounded to nearest (an F64 value beyond the f32 range is an error naming the
 * tensor and index). Other dtypes are listed in one error. Non-finite values (NaN, ±Infinity)
 * are refused with each tensor's first index unless `allowNonFinite` is set.
 */
export function decodeSafetensors(bytes: Uint8Array, fileLabel: string, options: DecodeOptions = {}): DecodedSafetensors {
  const header = readSafetensorsHeader(bytes, fileLabel);
  const other = [...header.tensors].filter(([, t]) => !isFloatDtype(t.dtype)).map(([name, t]) => `${name} is ${t.dtype}`);
  if (other.length > 0) throw new CheckpointError(fileLabel, `dtype not supported (F32, F16, BF16 and F64 are): ${other.join(", ")}`);
  const tensors = new Map<string, DecodedTensor>();
  const problems: Array<{ name: string; text: string }> = [];
  const nonFinite: NonFiniteTensor[] = [];
  for (const [name, { dtype, shape, dataOffsets: [begin, end] }] of header.tensors) {
    const stored = dtype as FloatDtype;
    const { data, outOfRange, outOfRangeCount } = toFloat32(stored, bytes, header.dataStart + begin, header.dataStart + end);
    tensors.set(name, { shape, data, storedDtype: stored });
    if (options.allowNonFinite) continue;
    if (outOfRange) {
      const more = outOfRangeCount > 1 ? ` (${outOfRangeCount} values in all)` : "";
      problems.push({ name, text: `${name} ${stored}: value ${outOfRange.value} at index ${outOfRange.index} ${formatIndex(outOfRange.index, shape)} is beyond the f32 range (|x| < 3.4028235e38)${more}` });
      continue;
    }
    const index = firstNonFinite(data);
    if (index >= 0) {
      let count = 0;
      for (let i = index; i < data.length; i++) if (!Number.isFinite(data[i]!)) count++;
      nonFinite.push({ name, index, value: data[index]!, count });
      const more = count > 1 ? ` (${count} non-finite values in all)` : "";
      problems.push({ name, text: `${name}: ${describeValue(data[index]!)} at index ${index} ${formatIndex(index, shape)}${more}` });
    }
  }
  if (problems.length > 0) {
    // Name order, not the file's header order, so the same weights give the same message.
    const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
    problems.sort((a, b) => byName(a.name, b.name));
    throw new NonFiniteCheckpointError(fileLabel, problems.map((p) => p.text), nonFinite.sort((a, b) => byName(a.name, b.name)));
  }
  return { tensors, metadata: header.metadata };
}

/** What a model expects of one tensor; dtype defaults to F32. */
export interface ExpectedTensor {
  name: string;
  shape: readonly number[];
  dtype?: string;
}

/**
 * Compares a checkpoint (decoded, or just its header) with the tensors a model expects and
 * throws one CheckpointError listing every mismatch: missing, unexpected, wrong shape or dtype.
 */
export function checkTensorsAgainst(
  expected: readonly ExpectedTensor[],
  decoded: { tensors: ReadonlyMap<string, { shape: readonly number[]; dtype?: string }> },
  fileLabel: string,
): void {
  const problems: string[] = [];
  const wanted = new Set(expected.map((t) => t.name));
  for (const want of expected) {
    const found = decoded.tensors.get(want.name);
    if (!found) {
      problems.push(`missing tensor ${want.name} ${formatShape(want.shape)}`);
      continue;
    }
    const wantDtype = want.dtype ?? "F32";
    const foundDtype = found.dtype ?? "F32";
    if (foundDtype !== wantDtype) problems.push(`${want.name}: expected dtype ${wantDtype}, found ${foundDtype}`);
    if (formatShape(found.shape) !== formatShape(want.shape)) {
      problems.push(`${want.name}: expected ${formatShape(want.shape)}, found ${formatShape(found.shape)}`);
    }
  }
  for (const [name, found] of decoded.tensors) {
    if (!wanted.has(name)) problems.push(`unexpected tensor ${name} ${formatShape(found.shape)}`);
  }
  if (problems.length > 0) {
    const count = problems.length === 1 ? "1 mismatch" : `${problems.length} mismatches`;
    throw new CheckpointError(fileLabel, `does not match the model (${count}):\n  ${problems.join("\n  ")}`);
  }
}
