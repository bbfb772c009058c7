/**
 * @fileoverview Gzip detection and a portable gunzip built on DecompressionStream (present in
 * browsers and Node >= 18); Node adapters may inject node:zlib instead.
 */
import { DataError } from "./errors.js";

/**
 * Decompresses a gzip stream; rejects on corrupt or truncated input. With `maxBytes` it
 * stops once that much output exists and returns exactly `maxBytes` bytes (the caller
 * decides whether more was too much), so a small file cannot inflate without bound.
 */
export type Gunzip = (bytes: Uint8Array, maxBytes?: number) => Promise<Uint8Array>;

/** True when the bytes start with the gzip magic 1f 8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Gunzip through the web-standard DecompressionStream (no Node imports). */
export async function browserGunzip(bytes: Uint8Array, maxBytes = Infinity): Promise<Uint8Array> {
  if (typeof DecompressionStream === "undefined") {
    throw new Error("DecompressionStream is not available here; pass a gunzip function");
  }
  const stream = new DecompressionStream("gzip");
  const writer = stream.writable.getWriter();
  // Errors surface on the readable side; swallow the writer's copies to avoid unhandled rejections.
  writer.write(bytes as Uint8Array<ArrayBuffer>).catch(() => undefined);
  writer.close().catch(() => undefined);
  const reader = stream.readable.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    total += value.length;
    if (total >= maxBytes) {
      await reader.cancel().catch(() => undefined);
      return concat(chunks, maxBytes);
    }
  }
  return concat(chunks, total);
}

/** The first `length` bytes of `chunks` in one array. */
export function concat(chunks: readonly Uint8Array[], length: number): Uint8Array {
  const out = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    if (offset >= length) break;
    const part = chunk.length <= length - offset ? chunk : chunk.subarray(0, length - offset);
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/**
 * Returns the bytes, gunzipped first when they start 1f 8b (at most `maxBytes` of output,
 * see `Gunzip`); failures become a DataError.
 */
export async function maybeGunzip(bytes: Uint8Array, fileLabel: string, gunzip: Gunzip = browserGunzip, maxBytes?: number): Promise<Uint8Array> {
  if (!isGzip(bytes)) return bytes;
  try {
    return await gunzip(bytes, maxBytes);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new DataError(fileLabel, `corrupt gzip data (${reason})`);
  }
}
