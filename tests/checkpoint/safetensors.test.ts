/**
 * @fileoverview safetensors: round trips (bit-exact, specials included), byte-identical encoding
 * matching the reference Python implementation, one exact message per corruption family, and the
 * all-at-once model mismatch report.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { CheckpointError } from "../../runtime/checkpoint/errors.js";
import {
  checkTensorsAgainst,
  decodeSafetensors,
  encodeSafetensors,
  readSafetensorsHeader,
  type NamedTensor,
} from "../../runtime/checkpoint/safetensors.js";

const FILE = "m.safetensors";

/** A file from a raw header (object or text) and a data section of `data` bytes. */
function craft(header: unknown, data: number | Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(typeof header === "string" ? header : JSON.stringify(header));
  const body = typeof data === "number" ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + json.length + body.length);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 8);
  out.set(body, 8 + json.length);
  return out;
}

function decodeError(bytes: Uint8Array): string {
  try {
    decodeSafetensors(bytes, FILE);
  } catch (e) {
    expect(e).toBeInstanceOf(CheckpointError);
    return (e as Error).message;
  }
  throw new Error("decoded without error");
}

const layer = (name: string, units: number, inputs: number, seed: number): NamedTensor[] => [
  { name: `${name}.weight`, shape: [units, inputs], data: Float32Array.from({ length: units * inputs }, (_, i) => Math.sin(seed + i)) },
  { name: `${name}.bias`, shape: [units], data: Float32Array.from({ length: units }, (_, i) => Math.cos(seed * i)) },
];

const bits = (a: Float32Array): number[] => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

describe("round trip", () => {
  it("restores names, shapes, bit patterns and metadata", () => {
    const specials = Float32Array.from([0, -0, Infinity, -Infinity, NaN, 1e-45, -3.4028234663852886e38, 1 / 3]);
    const tensors = [...layer("h1", 5, 7, 1), ...layer("out", 3, 5, 2), { name: "specials", shape: [2, 4], data: specials }];
    const metadata = { format: "condc", epoch: "3", ["__proto__"]: "kept as data" };
    expect(Object.keys(metadata)).toContain("__proto__");
    const decoded = decodeSafetensors(encodeSafetensors(tensors, metadata), FILE, { allowNonFinite: true });
    expect([...decoded.tensors.keys()].sort()).toEqual(tensors.map((t) => t.name).sort());
    for (const t of tensors) {
      const back = decoded.tensors.get(t.name)!;
      expect(back.shape).toEqual(t.shape);
      expect(bits(back.data)).toEqual(bits(t.data));
    }
    expect(Object.entries(decoded.metadata).sort()).toEqual(Object.entries(metadata).sort());
    expect(Object.getPrototypeOf(decoded.metadata)).toBe(Object.prototype);
  });

  it("handles scalars, empty tensors, no tensors, and unaligned input views", () => {
    const tensors: NamedTensor[] = [
      { name: "scalar", shape: [], data: Float32Array.of(2.5) },
      { name: "empty", shape: [0, 4], data: new Float32Array(0) },
    ];
    const bytes = encodeSafetensors(tensors);
    const shifted = new Uint8Array(bytes.length + 3);
    shifted.set(bytes, 3);
    const decoded = decodeSafetensors(shifted.subarray(3), FILE);
    expect(decoded.tensors.get("scalar")).toEqual({ shape: [], data: Float32Array.of(2.5), storedDtype: "F32" });
    expect(decoded.tensors.get("empty")).toEqual({ shape: [0, 4], data: new Float32Array(0), storedDtype: "F32" });
    expect(decodeSafetensors(encodeSafetensors([]), FILE).tensors.size).toBe(0);
  });

  it("encodes from Float32Array views at any offset", () => {
    const backing = Float32Array.from([9, 1, 2, 3, 9]);
    const decoded = decodeSafetensors(encodeSafetensors([{ name: "v", shape: [3], data: backing.subarray(1, 4) }]), FILE);
    expect(Array.from(decoded.tensors.get("v")!.data)).toEqual([1, 2, 3]);
  });

  it("refuses bad tensors when encoding", () => {
    expect(() => encodeSafetensors([{ name: "a", shape: [2, 2], data: new Float32Array(3) }])).toThrow(
      "encodeSafetensors: a: shape [2, 2] does not hold 3 values",
    );
    const twice = [{ name: "a", shape: [1], data: new Float32Array(1) }, { name: "a", shape: [1], data: new Float32Array(1) }];
    expect(() => encodeSafetensors(twice)).toThrow('encodeSafetensors: duplicate tensor name "a"');
    expect(() => encodeSafetensors([{ name: "__metadata__", shape: [], data: new Float32Array(1) }])).toThrow(RangeError);
  });
});

describe("deterministic bytes", () => {
  it("gives bit-identical files for the same weights in any order", () => {
    const tensors = [...layer("h1", 4, 6, 3), ...layer("h2", 2, 4, 4)];
    const a = encodeSafetensors(tensors, { b: "2", a: "1" });
    const b = encodeSafetensors([...tensors].reverse(), { a: "1", b: "2" });
    expect(Buffer.from(b).equals(Buffer.from(a))).toBe(true);
    expect(new DataView(a.buffer).getUint32(0, true) % 8).toBe(0);
  });

  it("matches a file written by the reference safetensors library (Python, 0.8.0)", () => {
    // tests/fixtures/README.md records how reference-f32.safetensors was made.
    const reference = new Uint8Array(readFileSync(new URL("../fixtures/reference-f32.safetensors", import.meta.url)));
    const ours = encodeSafetensors(
      [
        { name: "out.weight", shape: [1, 1], data: Float32Array.of(3.25) },
        { name: "h1.weight", shape: [2, 3], data: Float32Array.from([0, 0.5, 1, 1.5, 2, 2.5]) },
        { name: "h1.bias", shape: [2], data: Float32Array.from([1.5, -2]) },
      ],
      { format: "condc", z: "1" },
    );
    expect(Buffer.from(ours).equals(Buffer.from(reference))).toBe(true);
    const decoded = decodeSafetensors(reference, "reference-f32.safetensors");
    expect(Array.from(decoded.tensors.get("h1.weight")!.data)).toEqual([0, 0.5, 1, 1.5, 2, 2.5]);
    expect(decoded.metadata).toEqual({ format: "condc", z: "1" });
  });
});

describe("corruption", () => {
  const f32 = (shape: number[], begin: number, end: number): object => ({ dtype: "F32", shape, data_offsets: [begin, end] });

  it("too short", () => {
    expect(decodeError(new Uint8Array(5))).toBe(`${FILE}: too short: 5 bytes, but a safetensors file starts with an 8-byte header length`);
  });

  it("header length beyond the file", () => {
    const bytes = craft({}, 10);
    new DataView(bytes.buffer).setUint32(0, 1000, true);
    expect(decodeError(bytes)).toBe(`${FILE}: header length 1000 goes beyond the end of the file (20 bytes, 12 after the length)`);
    new DataView(bytes.buffer).setUint32(4, 1, true);
    expect(decodeError(bytes)).toBe(`${FILE}: header length 4294968296 goes beyond the end of the file (20 bytes, 12 after the length)`);
  });

  it("bad JSON", () => {
    expect(decodeError(craft('{"a": ', 0))).toMatch(/^m\.safetensors: bad header JSON \(.+\)$/);
    expect(decodeError(craft("[1, 2]", 0))).toBe(`${FILE}: bad header JSON (not an object)`);
    expect(decodeError(craft({ a: 3 }, 0))).toBe(`${FILE}: a: header entry is not an object`);
    expect(decodeError(craft({ __metadata__: { epoch: 3 } }, 0))).toBe(`${FILE}: __metadata__ must map strings to strings`);
  });

  it("invalid UTF-8 in the header", () => {
    const bytes = craft("{}", 0);
    const bad = new Uint8Array(bytes.length + 1);
    bad.set(bytes);
    bad.set([0x7b, 0xc3, 0x7d], 8);
    new DataView(bad.buffer).setUint32(0, 3, true);
    expect(decodeError(bad)).toMatch(/^m\.safetensors: bad header JSON \(.+\)$/);
  });

  it("offsets out of range", () => {
    expect(decodeError(craft({ a: f32([4], 0, 16) }, 8))).toBe(`${FILE}: a: data_offsets [0, 16] go beyond the data section (8 bytes)`);
    expect(decodeError(craft({ a: f32([0], 8, 0) }, 8))).toBe(`${FILE}: a: data_offsets [8,0] is not [begin, end] with begin <= end`);
    expect(decodeError(craft({ a: f32([1], -4, 0) }, 8))).toBe(`${FILE}: a: data_offsets [-4,0] is not [begin, end] with begin <= end`);
  });

  it("overlapping offsets", () => {
    expect(decodeError(craft({ a: f32([2], 0, 8), b: f32([2], 4, 12) }, 12))).toBe(`${FILE}: tensors a [0, 8] and b [4, 12] overlap`);
  });

  it("offsets not covering the data", () => {
    expect(decodeError(craft({ a: f32([2], 0, 8), b: f32([2], 12, 20) }, 20))).toBe(`${FILE}: data bytes [8, 12) belong to no tensor`);
    expect(decodeError(craft({ a: f32([2], 0, 8), b: f32([2], 8, 16) }, 20))).toBe(`${FILE}: data bytes [16, 20) belong to no tensor`);
    expect(decodeError(craft({ a: f32([2], 4, 12) }, 12))).toBe(`${FILE}: data bytes [0, 4) belong to no tensor`);
  });

  it("dtype not a float (F32, F16, BF16, F64)", () => {
    const bytes = craft({ a: { dtype: "I64", shape: [2], data_offsets: [0, 16] }, b: f32([1], 16, 20), c: { dtype: "F8_E4M3", shape: [4], data_offsets: [20, 24] } }, 24);
    expect(decodeError(bytes)).toBe(`${FILE}: dtype not supported (F32, F16, BF16 and F64 are): a is I64, c is F8_E4M3`);
    expect(readSafetensorsHeader(bytes, FILE).tensors.get("a")).toEqual({ dtype: "I64", shape: [2], dataOffsets: [0, 16] });
    expect(decodeError(craft({ a: { dtype: "Q4", shape: [2], data_offsets: [0, 1] } }, 1))).toBe(`${FILE}: a: unknown dtype "Q4"`);
    expect(decodeError(craft({ a: { dtype: "toString", shape: [2], data_offsets: [0, 1] } }, 1))).toBe(`${FILE}: a: unknown dtype "toString"`);
  });

  it("shape × 4 differs from the byte length", () => {
    expect(decodeError(craft({ a: f32([2, 3], 0, 20) }, 20))).toBe(`${FILE}: a: shape [2, 3] F32 needs 24 bytes but data_offsets [0, 20] span 20`);
    expect(decodeError(craft({ a: f32([2, -3] as number[], 0, 20) }, 20))).toBe(`${FILE}: a: shape [2,-3] is not a list of sizes`);
  });

  it("names the file given", () => {
    expect(() => decodeSafetensors(new Uint8Array(0), "runs/best.safetensors")).toThrow(/^runs\/best\.safetensors: too short/);
  });
});

describe("checkTensorsAgainst", () => {
  const model = [
    { name: "h1.weight", shape: [256, 784] },
    { name: "h1.bias", shape: [256] },
    { name: "out.weight", shape: [10, 256] },
    { name: "out.bias", shape: [10] },
  ];

  it("accepts a matching checkpoint", () => {
    const tensors = model.map((t) => ({ ...t, data: new Float32Array(t.shape.reduce((a, b) => a * b, 1)) }));
    const decoded = decodeSafetensors(encodeSafetensors(tensors), FILE);
    expect(() => checkTensorsAgainst(model, decoded, FILE)).not.toThrow();
  });

  it("reports every mismatch in one message", () => {
    const header = readSafetensorsHeader(
      craft(
        {
          "h1.weight": { dtype: "F32", shape: [256, 100], data_offsets: [0, 102400] },
          "h1.bias": { dtype: "F32", shape: [256], data_offsets: [102400, 103424] },
          "out.weight": { dtype: "F16", shape: [10, 256], data_offsets: [103424, 108544] },
          "h1.lowrank_u": { dtype: "F32", shape: [256, 8], data_offsets: [108544, 116736] },
        },
        116736,
      ),
      FILE,
    );
    let message = "";
    try {
      checkTensorsAgainst(model, header, FILE);
    } catch (e) {
      expect(e).toBeInstanceOf(CheckpointError);
      message = (e as Error).message;
    }
    expect(message).toBe(
      [
        `${FILE}: does not match the model (4 mismatches):`,
        "  h1.weight: expected [256, 784], found [256, 100]",
        "  out.weight: expected dtype F32, found F16",
        "  missing tensor out.bias [10]",
        "  unexpected tensor h1.lowrank_u [256, 8]",
      ].join("\n"),
    );
  });

  it("says 1 mismatch when there is one", () => {
    const decoded = { tensors: new Map([["h1.weight", { shape: [256, 784] }]]) };
    expect(() => checkTensorsAgainst(model.slice(0, 1), { tensors: new Map() }, FILE)).toThrow(
      `${FILE}: does not match the model (1 mismatch):\n  missing tensor h1.weight [256, 784]`,
    );
    expect(() => checkTensorsAgainst(model.slice(0, 1), decoded, FILE)).not.toThrow();
  });
});

describe("decodeSafetensors on a Node Buffer", () => {
  it("copies each tensor out of a Buffer whose slice would be a view", async () => {
    const { encodeSafetensors, decodeSafetensors } = await import("../../runtime/checkpoint/safetensors.js");
    const bytes = encodeSafetensors([
      { name: "a", shape: [2], data: new Float32Array([1, 2]) },
      { name: "b", shape: [3], data: new Float32Array([3, 4, 5]) },
    ]);
    const buffer = Buffer.from(bytes);
    const decoded = decodeSafetensors(buffer, "buffer.safetensors");
    expect(Array.from(decoded.tensors.get("a")!.data)).toEqual([1, 2]);
    expect(Array.from(decoded.tensors.get("b")!.data)).toEqual([3, 4, 5]);
  });
});
