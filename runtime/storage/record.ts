/**
 * @fileoverview The record a model's weights are kept in (IndexedDB): the checkpoint's
 * safetensors bytes with the model's name, the manifest's source hash, the step, its length
 * and a CRC-32, so a truncated or corrupt record is named as such before anything is loaded.
 */
import { crc32 } from "./crc32.js";
import { StorageError } from "./errors.js";

export const RECORD_FORMAT = "condc-weights";
export const RECORD_VERSION = 1;

export interface WeightsRecord {
  format: typeof RECORD_FORMAT;
  version: number;
  name: string;
  model: string;
  /** The manifest's `sourceHash` (SHA-256 of the model file) when saved. */
  sourceHash: string;
  step: number;
  savedAt: string;
  byteLength: number;
  crc32: number;
  /** The checkpoint: safetensors, as `Model.save()` returns it. */
  bytes: ArrayBuffer;
}

/** What a save stored or a load read, besides the weights themselves. */
export interface StoredModelInfo {
  url: string;
  model: string;
  sourceHash: string;
  step: number;
  byteLength: number;
}

export function makeRecord(name: string, bytes: Uint8Array, info: Omit<StoredModelInfo, "url" | "byteLength">): WeightsRecord {
  const copy = bytes.slice().buffer;
  return {
    format: RECORD_FORMAT,
    version: RECORD_VERSION,
    name,
    model: info.model,
    sourceHash: info.sourceHash,
    step: info.step,
    savedAt: new Date().toISOString(),
    byteLength: copy.byteLength,
    crc32: crc32(bytes),
    bytes: copy,
  };
}

/** Checks a record read back; returns the checkpoint bytes or throws a StorageError naming the URL. */
export function checkRecord(url: string, value: unknown): Uint8Array {
  const fail = (problem: string): never => {
    throw new StorageError(url, problem);
  };
  if (typeof value !== "object" || value === null) fail(`corrupt record: not an object (${value === null ? "null" : typeof value})`);
  const r = value as Partial<WeightsRecord>;
  if (r.format !== RECORD_FORMAT) fail(`not a condc weights record (format ${JSON.stringify(r.format)}, expected "${RECORD_FORMAT}")`);
  if (r.version !== RECORD_VERSION) fail(`record version ${JSON.stringify(r.version)}; this runtime reads version ${RECORD_VERSION}`);
  if (!(r.bytes instanceof ArrayBuffer)) fail("corrupt record: the weights' bytes are missing");
  if (!Number.isSafeInteger(r.byteLength) || typeof r.crc32 !== "number") fail("corrupt record: byteLength or crc32 missing");
  const bytes = new Uint8Array(r.bytes as ArrayBuffer);
  if (bytes.length !== r.byteLength) fail(`truncated record: ${bytes.length} bytes stored, the record says ${r.byteLength}`);
  const sum = crc32(bytes);
  if (sum !== r.crc32) fail(`corrupt record: CRC-32 of the stored bytes is ${hex(sum)}, the record says ${hex(r.crc32 as number)}`);
  return bytes;
}

const hex = (n: number): string => `0x${(n >>> 0).toString(16).padStart(8, "0")}`;
