/**
 * @fileoverview The mixture of experts' splits (methods/moe/parallel.ts) give one thread's bits:
 * one-layer and FFN experts, k = 1 and 2, noisy gating with the CV loss, a capacity that drops,
 * `router: centred` with the z-loss, buckets on the GEMM's chunked and packed paths, E = 1, and
 * examples/fashion-moe.cond; trained and run on 1, 2 and 3 threads, every call split and the
 * measured split, both SIMD flavours: losses, checkpoints, predictions and counters byte for byte.
 */
import v8 from "node:v8";
v8.setFlagsFromString("--experimental-wasm-relaxed-simd");
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import "../../runtime/node/thread-host.js";
import { compile } from "../../compiler/index.js";
import { collectFigures, loadModel, resetCounters, type Model, type SplitMode } from "../../runtime/index.js";
import { loadDataset } from "../../runtime/node/data.js";

const WIDTH = 40;
const BATCH = 24;

interface Case {
  name: string;
  layers: string;
  train?: string;
  /** What the case reaches (for the reader). */
  reaches: string;
}

const MOE_THREAD_CASES: Case[] = [
  { name: "moe-one-layer-k1", layers: "layer h = moe(x, 36, experts: 4, top_k: 1) relu", reaches: "one-layer experts, k = 1 (Switch gate), chunked bucket products" },
  {
    name: "moe-ffn-k2",
    layers: "layer a = dense(x, 34) relu\n  layer h = moe(a, 36, experts: 5, top_k: 2, hidden: 20) tanh",
    reaches: "FFN experts, k = 2, dX through the experts and the router into a dense source",
  },
  {
    name: "moe-noisy-cv",
    layers: "layer a = dense(x, 24) tanh\n  layer h = moe(a, 33, experts: 6, top_k: 2, gating: noisy, balance: cv(0.1, 0.1)) sigmoid",
    train: "optimizer = sgd(lr: 0.1, momentum: 0.5)",
    reaches: "noisy gating, the smooth load of the CV loss, noise weights' gradients",
  },
  { name: "moe-capacity", layers: "layer h = moe(x, 40, experts: 4, top_k: 2, capacity: 0.5) relu", reaches: "dropped pairs, experts with no row (zeroed gradients)" },
  {
    name: "moe-centred",
    layers: "layer a = dense(x, 24) relu\n  layer h = moe(a, 33, experts: 3, top_k: 2, hidden: 17, router: centred, z_loss: 0.01) relu",
    reaches: "router: centred (batch and running centre), the z-loss, FFN of odd widths",
  },
  {
    name: "moe-packed",
    layers: "layer h = moe(x, 40, experts: 2, top_k: 2, hidden: 36) sigmoid",
    reaches: "buckets of every example (48 > 32 rows at prediction: the packed GEMM path)",
  },
  { name: "moe-one-expert", layers: "layer h = moe(x, 20, experts: 1, top_k: 1) tanh", reaches: "E = 1: one bucket of every row (one GEMM call), a router without gradient" },
];

function source(c: Case): string {
  return `model ${c.name.replace(/-/g, "_")} {
  input x: f32[${WIDTH}]
  target y: class[5]
  ${c.layers}
  layer out = dense(h, 5)
  loss = softmax_cross_entropy(out, y)
}
train {
  ${c.train ?? "optimizer = sgd(lr: 0.05, momentum: 0.9)"}
  seed = 3
}`;
}

interface Data {
  width: number;
  x: Float32Array;
  y: Int32Array;
}

function synthetic(count: number): Data {
  let s = 77;
  const next = (): number => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296;
  const x = Float32Array.from({ length: count * WIDTH }, () => next() * 2 - 1);
  const y = Int32Array.from({ length: count }, () => Math.floor(next() * 5));
  return { width: WIDTH, x, y };
}

const hex = (a: Float32Array | Uint8Array): string => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString("hex");

/** Four training steps, the checkpoint, predictions of 2 x batch and 3 rows, and the counters. */
async function run(model: Model, data: Data, batch: number): Promise<string[]> {
  const { width } = data;
  const trace: string[] = [];
  model.init(3);
  resetCounters(model, "train");
  for (let step = 0; step < 4; step++) {
    const x = data.x.subarray(step * batch * width, (step + 1) * batch * width);
    trace.push(hex(Float32Array.of(model.trainStep(x, data.y.subarray(step * batch), batch).loss)));
  }
  trace.push(JSON.stringify(collectFigures(model, "train")));
  trace.push(hex(model.save()));
  resetCounters(model, "eval");
  trace.push(hex(model.predict(data.x.subarray(4 * batch * width), 2 * batch)));
  trace.push(hex(model.predict(data.x, 3)));
  trace.push(JSON.stringify(collectFigures(model, "eval")));
  return trace;
}

async function traces(text: string, file: string, data: Data, batch: number, simd: "plain" | "relaxed", split: SplitMode): Promise<string[][]> {
  const built = await compile(text, { file, maxBatch: 2 * batch, simd });
  if (!built.ok) throw new Error(built.diagnostics.map((d) => d.message).join("\n"));
  const wasm = simd === "plain" ? built.wasm : built.relaxedWasm!;
  const runs: string[][] = [];
  for (const threads of [1, 2, 3]) {
    const model = await loadModel(wasm, built.manifest, { threads, split });
    try {
      runs.push(await run(model, data, batch));
    } finally {
      model.dispose();
    }
  }
  return runs;
}

function expectSame(runs: string[][]): void {
  for (const [i, r] of runs.slice(1).entries()) r.forEach((part, j) => expect(part, `${i + 2} threads, part ${j}`).toBe(runs[0]![j]));
}

describe("mixture of experts on 1, 2 and 3 threads", () => {
  const data = synthetic(BATCH * 6);
  for (const c of MOE_THREAD_CASES) {
    for (const simd of ["plain", "relaxed"] as const) {
      for (const split of ["always", "measured"] as const) {
        it(`${c.name} (${simd}, ${split}): ${c.reaches}`, async () => {
          expectSame(await traces(source(c), `${c.name}.cond`, data, BATCH, simd, split));
        });
      }
    }
  }

  const FASHION = join(import.meta.dirname, "..", "..", "examples", "fashion-moe.cond");
  for (const simd of ["plain", "relaxed"] as const) {
    for (const split of ["always", "measured"] as const) {
      it(`examples/fashion-moe.cond on the bundled digits (${simd}, ${split})`, async () => {
        const batch = 64;
        const digits = await loadDataset({ kind: "mnist" });
        const data: Data = { width: 784, x: digits.train.images.slice(0, 6 * batch * 784), y: Int32Array.from(digits.train.labels.subarray(0, 6 * batch)) };
        expectSame(await traces(readFileSync(FASHION, "utf8"), "fashion-moe.cond", data, batch, simd, split));
      });
    }
  }
});
