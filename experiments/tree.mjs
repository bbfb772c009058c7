#!/usr/bin/env node
// Issue 5 experiment: Cho & Bengio tree layers (784 -> tree(units, depth k) relu -> 10) for
// k in {2, 4, 6, 8} against a dense layer of equal MACs (784 -> (k+1)·units relu -> 10) on
// Fashion-MNIST: training loss, test accuracy, measured MACs, and time per example (batch 1
// inference, batch-128 inference, training). Plain SGD, lazy L2 on the tree nodes.
// Run with `npm run experiment:tree` (builds dist first). Environment: TREE_UNITS (64),
// TREE_TRAIN (examples, default all 60000), TREE_EPOCHS (3), TREE_DEPTHS ("2,4,6,8"), TREE_LR (0.1),
// TREE_BATCH (64), TREE_ONLY ("tree" or "dense" to run one kind), TREE_LAYOUT ("shared" or
// "per_unit"), TREE_OPTIONS (more tree options), TREE_DECAY (L2, 1e-4), TREE_SEED (0), TREE_TIMING (1; 0 skips the
// timing measurements), TREE_DENSE_UNITS (the dense baseline's width; default (k+1)·units, equal MACs).
// TREE_EPOCHS=0 measures time only (untrained weights; deterministic gaters do not train, so
// the buckets are those of a trained model). After training, "train loss (eval)" is the mean
// cross-entropy over the whole training set (or subset) with the final weights and
// deterministic bits (model.evaluate); "running" is the mean over the last epoch's batches as
// they were trained. Tree rows also report the leaf occupancy of the training set (leaves
// used / 2^k, entropy in bits, largest leaf's share) under the final gaters.
import v8 from "node:v8";
v8.setFlagsFromString("--experimental-wasm-relaxed-simd");

const { compile } = await import("../dist/compiler/compile.js");
const { loadModel } = await import("../dist/runtime/model.js");
const { trainModel } = await import("../dist/runtime/train.js");
const { loadDataset } = await import("../dist/runtime/node/data.js");
const { treeCounters, resetTreeCounters } = await import("../dist/runtime/index.js");

const units = Number(process.env.TREE_UNITS ?? 64);
const trainCount = Number(process.env.TREE_TRAIN ?? 60000);
const epochs = Number(process.env.TREE_EPOCHS ?? 3);
const depths = (process.env.TREE_DEPTHS ?? "2,4,6,8").split(",").map(Number);
const lr = Number(process.env.TREE_LR ?? 0.1);
const batch = Number(process.env.TREE_BATCH ?? 64);
const only = process.env.TREE_ONLY ?? "";
const layout = process.env.TREE_LAYOUT ?? "shared";
// Extra tree options, e.g. "gater_training: reinforce" or "gater_training: noisy, sigma: 0.5".
const extra = process.env.TREE_OPTIONS ? `, ${process.env.TREE_OPTIONS}` : "";
const decay = Number(process.env.TREE_DECAY ?? 1e-4);
const seed = Number(process.env.TREE_SEED ?? 0);
const timing = (process.env.TREE_TIMING ?? "1") !== "0";
const denseUnits = process.env.TREE_DENSE_UNITS ? Number(process.env.TREE_DENSE_UNITS) : null;

const source = (name, layer) => `
model ${name} {
  input  x: f32[784]
  target y: class[10]
  layer h   = ${layer} relu
  layer out = dense(h, 10)
  loss = softmax_cross_entropy(out, y)
}
train {
  data      = fashion_mnist
  optimizer = sgd(lr: ${lr}, weight_decay: ${decay})
  batch     = ${batch}
  epochs    = ${Math.max(epochs, 1)}
}`;

const { train: fullTrain, test } = await loadDataset({ kind: "fashion_mnist" });
const train = subset(fullTrain, trainCount);

function subset(data, count) {
  if (count >= data.count) return data;
  return { ...data, count, images: data.images.subarray(0, count * data.width), labels: data.labels.subarray(0, count) };
}

function now() {
  return performance.now();
}

const runs = [];
for (const k of depths) {
  if (only !== "dense") runs.push({ kind: "tree", k, layer: `tree(x, ${units}, depth: ${k}, layout: ${layout}${extra})`, name: `Tree${k}` });
  if (only !== "tree") runs.push({ kind: "dense", k, layer: `dense(x, ${denseUnits ?? (k + 1) * units})`, name: `Dense${k}` });
}

const rows = [];
console.log(`Fashion-MNIST: ${train.count} training examples, ${test.count} test; units ${units}, layout ${layout}${extra}; ${epochs} epochs, batch ${batch}, sgd lr ${lr}, L2 ${decay}, seed ${seed}`);
console.log("| model | k | hidden | parameters | MACs/example (layer h, measured) | train loss (eval) | train loss, running, per epoch | train accuracy (eval) | test accuracy | leaves used | leaf entropy (bits) | largest leaf | train s | batch-1 µs/example | batch-128 µs/example | train µs/example (batch " + batch + ") |");
console.log("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
for (const run of runs) {
  const result = await compile(source(run.name, run.layer), { file: `${run.name}.cond`, maxBatch: 128, simd: "relaxed" });
  if (!result.ok) {
    console.log(`| ${run.name} | failed: ${result.diagnostics.map((d) => d.message).join("; ")} |`);
    continue;
  }
  const model = await loadModel(result.relaxedWasm ?? result.wasm, result.manifest);
  model.init(seed);
  const parameters = result.manifest.params.reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0);
  const t0 = now();
  const trained = epochs > 0 ? trainModel(model, train, test, { epochs, batch, seed, lr, schedule: { kind: "constant" } }) : null;
  const trainSeconds = (now() - t0) / 1000;
  const last = trained ? trained.epochs[trained.epochs.length - 1] : { trainLoss: NaN, test: model.evaluate(test) };
  const trainEval = trained ? model.evaluate(train) : { loss: NaN, accuracy: NaN };
  const occupancy = run.kind === "tree" ? leafOccupancy(model, train, run.k) : null;

  // Timing: the minimum over repetitions (the machine is shared). Batch 1 is the regime
  // where a tree costs exactly (k + 1) GEMVs per example.
  const x = test.images;
  const timeIt = (reps, fn) => {
    let best = Infinity;
    for (let r = 0; r < reps; r++) {
      const t = now();
      const count = fn();
      best = Math.min(best, ((now() - t) * 1000) / count);
    }
    return best;
  };
  model.predict(x.subarray(0, 784 * 8), 8);
  resetTreeCounters(model);
  if (!timing) {
    model.predict(x.subarray(0, 784 * 128), 128);
    const counters = treeCounters(model);
    const macs = counters.length > 0 ? counters[0].macsPerExample : 784 * (denseUnits ?? k1(run) * units);
    report(run, parameters, macs, last, trained, trainEval, occupancy, trainSeconds, { batch1: NaN, batch128: NaN, train: NaN });
    continue;
  }
  const batch1 = timeIt(5, () => {
    for (let i = 0; i < 300; i++) model.predict(x.subarray(i * 784, (i + 1) * 784), 1);
    return 300;
  });
  const counters = treeCounters(model);
  const macs = counters.length > 0 ? counters[0].macsPerExample : 784 * (denseUnits ?? k1(run) * units);
  const batch128 = timeIt(3, () => {
    model.predict(x.subarray(0, 2560 * 784), 2560);
    return 2560;
  });
  // Training step time on real batches (weights keep changing; timing only).
  const labels = test.labels.subarray(0, 20 * batch);
  const trainStep = timeIt(3, () => {
    for (let b = 0; b < 20; b++) model.trainStep(x.subarray(b * batch * 784, (b + 1) * batch * 784), labels.subarray(b * batch, (b + 1) * batch), batch);
    return 20 * batch;
  });
  report(run, parameters, macs, last, trained, trainEval, occupancy, trainSeconds, { batch1, batch128, train: trainStep });
}
console.log(JSON.stringify({ units, trainCount: train.count, epochs, batch, lr, decay, seed, layout, options: process.env.TREE_OPTIONS ?? "", rows }));

function k1(run) {
  return run.k + 1;
}

function report(run, parameters, macs, last, trained, trainEval, occupancy, trainSeconds, times) {
  const row = {
    model: run.name, kind: run.kind, k: run.k, hidden: run.kind === "tree" ? units : denseUnits ?? (run.k + 1) * units, parameters, macs,
    trainLossEval: trainEval.loss, trainAccuracyEval: trainEval.accuracy,
    trainLoss: last.trainLoss, testAccuracy: last.test.accuracy, testLoss: last.test.loss, epochLosses: trained ? trained.epochs.map((e) => e.trainLoss) : [],
    occupancy, ...times, trainSeconds,
  };
  rows.push(row);
  const f = (v, d = 4) => (Number.isNaN(v) ? "-" : v.toFixed(d));
  const occ = occupancy ? [`${occupancy.used}/${occupancy.leaves}`, occupancy.entropy.toFixed(2), `${(100 * occupancy.largest).toFixed(1)}%`] : ["-", "-", "-"];
  console.log(`| ${row.model} | ${row.k} | ${row.hidden} | ${row.parameters.toLocaleString("en-US")} | ${Math.round(row.macs).toLocaleString("en-US")} | ${f(row.trainLossEval)} | ${row.epochLosses.map((v) => v.toFixed(4)).join(" / ") || "-"} | ${f(row.trainAccuracyEval)} | ${row.testAccuracy.toFixed(4)} | ${occ.join(" | ")} | ${row.trainSeconds.toFixed(0)} | ${f(row.batch1, 1)} | ${f(row.batch128, 1)} | ${f(row.train, 1)} |`);
}

/** Leaf usage of a dataset under the final gaters (deterministic bits b = 1[x·g + c > 0], bit 1 most significant). */
function leafOccupancy(model, data, k) {
  const layer = model.manifest.layers.find((l) => l.op === "tree").name;
  const g = model.parameter(`${layer}.gater_weight`);
  const c = model.parameter(`${layer}.gater_bias`);
  const width = data.width;
  const counts = new Float64Array(2 ** k);
  for (let e = 0; e < data.count; e++) {
    let code = 0;
    for (let i = 0; i < k; i++) {
      let s = c[i];
      const row = i * width;
      for (let j = 0; j < width; j++) s += g[row + j] * data.images[e * width + j];
      code = (code << 1) | (s > 0 ? 1 : 0);
    }
    counts[code]++;
  }
  let used = 0, entropy = 0, largest = 0;
  for (const n of counts) {
    if (n === 0) continue;
    used++;
    const p = n / data.count;
    entropy -= p * Math.log2(p);
    largest = Math.max(largest, p);
  }
  return { leaves: 2 ** k, used, entropy, largest };
}
