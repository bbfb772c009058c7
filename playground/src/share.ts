/**
 * @fileoverview The model in the URL: `#code=` followed by the source, deflated (raw DEFLATE)
 * and base64url-encoded, so that a link reproduces the model. Decoding inflates at most
 * MAX_SOURCE_BYTES (a link cannot make the page inflate without bound) and names the problem.
 */
import { MAX_SOURCE_CHARS } from "../../compiler/frontend/language-spec.js";

const PREFIX = "#code=";
/** UTF-8 bytes of the largest source the compiler reads. */
const MAX_SOURCE_BYTES = 4 * MAX_SOURCE_CHARS;

async function pipe(bytes: Uint8Array, transform: CompressionStream | DecompressionStream, limit: number): Promise<Uint8Array> {
  const writer = transform.writable.getWriter();
  writer.write(bytes as Uint8Array<ArrayBuffer>).catch(() => undefined);
  writer.close().catch(() => undefined);
  const reader = transform.readable.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > limit) {
      await reader.cancel().catch(() => undefined);
      throw new Error(`it inflates to more than ${limit} bytes`);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) (out.set(c, at), (at += c.length));
  return out;
}

function toBase64Url(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64Url(text: string): Uint8Array {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) throw new Error("it is not base64url text");
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (text.length % 4)) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

/** The URL fragment (with its `#`) holding `source`. */
export async function encodeSourceHash(source: string): Promise<string> {
  const deflated = await pipe(new TextEncoder().encode(source), new CompressionStream("deflate-raw"), Infinity);
  return PREFIX + toBase64Url(deflated);
}

/** The source in a fragment, null when the fragment holds none; throws an Error saying what is wrong. */
export async function decodeSourceHash(hash: string): Promise<string | null> {
  if (!hash.startsWith(PREFIX)) return null;
  let bytes: Uint8Array;
  try {
    bytes = await pipe(fromBase64Url(hash.slice(PREFIX.length)), new DecompressionStream("deflate-raw"), MAX_SOURCE_BYTES);
  } catch (error) {
    throw new Error(`the link's model could not be read: ${(error as Error).message}`);
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new Error("the link's model could not be read: it is not UTF-8 text");
  }
}
