#!/usr/bin/env node
// Issue 5 experiment: Cho & Bengio tree layers (784 -> tree(units, depth k) relu -> 10) for
// k in {2, 4, 6, 8} against a dense layer of equal MACs (784 -> (k+1)·units relu -> 10) on
// Fashion-MNIST: training loss, test accuracy, measured MACs, and time per example (batch 1
// inference, batch-128 inference, training). Plain SGD, lazy L2 on the tree nodes.
// Run with `npm run experiment:tree` (builds dist first). Environment: TREE_UNITS (64),
// TREE_TRAIN (examples, default all 60000), TREE_EPOCHS (3), TREE_DEPTHS ("2,4,6,8"), TREE_LR (0.1),
// TREE_BATCH (64), TREE_ONLY ("tree" or "dense" to run one kind), TREE_LAYOUT ("shared" or
// "per_unit"), TREE_OPTIONS (more tree options). TREE_EPOCHS=0 measures time only (untrained weights; deterministic gaters do
// not train, so the buckets are those of a trained model).
import v8 from "node:v8";
v8.setFlagsFromString("--experimental-wasm-relaxed-simd");

const { compile } = await import("../dist/compiler/compile.js");
const { loadModel } = await import("../dist/runtime/model.js");
const { trainModel } = await import("../dist/runtime/train.js");
const { loadDataset } = await import("../dist/runtime/node/data.js");
const { treeCounters, resetTreeCounters } = await import("../dist/runtime/tree.js");

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
  optimizer = sgd(lr: ${lr}, weight_decay: 1e-4)
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
  if (only !== "tree") runs.push({ kind: "dense", k, layer: `dense(x, ${(k + 1) * units})`, name: `Dense${k}` });
}

const rows = [];
console.log(`Fashion-MNIST: ${train.count} training examples, ${test.count} test; units ${units}, layout ${layout}${extra}; ${epochs} epochs, batch ${batch}, sgd lr ${lr}, L2 1e-4`);
console.log("| model | k | hidden | parameters | MACs/example (layer h, measured) | final train loss | test accuracy | batch-1 µs/example | batch-128 µs/example | train µs/example (batch " + batch + ") |");
console.log("|---|---|---|---|---|---|---|---|---|---|");
for (const run of runs) {
  const result = await compile(source(run.name, run.layer), { file: `${run.name}.cond`, maxBatch: 128, simd: "relaxed" });
  if (!result.ok) {
    console.log(`| ${run.name} | failed: ${result.diagnostics.map((d) => d.message).join("; ")} |`);
    continue;
  }
  const model = await loadModel(result.relaxedWasm ?? result.wasm, result.manifest);
  model.init(0);
  const parameters = result.manifest.params.reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0);
  const t0 = now();
  const trained = epochs > 0 ? trainModel(model, train, test, { epochs, batch, seed: 0, lr, schedule: { kind: "constant" } }) : null;
  const trainSeconds = (now() - t0) / 1000;
  const last = trained ? trained.epochs[trained.epochs.length - 1] : { trainLoss: NaN, test: model.evaluate(test) };

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
  const batch1 = timeIt(5, () => {
    for (let i = 0; i < 300; i++) model.predict(x.subarray(i * 784, (i + 1) * 784), 1);
    return 300;
  });
  const counters = treeCounters(model);
  const macs = counters.length > 0 ? counters[0].macsPerExample : 784 * (k1(run) * units);
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
  const row = {
    model: run.name, kind: run.kind, k: run.k, hidden: run.kind === "tree" ? units : (run.k + 1) * units, parameters, macs,
    trainLoss: last.trainLoss, testAccuracy: last.test.accuracy, epochLosses: trained ? trained.epochs.map((e) => e.trainLoss) : [],
    batch1, batch128, train: trainStep, trainSeconds,
  };
  rows.push(row);
  console.log(`| ${row.model} | ${row.k} | ${row.hidden} | ${row.parameters.toLocaleString("en-US")} | ${Math.round(row.macs).toLocaleString("en-US")} | ${Number.isNaN(row.trainLoss) ? "-" : row.trainLoss.toFixed(4)} | ${row.testAccuracy.toFixed(4)} | ${row.batch1.toFixed(1)} | ${row.batch128.toFixed(1)} | ${row.train.toFixed(1)} |`);
}
console.log(JSON.stringify({ units, trainCount: train.count, epochs, batch, lr, rows }));

function k1(run) {
  return run.k + 1;
}
