/**
 * @fileoverview The storage test's page module (served as /tests/browser/storage-page.js):
 * saveModel / loadWeights against the page's IndexedDB, download:// and http(s), and records
 * damaged through the IndexedDB API directly. Bytes cross the CDP boundary as base64.
 */
import * as runtime from "../../runtime/index.js";

type Model = runtime.Model;

const X = Float32Array.from({ length: 16 }, (_, i) => Math.cos(i));

async function model(name: "narrow" | "wide", seed: number): Promise<Model> {
  const manifest = await (await fetch(`/model/${name}/manifest.json`)).json();
  const wasm = new Uint8Array(await (await fetch(`/model/${name}/plain.wasm`)).arrayBuffer());
  const m = await runtime.loadModel(wasm, manifest);
  m.init(seed);
  return m;
}

function base64(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

const same = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((v, i) => v === b[i]);

/** The error a promise rejects with, as plain data. */
async function caught(promise: Promise<unknown>): Promise<{ name: string; message: string; isCheckpointError: boolean } | null> {
  try {
    await promise;
    return null;
  } catch (e) {
    const error = e as Error;
    return { name: error.name, message: error.message, isCheckpointError: error instanceof runtime.CheckpointError };
  }
}

export async function roundTrip() {
  const a = await model("narrow", 1);
  a.trainStep(X, Uint8Array.of(0, 1, 2, 1), 2);
  const saved = await runtime.saveModel(a, "indexeddb://trained");
  const b = await model("narrow", 2);
  const differedBefore = !same(b.save(), a.save());
  const loaded = await runtime.loadWeights(b, "indexeddb://trained");
  return {
    saved,
    loaded,
    differedBefore,
    identical: same(b.save(), a.save()),
    samePredictions: same(new Uint8Array(b.predict(X, 2).buffer), new Uint8Array(a.predict(X, 2).buffer)),
  };
}

function idb<T>(body: (store: IDBObjectStore) => IDBRequest<T>, mode: IDBTransactionMode = "readonly"): Promise<T> {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open("condc", 1);
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const tx = open.result.transaction("weights", mode);
      const request = body(tx.objectStore("weights"));
      tx.oncomplete = () => {
        open.result.close();
        resolve(request.result);
      };
      tx.onabort = () => reject(tx.error);
    };
  });
}

export type Damage = "flip" | "truncate" | "format" | "junk" | "no-bytes" | "bad-checkpoint";

/** Stores a damaged copy of "trained" as "damaged", then loads it into a fresh model. */
export async function loadDamaged(damage: Damage) {
  const record = (await idb((store) => store.get("trained"))) as Record<string, unknown> & { bytes: ArrayBuffer };
  let value: unknown;
  switch (damage) {
    case "flip": {
      const bytes = record.bytes.slice(0);
      new Uint8Array(bytes)[bytes.byteLength - 5]! ^= 0x40;
      value = { ...record, bytes };
      break;
    }
    case "truncate":
      value = { ...record, bytes: record.bytes.slice(0, record.bytes.byteLength - 64) };
      break;
    case "format":
      value = { ...record, format: "tensorflowjs" };
      break;
    case "junk":
      value = "not a record";
      break;
    case "no-bytes":
      value = { ...record, bytes: null };
      break;
    case "bad-checkpoint": {
      // Consistent length and CRC over bytes that are not a checkpoint: the decoder names it.
      const bytes = new Uint8Array(record.bytes.byteLength).fill(7);
      const { crc32 } = await import("../../runtime/storage/crc32.js");
      value = { ...record, bytes: bytes.buffer, crc32: crc32(bytes) };
      break;
    }
  }
  await idb((store) => store.put(value, "damaged"), "readwrite");
  const c = await model("narrow", 3);
  const before = c.save();
  const error = await caught(runtime.loadWeights(c, "indexeddb://damaged"));
  return { error, unchanged: same(c.save(), before) };
}

export async function otherShape() {
  await runtime.saveModel(await model("wide", 4), "indexeddb://wide");
  const narrow = await model("narrow", 5);
  const before = narrow.save();
  const error = await caught(runtime.loadWeights(narrow, "indexeddb://wide"));
  return { error, unchanged: same(narrow.save(), before) };
}

export async function missing() {
  return caught(runtime.loadWeights(await model("narrow", 1), "indexeddb://never-saved"));
}

export async function listAndRemove() {
  const before = await runtime.listSavedModels();
  await runtime.removeSavedModel("indexeddb://wide");
  const after = await runtime.listSavedModels();
  return { before, after };
}

/** Saves seed 6's weights as a download; returns the bytes it should hold. */
export async function download(name: string) {
  const m = await model("narrow", 6);
  const info = await runtime.saveModel(m, `download://${name}`);
  return { info, bytes: base64(m.save()) };
}

/** Loads weights served over http into a fresh model; returns its checkpoint. */
export async function fromHttp(path: string) {
  const m = await model("narrow", 7);
  const before = m.save();
  const error = await caught(runtime.loadWeights(m, new URL(path, location.href).href));
  return { error, bytes: base64(m.save()), unchanged: same(m.save(), before) };
}

export async function filePathInBrowser() {
  return caught(runtime.saveModel(await model("narrow", 1), "models/m.safetensors"));
}
