#!/usr/bin/env node
// Where a model's predict goes on several threads: per call, the time outside the pool's joins
// (serial work on the calling thread), the joins (how many, and how long: the caller's own tiles
// and its wait for the others), for 1 and N threads. A diagnostic for docs/performance.md
// ("Threads"), not a benchmark of record. Usage (after npm run build):
//   node bench/thread-profile.mjs FILE WEIGHTS [--batch 128] [--threads 2] [--calls 400] [--train] [--plain]
// (WEIGHTS "" for init(0)).
import v8 from "node:v8";
v8.setFlagsFromString("--experimental-wasm-relaxed-simd");
import { readFileSync } from "node:fs";

const root = new URL("..", import.meta.url);
const { compile } = await import(new URL("dist/compiler/index.js", root).href);
const runtime = await import(new URL("dist/runtime/node/runtime.js", root).href);
const { ThreadPool } = await import(new URL("dist/runtime/pool/pool.js", root).href);
const { loadData } = await import(new URL("dist/cli/session.js", root).href);
const { ParallelContext } = await import(new URL("dist/runtime/pool/parallel.js", root).href);

const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const [file, weights] = args;
const batch = flag("batch", 128);
const threads = flag("threads", 2);
const calls = flag("calls", 400);
const train = args.includes("--train");
const plain = args.includes("--plain");

const text = readFileSync(file, "utf8");
const built = await compile(text, { file, maxBatch: batch, simd: "both" });
if (!built.ok) throw new Error(`${file} has errors`);
const { wasm } = plain ? { wasm: built.wasm } : runtime.pickWasm(built.wasm, built.relaxedWasm);
const labels = new Int32Array(batch).map((_, i) => i % built.manifest.classes);
let x;
try {
  const data = await loadData(built.ir.train.data, built.manifest.input.width, built.manifest.classes);
  x = data.test.images.slice(0, batch * built.manifest.input.width);
} catch {
  x = new Float32Array(batch * built.manifest.input.width).map(() => Math.random());
}

// Instrumentation: the pool's execute (a join) and runHere (a tile on the calling thread).
const clock = { exec: 0, own: 0, joins: 0, tiles: 0, ownTiles: 0 };
// Per kernel import of the model module: calls, time, time in joins, joins.
const kernels = new Map();
let current = null;
const dispatched = ParallelContext.prototype.dispatched;
ParallelContext.prototype.dispatched = function (name) {
  const fn = dispatched.call(this, name);
  if (fn.profiled) return fn;
  const entry = { calls: 0, ms: 0, joinMs: 0, joins: 0, tiles: 0 };
  kernels.set(name, entry);
  const wrapped = (...a) => {
    if (current !== null) return fn(...a);
    current = entry;
    const t0 = performance.now();
    try {
      return fn(...a);
    } finally {
      entry.ms += performance.now() - t0;
      entry.calls++;
      current = null;
    }
  };
  wrapped.profiled = true;
  return wrapped;
};
const execute = ThreadPool.prototype.execute;
const runHere = ThreadPool.prototype.runHere;
ThreadPool.prototype.execute = function (count) {
  const t0 = performance.now();
  try {
    return execute.call(this, count);
  } finally {
    const dt = performance.now() - t0;
    clock.exec += dt;
    clock.joins++;
    if (current) {
      current.joinMs += dt;
      current.joins++;
      current.tiles += count;
    }
    clock.tiles += count;
  }
};
ThreadPool.prototype.runHere = function (c) {
  const t0 = performance.now();
  try {
    return runHere.call(this, c);
  } finally {
    clock.own += performance.now() - t0;
    clock.ownTiles++;
  }
};

async function profile(n) {
  const model = await runtime.loadModel(wasm, built.manifest, { threads: n });
  if (weights) await model.load(readFileSync(weights), weights);
  else await model.init(0);
  const call = train ? () => model.trainStep(x, labels, batch, { lr: 0.001 }) : () => model.predict(x, batch);
  for (let i = 0; i < 50; i++) call();
  Object.assign(clock, { exec: 0, own: 0, joins: 0, tiles: 0, ownTiles: 0 });
  for (const e of kernels.values()) Object.assign(e, { calls: 0, ms: 0, joinMs: 0, joins: 0, tiles: 0 });
  const t0 = performance.now();
  const samples = [];
  for (let i = 0; i < calls; i++) {
    const s = performance.now();
    call();
    samples.push(performance.now() - s);
  }
  const total = performance.now() - t0;
  samples.sort((a, b) => a - b);
  model.dispose();
  const per = (v) => (v / calls).toFixed(4);
  if (n > 1) {
    const rows = {};
    for (const [name, e] of kernels) {
      if (e.calls === 0) continue;
      rows[name] = { calls: e.calls / calls, ms: per(e.ms), serial_ms: per(e.ms - e.joinMs), join_ms: per(e.joinMs), joins: e.joins / calls, tiles: e.joins ? (e.tiles / e.joins).toFixed(1) : 0 };
    }
    console.log(`per kernel import, ${n} threads, per call:`);
    console.table(rows);
  }
  return {
    threads: n,
    median_ms: samples[calls >> 1].toFixed(4),
    mean_ms: per(total),
    outside_joins_ms: per(total - clock.exec),
    in_joins_ms: per(clock.exec),
    caller_tiles_ms: per(clock.own),
    caller_waits_ms: per(clock.exec - clock.own),
    joins_per_call: (clock.joins / calls).toFixed(1),
    tiles_per_join: clock.joins ? (clock.tiles / clock.joins).toFixed(2) : "0",
    caller_tile_share: clock.tiles ? (clock.ownTiles / clock.tiles).toFixed(2) : "0",
  };
}

const rows = [];
for (const n of [1, threads]) rows.push(await profile(n));
console.log(`${built.manifest.model}, ${train ? "trainStep" : "predict"}, batch ${batch}, ${plain ? "plain" : "relaxed"} SIMD, ${calls} calls`);
console.table(rows);
