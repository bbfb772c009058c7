#!/usr/bin/env node
// Issue 12 experiment: sparsely-gated mixture of experts on Fashion-MNIST (docs/methods/moe.md).
// 784 -> moe(x, U, experts: E, top_k: k) relu -> 10 (and two moe layers, 784 -> moe -> moe -> 10)
// for E in {4, 8, 16}, k in {1, 2}, against a dense layer of equal MACs per example (router and
// combine counted: k·U + E units, rounded), a dense layer of equal parameters ((E·(U·784 + U) +
// E·784) / 785 units), and Cho & Bengio's tree layer of about the same parameters (depth
// log2(E) - 1: 2^(d+1) - 1 = E - 1 nodes of U units), all with the same optimizer, epochs and
// seeds: training loss (cross-entropy over the training set after training; the running loss
// includes the balance loss), test accuracy, time per example (predict at batch 1 and 128, a
// training step at batch 1 and 128; medians of interleaved repetitions), expert load (the busiest
// expert's share of examples over its ideal share k/E, on the test set, and the smallest).
//
// `npm run experiment:moe` runs the grid with 5 epochs (what the shared 2-core machine allowed);
// `-- --full` the issue's 10. Flags override either: --train N,
// --epochs N, --seeds 0,1,2, --experts 4,8,16, --topk 1,2, --units U, --two-layer 8 (E values of
// the two-layer rows, "none" for none), --kinds moe,dense-macs,dense-params,tree, --lr X,
// --balance "switch(0.01)", --router plain|centred, --z-loss Z, --gating softmax|noisy, --no-timing
// (training and loads only), --json FILE (the rows), --hidden H (FFN experts and FFN baselines),
// --optimizer sgd|adam (adam's lr 0.001 unless --lr), --threads N.
import v8 from "node:v8";
v8.setFlagsFromString("--experimental-wasm-relaxed-simd");
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";

const { compile } = await import("../dist/compiler/compile.js");
const { loadModel } = await import("../dist/runtime/model.js");
const { trainModel } = await import("../dist/runtime/train.js");
const { loadDataset } = await import("../dist/runtime/node/data.js");
const { collectFigures, resetCounters } = await import("../dist/runtime/report.js");

const { values: flags } = parseArgs({
  options: {
    full: { type: "boolean", default: false },
    train: { type: "string" }, epochs: { type: "string" }, seeds: { type: "string" }, experts: { type: "string" }, topk: { type: "string" },
    units: { type: "string" }, "two-layer": { type: "string" }, kinds: { type: "string" }, lr: { type: "string" }, balance: { type: "string" },
    batch: { type: "string" }, momentum: { type: "string" }, gating: { type: "string" }, json: { type: "string" },
    router: { type: "string" }, "z-loss": { type: "string" }, "no-timing": { type: "boolean", default: false },
    hidden: { type: "string" }, optimizer: { type: "string" }, threads: { type: "string" },
  },
});
const list = (text) => (text === "none" ? [] : text.split(",").map(Number));
const grid = flags.full
  ? { train: 60000, epochs: 10, seeds: [0, 1, 2], experts: [4, 8, 16], topk: [1, 2], twoLayer: [4, 8, 16] }
  : { train: 60000, epochs: 5, seeds: [0, 1, 2], experts: [4, 8, 16], topk: [1, 2], twoLayer: [4, 8, 16] };
const trainCount = Number(flags.train ?? grid.train);
const epochs = Number(flags.epochs ?? grid.epochs);
const seeds = flags.seeds ? list(flags.seeds) : grid.seeds;
const expertCounts = flags.experts ? list(flags.experts) : grid.experts;
const topks = flags.topk ? list(flags.topk) : grid.topk;
const twoLayer = flags["two-layer"] ? list(flags["two-layer"]) : grid.twoLayer;
const units = Number(flags.units ?? 64);
const kinds = new Set((flags.kinds ?? "moe,dense-macs,dense-params,tree").split(","));
const optimizer = flags.optimizer ?? "sgd";
if (optimizer !== "sgd" && optimizer !== "adam") throw new Error(`--optimizer: sgd or adam, not '${optimizer}'`);
const lr = Number(flags.lr ?? (optimizer === "adam" ? 0.001 : 0.05));
const momentum = Number(flags.momentum ?? 0.9);
const gating = flags.gating ?? "softmax";
const batch = Number(flags.batch ?? 128);
const balance = flags.balance ?? "switch(0.01)";
const router = flags.router ?? "plain";
const zLoss = Number(flags["z-loss"] ?? 0);
const D = 784;
// --threads N: threads per model, training and timing (default: loadModel's, the machine's cores).
const threads = flags.threads === undefined ? undefined : Number(flags.threads);
// --hidden H: two-layer FFN experts (W2 act(W1 x + b1) + b2, H hidden units, the output linear),
// the form Shazeer's and Switch's layers take; the dense baselines are then FFN blocks too
// (dense(x, w) relu then dense(., U) linear), of equal MACs or equal parameters.
const hidden = flags.hidden ? Number(flags.hidden) : 0;

const source = (name, layers, last) => `
model ${name} {
  input  x: f32[784]
  target y: class[10]
  ${layers.join("\n  ")}
  layer out = dense(${last}, 10)
  loss = softmax_cross_entropy(out, y)
}
train { data = fashion_mnist  optimizer = ${optimizer === "adam" ? `adam(lr: ${lr})` : `sgd(lr: ${lr}, momentum: ${momentum})`}  batch = ${batch}  epochs = ${epochs} }`;

/** MACs per example of moe(inputs, U, E, k): experts, router, combine. */
const moeMacs = (inputs, E, k) => (hidden ? k * (hidden * inputs + units * hidden) : k * units * inputs) + E * inputs + k * units;
const moeParams = (inputs, E) => (hidden ? E * (hidden * inputs + hidden + units * hidden + units) : E * (units * inputs + units)) + E * inputs;
/** Hidden width of the dense baseline (one layer of w units, or an FFN of w hidden units and U outputs) with `macs` MACs or `params` parameters per example. */
const denseWidth = (inputs, { macs, params }) => (hidden ? (macs !== undefined ? macs / (inputs + units) : (params - units) / (inputs + 1 + units)) : macs !== undefined ? macs / inputs : params / (inputs + 1));
/** A dense baseline's widths in its label: "w" for a layer, "w-U" for an FFN block. */
const widthTag = (w) => (hidden ? `${w}-${units}` : `${w}`);
const denseLayers = (src, w, name) => (hidden ? [`layer ${name}_ffn = dense(${src}, ${w}) relu`, `layer ${name} = dense(${name}_ffn, ${units})`] : [`layer ${name} = dense(${src}, ${w}) relu`]);

function configs() {
  const out = [];
  const moe = (src, E, k, name) => `layer ${name} = moe(${src}, ${units}, experts: ${E}, top_k: ${k}${hidden ? `, hidden: ${hidden}` : ""}, gating: ${gating}, balance: ${balance}, router: ${router}, z_loss: ${zLoss}) relu`;
  for (const E of expertCounts) {
    for (const k of topks) {
      if (k > E) continue;
      const tag = `E=${E} k=${k}`;
      if (kinds.has("moe")) out.push({ kind: "moe", group: "one layer", E, k, label: `moe ${tag}`, layers: [moe("x", E, k, "h")], last: "h" });
      const width = Math.round(denseWidth(D, { macs: moeMacs(D, E, k) }));
      if (kinds.has("dense-macs")) out.push({ kind: "dense-macs", group: "one layer", E, k, label: `dense ${widthTag(width)} (= MACs of ${tag})`, layers: denseLayers("x", width, "h"), last: "h" });
    }
    const width = Math.round(denseWidth(D, { params: moeParams(D, E) }));
    if (kinds.has("dense-params")) out.push({ kind: "dense-params", group: "one layer", E, k: null, label: `dense ${widthTag(width)} (= parameters of E=${E})`, layers: denseLayers("x", width, "h"), last: "h" });
    const depth = Math.max(1, Math.round(Math.log2(E)) - 1);
    if (kinds.has("tree")) out.push({ kind: "tree", group: "one layer", E, k: null, label: `tree depth ${depth} (${2 ** (depth + 1) - 1} nodes of ${units}, ~E=${E})`, layers: [`layer h = tree(x, ${units}, depth: ${depth}) relu`], last: "h" });
  }
  for (const E of twoLayer) {
    for (const k of topks) {
      if (k > E) continue;
      const tag = `E=${E} k=${k}`;
      if (kinds.has("moe")) out.push({ kind: "moe", group: "two layers", E, k, label: `moe, moe ${tag}`, layers: [moe("x", E, k, "h1"), moe("h1", E, k, "h")], last: "h" });
      // The second dense block reads the first one's outputs: U of an FFN block, w1 of a layer.
      const w1 = Math.round(denseWidth(D, { macs: moeMacs(D, E, k) }));
      const w2 = Math.round(denseWidth(hidden ? units : w1, { macs: moeMacs(units, E, k) }));
      if (kinds.has("dense-macs")) out.push({ kind: "dense-macs", group: "two layers", E, k, label: `dense ${widthTag(w1)}, ${widthTag(w2)} (= MACs of ${tag})`, layers: [...denseLayers("x", w1, "h1"), ...denseLayers("h1", w2, "h")], last: "h" });
    }
    // Equal parameters: both dense blocks of one width w, with the two moe layers' parameters:
    // FFN blocks (785 + U) w + U + (2 U + 1) w + U, layers 785 w + (w + 1) w.
    const params = moeParams(D, E) + moeParams(units, E);
    const w = hidden ? Math.round((params - 2 * units) / (D + 1 + units + 2 * units + 1)) : Math.round((-786 + Math.sqrt(786 * 786 + 4 * params)) / 2);
    if (kinds.has("dense-params")) out.push({ kind: "dense-params", group: "two layers", E, k: null, label: `dense ${widthTag(w)}, ${widthTag(w)} (= parameters of E=${E})`, layers: [...denseLayers("x", w, "h1"), ...denseLayers("h1", w, "h")], last: "h" });
  }
  return out;
}

const median = (v) => { const s = [...v].sort((a, b) => a - b); return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
const mean = (v) => v.reduce((a, b) => a + b, 0) / v.length;
const sd = (v) => (v.length < 2 ? 0 : Math.sqrt(v.reduce((a, b) => a + (b - mean(v)) ** 2, 0) / (v.length - 1)));

const { train: fullTrain, test } = await loadDataset({ kind: "fashion_mnist" });
const train = trainCount >= fullTrain.count ? fullTrain : { ...fullTrain, count: trainCount, images: fullTrain.images.subarray(0, trainCount * D), labels: fullTrain.labels.subarray(0, trainCount) };

/**
 * Times per example (µs) of models side by side: each round times every model once, in a
 * rotated order, and each figure is the median over the rounds (the machine is shared).
 */
function timeTogether(models, rounds) {
  const x = test.images;
  const labels = test.labels;
  const measures = {
    batch1: [200, (m) => { for (let i = 0; i < 200; i++) m.predict(x.subarray(i * D, (i + 1) * D), 1); }],
    batch128: [1280, (m) => m.predict(x.subarray(0, 1280 * D), 1280)],
    train1: [100, (m) => { for (let i = 0; i < 100; i++) m.trainStep(x.subarray(i * D, (i + 1) * D), labels.subarray(i, i + 1), 1, { lr: 0 }); }],
    trainStep: [1280, (m) => { for (let b = 0; b < 10; b++) m.trainStep(x.subarray(b * 128 * D, (b + 1) * 128 * D), labels.subarray(b * 128, (b + 1) * 128), 128, { lr: 0 }); }],
  };
  const samples = models.map(() => ({ batch1: [], batch128: [], train1: [], trainStep: [] }));
  for (const [what, [count, fn]] of Object.entries(measures)) {
    models.forEach((m) => fn(m));
    for (let r = 0; r < rounds; r++) {
      for (let j = 0; j < models.length; j++) {
        const i = (j + r) % models.length;
        const t = performance.now();
        fn(models[i]);
        samples[i][what].push(((performance.now() - t) * 1000) / count);
      }
    }
  }
  return samples.map((s) => ({ batch1: median(s.batch1), batch128: median(s.batch128), train1: median(s.train1), trainStep: median(s.trainStep) }));
}

/** Load of the moe layers on the test set: the busiest expert's share over k / E, and the smallest's. */
function expertLoad(model) {
  resetCounters(model, "eval");
  model.evaluate(test);
  const figures = collectFigures(model, "eval");
  const out = [];
  for (const [name, f] of figures.layers) {
    if (f.method !== "moe") continue;
    const load = f.metrics["expert_load"];
    const ideal = f.metrics["top_k"] / f.metrics["experts"];
    out.push({ layer: name, max: Math.max(...load) / ideal, min: Math.min(...load) / ideal, entropy: f.metrics["router_entropy"], macs: f.macsPerExample });
  }
  return { layers: out, macs: figures.macsPerExample };
}

const runs = configs();
console.log(`Fashion-MNIST: ${train.count} training examples, ${test.count} test; ${epochs} epochs, batch ${batch}, ${optimizer === "adam" ? `adam lr ${lr}` : `sgd lr ${lr} momentum ${momentum}`}, seeds ${seeds.join(",")}; experts of ${units} relu units, gating ${gating}, balance ${balance}, router ${router}, z-loss ${zLoss}, dropless`);
const rows = [];
const timedModels = [];
for (const run of runs) {
  const built = await compile(source(run.kind.replace(/-/g, "_"), run.layers, run.last), { file: `${run.kind}.cond`, maxBatch: 1280, simd: "relaxed" });
  if (!built.ok) throw new Error(`${run.label}: ${built.diagnostics.map((d) => d.message).join("; ")}`);
  const perSeed = [];
  let load = null;
  for (const seed of seeds) {
    const model = await loadModel(built.relaxedWasm ?? built.wasm, built.manifest, threads === undefined ? {} : { threads });
    model.init(seed);
    const t0 = performance.now();
    const result = trainModel(model, train, test, { epochs, batch, seed, lr, schedule: { kind: "constant" }, divergence: false });
    const seconds = (performance.now() - t0) / 1000;
    const trainEval = model.evaluate(train);
    const last = result.epochs[result.epochs.length - 1];
    const l = expertLoad(model);
    perSeed.push({ seed, trainLoss: trainEval.loss, runningLoss: last.trainLoss, testAccuracy: last.test.accuracy, seconds, load: l.layers });
    if (seed === seeds[0]) {
      load = l;
      timedModels.push(model);
    }
  }
  const row = {
    ...run, layers: undefined, parameters: built.manifest.cost.parameters, macs: load.macs, perSeed,
    trainLoss: mean(perSeed.map((s) => s.trainLoss)), trainLossSd: sd(perSeed.map((s) => s.trainLoss)),
    testAccuracy: mean(perSeed.map((s) => s.testAccuracy)), testAccuracySd: sd(perSeed.map((s) => s.testAccuracy)),
    load: load.layers, times: null,
  };
  rows.push(row);
  console.error(`trained ${row.label} (${row.group}): ${perSeed.map((s) => `${s.seconds.toFixed(0)} s`).join(", ")}`);
}
// Timing: the rows of one (group, E) side by side, with the first seed's trained weights.
for (const key of new Set(rows.map((r) => `${r.group}|${r.E}`))) {
  const members = rows.map((r, i) => [r, i]).filter(([r]) => `${r.group}|${r.E}` === key);
  const untimed = { batch1: NaN, batch128: NaN, train1: NaN, trainStep: NaN };
  const times = flags["no-timing"] ? members.map(() => untimed) : timeTogether(members.map(([, i]) => timedModels[i]), 11);
  members.forEach(([r], j) => (r.times = times[j]));
}
const pm = (m, s, d) => `${m.toFixed(d)}${seeds.length > 1 ? ` ± ${s.toFixed(d)}` : ""}`;
console.log("| layers | model | parameters | MACs/example | train loss | test accuracy % | train µs/ex, batch 1 | batch 128 | predict µs/ex, batch 1 | batch 128 | expert load max / min |");
console.log("|---|---|---|---|---|---|---|---|---|---|---|");
for (const row of rows) {
  const loads = row.load.map((l) => `${l.max.toFixed(2)} / ${l.min.toFixed(2)}, H ${l.entropy.toFixed(2)}`).join("; ") || "-";
  const t = row.times;
  console.log(`| ${row.group} | ${row.label} | ${row.parameters.toLocaleString("en-US")} | ${Math.round(row.macs).toLocaleString("en-US")} | ${pm(row.trainLoss, row.trainLossSd, 4)} | ${pm(100 * row.testAccuracy, 100 * row.testAccuracySd, 2)} | ${t.train1.toFixed(1)} | ${t.trainStep.toFixed(1)} | ${t.batch1.toFixed(1)} | ${t.batch128.toFixed(2)} | ${loads} |`);
}
console.log("MACs/example as counted on the test set; train loss: cross-entropy over the training set after training; train µs/ex: training steps (lr 0) at batch 1 and 128; expert load: the busiest and the idlest expert's share of the test set over the ideal k/E, and H the router entropy (nats), per moe layer, seed 0");
// MoE against its equal-MACs dense layer: forward time at batch 128, loss and accuracy.
for (const moe of rows.filter((r) => r.kind === "moe")) {
  const dense = rows.find((r) => r.kind === "dense-macs" && r.group === moe.group && r.E === moe.E && r.k === moe.k);
  if (!dense) continue;
  const forward = flags["no-timing"] ? "" : `batch-128 forward ${(moe.times.batch128 / dense.times.batch128).toFixed(2)}x the equal-MACs dense layer's; `;
  console.log(`${moe.group} ${moe.label}: ${forward}train loss ${(moe.trainLoss - dense.trainLoss).toFixed(4)}, test accuracy ${(100 * (moe.testAccuracy - dense.testAccuracy)).toFixed(2)} points vs it`);
}
if (flags.json) writeFileSync(flags.json, JSON.stringify({ trainCount: train.count, epochs, seeds, batch, lr, units, balance, rows }, null, 1));
