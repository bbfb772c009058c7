#!/usr/bin/env node
// 2 threads against 1 for this checkout and another build of condc (e.g. a copy of the
// previous commit's dist in /tmp/old), interleaved in one process: the MLP 784-1000-1000-10
// (bench/models/mlp.cond) training step and predict at batch 128, plain and relaxed SIMD, and
// any model files given with --model FILE[:WEIGHTS] (predict of its test set's first 128). Medians of --reps
// rounds, each variant a calibrated loop of >= --min-ms; the parallel capacity
// (bench/capacity.mjs) before and after. Usage:
//   node bench/compare-threads.mjs /tmp/old [--reps 11] [--min-ms 40] [--mlp plain,relaxed | --no-mlp]
//     [--model examples/x.cond:w.safetensors]...
import v8 from "node:v8";
v8.setFlagsFromString("--experimental-wasm-relaxed-simd");
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { loadavg } from "node:os";

const root = new URL("..", import.meta.url).pathname;
const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const other = resolve(args[0] && !args[0].startsWith("--") ? args[0] : "/tmp/old");
const reps = Number(opt("reps", 11));
const minMs = Number(opt("min-ms", 40));
const models = args.flatMap((a, i) => (args[i - 1] === "--model" ? [a] : []));
const { parallelCapacity } = await import(join(root, "bench/capacity.mjs"));

const load = async (dir) => ({
  compiler: await import(join(dir, "dist/compiler/index.js")),
  runtime: await import(join(dir, "dist/runtime/node/runtime.js")),
});
const builds = { old: await load(other), new: await load(root) };

const cases = [];
const mlp = readFileSync(join(root, "bench/models/mlp.cond"), "utf8");
const X = Float32Array.from({ length: 128 * 784 }, (_, i) => ((i * 7919) % 1000) / 1000);
const Y = Int32Array.from({ length: 128 }, (_, i) => i % 10);
const mlpFlavours = args.includes("--no-mlp") ? [] : opt("mlp", "plain,relaxed").split(",");
for (const simd of mlpFlavours) {
  cases.push({ name: `MLP train step 128 (${simd})`, text: mlp, simd, weights: null, x: X, call: (m) => m.trainStep(X, Y, 128, { lr: 1e-6 }) });
  cases.push({ name: `MLP predict 128 (${simd})`, text: mlp, simd, weights: null, x: X, call: (m) => m.predict(X, 128) });
}
const { loadData } = await import(join(root, "dist/cli/session.js"));
for (const spec of models) {
  const [file, weights] = spec.split(":");
  // The first 128 test examples of the model's data set (as condc bench).
  const built = await builds.new.compiler.compile(readFileSync(file, "utf8"), { file });
  const data = await loadData(built.ir.train.data, built.manifest.input.width, built.manifest.classes);
  const x = data.test.images.slice(0, 128 * built.manifest.input.width);
  cases.push({ name: `${file} predict 128`, text: readFileSync(file, "utf8"), simd: "relaxed", weights, x, call: (m) => m.predict(x, 128) });
}

const median = (a) => [...a].sort((p, q) => p - q)[a.length >> 1];
function time(fn) {
  let inner = 1;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < inner; i++) fn();
    const dt = performance.now() - t0;
    if (dt >= minMs) return dt / inner;
    inner = Math.max(inner * 2, Math.ceil((inner * minMs) / Math.max(dt, 0.01)));
  }
}

const before = await parallelCapacity();
const load0 = loadavg()[0];
const rows = [];
for (const c of cases) {
  const variants = [];
  for (const [name, b] of Object.entries(builds)) {
    const built = await b.compiler.compile(c.text, { maxBatch: 128, simd: "both" });
    if (!built.ok) throw new Error(`${c.name}: does not compile with the ${name} build`);
    const wasm = c.simd === "plain" ? built.wasm : built.relaxedWasm;
    for (const threads of [1, 2]) {
      const model = await b.runtime.loadModel(wasm, built.manifest, { threads });
      if (c.weights) await model.load(readFileSync(c.weights), c.weights);
      else model.init(1);
      for (let i = 0; i < 20; i++) c.call(model);
      variants.push({ build: name, threads, model, samples: [] });
    }
  }
  for (let r = 0; r < reps; r++) for (const v of variants) v.samples.push(time(() => c.call(v.model)));
  const ms = (b, t) => median(variants.find((v) => v.build === b && v.threads === t).samples);
  // Paired: the ratio within each round, then the median (drifts hit both counts of a round alike).
  const paired = (b) => {
    const one = variants.find((v) => v.build === b && v.threads === 1).samples;
    const two = variants.find((v) => v.build === b && v.threads === 2).samples;
    return median(one.map((s, i) => s / two[i]));
  };
  rows.push({ case: c.name, "old 1t ms": ms("old", 1).toFixed(3), "old 2t ms": ms("old", 2).toFixed(3), "old 2 vs 1": paired("old").toFixed(2) + "x", "new 1t ms": ms("new", 1).toFixed(3), "new 2t ms": ms("new", 2).toFixed(3), "new 2 vs 1": paired("new").toFixed(2) + "x" });
  for (const v of variants) v.model.dispose();
}
const after = await parallelCapacity();
console.log(`old: ${other}, new: ${root}; capacity ${before.toFixed(2)}x before, ${after.toFixed(2)}x after; load ${load0.toFixed(2)} before, ${loadavg()[0].toFixed(2)} after; medians of ${reps} rounds, >= ${minMs} ms each`);
console.table(rows);
