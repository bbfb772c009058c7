// The mixture of experts on 1 and 2 threads: examples/fashion-moe.cond (or --file), relaxed SIMD,
// a model per thread count loaded side by side, their samples interleaved in 15 rounds: train
// step and predict at batch 128, predict of one example in a loop (the pool polling); medians.
// Run node bench/capacity.mjs just before and after: a speedup needs the second core free.
// Build first (npm run build). --root DIR times another checkout's dist/ (e.g. an earlier commit).
// Usage: node bench/moe-threads.mjs [--file examples/fashion-moe.cond] [--root .]
import v8 from "node:v8";
v8.setFlagsFromString("--experimental-wasm-relaxed-simd");
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

const args = process.argv.slice(2);
const opt = (name, dflt) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : dflt; };
const root = resolve(opt("root", "."));
const file = opt("file", "examples/fashion-moe.cond");
const from = (path) => import(pathToFileURL(resolve(root, path)).href);
const { compile } = await from("dist/compiler/index.js");
const { loadModel } = await from("dist/runtime/node/runtime.js");

const BATCH = 128;
const WIDTH = 784;
const built = await compile(readFileSync(resolve(root, file), "utf8"), { file, maxBatch: BATCH, simd: "relaxed" });
if (!built.ok) throw new Error(built.diagnostics.map((d) => d.message).join("\n"));
const x = Float32Array.from({ length: BATCH * WIDTH }, (_, i) => ((i * 2654435761) % 1000) / 1000);
const y = Int32Array.from({ length: BATCH }, (_, i) => i % 10);
const one = x.subarray(0, WIDTH);
const counts = [1, 2];
const models = [];
for (const threads of counts) {
  const model = await loadModel(built.relaxedWasm, built.manifest, { threads });
  model.init(1);
  models.push(model);
}

const timed = (samples, f) => { const t0 = performance.now(); f(); samples.push(performance.now() - t0); };
const times = models.map(() => ({ train: [], predict: [], one: [] }));
for (let round = 0; round < 15; round++) {
  models.forEach((m, i) => {
    for (let s = 0; s < 3; s++) m.trainStep(x, y, BATCH);
    for (let s = 0; s < 5; s++) timed(times[i].train, () => m.trainStep(x, y, BATCH));
    for (let s = 0; s < 5; s++) timed(times[i].predict, () => m.predict(x, BATCH));
    for (let s = 0; s < 10; s++) m.predict(one, 1);
    for (let s = 0; s < 40; s++) timed(times[i].one, () => m.predict(one, 1));
  });
}
models.forEach((m) => m.dispose());

const median = (a) => [...a].sort((p, q) => p - q)[a.length >> 1];
const row = (name, key, unit, scale) => {
  const [a, b] = times.map((t) => median(t[key]) * scale);
  console.log(`${name.padEnd(26)} ${a.toFixed(3).padStart(9)} ${b.toFixed(3).padStart(9)} ${unit}   ${(a / b).toFixed(2)}x`);
};
console.log(`${file} (${root}), relaxed SIMD, medians of 75 (predict 1: 600) interleaved samples`);
console.log(`${"case".padEnd(26)} ${"1 thread".padStart(9)} ${"2 threads".padStart(9)}      2 vs 1`);
row("train step, batch 128", "train", "ms", 1);
row("predict, batch 128", "predict", "ms", 1);
row("predict, batch 1, a loop", "one", "µs", 1000);
