/**
 * @fileoverview The Node app of tests/package: compile, load, save and reload weights, and a
 * worker, all from the installed tarball (`condc`, `condc/runtime`, `condc/worker`).
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { compile, type CompileResult } from "condc";
import { loadModel, loadWeights, saveModel, type Manifest, type Model } from "condc/runtime";
import { loadModelInWorker, type WorkerModel } from "condc/worker";

const SOURCE = readFileSync("model.cond", "utf8");

const result: CompileResult = await compile(SOURCE, { file: "app.cond", maxBatch: 4, simd: "plain" });
if (!result.ok) throw new Error("did not compile");
const manifest: Manifest = result.manifest;
// The build the browser app serves.
mkdirSync("public/model", { recursive: true });
writeFileSync("public/model/plain.wasm", result.wasm);
writeFileSync("public/model/manifest.json", JSON.stringify(manifest));
const model: Model = await loadModel(result.wasm, manifest);
model.init(3);
const x = Float32Array.from([0.1, 0.2, 0.3, 0.4, 1, 0, 1, 0]);
const probs: Float32Array = model.predict(x, 2);
const saved = await saveModel(model, "weights.safetensors");
const other = await loadModel(result.wasm, manifest);
other.init(4);
const loaded = await loadWeights(other, "weights.safetensors");
const worker: WorkerModel = await loadModelInWorker(result.wasm, manifest);
await worker.load(model.save(), "copy");
const fromWorker: Float32Array = await worker.predict(x, 2);
worker.dispose();
console.log(JSON.stringify({
  probs: Array.from(probs),
  reloaded: Array.from(other.predict(x, 2)),
  fromWorker: Array.from(fromWorker),
  saved: saved.byteLength,
  sameSource: loaded.sameSource,
}));
