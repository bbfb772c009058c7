// The low-rank calibration (docs/methods/lowrank.md §9; results in §12) on Fashion-MNIST, 784-1000-600-10:
// run A (no L1) and run B (L1 1e-3), each trained once (test_only: the training is dense),
// then r swept on the trained weights (test time only): per-layer sign agreement, false
// negatives, alpha, accuracy with and without the estimator, MAC speedup and the measured
// speedup of the compiled conditional model against the same model compiled dense.
//
//   npm run experiment:lowrank            (builds dist/ first)
//   node experiments/lowrank.mjs [--ranks 10,30,50] [--epochs 6] [--runs A,B] [--out DIR] [--reuse]
//
// CONDC_DIST=path/to/dist overrides where the compiled condc is imported from.
import v8 from "node:v8";
v8.setFlagsFromString("--experimental-wasm-relaxed-simd");
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";

const dist = process.env.CONDC_DIST ? new URL(`file://${process.env.CONDC_DIST.replace(/\/?$/, "/")}`) : new URL("../dist/", import.meta.url);
const { compile } = await import(new URL("compiler/compile.js", dist).href);
const { loadModel } = await import(new URL("runtime/model.js", dist).href);
const { trainModel } = await import(new URL("runtime/train.js", dist).href);
const { measureLowRank, refreshEstimators } = await import(new URL("runtime/index.js", dist).href);
const { pickWasm } = await import(new URL("runtime/simd.js", dist).href);
const { loadDataset } = await import(new URL("runtime/node/data.js", dist).href);
const { timeCase } = await import(new URL("cli/bench.js", dist).href);

const { values } = parseArgs({
  options: {
    ranks: { type: "string", default: "10,30,50" },
    epochs: { type: "string", default: "6" },
    runs: { type: "string", default: "A,B" },
    out: { type: "string", default: "build/lowrank-experiment" },
    reps: { type: "string", default: "11" },
    // Reuse OUT/runX.safetensors from an earlier run instead of training again.
    reuse: { type: "boolean", default: false },
  },
});
const ranks = values.ranks.split(",").map(Number);
const epochs = Number(values.epochs);
const outDir = values.out;
mkdirSync(outDir, { recursive: true });

const base = readFileSync(new URL("../examples/fashion-lowrank.cond", import.meta.url), "utf8");
/** The example with rank r on both layers and, for run A, no L1 penalty. */
function modelText(run, rank) {
  let text = base.replace(/rank: 30/g, `rank: ${rank}`);
  if (run === "A") text = text.replace(/ \+ 1e-3 \* l1\(h1, h2\)/, "");
  return text;
}

async function build(text, file, options = {}) {
  const r = await compile(text, { file, maxBatch: 128, simd: "both", ...options });
  if (!r.ok) throw new Error(`${file}: ${r.diagnostics.map((d) => d.message).join("; ")}`);
  const chosen = pickWasm(r.wasm, r.relaxedWasm);
  return { model: await loadModel(chosen.wasm, r.manifest), simd: chosen.simd, result: r };
}

/**
 * Whole-model MACs per example: the gated layers by the cost model with their measured alpha
 * (dense input), the others dense (methods/lowrank/runtime.ts's macsPerExampleModel).
 */
function macFigures(model, m) {
  const gated = new Map(m.layers.map((l) => [l.name, l.macsPerExampleModel]));
  let dense = 0, conditional = 0;
  for (const l of model.manifest.layers) {
    if (l.delta === null) continue;
    dense += l.inputs * l.units;
    conditional += gated.get(l.name) ?? l.inputs * l.units;
  }
  Object.assign(m, { denseMacsPerExample: dense, conditionalMacsPerExample: conditional });
  return m;
}

const data = await loadDataset({ kind: "fashion_mnist" });
const started = new Date().toISOString();
const results = { started, epochs, ranks, runs: [] };
for (const run of values.runs.split(",")) {
  const t0 = performance.now();
  const { model: trained, simd } = await build(modelText(run, 30), `run${run}.cond`);
  const settings = { epochs, batch: 128, seed: 0, lr: 0.05, schedule: { kind: "constant" } };
  const ckpt = join(outDir, `run${run}.safetensors`);
  let training = null;
  if (values.reuse && existsSync(ckpt)) {
    trained.load(new Uint8Array(readFileSync(ckpt)), ckpt);
    console.error(`run ${run}: reusing ${ckpt}`);
  } else {
    trained.init(0);
    training = trainModel(trained, data.train, data.test, {
      ...settings,
      onEpoch: (e) => console.error(`run ${run} epoch ${e.epoch}: test acc (with estimator) ${(100 * e.test.accuracy).toFixed(2)}%, ${Math.round(e.examplesPerSecond)} ex/s`),
    });
    writeFileSync(ckpt, trained.save());
  }
  console.error(`run ${run}: trained in ${((performance.now() - t0) / 1000).toFixed(0)} s (${simd} SIMD), weights in ${ckpt}`);
  const { model: dense } = await build(modelText(run, 30), `run${run}-dense.cond`, { denseEquivalent: true });
  for (const p of dense.manifest.params) dense.setParameter(p.name, trained.parameter(p.name));
  const rows = [];
  for (const rank of ranks) {
    const { model } = await build(modelText(run, rank), `run${run}-r${rank}.cond`);
    for (const name of ["h1.weight", "h1.bias", "h2.weight", "h2.bias", "out.weight", "out.bias"]) model.setParameter(name, trained.parameter(name));
    refreshEstimators(model);
    const m = macFigures(model, measureLowRank(model, data.test));
    const timings = [];
    for (const b of [1, 128]) timings.push(await timeCase(dense, model, data.test.images.slice(0, b * 784), b, Number(values.reps)));
    rows.push({ rank, metrics: m, timings });
    console.error(`run ${run} r=${rank}: acc ${m.accuracy.toFixed(4)} (dense ${m.accuracyDense.toFixed(4)}), ` +
      m.layers.map((l) => `${l.name} agree ${l.signAgreement.toFixed(3)} FN ${l.falseNegativeRate.toFixed(3)} alpha ${l.alpha.toFixed(3)}`).join(", ") +
      `, MAC speedup ${(m.denseMacsPerExample / m.conditionalMacsPerExample).toFixed(2)}x, measured ${timings.map((t) => `b${t.batch} ${t.speedup.toFixed(2)}x`).join(" ")}`);
  }
  results.runs.push({ run, l1: run === "B" ? 1e-3 : 0, trainSeconds: (performance.now() - t0) / 1000, testAccuracyTraining: training ? training.testAccuracy : null, checkpoint: ckpt, rows });
}
writeFileSync(join(outDir, "results.json"), JSON.stringify(results, null, 2));

// Markdown, in the calibration table's format.
const f3 = (x) => x.toFixed(3).replace(/^0/, "");
for (const r of results.runs) {
  const first = r.rows[0].metrics;
  console.log(`\n**Run ${r.run}${r.l1 ? ", λ_1 = 1e-3" : ", no L1"}.** Dense accuracy ${first.accuracyDense.toFixed(4)}; true densities ${first.layers.map((l) => l.trueDensity.toFixed(3)).join(" / ")} (at r = ${r.rows[0].rank}, chained).\n`);
  console.log("|r|agree|FN|α|cost|MAC speedup|acc|measured b1|measured b128|");
  console.log("|---|---|---|---|---|---|---|---|---|");
  for (const row of r.rows) {
    const m = row.metrics;
    const j = (fn) => m.layers.map(fn).join("/");
    console.log(`|${row.rank}|${j((l) => f3(l.signAgreement))}|${j((l) => f3(l.falseNegativeRate))}|${j((l) => f3(l.alpha))}|${j((l) => f3(l.macsPerExampleModel / (l.inputs * l.units)))}|${(m.denseMacsPerExample / m.conditionalMacsPerExample).toFixed(2)}×|${m.accuracy.toFixed(4)}|${row.timings[0].speedup.toFixed(2)}×|${row.timings[1].speedup.toFixed(2)}×|`);
  }
}
console.log(`\n(${started}; ${epochs} epochs; measured = compiled conditional vs dense-equivalent build, predict medians, this machine)`);
