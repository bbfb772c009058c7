/**
 * @fileoverview IDX parser and pair loader: round trips for every element type, and one exact
 * error message per corruption family (magic, truncation, trailing bytes, counts, labels, gzip).
 */
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { DataError } from "../../runtime/data/errors.js";
import { browserGunzip, isGzip, maybeGunzip } from "../../runtime/data/gzip.js";
import { encodeIdx, loadIdxPair, parseIdx, type IdxArray } from "../../runtime/data/idx.js";
import { nodeGunzip } from "../../runtime/node/data.js";

const NAMES = { name: "tiny", images: "train-images-idx3-ubyte.gz", labels: "train-labels-idx1-ubyte.gz" };

function images(count: number, rows = 28, cols = 28): Uint8Array {
  const data = new Uint8Array(count * rows * cols);
  for (let i = 0; i < data.length; i++) data[i] = (i * 37) % 256;
  return encodeIdx({ type: "uint8", dims: [count, rows, cols], data });
}

function labels(values: number[]): Uint8Array {
  return encodeIdx({ type: "uint8", dims: [values.length], data: Uint8Array.from(values) });
}

async function loadError(imagesBytes: Uint8Array, labelsBytes: Uint8Array): Promise<string> {
  const error = await loadIdxPair(imagesBytes, labelsBytes, NAMES).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DataError);
  return (error as DataError).message;
}

describe("parseIdx round trips", () => {
  const cases: IdxArray[] = [
    { type: "uint8", dims: [2, 3], data: Uint8Array.from([0, 1, 127, 128, 254, 255]) },
    { type: "int8", dims: [4], data: Int8Array.from([-128, -1, 0, 127]) },
    { type: "int16", dims: [2, 2], data: Int16Array.from([-32768, -2, 258, 32767]) },
    { type: "int32", dims: [3], data: Int32Array.from([-2147483648, 16909060, 2147483647]) },
    { type: "float32", dims: [1, 3], data: Float32Array.from([-0.5, 3.4028234663852886e38, 1e-45]) },
    { type: "float64", dims: [2, 1, 1], data: Float64Array.from([Math.PI, -Number.MAX_VALUE]) },
  ];
  for (const original of cases) {
    it(`${original.type} ${original.dims.join("×")}`, () => {
      const parsed = parseIdx(encodeIdx(original), "x.idx");
      expect(parsed.type).toBe(original.type);
      expect(parsed.dims).toEqual(original.dims);
      expect(parsed.data.constructor).toBe(original.data.constructor);
      expect(Array.from(parsed.data)).toEqual(Array.from(original.data));
    });
  }

  it("reads sizes and data big-endian", () => {
    const bytes = Uint8Array.from([0, 0, 0x0b, 1, 0, 0, 0, 2, 0x01, 0x02, 0xff, 0xfe]);
    const parsed = parseIdx(bytes, "be.idx");
    expect(parsed.dims).toEqual([2]);
    expect(Array.from(parsed.data)).toEqual([258, -2]);
  });

  it("accepts a scalar (0 dimensions) and a subarray input", () => {
    const padded = new Uint8Array(13);
    padded.set([0, 0, 0x08, 0, 42], 8);
    const parsed = parseIdx(padded.subarray(8), "s.idx");
    expect(parsed.dims).toEqual([]);
    expect(Array.from(parsed.data)).toEqual([42]);
  });
});

describe("parseIdx errors", () => {
  const message = (bytes: Uint8Array): string => {
    try {
      parseIdx(bytes, "f.idx");
    } catch (e) {
      expect(e).toBeInstanceOf(DataError);
      return (e as Error).message;
    }
    throw new Error("no error");
  };
  it("too short", () => expect(message(Uint8Array.from([0, 0, 8]))).toBe("f.idx: too short for an IDX header: 3 bytes"));
  it("not IDX", () => {
    expect(message(Uint8Array.from([0x50, 0x4b, 3, 4, 0]))).toBe("f.idx: not an IDX file: starts 50 4b 03 04, expected 00 00 <type> <dimensions>");
  });
  it("unknown type", () => {
    expect(message(Uint8Array.from([0, 0, 0x0a, 1, 0, 0, 0, 0]))).toBe(
      "f.idx: unknown IDX element type 0x0a (known: 0x08, 0x09, 0x0b, 0x0c, 0x0d, 0x0e)",
    );
  });
  it("header cut inside the sizes", () => {
    expect(message(Uint8Array.from([0, 0, 8, 3, 0, 0, 0, 1, 0, 0]))).toBe(
      "f.idx: truncated: header declares 3 dimensions (16 header bytes) but the file has 10 bytes",
    );
  });
  it("element size counts (int32 data one element short)", () => {
    const full = encodeIdx({ type: "int32", dims: [3], data: Int32Array.from([1, 2, 3]) });
    expect(message(full.subarray(0, full.length - 4))).toBe("f.idx: truncated: header says 3 int32 (12 bytes) but 8 bytes follow");
  });
});

describe("loadIdxPair", () => {
  it("loads images as pixels/255 and labels", async () => {
    const ds = await loadIdxPair(images(3), labels([7, 0, 9]), NAMES);
    expect(ds).toMatchObject({ name: "tiny", count: 3, width: 784, classes: 10 });
    expect(Array.from(ds.labels)).toEqual([7, 0, 9]);
    expect(ds.images.length).toBe(3 * 784);
    expect(ds.images[1]).toBe(Math.fround(37 / 255));
    expect(ds.images[7]).toBe(Math.fround(((7 * 37) % 256) / 255));
    expect(Math.max(...ds.images)).toBeLessThanOrEqual(1);
    expect(Math.min(...ds.images)).toBe(0);
  });

  it("gunzips either file when it starts 1f 8b, with the default and the node gunzip", async () => {
    const gzImages = gzipSync(images(2));
    expect(isGzip(gzImages)).toBe(true);
    const plain = await loadIdxPair(images(2), labels([1, 2]), NAMES);
    const viaBrowser = await loadIdxPair(gzImages, gzipSync(labels([1, 2])), NAMES);
    const viaNode = await loadIdxPair(gzImages, labels([1, 2]), NAMES, { gunzip: nodeGunzip });
    expect(viaBrowser).toEqual(plain);
    expect(viaNode).toEqual(plain);
  });

  it("bad magic: labels file given as images", async () => {
    expect(await loadError(labels([1]), labels([1]))).toBe(
      "train-images-idx3-ubyte.gz: bad magic 2049 (0x00000801), expected 2051 (0x00000803, uint8 images with 3 dimensions)",
    );
  });

  it("bad magic: images file given as labels", async () => {
    expect(await loadError(images(1), images(1))).toBe(
      "train-labels-idx1-ubyte.gz: bad magic 2051 (0x00000803), expected 2049 (0x00000801, uint8 labels with 1 dimension)",
    );
  });

  it("truncated images (header says 60000×28×28)", async () => {
    const bytes = new Uint8Array(16 + 1000);
    const view = new DataView(bytes.buffer);
    [2051, 60000, 28, 28].forEach((word, k) => view.setUint32(4 * k, word, false));
    expect(await loadError(bytes, labels([1]))).toBe(
      "train-images-idx3-ubyte.gz: truncated: header says 60000×28×28 uint8 (47040000 bytes) but 1000 bytes follow",
    );
  });

  it("trailing bytes", async () => {
    const bytes = new Uint8Array(images(2).length + 5);
    bytes.set(images(2));
    expect(await loadError(bytes, labels([1, 2]))).toBe(
      "train-images-idx3-ubyte.gz: trailing bytes: header says 2×28×28 uint8 (1568 bytes) but 1573 bytes follow",
    );
  });

  it("count mismatch", async () => {
    expect(await loadError(images(3), labels([1, 2]))).toBe(
      "train-labels-idx1-ubyte.gz: count mismatch: 2 labels but train-images-idx3-ubyte.gz has 3 images",
    );
  });

  it("label out of range", async () => {
    expect(await loadError(images(3), labels([1, 10, 2]))).toBe("train-labels-idx1-ubyte.gz: label 10 at index 1 is not < 10 classes");
  });

  it("wrong image dimensions", async () => {
    expect(await loadError(images(2, 28, 27), labels([1, 2]))).toBe(
      "train-images-idx3-ubyte.gz: wrong image size: header says 2×28×27, expected N×28×28",
    );
  });

  it("a different image shape is accepted when asked for", async () => {
    const ds = await loadIdxPair(images(2, 4, 5), labels([0, 1]), NAMES, { imageShape: [4, 5] });
    expect(ds.width).toBe(20);
  });

  it("corrupt gzip: the injected gunzip's reason is kept, the file is named", async () => {
    const gunzip = async (): Promise<Uint8Array> => {
      throw new Error("invalid block type");
    };
    const error = await loadIdxPair(gzipSync(images(1)), labels([1]), NAMES, { gunzip }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DataError);
    expect((error as Error).message).toBe("train-images-idx3-ubyte.gz: corrupt gzip data (invalid block type)");
  });

  for (const [what, corrupt] of [
    ["flipped byte", (gz: Uint8Array) => { const c = Uint8Array.from(gz); c[20] ^= 0xff; return c; }],
    ["cut short", (gz: Uint8Array) => gz.subarray(0, gz.length - 10)],
    ["bad CRC", (gz: Uint8Array) => { const c = Uint8Array.from(gz); c[c.length - 6] ^= 1; return c; }],
  ] as const) {
    it(`corrupt gzip (${what}) is a DataError with both gunzips`, async () => {
      const bad = corrupt(gzipSync(labels([1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3])));
      for (const gunzip of [browserGunzip, nodeGunzip]) {
        const error = await maybeGunzip(bad, "t10k-labels-idx1-ubyte.gz", gunzip).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(DataError);
        expect((error as Error).message).toMatch(/^t10k-labels-idx1-ubyte\.gz: corrupt gzip data \(.+\)$/);
      }
    });
  }
});
