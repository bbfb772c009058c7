/**
 * @fileoverview The WebAssembly binary format, as much of it as condc's model modules use:
 * LEB128 integers, IEEE constants, names, vectors and sections written into a growing buffer.
 */

/** A growing byte buffer with the format's primitive encodings. */
export class ByteWriter {
  private bytes = new Uint8Array(256);
  private length = 0;

  get size(): number {
    return this.length;
  }

  byte(value: number): this {
    if (this.length === this.bytes.length) this.grow(1);
    this.bytes[this.length++] = value & 0xff;
    return this;
  }

  raw(data: Uint8Array): this {
    if (this.length + data.length > this.bytes.length) this.grow(data.length);
    this.bytes.set(data, this.length);
    this.length += data.length;
    return this;
  }

  private grow(atLeast: number): void {
    const grown = new Uint8Array(Math.max(this.bytes.length * 2, this.length + atLeast));
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
  }

  /** Unsigned LEB128 of a value in [0, 2^32). */
  u32(value: number): this {
    let v = value >>> 0;
    do {
      let b = v & 0x7f;
      v >>>= 7;
      if (v !== 0) b |= 0x80;
      this.byte(b);
    } while (v !== 0);
    return this;
  }

  /** Signed LEB128 of a 32-bit integer (values in [2^31, 2^32) are taken as their i32 bits). */
  i32(value: number): this {
    let v = value | 0;
    for (;;) {
      const b = v & 0x7f;
      v >>= 7;
      const done = (v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0);
      this.byte(done ? b : b | 0x80);
      if (done) return this;
    }
  }

  f32(value: number): this {
    const view = new DataView(new ArrayBuffer(4));
    view.setFloat32(0, value, true);
    return this.raw(new Uint8Array(view.buffer));
  }

  f64(value: number): this {
    const view = new DataView(new ArrayBuffer(8));
    view.setFloat64(0, value, true);
    return this.raw(new Uint8Array(view.buffer));
  }

  /** A name: its UTF-8 bytes, length-prefixed (the only way text enters a module). */
  name(text: string): this {
    const encoded = new TextEncoder().encode(text);
    return this.u32(encoded.length).raw(encoded);
  }

  /** A section: id, byte size, contents. */
  section(id: number, contents: ByteWriter): this {
    return this.byte(id).u32(contents.size).raw(contents.finish());
  }

  finish(): Uint8Array {
    return this.bytes.slice(0, this.length);
  }
}

export const SECTION = { custom: 0, type: 1, import: 2, function: 3, global: 6, export: 7, code: 10 } as const;

export type ValueType = "i32" | "i64" | "f32" | "f64";

export const VALUE_TYPE_CODE: Record<ValueType, number> = { i32: 0x7f, i64: 0x7e, f32: 0x7d, f64: 0x7c };

/** Opcodes of the instructions model modules use. */
export const OP = {
  unreachable: 0x00,
  if: 0x04,
  else: 0x05,
  end: 0x0b,
  return: 0x0f,
  call: 0x10,
  drop: 0x1a,
  select: 0x1b,
  localGet: 0x20,
  localSet: 0x21,
  globalGet: 0x23,
  globalSet: 0x24,
  i32Const: 0x41,
  f32Const: 0x43,
  f64Const: 0x44,
  emptyBlockType: 0x40,
} as const;

/** Binary and unary numeric instructions by their text-format names. */
export const NUMERIC_OPS = {
  "i32.eqz": 0x45,
  "i32.eq": 0x46,
  "i32.ne": 0x47,
  "i32.lt_s": 0x48,
  "i32.gt_s": 0x4a,
  "f32.ne": 0x5c,
  "f32.lt": 0x5d,
  "f32.gt": 0x5e,
  "f64.lt": 0x63,
  "i32.add": 0x6a,
  "i32.sub": 0x6b,
  "i32.mul": 0x6c,
  "i32.shl": 0x74,
  "f32.add": 0x92,
  "f32.sub": 0x93,
  "f32.mul": 0x94,
  "f32.div": 0x95,
  "f64.add": 0xa0,
  "f64.sub": 0xa1,
  "f64.mul": 0xa2,
  "f64.div": 0xa3,
  "f32.convert_i32_s": 0xb2,
  "f32.convert_i32_u": 0xb3,
  "f32.demote_f64": 0xb6,
  "f64.convert_i32_s": 0xb7,
  "f64.convert_i32_u": 0xb8,
  "f64.promote_f32": 0xbb,
} as const;

export type NumericOp = keyof typeof NUMERIC_OPS;

/** `module` with a custom section appended (custom sections may stand anywhere; engines skip them). */
export function appendCustomSection(module: Uint8Array, name: string, data: Uint8Array): Uint8Array {
  const section = new ByteWriter().section(SECTION.custom, new ByteWriter().name(name).raw(data)).finish();
  const out = new Uint8Array(module.length + section.length);
  out.set(module);
  out.set(section, module.length);
  return out;
}
