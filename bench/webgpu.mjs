// condc-webgpu vs condc-wasm vs tfjs-backend-webgpu on the MLP 784-1000-1000-10 ReLU of
// bench/models/mlp.cond: predict and one SGD-momentum training step, at batch 1 and 128; then
// every conditional example (examples/*.cond with a gated, tree or mixture layer) against its
// dense build (compile(..., { denseEquivalent: true }), the same weights where the shapes
// match), predict and train step at batch 1 and 128, on the GPU and, for reference, on wasm.
//
//   npx tsc -p tsconfig.json && node bench/webgpu.mjs [--json] [--reps N] [--min-ms MS] [--adapter NAME]
//                                                     [--examples NAME,NAME | --no-examples]
//   (npm run bench:webgpu = the same)
//
// The GPU comes from Node's `webgpu` package (Dawn). Debian chromium's SwiftShader Vulkan
// driver, when installed, is offered to the Vulkan loader beside the system's drivers; the
// high-performance request still picks a real GPU over it, so the script runs unchanged on a
// machine with one. Numbers from a fallback (software) adapter are printed with a warning:
// they show that the path runs, not how fast a GPU is.
//
// Cases are measured interleaved (rep 1 of every variant, then rep 2, ...), each sample a
// calibrated inner loop of >= --min-ms ms; the table gives medians. Every GPU call includes
// its readback (probabilities, or the loss), as an app would see it: condc's predict and
// trainStep resolve after reading back; tfjs's are followed by `await tensor.data()`.
import v8 from "node:v8";
v8.setFlagsFromString("--experimental-wasm-relaxed-simd");

import os from "node:os";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const JSON_OUT = args.includes("--json");
const ADAPTER = opt("adapter", null);
const BATCH = 128;
const LR = 0.001;
const MOMENTUM = 0.9;
const SEED = 1;
const log = (...a) => { if (!JSON_OUT) console.log(...a); };

const { compile } = await import("../dist/compiler/index.js");
const { loadModel, pickWasm } = await import("../dist/runtime/index.js");
const { acquireNodeGpuDevice, CHROMIUM_SWIFTSHADER_ICD } = await import("../dist/runtime/node/webgpu.js");
const { readdirSync } = await import("node:fs");

// ---------------------------------------------------------------------------------------
// The device: a real GPU if there is one, else SwiftShader if Debian's chromium ships it
// ---------------------------------------------------------------------------------------
const drivers = existsSync(CHROMIUM_SWIFTSHADER_ICD) ? [CHROMIUM_SWIFTSHADER_ICD] : [];
let gpuDevice;
try {
  gpuDevice = await acquireNodeGpuDevice({ vulkanDrivers: drivers, dawnFlags: ADAPTER ? [`adapter=${ADAPTER}`] : [] });
} catch (error) {
  console.error(`bench:webgpu: ${error.message}`);
  process.exit(1);
}
const software = gpuDevice.adapter.isFallbackAdapter || /swiftshader|llvmpipe|lavapipe/i.test(`${gpuDevice.adapter.architecture} ${gpuDevice.adapter.device}`);
const REPS = Math.max(1, Number(opt("reps", software ? "3" : "15")));
const MIN_MS = Number(opt("min-ms", software ? "1" : "100"));
log(`device: ${gpuDevice.describe()}`);
if (software) log("WARNING: a software (fallback) adapter: these numbers show the path runs; they are not GPU speed.");

// ---------------------------------------------------------------------------------------
// Timing: async variants, round-robin samples, medians
// ---------------------------------------------------------------------------------------
async function calibrate(fn, warmup) {
  for (let i = 0; i < warmup; i++) await fn();
  const t0 = performance.now();
  await fn();
  return Math.max(1, Math.ceil(MIN_MS / Math.max(performance.now() - t0, 1e-3)));
}
async function benchInterleaved(variants, warmup = 2) {
  const names = Object.keys(variants), inner = {}, samples = {};
  for (const n of names) { inner[n] = await calibrate(variants[n], warmup); samples[n] = []; }
  for (let r = 0; r < REPS; r++) {
    for (const n of names) {
      const t0 = performance.now();
      for (let i = 0; i < inner[n]; i++) await variants[n]();
      samples[n].push((performance.now() - t0) / inner[n]);
    }
  }
  return Object.fromEntries(names.map((n) => {
    const sorted = samples[n].slice().sort((a, b) => a - b);
    return [n, { med: sorted[sorted.length >> 1], min: sorted[0], max: sorted[sorted.length - 1], inner: inner[n], ms: samples[n] }];
  }));
}
const maxRelDiff = (a, b) => { let m = 0; for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]) / Math.max(Math.abs(b[i]), 1e-6)); return m; };

// ---------------------------------------------------------------------------------------
// condc: one compile, the wasm build the engine picks, and the GPU model with its weights
// ---------------------------------------------------------------------------------------
const file = "bench/models/mlp.cond";
const built = await compile(readFileSync(join(root, file), "utf8"), { file, maxBatch: BATCH, simd: "both" });
if (!built.ok) { console.error(built.diagnostics); process.exit(1); }
const picked = pickWasm(built.wasm, built.relaxedWasm);
const wasm = await loadModel(picked.wasm, built.manifest);
wasm.init(SEED);
let t0 = performance.now();
const gpu = await loadModel(picked.wasm, built.manifest, { backend: "webgpu", gpu: gpuDevice });
const gpuCreateMs = performance.now() - t0;
await gpu.init(SEED);
log(`condc: ${built.manifest.model}, wasm build ${picked.simd} SIMD; GPU model created (pipelines built) in ${(gpuCreateMs / 1000).toFixed(1)} s`);

let rng = 12345;
const rand = () => ((rng = (Math.imul(rng, 1103515245) + 12345) >>> 0) / 4294967296);
const IN = built.manifest.input.width, CLASSES = built.manifest.classes;
const xData = { 1: Float32Array.from({ length: IN }, rand), [BATCH]: Float32Array.from({ length: BATCH * IN }, rand) };
const labels = Int32Array.from({ length: BATCH }, () => Math.floor(rand() * CLASSES));

// ---------------------------------------------------------------------------------------
// tfjs-backend-webgpu on the same Dawn instance (navigator.gpu and the GPU* globals it expects)
// ---------------------------------------------------------------------------------------
let tfjs = null;
const tfjsNote = [];
try {
  const webgpu = await import("webgpu");
  Object.assign(globalThis, webgpu.globals);
  const entry = webgpu.create(ADAPTER ? [`adapter=${ADAPTER}`] : []);
  if (globalThis.navigator) Object.defineProperty(globalThis.navigator, "gpu", { value: entry, configurable: true });
  else globalThis.navigator = { gpu: entry };
  const tf = await import("@tensorflow/tfjs-core");
  await import("@tensorflow/tfjs-backend-webgpu");
  if (!(await tf.setBackend("webgpu"))) throw new Error("tf.setBackend('webgpu') returned false");
  await tf.ready();
  tfjs = { tf, entry, ...tfjsModel(tf) };
  tfjsNote.push(`tfjs ${tf.version_core}, backend ${tf.getBackend()}`);
} catch (error) {
  tfjsNote.push(`tfjs-backend-webgpu unavailable: ${String(error.message ?? error).split("\n")[0]}`);
}

/** The same MLP in tfjs with condc's weights (transposed to [in, units]) and a hand-written backward, as bench/run.mjs. */
function tfjsModel(tf) {
  const layers = built.manifest.layers.filter((l) => l.delta !== null);
  const W = [], B = [], VW = [], VB = [];
  for (const l of layers) {
    const w = tf.tidy(() => tf.transpose(tf.tensor2d(wasm.parameter(`${l.name}.weight`), [l.units, l.inputs])));
    W.push(tf.variable(w)); B.push(tf.variable(tf.tensor1d(wasm.parameter(`${l.name}.bias`))));
    VW.push(tf.variable(tf.zerosLike(w))); VB.push(tf.variable(tf.zerosLike(B[B.length - 1])));
  }
  const x = { 1: tf.tensor2d(xData[1], [1, IN]), [BATCH]: tf.tensor2d(xData[BATCH], [BATCH, IN]) };
  const oneHot = (n) => tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(labels.subarray(0, n), "int32"), CLASSES), "float32"));
  const y = { 1: oneHot(1), [BATCH]: oneHot(BATCH) };
  const forward = (input) => {
    let h = input;
    for (let i = 0; i < W.length; i++) {
      h = tf.add(tf.matMul(h, W[i]), B[i]);
      if (i < W.length - 1) h = tf.relu(h);
    }
    return h;
  };
  const predict = (n) => tf.tidy(() => tf.softmax(forward(x[n])));
  const trainStep = (n) => tf.tidy(() => {
    const xs = x[n], ys = y[n];
    const z1 = tf.add(tf.matMul(xs, W[0]), B[0]), h1 = tf.relu(z1);
    const z2 = tf.add(tf.matMul(h1, W[1]), B[1]), h2 = tf.relu(z2);
    const z3 = tf.add(tf.matMul(h2, W[2]), B[2]);
    const lse = tf.logSumExp(z3, 1, true);
    const loss = tf.mean(tf.sum(tf.mul(ys, tf.sub(lse, z3)), 1));
    const dz3 = tf.div(tf.sub(tf.exp(tf.sub(z3, lse)), ys), n);
    const dz2 = tf.mul(tf.matMul(dz3, W[2], false, true), tf.step(z2));
    const dz1 = tf.mul(tf.matMul(dz2, W[1], false, true), tf.step(z1));
    const grads = [[tf.matMul(xs, dz1, true, false), tf.sum(dz1, 0)], [tf.matMul(h1, dz2, true, false), tf.sum(dz2, 0)], [tf.matMul(h2, dz3, true, false), tf.sum(dz3, 0)]];
    for (let i = 0; i < 3; i++) {
      VW[i].assign(tf.sub(tf.mul(MOMENTUM, VW[i]), tf.mul(LR, grads[i][0])));
      VB[i].assign(tf.sub(tf.mul(MOMENTUM, VB[i]), tf.mul(LR, grads[i][1])));
      W[i].assign(tf.add(W[i], VW[i]));
      B[i].assign(tf.add(B[i], VB[i]));
    }
    return loss;
  });
  return { predict, trainStep };
}

// ---------------------------------------------------------------------------------------
// Agreement on identical weights, then the timed cases
// ---------------------------------------------------------------------------------------
const agreement = {};
for (const n of [1, BATCH]) {
  const want = wasm.predict(xData[n], n);
  agreement[`predict B=${n} max rel |condc-webgpu - condc-wasm|`] = maxRelDiff(await gpu.predict(xData[n], n), want);
  if (tfjs) {
    const p = tfjs.predict(n);
    agreement[`predict B=${n} max rel |tfjs-webgpu - condc-wasm|`] = maxRelDiff(await p.data(), want);
    p.dispose();
  }
}
log("\nAgreement (identical weights, inputs in [0,1), random labels):");
for (const [k, v] of Object.entries(agreement)) log(`  ${k}: ${v.toExponential(2)}`);
for (const note of tfjsNote) log(note);

const rows = [];
for (const [kind, n] of [["predict", 1], ["predict", BATCH], ["train step", 1], ["train step", BATCH]]) {
  const variants = {};
  if (kind === "predict") {
    variants["condc-wasm"] = async () => wasm.predict(xData[n], n);
    variants["condc-webgpu"] = () => gpu.predict(xData[n], n);
    if (tfjs) variants["tfjs-webgpu"] = async () => { const p = tfjs.predict(n); await p.data(); p.dispose(); };
  } else {
    variants["condc-wasm"] = async () => wasm.trainStep(xData[n], labels, n, { lr: LR });
    variants["condc-webgpu"] = () => gpu.trainStep(xData[n], labels, n, { lr: LR });
    if (tfjs) variants["tfjs-webgpu"] = async () => { const l = tfjs.trainStep(n); await l.data(); l.dispose(); };
  }
  const r = await benchInterleaved(variants);
  const row = { case: kind, batch: n, ...Object.fromEntries(Object.entries(r).map(([k, v]) => [`${k} ms`, v.med])), samples: r };
  rows.push(row);
  if (!JSON_OUT) process.stderr.write(`  measured ${kind} B=${n}\n`);
}

// ---------------------------------------------------------------------------------------
// The conditional examples against their dense builds, same weights where the shapes match
// ---------------------------------------------------------------------------------------
const exampleRows = [];
const wanted = opt("examples", null);
const exampleFiles = args.includes("--no-examples")
  ? []
  : readdirSync(join(root, "examples")).filter((f) => f.endsWith(".cond") && (!wanted || wanted.split(",").includes(f.replace(/\.cond$/, "")))).sort();
let examplesX = null;
try {
  const { loadDataset } = await import("../dist/runtime/node/data.js");
  examplesX = (await loadDataset({ kind: "mnist" })).test.images.slice(0, BATCH * 784);
} catch {
  examplesX = Float32Array.from({ length: BATCH * 784 }, rand);
}
for (const name of exampleFiles) {
  const path = `examples/${name}`;
  const text = readFileSync(join(root, path), "utf8");
  const cond = await compile(text, { file: path, maxBatch: BATCH, simd: "both" });
  if (!cond.ok || !cond.manifest.layers.some((l) => l.method !== "dense")) continue;
  const dense = await compile(text, { file: path, maxBatch: BATCH, simd: "both", denseEquivalent: true });
  if (!dense.ok || cond.manifest.input.width !== 784) continue;
  const models = {};
  t0 = performance.now();
  for (const [where, backend] of [["webgpu", "webgpu"], ["wasm", "wasm"]]) {
    const c = await loadModel(pickWasm(cond.wasm, cond.relaxedWasm).wasm, cond.manifest, { backend, gpu: gpuDevice });
    const d = await loadModel(pickWasm(dense.wasm, dense.relaxedWasm).wasm, dense.manifest, { backend, gpu: gpuDevice });
    await c.init(SEED);
    await d.init(SEED);
    const shapes = new Map(cond.manifest.params.map((p) => [p.name, p.shape.join("x")]));
    for (const p of dense.manifest.params) if (shapes.get(p.name) === p.shape.join("x")) await d.setParameter(p.name, await c.parameter(p.name));
    models[`${where} conditional`] = c;
    models[`${where} dense`] = d;
  }
  const setupMs = performance.now() - t0;
  const trainLabels = Int32Array.from({ length: BATCH }, (_, i) => i % cond.manifest.classes);
  for (const [kind, n] of [["predict", 1], ["predict", BATCH], ["train step", 1], ["train step", BATCH]]) {
    const x = examplesX.subarray(0, n * 784);
    const variants = {};
    for (const [label, m] of Object.entries(models)) {
      variants[label] = kind === "predict" ? async () => m.predict(x, n) : async () => m.trainStep(x, trainLabels, n, { lr: LR });
    }
    const r = await benchInterleaved(variants);
    const row = { example: name, case: kind, batch: n, ...Object.fromEntries(Object.entries(r).map(([k, v]) => [`${k} ms`, v.med])) };
    row["webgpu speedup"] = row["webgpu dense ms"] / row["webgpu conditional ms"];
    row["wasm speedup"] = row["wasm dense ms"] / row["wasm conditional ms"];
    exampleRows.push(row);
    if (!JSON_OUT) process.stderr.write(`  measured ${name} ${kind} B=${n}\n`);
  }
  for (const m of Object.values(models)) if (m.backend === "webgpu") m.destroy();
  if (!JSON_OUT) process.stderr.write(`  ${name}: models built in ${(setupMs / 1000).toFixed(1)} s\n`);
}

const machine = {
  date: new Date().toISOString(), node: process.version, cpu: os.cpus()[0]?.model ?? "?", cores: os.cpus().length,
  loadavg: os.loadavg().map((x) => +x.toFixed(2)), adapter: gpuDevice.adapter, software, reps: REPS, minMs: MIN_MS,
};
if (JSON_OUT) {
  console.log(JSON.stringify({ machine, gpuCreateMs, agreement, tfjs: tfjsNote, rows, examples: exampleRows }, null, 2));
} else {
  const names = ["condc-wasm", "condc-webgpu", ...(tfjs ? ["tfjs-webgpu"] : [])];
  log(`\nMedians of ${REPS} samples (ms per call, readback included):`);
  log(["case".padEnd(16), "batch".padStart(5), ...names.map((n) => n.padStart(14))].join(" "));
  for (const row of rows) log([row.case.padEnd(16), String(row.batch).padStart(5), ...names.map((n) => row[`${n} ms`].toFixed(2).padStart(14))].join(" "));
  if (exampleRows.length > 0) {
    log(`\nConditional examples against their dense builds (same weights where shapes match; ms per call, medians of ${REPS}):`);
    const cols = ["webgpu dense", "webgpu conditional", "wasm dense", "wasm conditional"];
    log(["example".padEnd(22), "case".padEnd(11), "batch".padStart(5), ...cols.map((c) => c.padStart(19)), "GPU speedup".padStart(12), "wasm speedup".padStart(13)].join(" "));
    for (const row of exampleRows) {
      log([row.example.padEnd(22), row.case.padEnd(11), String(row.batch).padStart(5), ...cols.map((c) => row[`${c} ms`].toFixed(2).padStart(19)), `${row["webgpu speedup"].toFixed(2)}x`.padStart(12), `${row["wasm speedup"].toFixed(2)}x`.padStart(13)].join(" "));
    }
  }
  log(`\n${machine.cpu}, ${machine.cores} cores, load ${machine.loadavg.join(" ")}; ${software ? "software adapter: not a speed claim" : "GPU figures"}`);
}
gpu.destroy();
gpuDevice.destroy();
// Dawn keeps the process alive while an instance lives (tfjs holds one): end explicitly.
process.exit(0);
