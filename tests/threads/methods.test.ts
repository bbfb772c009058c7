/**
 * @fileoverview Every path of the conditional kernels' splits gives one thread's bits: models
 * and inputs chosen to reach each branch (low-rank: projection by GEMM and sparse, exact part
 * dense-masked, by unit and by example, the in-loop backward; tree: shared and per-unit
 * layouts with pending lazy decay, every level_lr mode; policy: the grouped forward and the
 * block-sparse one over a gated source), trained and run on 1, 2 and 3 threads with every call
 * split: losses, checkpoints, predictions and the methods' counters agree byte for byte.
 */
import v8 from "node:v8";
v8.setFlagsFromString("--experimental-wasm-relaxed-simd");
import { describe, expect, it } from "vitest";
import "../../runtime/node/thread-host.js";
import { compile } from "../../compiler/index.js";
import { collectFigures, loadModel, resetCounters, type Model } from "../../runtime/index.js";

const WIDTH = 40;
const BATCH = 24;

interface Case {
  name: string;
  layers: string;
  train?: string;
  /** Fraction of input values that are zero. */
  zeros: number;
  /** What the case reaches (for the reader; checked where the counters tell). */
  reaches: string;
  /** Active fraction the low-rank layer must report at inference (checks the branch), if any. */
  lowrankActive?: (fraction: number) => boolean;
}

const CASES: Case[] = [
  { name: "lowrank-dense-masked", layers: "layer h = dense(x, 40) relu gate lowrank(rank: 4, threshold: -1e6)", zeros: 0, reaches: "GEMM projection, exact part dense and masked", lowrankActive: (f) => f === 1 },
  { name: "lowrank-by-unit", layers: "layer h = dense(x, 40) relu gate lowrank(rank: 4, threshold: 0.2)", zeros: 0, reaches: "GEMM projection, exact part by unit", lowrankActive: (f) => f > 0 && f < 0.4 },
  { name: "lowrank-sparse-by-example", layers: "layer h = dense(x, 40) relu gate lowrank(rank: 5, threshold: 0.05)", zeros: 0.95, reaches: "sparse projection, exact part by example", lowrankActive: (f) => f > 0 && f < 0.4 },
  { name: "lowrank-sparse-by-unit", layers: "layer h = dense(x, 40) relu gate lowrank(rank: 6, threshold: 0.1)", zeros: 0.7, reaches: "sparse projection, exact part by unit", lowrankActive: (f) => f > 0 && f < 0.4 },
  {
    name: "lowrank-in-loop",
    layers: "layer a = dense(x, 36) relu\n  layer h = dense(a, 40) relu gate lowrank(rank: 4, mode: in_loop, threshold: -0.01)",
    train: "optimizer = sgd(lr: 0.1, momentum: 0.5)",
    zeros: 0.3,
    reaches: "the masked backward (units and input passes)",
  },
  { name: "tree-shared", layers: "layer h = tree(x, 36, depth: 3, level_lr: bucket, level_lr_max: 4) relu", train: "optimizer = sgd(lr: 0.1, weight_decay: 0.01)", zeros: 0, reaches: "bucket products, lazy decay catch-up, update, flush" },
  {
    name: "tree-per-unit",
    layers: "layer a = dense(x, 24) tanh\n  layer h = tree(a, 20, depth: 2, layout: per_unit, gater_training: reinforce, level_lr: scaled) sigmoid",
    train: "optimizer = sgd(lr: 0.1, weight_decay: 0.01)",
    zeros: 0,
    reaches: "per-unit paths, catch-ups, forward, backward (units and input), update, flush",
  },
  {
    name: "tree-per-unit-bucket",
    layers: "layer h = tree(x, 20, depth: 3, layout: per_unit, gater_training: noisy, sigma: 0.3, level_lr: bucket) relu",
    train: "optimizer = sgd(lr: 0.1, weight_decay: 0.005)",
    zeros: 0,
    reaches: "per-unit bucket counts",
  },
  {
    name: "policy-stacked",
    layers: "layer p = dense(x, 40) relu gate policy(blocks: 5, tau: 0.4)\n  layer q = dense(p, 36) tanh gate policy(blocks: 4, tau: 0.5)",
    train: "optimizer = sgd(lr: 0.05)\n  policy = reinforce(lr: 0.05, lambda_s: 0.1, lambda_v: 0.1, baseline: batch_mean)",
    zeros: 0,
    reaches: "grouped forward, block-sparse forward and backward over a gated source, sampling, gradient, step",
  },
  {
    name: "policy-odd-blocks",
    layers: "layer p = dense(x, 27) tanh gate policy(blocks: 3, tau: 0.5)\n  layer q = dense(p, 20) relu gate policy(blocks: 4, tau: 0.5, squash: 0.05)",
    train: "optimizer = sgd(lr: 0.05)\n  policy = reinforce(lr: 0.05, baseline: batch_mean)",
    zeros: 0.2,
    reaches: "the grouped forward with blocks of 9 rows (cuts by 4 from each block's first row), the tail block",
  },
];

function source(c: Case): string {
  return `model ${c.name.replace(/-/g, "_")} {
  input x: f32[${WIDTH}]
  target y: class[5]
  ${c.layers}
  layer out = dense(${c.layers.match(/layer (\w+) =[^\n]*$/)![1]}, 5)
  loss = softmax_cross_entropy(out, y)
}
train {
  ${c.train ?? "optimizer = sgd(lr: 0.05, momentum: 0.9)"}
  seed = 3
}`;
}

function inputs(count: number, zeros: number): { x: Float32Array; y: Int32Array } {
  let s = 99;
  const next = (): number => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
  const x = Float32Array.from({ length: count * WIDTH }, () => (next() < zeros ? 0 : next()));
  const y = Int32Array.from({ length: count }, () => Math.floor(next() * 5));
  return { x, y };
}

const hex = (a: Float32Array | Uint8Array): string => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString("hex");

async function run(model: Model, c: Case): Promise<{ trace: string[]; active: number | null }> {
  const data = inputs(BATCH * 6, c.zeros);
  const trace: string[] = [];
  model.init(3);
  resetCounters(model, "train");
  for (let step = 0; step < 4; step++) {
    const x = data.x.subarray(step * BATCH * WIDTH, (step + 1) * BATCH * WIDTH);
    trace.push(hex(Float32Array.of(model.trainStep(x, data.y.subarray(step * BATCH), BATCH).loss)));
  }
  trace.push(JSON.stringify(collectFigures(model, "train")));
  trace.push(hex(model.save()));
  resetCounters(model, "eval");
  trace.push(hex(model.predict(data.x.subarray(4 * BATCH * WIDTH), 2 * BATCH)));
  trace.push(hex(model.predict(data.x, 3)));
  const figures = collectFigures(model, "eval");
  trace.push(JSON.stringify(figures));
  const lowrank = [...figures.layers.values()].find((l) => l.method === "lowrank");
  return { trace, active: lowrank?.activeFraction ?? null };
}

describe("conditional kernels on 1, 2 and 3 threads, every call split", () => {
  for (const c of CASES) {
    for (const simd of ["plain", "relaxed"] as const) {
      it(`${c.name} (${simd}): ${c.reaches}`, async () => {
        const built = await compile(source(c), { file: `${c.name}.cond`, maxBatch: 2 * BATCH, simd });
        if (!built.ok) throw new Error(built.diagnostics.map((d) => d.message).join("\n"));
        const wasm = simd === "plain" ? built.wasm : built.relaxedWasm!;
        const runs = [];
        for (const threads of [1, 2, 3]) {
          const model = await loadModel(wasm, built.manifest, { threads, split: "always" });
          try {
            runs.push(await run(model, c));
          } finally {
            model.dispose();
          }
        }
        if (c.lowrankActive) expect(c.lowrankActive(runs[0]!.active!), `active fraction ${runs[0]!.active}`).toBe(true);
        for (const r of runs.slice(1)) r.trace.forEach((part, i) => expect(part, `part ${i}`).toBe(runs[0]!.trace[i]));
      });
    }
  }
});
