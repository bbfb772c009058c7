/**
 * @fileoverview The test page's module, served as /tests/browser/page.js next to the runtime's
 * modules at /runtime/** (the repository's layout, so these imports resolve in both); the build
 * is at /model/*. Results cross the CDP boundary as base64 so bytes compare exactly.
 */
import { loadModel, pickWasm } from "../../runtime/index.js";
import { runCase } from "./case.js";

async function fetchBytes(url: string): Promise<Uint8Array> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`GET ${url}: ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

function base64(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(text);
}

export async function runInPage(variant: "plain" | "relaxed") {
  const response = await fetch("/model/manifest.json");
  if (!response.ok) throw new Error(`GET /model/manifest.json: ${response.status}`);
  const manifest = await response.json();
  const plain = await fetchBytes("/model/plain.wasm");
  const relaxed = await fetchBytes("/model/relaxed.wasm");
  const picked: string = pickWasm(plain, relaxed).simd;
  const result = await runCase(loadModel, variant === "plain" ? plain : relaxed, manifest);
  return {
    userAgent: navigator.userAgent,
    picked,
    validates: result.validates as boolean,
    inputsSha: result.inputsSha as string,
    loss: result.loss as number,
    saveSha: result.saveSha as string,
    before: base64(result.before),
    after: base64(result.after),
    reloaded: base64(result.reloaded),
    save: base64(result.save),
  };
}
