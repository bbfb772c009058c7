/**
 * @fileoverview Floating-point dtypes a checkpoint may store, read as F32: F16 and BF16 exactly
 * (every value, NaN payloads included), F64 rounded to nearest (ties to even).
 */

/** The dtypes `decodeSafetensors` reads, with their element sizes. */
export const FLOAT_DTYPES = { F32: 4, F16: 2, BF16: 2, F64: 8 } as const;
export type FloatDtype = keyof typeof FLOAT_DTYPES;

export const isFloatDtype = (dtype: string): dtype is FloatDtype => Object.hasOwn(FLOAT_DTYPES, dtype);

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** An F64 value that is finite but rounds to ±Infinity in f32 (|v| >= 2^128 - 2^103). */
export interface OutOfRange {
  index: number;
  value: number;
}

export interface Converted {
  data: Float32Array;
  /** F64 only: the first finite value that became ±Infinity, and how many did. */
  outOfRange: OutOfRange | null;
  outOfRangeCount: number;
}

let halfTable: Uint32Array | undefined;

/** F32 bit patterns of all 65,536 F16 values, built on first use (256 KB). */
function halfToFloatBits(): Uint32Array {
  if (halfTable) return halfTable;
  const table = new Uint32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const exponent = (h >> 10) & 0x1f;
    let mantissa = h & 0x3ff;
    if (exponent === 0x1f) {
      table[h] = (sign | 0x7f800000 | (mantissa << 13)) >>> 0; // Inf, NaN (payload kept)
    } else if (exponent !== 0) {
      table[h] = (sign | ((exponent + 112) << 23) | (mantissa << 13)) >>> 0;
    } else if (mantissa === 0) {
      table[h] = sign >>> 0;
    } else {
      // A subnormal half is a normal float: shift the leading 1 into the implicit bit.
      let e = 113;
      while ((mantissa & 0x400) === 0) {
        mantissa <<= 1;
        e--;
      }
      table[h] = (sign | (e << 23) | ((mantissa & 0x3ff) << 13)) >>> 0;
    }
  }
  halfTable = table;
  return table;
}

/** The stored elements `bytes[begin, end)` as a fresh Float32Array. */
export function toFloat32(dtype: FloatDtype, bytes: Uint8Array, begin: number, end: number): Converted {
  const count = (end - begin) / FLOAT_DTYPES[dtype];
  const data = new Float32Array(count);
  const view = new DataView(bytes.buffer, bytes.byteOffset + begin, end - begin);
  // Uint8Array's slice copies (and aligns); a Node Buffer's `slice` would be a view.
  const copy = (): ArrayBuffer => Uint8Array.prototype.slice.call(bytes, begin, end).buffer;
  let outOfRange: OutOfRange | null = null;
  let outOfRangeCount = 0;
  switch (dtype) {
    case "F32":
      if (LITTLE_ENDIAN) data.set(new Float32Array(copy()));
      else for (let i = 0; i < count; i++) data[i] = view.getFloat32(4 * i, true);
      break;
    case "F16": {
      const table = halfToFloatBits();
      const bits = new Uint32Array(data.buffer);
      if (LITTLE_ENDIAN) {
        const halves = new Uint16Array(copy());
        for (let i = 0; i < count; i++) bits[i] = table[halves[i]!]!;
      } else {
        for (let i = 0; i < count; i++) bits[i] = table[view.getUint16(2 * i, true)]!;
      }
      break;
    }
    case "BF16": {
      // BF16 is the top half of an F32: the widening is exact for every value.
      const bits = new Uint32Array(data.buffer);
      if (LITTLE_ENDIAN) {
        const halves = new Uint16Array(copy());
        for (let i = 0; i < count; i++) bits[i] = halves[i]! << 16;
      } else {
        for (let i = 0; i < count; i++) bits[i] = view.getUint16(2 * i, true) << 16;
      }
      break;
    }
    case "F64": {
      const doubles = LITTLE_ENDIAN ? new Float64Array(copy()) : Float64Array.from({ length: count }, (_, i) => view.getFloat64(8 * i, true));
      for (let i = 0; i < count; i++) {
        const value = doubles[i]!;
        const rounded = Math.fround(value);
        if (rounded === Infinity || rounded === -Infinity) {
          if (value !== rounded) {
            outOfRange ??= { index: i, value };
            outOfRangeCount++;
          }
        }
        data[i] = rounded;
      }
      break;
    }
  }
  return { data, outOfRange, outOfRangeCount };
}

/** The first NaN or ±Infinity in `data`, or -1. */
export function firstNonFinite(data: Float32Array): number {
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    // v - v is 0 for finite v and NaN for NaN and ±Infinity.
    if (v - v !== 0) return i;
  }
  return -1;
}

/** Row-major position of flat `index` in `shape`, e.g. 5 in [2, 3] -> "[1, 2]". */
export function formatIndex(index: number, shape: readonly number[]): string {
  const position: number[] = [];
  let rest = index;
  for (let d = shape.length - 1; d >= 0; d--) {
    position.unshift(rest % shape[d]!);
    rest = Math.floor(rest / shape[d]!);
  }
  return `[${position.join(", ")}]`;
}

/** How a non-finite value prints in messages. */
export const describeValue = (v: number): string => (Number.isNaN(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity");
