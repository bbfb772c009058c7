/**
 * @fileoverview F16, BF16 and F64 checkpoints read as F32: files written by the reference Python
 * `safetensors` library against values computed by numpy / ml_dtypes (tests/fixtures/dtypes/),
 * every F16 and BF16 bit pattern against an arithmetic reference, F64 rounding and range, and
 * the refusal of non-finite weights (issue 16, class 7) by the decoder and by Model.load.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { compile } from "../../compiler/index.js";
import { CheckpointError, NonFiniteCheckpointError } from "../../runtime/checkpoint/errors.js";
import { decodeSafetensors, encodeSafetensors } from "../../runtime/checkpoint/safetensors.js";
import { loadModel } from "../../runtime/index.js";

const fixture = (name: string): Uint8Array => new Uint8Array(readFileSync(new URL(`../fixtures/dtypes/${name}`, import.meta.url)));
const expected = JSON.parse(readFileSync(new URL("../fixtures/dtypes/expected.json", import.meta.url), "utf8"));
const hexBits = (a: Float32Array): string[] => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length), (b) => b.toString(16).padStart(8, "0"));

/** A one-tensor file of raw element bytes in `dtype`, as safetensors lays it out. */
function rawFile(dtype: string, elementBytes: number, bytes: Uint8Array, name = "t"): Uint8Array {
  const header = new TextEncoder().encode(JSON.stringify({ [name]: { dtype, shape: [bytes.length / elementBytes], data_offsets: [0, bytes.length] } }));
  const out = new Uint8Array(8 + header.length + bytes.length);
  new DataView(out.buffer).setUint32(0, header.length, true);
  out.set(header, 8);
  out.set(bytes, 8 + header.length);
  return out;
}

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error("no error thrown");
}

describe("files written by the Python safetensors library", () => {
  it("decodes F32, F16, BF16 and F64 tensors to the F32 values numpy and ml_dtypes give", () => {
    const decoded = decodeSafetensors(fixture("mixed.safetensors"), "mixed.safetensors");
    const want = expected["mixed.safetensors"];
    expect(decoded.metadata).toEqual(want.metadata);
    expect([...decoded.tensors.keys()].sort()).toEqual(Object.keys(want.tensors).sort());
    for (const [name, t] of Object.entries(want.tensors) as Array<[string, { dtype: string; shape: number[]; f32_bits: string[] }]>) {
      const got = decoded.tensors.get(name)!;
      expect(got.storedDtype, name).toBe(t.dtype);
      expect(got.shape, name).toEqual(t.shape);
      expect(hexBits(got.data), name).toEqual(t.f32_bits);
    }
  });

  it("rounds F64 as documented: nearest f32, ties to even, underflow to a signed zero", () => {
    const bias = decodeSafetensors(fixture("mixed.safetensors"), "m").tensors.get("f64.bias")!.data;
    expect(Array.from(bias)).toEqual([Math.fround(1 / 3), Math.fround(-0.1), 0, -0, 3.4028234663852886e38, 2 ** -149, 2 ** -148, 2 ** -148, 1, 1e10]);
    expect(Object.is(bias[3], -0)).toBe(true);
  });

  it("refuses F64 values beyond the f32 range, naming the tensor, the first index and the count", () => {
    const error = thrown(() => decodeSafetensors(fixture("f64-out-of-range.safetensors"), "big.safetensors"));
    expect(error).toBeInstanceOf(NonFiniteCheckpointError);
    expect(error.message).toBe(
      "big.safetensors: non-finite weights in 1 tensor (refused; allowNonFinite loads them for debugging):\n" +
        "  big F64: value 1e+39 at index 2 [2] is beyond the f32 range (|x| < 3.4028235e38) (2 values in all)",
    );
  });

  it("turns out-of-range F64 values into ±Infinity when non-finite values are allowed", () => {
    const big = decodeSafetensors(fixture("f64-out-of-range.safetensors"), "b", { allowNonFinite: true }).tensors.get("big")!;
    expect(hexBits(big.data)).toEqual(expected["f64-out-of-range.safetensors"].big.f32_bits);
    expect(Array.from(big.data)).toEqual([1, 3.4028234663852886e38, Infinity, -Infinity]);
  });

  it("refuses NaN and Infinity in every dtype, listing each tensor with its first index", () => {
    const error = thrown(() => decodeSafetensors(fixture("non-finite.safetensors"), "nan.safetensors"));
    expect(error).toBeInstanceOf(NonFiniteCheckpointError);
    expect(error).toBeInstanceOf(CheckpointError);
    expect(error.message).toBe(
      [
        "nan.safetensors: non-finite weights in 3 tensors (refused; allowNonFinite loads them for debugging):",
        "  h1.bias: Infinity at index 1 [1]",
        "  h1.weight: NaN at index 3 [1, 0] (2 non-finite values in all)",
        "  out.weight: -Infinity at index 2 [0, 2]",
      ].join("\n"),
    );
    expect((error as NonFiniteCheckpointError).tensors.map((t) => [t.name, t.index, t.count])).toEqual([
      ["h1.bias", 1, 1],
      ["h1.weight", 3, 2],
      ["out.weight", 2, 1],
    ]);
    const allowed = decodeSafetensors(fixture("non-finite.safetensors"), "nan.safetensors", { allowNonFinite: true });
    expect(Array.from(allowed.tensors.get("h1.weight")!.data)).toEqual([0.5, 1, -1, NaN, 2, NaN]);
    expect(Array.from(allowed.tensors.get("h1.bias")!.data)).toEqual([0, Infinity, 1]);
    expect(Array.from(allowed.tensors.get("out.weight")!.data)).toEqual([1, 2, -Infinity]);
  });
});

describe("every bit pattern", () => {
  /** F16 by arithmetic: (-1)^s · 2^(e-15) · (1 + m/1024), subnormals 2^-14 · m/1024. */
  const halfReference = (h: number): number => {
    const sign = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const m = h & 0x3ff;
    if (e === 0x1f) return m === 0 ? sign * Infinity : NaN;
    return sign * (e === 0 ? 2 ** -14 * (m / 1024) : 2 ** (e - 15) * (1 + m / 1024));
  };
  /** BF16 by arithmetic: 8 exponent bits as F32, 7 mantissa bits. */
  const bf16Reference = (h: number): number => {
    const sign = h & 0x8000 ? -1 : 1;
    const e = (h >> 7) & 0xff;
    const m = h & 0x7f;
    if (e === 0xff) return m === 0 ? sign * Infinity : NaN;
    return sign * (e === 0 ? 2 ** -126 * (m / 128) : 2 ** (e - 127) * (1 + m / 128));
  };

  for (const [dtype, reference, nanBits] of [
    ["F16", halfReference, (h: number) => ((h & 0x8000) << 16) | 0x7f800000 | ((h & 0x3ff) << 13)],
    ["BF16", bf16Reference, (h: number) => h << 16],
  ] as const) {
    it(`widens all 65,536 ${dtype} values exactly (NaN payloads kept)`, () => {
      const all = new Uint8Array(65536 * 2);
      for (let h = 0; h < 65536; h++) new DataView(all.buffer).setUint16(2 * h, h, true);
      const data = decodeSafetensors(rawFile(dtype, 2, all), "all", { allowNonFinite: true }).tensors.get("t")!.data;
      const bits = new Uint32Array(data.buffer);
      const wrong: string[] = [];
      for (let h = 0; h < 65536 && wrong.length < 5; h++) {
        const want = reference(h);
        const ok = Number.isNaN(want) ? bits[h] === nanBits(h) >>> 0 : Object.is(data[h], want);
        if (!ok) wrong.push(`0x${h.toString(16)}: got ${data[h]} (0x${bits[h]!.toString(16)}), want ${want}`);
      }
      expect(wrong).toEqual([]);
    });
  }

  it("reads tensors at odd byte offsets within the file", () => {
    const halves = new Uint8Array([0x00, 0x3c, 0x00, 0xc0]); // F16 1, -2
    const file = rawFile("F16", 2, halves);
    const shifted = new Uint8Array(file.length + 1);
    shifted.set(file, 1);
    expect(Array.from(decodeSafetensors(shifted.subarray(1), "odd").tensors.get("t")!.data)).toEqual([1, -2]);
  });
});

describe("Model.load", () => {
  const SOURCE = `
model Tiny {
  input  x: f32[6]
  target y: class[3]
  layer h   = dense(x, 4) relu
  layer out = dense(h, 3)
  loss = softmax_cross_entropy(out, y)
}`;

  async function tinyModel() {
    const compiled = await compile(SOURCE, { file: "tiny.cond", maxBatch: 4, simd: "plain" });
    if (!compiled.ok) throw new Error("tiny.cond did not compile");
    const model = await loadModel(compiled.wasm, compiled.manifest);
    model.init(1);
    return model;
  }

  it("refuses a checkpoint with a NaN weight and keeps the weights it had", async () => {
    const model = await tinyModel();
    const before = model.save();
    const donor = await tinyModel();
    donor.init(2);
    const weight = donor.parameter("h.weight");
    weight[5] = NaN;
    donor.setParameter("h.weight", weight);
    const poisoned = donor.save();
    const error = thrown(() => model.load(poisoned, "poisoned.safetensors"));
    expect(error).toBeInstanceOf(NonFiniteCheckpointError);
    expect(error.message).toBe(
      "poisoned.safetensors: non-finite weights in 1 tensor (refused; allowNonFinite loads them for debugging):\n  h.weight: NaN at index 5 [0, 5]",
    );
    expect(Buffer.from(model.save()).equals(Buffer.from(before))).toBe(true);

    model.load(poisoned, "poisoned.safetensors", { allowNonFinite: true });
    expect(Number.isNaN(model.parameter("h.weight")[5])).toBe(true);
  });

  it("loads an F16 copy of its weights exactly when they are F16 values", async () => {
    const model = await tinyModel();
    const f16 = (v: number): number => {
      // Round to the F16 grid (weights here are small, no overflow): keep 11 significant bits.
      const e = Math.floor(Math.log2(Math.abs(v)));
      const step = 2 ** (Math.max(e, -14) - 10);
      return Math.round(v / step) * step;
    };
    const tensors = model.manifest.params.map((p) => ({ name: p.name, shape: p.shape, data: model.parameter(p.name).map((v) => (v === 0 ? 0 : f16(v))) }));
    // The same values stored as F16: write the F32 file, then rewrite each tensor's bytes as halves.
    const halfFile = asF16(encodeSafetensors(tensors));
    const fresh = await tinyModel();
    fresh.init(9);
    fresh.load(halfFile, "half.safetensors");
    for (const t of tensors) expect(Array.from(fresh.parameter(t.name)), t.name).toEqual(Array.from(t.data));
  });
});

/** Rewrites an F32 safetensors file as F16 (values must be exact halves, small and normal). */
function asF16(bytes: Uint8Array): Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  const headerLength = view.getUint32(0, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
  const parts: Uint8Array[] = [];
  let offset = 0;
  for (const [name, entry] of Object.entries(header) as Array<[string, { dtype: string; shape: number[]; data_offsets: [number, number] }]>) {
    if (name === "__metadata__") continue;
    const [begin, end] = entry.data_offsets;
    const floats = new Float32Array(bytes.slice(8 + headerLength + begin, 8 + headerLength + end).buffer);
    const halves = new Uint8Array(floats.length * 2);
    floats.forEach((v, i) => new DataView(halves.buffer).setUint16(2 * i, floatToHalfBits(v), true));
    entry.dtype = "F16";
    entry.data_offsets = [offset, offset + halves.length];
    offset += halves.length;
    parts.push(halves);
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** F16 bits of a value exactly representable as a normal half (or zero). */
function floatToHalfBits(v: number): number {
  if (v === 0) return Object.is(v, -0) ? 0x8000 : 0;
  const sign = v < 0 ? 0x8000 : 0;
  const a = Math.abs(v);
  const e = Math.floor(Math.log2(a));
  if (e < -14) throw new RangeError(`${v} is not a normal half`);
  const mantissa = Math.round((a / 2 ** e - 1) * 1024);
  return sign | ((e + 15) << 10) | mantissa;
}
