/**
 * @fileoverview What condc/worker reports about a model's gates (the playground's views): the
 * `decisions`, `analyze` and `figures` calls equal `gateDecisions`, `analyzeModel` and
 * `collectFigures` on the calling thread; `train` with `figures` and `analyze` gives the same
 * weights as without them, progress events whose last figures of an epoch are the epoch's
 * training figures, and epoch events whose analyses equal those of a run on the calling thread;
 * `saveModel` / `loadWeights` take a worker handle as they take a Model.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { analyzeModel, collectFigures, gateDecisions, loadModel, resetCounters, trainModel, type Dataset, type Model, type ModelFigures } from "../../runtime/index.js";
import type { WorkerModel } from "../../runtime/worker/client.js";
import type * as NodeWorker from "../../runtime/node/worker.js";
import { loadWeights, saveModel } from "../../runtime/node/runtime.js";
import { build, importFrom, transpiledRuntime, type Built } from "./support.js";

const SOURCE = `model Inspected {
  input  x: f32[20]
  target y: class[3]
  layer t   = tree(x, 12, depth: 2) relu
  layer h   = dense(t, 16) relu gate lowrank(rank: 3)
  layer p   = dense(h, 8) tanh gate policy(blocks: 4, tau: 0.5, test: threshold)
  layer out = dense(p, 3)
  loss = softmax_cross_entropy(out, y)
}
train { optimizer = sgd(lr: 0.05) policy = reinforce(lr: 0.01) batch = 8 epochs = 2 seed = 3 }`;

function dataset(count: number, name: string): Dataset {
  const width = 20;
  const images = new Float32Array(count * width);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    let h = (i + 7) * 2654435761;
    for (let k = 0; k < width; k++) {
      h = Math.imul(h ^ (h >>> 15), 2246822507) >>> 0;
      images[i * width + k] = (h % 1000) / 1000;
    }
    labels[i] = images[i * width]! > 0.5 ? (images[i * width + 1]! > 0.5 ? 2 : 1) : 0;
  }
  return { name, count, width, classes: 3, images, labels };
}

const TRAIN = dataset(96, "train");
const TEST = dataset(40, "test");

let dir = "";
let api: typeof NodeWorker;
let built: Built;
const handles: WorkerModel[] = [];

beforeAll(async () => {
  dir = await transpiledRuntime();
  api = (await importFrom(dir, "runtime/node/worker.js")) as unknown as typeof NodeWorker;
  built = await build(SOURCE, "inspected.cond", 16);
});
afterAll(() => {
  for (const h of handles) h.dispose();
  rmSync(dir, { recursive: true, force: true });
});

async function inWorker(): Promise<WorkerModel> {
  const handle = await api.loadModelInWorker(built.wasm, built.manifest);
  handles.push(handle);
  return handle;
}

const plain = (figures: ModelFigures) => ({ ...figures, layers: Object.fromEntries(figures.layers) });

describe("the worker's inspection calls", () => {
  it("decisions, analyze and figures equal the calls on this thread", async () => {
    const handle = await inWorker();
    const model: Model = await loadModel(built.wasm, built.manifest);
    await handle.init(9);
    model.init(9);
    const fromWorker = await handle.decisions(TEST.images, TEST.count, { keep: 5 });
    const here = gateDecisions(model, TEST.images, TEST.count, { keep: 5 });
    expect(fromWorker.layers.map((l) => l.layer)).toEqual(["t", "h", "p"]);
    expect(fromWorker).toEqual(here);
    expect(await handle.analyze(TEST)).toEqual(analyzeModel(model, TEST));
    await handle.resetCounters("eval");
    resetCounters(model, "eval");
    await handle.evaluate(TEST);
    model.evaluate(TEST);
    expect(plain(await handle.figures("eval"))).toEqual(plain(collectFigures(model, "eval")));
    await expect(handle.figures("test" as "eval")).rejects.toThrow(/phase must be "train" or "eval", got "test"/);
  });

  it("train with figures and analyses: same weights, per-epoch analyses as on this thread, progress figures ending at the epoch's", async () => {
    const handle = await inWorker();
    await handle.init(4);
    const progress: (ModelFigures | null)[][] = [[], []];
    const analyses: unknown[] = [];
    const result = await handle.train({ train: TRAIN, test: TEST }, {
      figures: true,
      analyze: 25,
      progressEvery: 4,
      onProgress: (p) => progress[p.epoch - 1]!.push(p.figures),
      onEpoch: (e) => analyses.push(e.analyses),
    });
    const model = await loadModel(built.wasm, built.manifest);
    model.init(4);
    const t = built.manifest.train;
    const expected: unknown[] = [];
    const first25 = { ...TEST, count: 25, images: TEST.images.subarray(0, 25 * 20), labels: TEST.labels.subarray(0, 25) };
    trainModel(model, TRAIN, TEST, {
      epochs: t.epochs, batch: t.batch, seed: t.seed, lr: Number(t.optimizer["lr"]), schedule: t.schedule,
      onEpoch: () => expected.push(analyzeModel(model, first25)),
    });
    expect(Buffer.from(await handle.save()).equals(Buffer.from(model.save()))).toBe(true);
    expect(analyses).toEqual(expected);
    expect(Object.keys((analyses[0] as { layers: object }).layers)).toEqual(["h"]);
    // 96 examples, batch 8: 12 steps an epoch, events at steps 4, 8, 12.
    expect(progress.map((events) => events.length)).toEqual([3, 3]);
    result.epochs.forEach((epoch, i) => {
      expect(plain(progress[i]!.at(-1)!)).toEqual(plain(epoch.trainFigures));
    });
  });

  it("without the options, events carry null and train as before", async () => {
    const handle = await inWorker();
    await handle.init(4);
    const seen: unknown[] = [];
    await handle.train({ train: TRAIN, test: TEST }, { epochs: 1, onProgress: (p) => seen.push(p.figures), onEpoch: (e) => seen.push(e.analyses) });
    expect(seen.every((v) => v === null)).toBe(true);
    await expect(handle.train(TRAIN, { analyze: -1 })).rejects.toThrow("train: analyze must be a non-negative integer, got -1");
  });
});

describe("storage with a worker handle", () => {
  it("saveModel writes the handle's checkpoint; loadWeights loads it into another handle; a bad file leaves it as it was", async () => {
    const tmp = mkdtempSync(join(tmpdir(), "condc-worker-storage-"));
    try {
      const a = await inWorker();
      await a.init(1);
      await a.train(TRAIN, { epochs: 1 });
      const path = join(tmp, "a.safetensors");
      const saved = await saveModel(a, path);
      expect(saved).toMatchObject({ url: path, model: "Inspected", step: 12 });
      expect(Buffer.from(readFileSync(path)).equals(Buffer.from(await a.save()))).toBe(true);
      const b = await inWorker();
      await b.init(2);
      const before = await b.save();
      await expect(loadWeights(b, join(tmp, "missing.safetensors"))).rejects.toThrow(/cannot read weights .*missing.safetensors: no such file/);
      expect(Buffer.from(await b.save()).equals(Buffer.from(before))).toBe(true);
      const loaded = await loadWeights(b, path);
      expect(loaded).toMatchObject({ model: "Inspected", step: 12, sameSource: true });
      expect(Buffer.from(await b.save()).equals(Buffer.from(await a.save()))).toBe(true);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
