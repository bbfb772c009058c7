#!/usr/bin/env node
// Issue 6 experiment: block-dropout policies (condnet) on Fashion-MNIST, 784-640-640-10
// tanh, 10 blocks of 64 per layer, tau = 1/16 (the CIFAR-10 best model's shape,
// docs/methods/policy.md §11; results in §15): test error (sampled masks, the paper's; and threshold p > 0.5), mean activation,
// per-block batch-mean probabilities, measured inference time against the dense build of
// the same network, and uniform block dropout (bdNN) trained at the learned policy's
// measured activation (same kernels, so the same measured speed).
// Run with `npm run experiment:policy` (builds dist first). Environment: POLICY_EPOCHS (10),
// POLICY_TRAIN (examples, 60000), POLICY_LR (network SGD lr, 0.05, momentum 0.9),
// POLICY_PLR (policy lr, 0.05), POLICY_LS (lambda_s, 0.2), POLICY_LV (lambda_v, 0.2),
// POLICY_BASELINE (batch_mean), POLICY_REG (paper|code), POLICY_TAU (0.0625),
// POLICY_BATCH (64), POLICY_TIMING_RUNS (5), POLICY_SKIP_UNIFORM (1 to skip bdNN), POLICY_JSON (path),
// POLICY_CKPT_DIR (write the trained weights there). Time it alone: the machine has 2 cores.
import v8 from "node:v8";
v8.setFlagsFromString("--experimental-wasm-relaxed-simd");
import { writeFileSync } from "node:fs";

const { compile } = await import("../dist/compiler/compile.js");
const { loadModel } = await import("../dist/runtime/model.js");
const { trainModel } = await import("../dist/runtime/train.js");
const { loadDataset } = await import("../dist/runtime/node/data.js");
const policy = await import("../dist/runtime/index.js");

const env = (k, d) => process.env[k] ?? d;
const epochs = Number(env("POLICY_EPOCHS", 10));
const trainCount = Number(env("POLICY_TRAIN", 60000));
const lr = Number(env("POLICY_LR", 0.05));
const plr = Number(env("POLICY_PLR", 0.05));
const lambdaS = Number(env("POLICY_LS", 0.2));
const lambdaV = Number(env("POLICY_LV", 0.2));
const baseline = env("POLICY_BASELINE", "batch_mean");
const reg = env("POLICY_REG", "paper");
const tau = Number(env("POLICY_TAU", 0.0625));
const batch = Number(env("POLICY_BATCH", 64));
const timingRuns = Number(env("POLICY_TIMING_RUNS", 5));
const seed = 0;

const source = (name, gate1, gate2) => `
model ${name} {
  input  x: f32[784]
  target y: class[10]
  layer h1  = dense(x, 640) tanh ${gate1}
  layer h2  = dense(h1, 640) tanh ${gate2}
  layer out = dense(h2, 10)
  loss = softmax_cross_entropy(out, y)
}
train {
  data      = fashion_mnist
  optimizer = sgd(lr: ${lr}, momentum: 0.9)
  ${gate1.includes("uniform") || gate1 === "" ? "" : `policy    = reinforce(lr: ${plr}, lambda_s: ${lambdaS}, lambda_v: ${lambdaV}, baseline: ${baseline}, regularizer: ${reg})`}
  batch     = ${batch}
  epochs    = ${epochs}
  seed      = ${seed}
}`;

const { train: fullTrain, test } = await loadDataset({ kind: "fashion_mnist" });
const train = trainCount >= fullTrain.count ? fullTrain : { ...fullTrain, count: trainCount, images: fullTrain.images.subarray(0, trainCount * fullTrain.width), labels: fullTrain.labels.subarray(0, trainCount) };

async function build(name, text) {
  const r = await compile(text, { file: `${name}.cond`, maxBatch: batch, simd: "both" });
  if (!r.ok) throw new Error(`${name}: ${r.diagnostics.map((d) => d.message).join("; ")}`);
  const wasm = WebAssembly.validate(r.relaxedWasm) ? r.relaxedWasm : r.wasm;
  return loadModel(wasm, r.manifest);
}

function log(line) { process.stdout.write(line + "\n"); }

function trainIt(model, label) {
  model.init(seed);
  if (policy.hasPolicy(model)) { policy.setPolicySeed(model, seed); policy.resetPolicyStats(model); }
  const perEpoch = [];
  const t0 = performance.now();
  const run = trainModel(model, train, test, {
    epochs, batch, seed, lr, schedule: { kind: "constant" },
    onEpoch: (e) => {
      const stats = policy.hasPolicy(model) ? policy.readPolicyStats(model, "train") : [];
      if (policy.hasPolicy(model)) policy.readPolicyStats(model, "eval");
      perEpoch.push({ epoch: e.epoch, test_accuracy: e.test.accuracy, train_loss: e.trainLoss, policy: stats.map((s) => ({ layer: s.layer, block_mean: s.blockMean, block_variance: s.blockVariance, mean_activation: s.meanActivation })) });
      log(`[${label}] epoch ${e.epoch}: train loss ${e.trainLoss.toFixed(4)}, test acc ${(100 * e.test.accuracy).toFixed(2)}%, ${Math.round(e.examplesPerSecond)} ex/s`);
      for (const st of stats) log(`  ${st.layer}: active ${(100 * st.meanActivation).toFixed(1)}%, p per block ${st.blockMean.map((x) => x.toFixed(2)).join(" ")}`);
    },
  });
  return { perEpoch, seconds: (performance.now() - t0) / 1000, trainExamplesPerSecond: run.examplesPerSecond };
}

/** Median seconds of one pass over the test set (predict in chunks of the max batch). */
function timePass(model) {
  model.evaluate(test);
  const times = [];
  for (let r = 0; r < timingRuns; r++) { const t0 = performance.now(); model.predict(test.images, test.count); times.push((performance.now() - t0) / 1000); }
  times.sort((a, b) => a - b);
  return times[times.length >> 1];
}

function evalMode(model, mode) {
  policy.setPolicyMode(model, mode);
  policy.setPolicySeed(model, seed);
  policy.resetPolicyStats(model);
  const ev = model.evaluate(test);
  const macs = policy.measuredMacs(model, "eval");
  const stats = policy.readPolicyStats(model, "eval");
  return { mode, accuracy: ev.accuracy, error: 1 - ev.accuracy, mean_activation: Object.fromEntries(stats.map((s) => [s.layer, s.meanActivation])), macs: macs.conditional, dense_macs: macs.dense };
}

const result = { settings: { epochs, trainCount, lr, plr, lambdaS, lambdaV, baseline, reg, tau, batch }, date: new Date().toISOString() };

// dense build of the same network: timing reference (weights do not change the time)
const dense = await build("FashionDense640", source("FashionDense640", "", ""));
dense.init(seed);

// POLICY_TIME_ONLY=DIR: load the checkpoints of an earlier run (POLICY_CKPT_DIR) and time
// the dense build, the learned policy (sample, threshold) and bdNN interleaved, medians.
const timeOnly = env("POLICY_TIME_ONLY", "");
if (timeOnly) {
  const { readFileSync } = await import("node:fs");
  const prev = JSON.parse(readFileSync(`${timeOnly}/result.json`, "utf8"));
  const gate = `gate policy(blocks: 10, tau: ${tau})`;
  const learned = await build("FashionPolicy", source("FashionPolicy", gate, gate));
  learned.load(new Uint8Array(readFileSync(`${timeOnly}/fashion-policy-learned.safetensors`)));
  const act = prev.learned.eval[0].mean_activation;
  const ug = (l) => `gate policy(blocks: 10, tau: ${Math.max(0.001, Math.min(1, act[l])).toFixed(4)}, uniform: true)`;
  const uniform = await build("FashionBdNN", source("FashionBdNN", ug("h1"), ug("h2")));
  uniform.load(new Uint8Array(readFileSync(`${timeOnly}/fashion-policy-bdnn.safetensors`)));
  const contenders = {
    dense: () => dense.predict(test.images, test.count),
    "policy sample": () => { policy.setPolicyMode(learned, "sample"); learned.predict(test.images, test.count); },
    "policy threshold": () => { policy.setPolicyMode(learned, "threshold"); learned.predict(test.images, test.count); },
    bdNN: () => uniform.predict(test.images, test.count),
  };
  const times = Object.fromEntries(Object.keys(contenders).map((k) => [k, []]));
  for (const f of Object.values(contenders)) f();
  for (let r = 0; r < timingRuns; r++) for (const [k, f] of Object.entries(contenders)) { const t0 = performance.now(); f(); times[k].push((performance.now() - t0) / 1000); }
  const med = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
  const d = med(times.dense);
  const rows = Object.entries(times).map(([k, t]) => ({ model: k, seconds: med(t), min: Math.min(...t), speedup: d / med(t), speedup_min: Math.min(...times.dense) / Math.min(...t) }));
  for (const r of rows) log(`${r.model}: median ${r.seconds.toFixed(3)} s (min ${r.min.toFixed(3)}) per 10k-image test pass, ${r.speedup.toFixed(2)}x vs dense (${r.speedup_min.toFixed(2)}x on minima)`);
  log(JSON.stringify({ timing_runs: timingRuns, rows }));
  process.exit(0);
}

// learned policy
const gate = `gate policy(blocks: 10, tau: ${tau})`;
const learned = await build("FashionPolicy", source("FashionPolicy", gate, gate));
result.learned = trainIt(learned, "policy");
result.learned.eval = [evalMode(learned, "sample"), evalMode(learned, "threshold")];
const ckptDir = env("POLICY_CKPT_DIR", "");
if (ckptDir) writeFileSync(`${ckptDir}/fashion-policy-learned.safetensors`, learned.save());
const last = result.learned.perEpoch[result.learned.perEpoch.length - 1];
result.learned.block_mean_range = last.policy.map((p) => ({ layer: p.layer, min: Math.min(...p.block_mean), max: Math.max(...p.block_mean) }));
for (const mode of ["sample", "threshold"]) {
  policy.setPolicyMode(learned, mode);
  const tDense = timePass(dense), tCond = timePass(learned), tDense2 = timePass(dense);
  const entry = result.learned.eval.find((e) => e.mode === mode);
  entry.seconds = tCond; entry.dense_seconds = (tDense + tDense2) / 2; entry.speedup = entry.dense_seconds / tCond;
  log(`[policy ${mode}] error ${(100 * entry.error).toFixed(2)}%, active ${JSON.stringify(entry.mean_activation)}, ${Math.round(entry.macs)} MACs vs ${entry.dense_macs} dense (${(entry.dense_macs / entry.macs).toFixed(2)}x), test pass ${entry.seconds.toFixed(3)} s vs dense ${entry.dense_seconds.toFixed(3)} s: ${entry.speedup.toFixed(2)}x`);
}

// uniform block dropout at the learned policy's measured (sampled) activation per layer
if (env("POLICY_SKIP_UNIFORM", "0") !== "1") {
  const act = result.learned.eval[0].mean_activation;
  const ug = (l) => `gate policy(blocks: 10, tau: ${Math.max(0.001, Math.min(1, act[l])).toFixed(4)}, uniform: true)`;
  const uniform = await build("FashionBdNN", source("FashionBdNN", ug("h1"), ug("h2")));
  result.uniform = trainIt(uniform, "bdNN");
  result.uniform.eval = [evalMode(uniform, "sample")];
  if (ckptDir) writeFileSync(`${ckptDir}/fashion-policy-bdnn.safetensors`, uniform.save());
  const e = result.uniform.eval[0];
  const tDense = timePass(dense), tCond = timePass(uniform), tDense2 = timePass(dense);
  e.seconds = tCond; e.dense_seconds = (tDense + tDense2) / 2; e.speedup = e.dense_seconds / tCond;
  log(`[bdNN] error ${(100 * e.error).toFixed(2)}%, active ${JSON.stringify(e.mean_activation)}, test pass ${e.seconds.toFixed(3)} s vs dense ${e.dense_seconds.toFixed(3)} s: ${e.speedup.toFixed(2)}x`);
}
const out = env("POLICY_JSON", "");
if (out) writeFileSync(out, JSON.stringify(result, null, 1));
if (ckptDir) writeFileSync(`${ckptDir}/result.json`, JSON.stringify(result));
log(JSON.stringify({ learned: result.learned.eval, block_mean_range: result.learned.block_mean_range, uniform: result.uniform?.eval ?? null }));
