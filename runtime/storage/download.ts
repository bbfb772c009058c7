/**
 * @fileoverview `download://NAME`: offers the checkpoint to the user as a file download
 * (NAME.safetensors) from a page; save only.
 */
import { StorageError } from "./errors.js";

/** The file name a download gets: NAME, with `.safetensors` added unless present. */
export const downloadFileName = (name: string): string => (name.endsWith(".safetensors") ? name : `${name}.safetensors`);

export function offerDownload(url: string, name: string, bytes: Uint8Array): void {
  const doc = (globalThis as { document?: Document }).document;
  if (!doc?.body || typeof URL.createObjectURL !== "function") {
    throw new StorageError(url, "download:// needs a page (a browser document); in a worker or Node, save to indexeddb:// or a file");
  }
  const blobUrl = URL.createObjectURL(new Blob([bytes as BlobPart], { type: "application/octet-stream" }));
  const link = doc.createElement("a");
  link.href = blobUrl;
  link.download = downloadFileName(name);
  link.style.display = "none";
  doc.body.appendChild(link);
  try {
    link.click();
  } finally {
    link.remove();
    // The browser reads the blob after click() returns; revoke once it has had the chance.
    setTimeout(() => URL.revokeObjectURL(blobUrl), 60_000);
  }
}
