/**
 * @fileoverview The browser app of tests/package: bundled by esbuild from the installed tarball
 * (`condc/runtime`, `condc/worker`), run in headless Chromium; `window.runApp()` reports back.
 */
import { loadModel, loadWeights, pickWasm, saveModel, type Manifest } from "condc/runtime";
import { loadModelInWorker } from "condc/worker";

async function runApp(): Promise<Record<string, unknown>> {
  const manifest: Manifest = await (await fetch("/model/manifest.json")).json();
  const wasm = new Uint8Array(await (await fetch("/model/plain.wasm")).arrayBuffer());
  const { simd } = pickWasm(wasm, undefined);
  const model = await loadModel(wasm, manifest);
  model.init(3);
  const x = Float32Array.from([0.1, 0.2, 0.3, 0.4, 1, 0, 1, 0]);
  const probs = model.predict(x, 2);
  await saveModel(model, "indexeddb://app");
  const other = await loadModel(wasm, manifest);
  other.init(4);
  const loaded = await loadWeights(other, "indexeddb://app");
  // The worker script is the bundle's second entry, worker-browser.js beside app.js.
  const worker = await loadModelInWorker(wasm, manifest);
  await worker.load(model.save(), "copy");
  const fromWorker = await worker.predict(x, 2);
  worker.dispose();
  return { simd, probs: Array.from(probs), reloaded: Array.from(other.predict(x, 2)), fromWorker: Array.from(fromWorker), sameSource: loaded.sameSource };
}

(globalThis as unknown as { runApp: typeof runApp }).runApp = runApp;
