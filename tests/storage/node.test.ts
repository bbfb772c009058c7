/**
 * @fileoverview saveModel / loadWeights in Node (plain paths, file:// URLs) through the Node
 * entry of condc/runtime: round trips, atomic writes, the full mismatch report for weights of
 * another shape, named errors for missing / truncated / corrupt files and for bad arguments,
 * and the model's weights unchanged after every failed load. The record check (IndexedDB's
 * truncated and corrupt records) is tested here directly and in Chromium (tests/browser/storage).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile } from "../../compiler/index.js";
import { CheckpointError, loadModel, loadWeights, saveModel, StorageError, type Model } from "../../runtime/node/runtime.js";
import { crc32 } from "../../runtime/storage/crc32.js";
import { checkRecord, makeRecord } from "../../runtime/storage/record.js";
import { parseStorageUrl } from "../../runtime/storage/storage.js";

const source = (hidden: number): string => `model Store {
  input  x: f32[8]
  target y: class[3]
  layer h   = dense(x, ${hidden}) relu
  layer out = dense(h, 3)
  loss = softmax_cross_entropy(out, y)
}`;

const builds = new Map<number, Awaited<ReturnType<typeof compile>>>();

async function build(hidden: number, seed: number): Promise<Model> {
  if (!builds.has(hidden)) builds.set(hidden, await compile(source(hidden), { file: `store${hidden}.cond`, maxBatch: 4, simd: "plain" }));
  const compiled = builds.get(hidden)!;
  if (!compiled.ok) throw new Error("did not compile");
  const model = await loadModel(compiled.wasm, compiled.manifest);
  model.init(seed);
  return model;
}

const X = Float32Array.from({ length: 16 }, (_, i) => Math.cos(i));
const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(Buffer.from(b));

let tmp = "";
beforeAll(() => void (tmp = mkdtempSync(join(tmpdir(), "condc-storage-"))));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (e) {
    return e as Error;
  }
  throw new Error("resolved without error");
}

describe("files", () => {
  it("saves atomically and loads back bit-identical weights (plain path and file:// URL)", async () => {
    const a = await build(6, 1);
    a.trainStep(X, Uint8Array.of(0, 1, 2, 1), 2);
    const path = join(tmp, "a.safetensors");
    const saved = await saveModel(a, path);
    expect(saved).toMatchObject({ url: path, model: "Store", sourceHash: a.manifest.sourceHash, step: 1 });
    expect(same(new Uint8Array(readFileSync(path)), a.save())).toBe(true);
    expect(readdirSync(tmp)).toEqual(["a.safetensors"]);

    for (const url of [path, pathToFileURL(path).href]) {
      const b = await build(6, 2);
      const loaded = await loadWeights(b, url);
      expect(loaded).toMatchObject({ url, model: "Store", sourceHash: a.manifest.sourceHash, step: 1, sameSource: true, byteLength: saved.byteLength });
      expect(same(b.save(), a.save())).toBe(true);
      expect(Array.from(b.predict(X, 2))).toEqual(Array.from(a.predict(X, 2)));
    }
  });

  it("weights of another shape: the full mismatch report, and the model keeps its weights", async () => {
    const wide = await build(7, 3);
    const path = join(tmp, "wide.safetensors");
    await saveModel(wide, path);
    const narrow = await build(6, 4);
    const before = narrow.save();
    const error = await rejection(loadWeights(narrow, path));
    expect(error).toBeInstanceOf(CheckpointError);
    expect(error.message).toBe(
      [`${path}: does not match the model (3 mismatches):`, "  h.weight: expected [6, 8], found [7, 8]", "  h.bias: expected [6], found [7]", "  out.weight: expected [3, 6], found [3, 7]"].join("\n"),
    );
    expect(same(narrow.save(), before)).toBe(true);
  });

  it("a truncated or missing file: a named error, weights unchanged", async () => {
    const model = await build(6, 5);
    const path = join(tmp, "t.safetensors");
    await saveModel(model, path);
    const bytes = readFileSync(path);
    writeFileSync(path, bytes.subarray(0, bytes.length - 10));
    const other = await build(6, 6);
    const before = other.save();
    const truncated = await rejection(loadWeights(other, path));
    expect(truncated).toBeInstanceOf(CheckpointError);
    expect(truncated.message).toBe(`${path}: out.weight: data_offsets [228, 300] go beyond the data section (290 bytes)`);
    const missing = await rejection(loadWeights(other, join(tmp, "none.safetensors")));
    expect(missing.message).toBe(`cannot read weights ${join(tmp, "none.safetensors")}: no such file or directory`);
    expect(same(other.save(), before)).toBe(true);
  });

  it("a failed write names the user's path, not a temp file, and leaves nothing behind", async () => {
    const model = await build(6, 7);
    const url = join(tmp, "no-such-dir", "m.safetensors");
    const error = await rejection(saveModel(model, url));
    expect(error).toBeInstanceOf(StorageError);
    expect(error.message).toBe(`${url}: cannot write: its directory does not exist`);
    const onDir = await rejection(saveModel(model, tmp));
    expect(onDir.message).toMatch(new RegExp(`^${tmp.replace(/[.]/g, "\\.")}: cannot write: `));
    expect(readdirSync(tmp).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });
});

describe("arguments", () => {
  it("TypeErrors name the function and the argument", async () => {
    const model = await build(6, 8);
    const before = model.save();
    expect((await rejection(saveModel(model, "localstorage://x"))).message).toBe(
      'saveModel: unknown storage scheme "localstorage://" in "localstorage://x" (indexeddb://, download://, http(s):// or a file path)',
    );
    expect(await rejection(saveModel(model, ""))).toBeInstanceOf(TypeError);
    expect((await rejection(saveModel(model, 42 as unknown as string))).message).toBe("saveModel: url must be a non-empty string, got number");
    expect((await rejection(saveModel({} as Model, "x"))).message).toBe("saveModel: model must be a Model from loadModel, got object");
    expect((await rejection(loadWeights(model, "indexeddb://"))).message).toBe('loadWeights: url "indexeddb://" has no name after indexeddb://');
    expect((await rejection(loadWeights(model, "download://m"))).message).toBe(
      'loadWeights: cannot load from download:// ("download://m"); a download is save-only (load the file\'s bytes with model.load)',
    );
    expect((await rejection(saveModel(model, "https://example.com/m.safetensors"))).message).toBe(
      'saveModel: cannot save to an http(s) URL ("https://example.com/m.safetensors"); it is for loading',
    );
    expect(same(model.save(), before)).toBe(true);
  });

  it("indexeddb:// and download:// in Node say what they need", async () => {
    const model = await build(6, 9);
    const idb = await rejection(saveModel(model, "indexeddb://m"));
    expect(idb).toBeInstanceOf(StorageError);
    expect(idb.message).toBe("indexeddb://m: IndexedDB is not available here (indexeddb:// works in browsers and their workers)");
    expect((await rejection(saveModel(model, "download://m"))).message).toBe(
      "download://m: download:// needs a page (a browser document); in a worker or Node, save to indexeddb:// or a file",
    );
  });

  it("parses URLs by scheme, case-insensitively; Windows-style paths are paths", () => {
    expect(parseStorageUrl("IndexedDB://My Model", "f")).toEqual({ scheme: "indexeddb", name: "My Model", url: "IndexedDB://My Model" });
    expect(parseStorageUrl("C:\\models\\m.safetensors", "f").scheme).toBe("file");
    expect(parseStorageUrl("https://x/y", "f")).toEqual({ scheme: "http", name: "https://x/y", url: "https://x/y" });
  });
});

describe("stored records", () => {
  const bytes = Uint8Array.from({ length: 100 }, (_, i) => (i * 37) & 0xff);
  const info = { model: "M", sourceHash: "ab", step: 3 };

  it("CRC-32 is the IEEE one", () => {
    expect(crc32(new TextEncoder().encode("123456789"))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
  });

  it("accepts an intact record and names each kind of damage", () => {
    const record = makeRecord("m", bytes, info);
    expect(Array.from(checkRecord("indexeddb://m", record))).toEqual(Array.from(bytes));
    const fail = (value: unknown): string => {
      try {
        checkRecord("indexeddb://m", value);
      } catch (e) {
        expect(e).toBeInstanceOf(StorageError);
        return (e as Error).message;
      }
      throw new Error("accepted");
    };
    expect(fail({ ...record, bytes: record.bytes.slice(0, 60) })).toBe("indexeddb://m: truncated record: 60 bytes stored, the record says 100");
    const flipped = record.bytes.slice(0);
    new Uint8Array(flipped)[50]! ^= 1;
    expect(fail({ ...record, bytes: flipped })).toMatch(/^indexeddb:\/\/m: corrupt record: CRC-32 of the stored bytes is 0x[0-9a-f]{8}, the record says 0x[0-9a-f]{8}$/);
    expect(fail("junk")).toBe("indexeddb://m: corrupt record: not an object (string)");
    expect(fail({ ...record, format: "tfjs" })).toBe('indexeddb://m: not a condc weights record (format "tfjs", expected "condc-weights")');
    expect(fail({ ...record, version: 2 })).toBe("indexeddb://m: record version 2; this runtime reads version 1");
    expect(fail({ ...record, bytes: undefined })).toBe("indexeddb://m: corrupt record: the weights' bytes are missing");
  });
});
