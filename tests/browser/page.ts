/**
 * @fileoverview The test page's module, served as /tests/browser/page.js next to the runtime's
 * modules at /runtime/** (the repository's layout, so these imports resolve in both); each
 * case's build is at /model/<case>/*. Results cross the CDP boundary as base64 so bytes
 * compare exactly.
 */
import * as runtime from "../../runtime/index.js";
import { treeCounters, treeLayers } from "../../runtime/index.js";
import { runCase, type Runtime } from "./case.js";

/** The runtime as runCase takes it: runtime/index.ts, plus the tree helpers it does not export. */
const RUNTIME: Runtime = { ...runtime, treeLayers, treeCounters };

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

/** Runs a case; `load` goes to loadModel (default: one thread). */
export async function runInPage(name: string, variant: "plain" | "relaxed", load?: runtime.LoadOptions) {
  const response = await fetch(`/model/${name}/manifest.json`);
  if (!response.ok) throw new Error(`GET /model/${name}/manifest.json: ${response.status}`);
  const manifest = await response.json();
  const plain = await fetchBytes(`/model/${name}/plain.wasm`);
  const relaxed = await fetchBytes(`/model/${name}/relaxed.wasm`);
  const picked: string = runtime.pickWasm(plain, relaxed).simd;
  const result = await runCase(RUNTIME, variant === "plain" ? plain : relaxed, manifest, load);
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
    checks: result.checks.map((c) => ({ what: c.what, bytes: base64(c.bytes) })),
    threads: result.threads,
    crossOriginIsolated: (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true,
  };
}
