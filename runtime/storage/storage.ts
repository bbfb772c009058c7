/**
 * @fileoverview `saveModel(model, url)` and `loadWeights(model, url)`: a model's weights kept in
 * IndexedDB (`indexeddb://NAME`), offered as a download (`download://NAME`), fetched
 * (`http(s)://`, load only) or, in Node, in a file (a plain path or `file://`, written
 * atomically). A failed load leaves the model's weights as they were.
 */
import type { DecodeOptions } from "../checkpoint/safetensors.js";
import type { Manifest } from "../manifest.js";
import { offerDownload } from "./download.js";
import { StorageError } from "./errors.js";
import { deleteRecord, getRecord, listRecordNames, putRecord } from "./indexeddb.js";
import { checkRecord, makeRecord, type StoredModelInfo } from "./record.js";

export type StorageScheme = "indexeddb" | "download" | "http" | "file";

/** A parsed storage URL: where (scheme) and which (name: a record name, a URL or a path). */
export interface StorageLocation {
  scheme: StorageScheme;
  name: string;
  url: string;
}

/** Reads and writes checkpoint bytes at one kind of location. */
export interface StorageBackend {
  save?(location: StorageLocation, bytes: Uint8Array, info: Omit<StoredModelInfo, "url" | "byteLength">): Promise<void>;
  load?(location: StorageLocation): Promise<Uint8Array>;
}

/** Until the Node entry installs file access: browsers (and this module imported directly). */
const fileBackendMissing: StorageBackend = {
  save: (location) => Promise.reject(new TypeError(`saveModel: url "${location.url}" is a file path; files need Node's entry of condc/runtime (in a browser use indexeddb://NAME or download://NAME)`)),
  load: (location) => Promise.reject(new TypeError(`loadWeights: url "${location.url}" is a file path; files need Node's entry of condc/runtime (in a browser use indexeddb://NAME or an http(s) URL)`)),
};

const BACKENDS: Record<StorageScheme, StorageBackend> = {
  indexeddb: {
    save: (location, bytes, info) => putRecord(location.url, location.name, makeRecord(location.name, bytes, info)),
    load: async (location) => checkRecord(location.url, await getRecord(location.url, location.name)),
  },
  download: {
    save: async (location, bytes) => offerDownload(location.url, location.name, bytes),
  },
  http: {
    load: async (location) => {
      let response: Response;
      try {
        response = await fetch(location.url);
      } catch (error) {
        throw new StorageError(location.url, `fetch failed: ${(error as Error).message}`);
      }
      if (!response.ok) throw new StorageError(location.url, `HTTP ${response.status} ${response.statusText}`.trimEnd());
      return new Uint8Array(await response.arrayBuffer());
    },
  },
  file: fileBackendMissing,
};

/** Installs the Node file backend (done by the Node entry of `condc/runtime`). */
export function setFileStorage(backend: StorageBackend): void {
  BACKENDS.file = backend;
}

const SCHEMES: ReadonlyArray<[string, StorageScheme]> = [
  ["indexeddb://", "indexeddb"],
  ["download://", "download"],
  ["http://", "http"],
  ["https://", "http"],
  ["file://", "file"],
];

/** Parses a storage URL; TypeError naming `what` for anything else. */
export function parseStorageUrl(url: unknown, what: string): StorageLocation {
  if (typeof url !== "string" || url === "") throw new TypeError(`${what}: url must be a non-empty string, got ${url === "" ? '""' : typeof url}`);
  for (const [prefix, scheme] of SCHEMES) {
    if (!url.toLowerCase().startsWith(prefix)) continue;
    const name = scheme === "indexeddb" || scheme === "download" ? url.slice(prefix.length) : url;
    if (name === "") throw new TypeError(`${what}: url "${url}" has no name after ${prefix}`);
    return { scheme, name, url };
  }
  const other = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url);
  if (other) throw new TypeError(`${what}: unknown storage scheme "${other[1]}://" in "${url}" (indexeddb://, download://, http(s):// or a file path)`);
  return { scheme: "file", name: url, url };
}

/**
 * What holds weights: a Model from `loadModel` on either back end (a GPU model's `save` and
 * `load` return promises), or a `condc/worker` handle (promises too; `step` is then the step as
 * of its last finished call).
 */
export interface WeightsHolder {
  readonly manifest: Manifest;
  readonly step: number;
  save(): Uint8Array | Promise<Uint8Array>;
  load(bytes: Uint8Array, fileLabel?: string, options?: DecodeOptions): void | Promise<void>;
}

function checkModel(model: unknown, what: string): WeightsHolder {
  const m = model as Partial<WeightsHolder> | null;
  if (typeof m !== "object" || m === null || typeof m.save !== "function" || typeof m.load !== "function" || typeof m.manifest !== "object") {
    throw new TypeError(`${what}: model must be a Model from loadModel, got ${m === null ? "null" : typeof m}`);
  }
  return m as WeightsHolder;
}

/** Saves the model's weights (its safetensors checkpoint) at `url`; a model on either back end or a worker handle. */
export async function saveModel(model: WeightsHolder, url: string): Promise<StoredModelInfo> {
  checkModel(model, "saveModel");
  const location = parseStorageUrl(url, "saveModel");
  const backend = BACKENDS[location.scheme];
  if (!backend.save) throw new TypeError(`saveModel: cannot save to ${location.scheme === "http" ? "an http(s) URL" : location.scheme + "://"} ("${url}"); it is for loading`);
  const bytes = await model.save();
  const info = { model: model.manifest.model, sourceHash: model.manifest.sourceHash, step: model.step };
  await backend.save(location, bytes, info);
  return { url, ...info, byteLength: bytes.length };
}

export interface LoadWeightsOptions extends DecodeOptions {}

export interface LoadedWeights extends StoredModelInfo {
  /** Whether the weights were saved from a model compiled from the same source text. */
  sameSource: boolean;
}

/**
 * Replaces the model's weights with those stored at `url` (see `saveModel`). Throws a
 * StorageError for a missing, truncated or corrupt record and the CheckpointError of
 * `Model.load` (every mismatch listed) for weights of another shape; either way the model
 * keeps the weights it had.
 */
export async function loadWeights(model: WeightsHolder, url: string, options: LoadWeightsOptions = {}): Promise<LoadedWeights> {
  checkModel(model, "loadWeights");
  const location = parseStorageUrl(url, "loadWeights");
  const backend = BACKENDS[location.scheme];
  if (!backend.load) throw new TypeError(`loadWeights: cannot load from ${location.scheme}:// ("${url}"); a download is save-only (load the file's bytes with model.load)`);
  const bytes = await backend.load(location);
  await model.load(bytes, url, options);
  const meta = readMetadata(bytes);
  return {
    url,
    model: meta["model"] ?? model.manifest.model,
    sourceHash: meta["source_sha256"] ?? "",
    step: model.step,
    byteLength: bytes.length,
    sameSource: meta["source_sha256"] === model.manifest.sourceHash,
  };
}

/** The names of the models saved in this origin's IndexedDB. */
export async function listSavedModels(): Promise<string[]> {
  return (await listRecordNames("indexeddb://")).map((name) => `indexeddb://${name}`);
}

/** Deletes a model saved at `indexeddb://NAME` (nothing happens if there is none). */
export async function removeSavedModel(url: string): Promise<void> {
  const location = parseStorageUrl(url, "removeSavedModel");
  if (location.scheme !== "indexeddb") throw new TypeError(`removeSavedModel: only indexeddb:// records can be removed, got "${url}"`);
  await deleteRecord(location.url, location.name);
}

/** The `__metadata__` of checkpoint bytes that `Model.load` has already accepted. */
function readMetadata(bytes: Uint8Array): Record<string, string> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + view.getUint32(0, true)))) as { __metadata__?: Record<string, string> };
  return header.__metadata__ ?? {};
}
