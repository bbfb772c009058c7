/**
 * @fileoverview condc/worker in Node (worker_threads): every Model method through the handle
 * gives bit-identical results to the model on the calling thread; train() equals trainModel
 * (weights, reports) with progress and epoch events; cancelling stops at a step boundary (the
 * weights equal an in-thread run stopped after as many steps) and the model stays usable;
 * errors keep their class; transferred inputs; a worker that crashes, exits or fails to start
 * rejects pending calls with a WorkerError; and scripts exit without dispose().
 */
import { spawnSync } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadModel, trainModel, type Model } from "../../runtime/index.js";
import type * as Runtime from "../../runtime/index.js";
import type { WorkerModel } from "../../runtime/worker/client.js";
import type * as NodeWorker from "../../runtime/node/worker.js";
import { build, dataset, importFrom, MLP, transpiledRuntime, type Built } from "./support.js";

let dir = "";
let api: typeof NodeWorker;
/** The error classes of the transpiled runtime the worker handle uses (instanceof needs the same copy). */
let CheckpointError: typeof Runtime.CheckpointError;
let NonFiniteCheckpointError: typeof Runtime.NonFiniteCheckpointError;
let mlp: Built;
const handles: WorkerModel[] = [];

beforeAll(async () => {
  dir = await transpiledRuntime();
  api = (await importFrom(dir, "runtime/node/worker.js")) as unknown as typeof NodeWorker;
  ({ CheckpointError, NonFiniteCheckpointError } = (await importFrom(dir, "runtime/index.js")) as unknown as typeof Runtime);
  mlp = await build(MLP, "mlp.cond");
});
afterAll(() => {
  for (const h of handles) h.dispose();
  rmSync(dir, { recursive: true, force: true });
});

async function inWorker(built: Built = mlp, spawn?: NodeWorker.WorkerSpawnOptions): Promise<WorkerModel> {
  const handle = await api.loadModelInWorker(built.wasm, built.manifest, undefined, spawn);
  handles.push(handle);
  return handle;
}

async function local(built: Built = mlp): Promise<Model> {
  return loadModel(built.wasm, built.manifest);
}

const bytesOf = (a: Float32Array | Uint8Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
const X = Float32Array.from({ length: 12 * 20 }, (_, i) => Math.sin(i * 0.37));
const LABELS = Uint8Array.from({ length: 12 }, (_, i) => i % 3);

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (e) {
    return e as Error;
  }
  throw new Error("resolved without error");
}

describe("the Model methods through a worker", () => {
  it("init, predict, trainStep, evaluate, save and load match the model on this thread bit for bit", async () => {
    const handle = await inWorker();
    const model = await local();
    await handle.init(7);
    model.init(7);
    expect(bytesOf(await handle.predict(X, 12)).equals(bytesOf(model.predict(X, 12)))).toBe(true);
    const stepped = await handle.trainStep(X, LABELS, 12, { lr: 0.05 });
    expect(Object.is(stepped.loss, model.trainStep(X, LABELS, 12, { lr: 0.05 }).loss)).toBe(true);
    expect(handle.step).toBe(1);
    const data = dataset(50);
    const evaluation = await handle.evaluate(data);
    const reference = model.evaluate(data);
    expect([evaluation.accuracy, evaluation.loss, evaluation.count]).toEqual([reference.accuracy, reference.loss, reference.count]);
    const saved = await handle.save();
    expect(bytesOf(saved).equals(bytesOf(model.save()))).toBe(true);
    await handle.init(8);
    await handle.load(saved, "saved.safetensors");
    expect(handle.step).toBe(1);
    expect(bytesOf(await handle.predict(X, 12)).equals(bytesOf(model.predict(X, 12)))).toBe(true);
    expect(handle.manifest.model).toBe("WorkerMlp");
    expect(handle.maxBatch).toBe(16);
  });

  it("copies inputs by default and moves them with transfer: true; results arrive as buffers of their own", async () => {
    const handle = await inWorker();
    await handle.init(1);
    const x = X.slice();
    const probs = await handle.predict(x, 12);
    expect(x.length).toBe(240);
    expect(probs.byteOffset).toBe(0);
    expect(probs.buffer.byteLength).toBe(12 * 3 * 4);
    const moved = X.slice();
    const again = await handle.predict(moved, 12, { transfer: true });
    expect(moved.length).toBe(0); // detached: its buffer now belongs to the worker
    expect(bytesOf(again).equals(bytesOf(probs))).toBe(true);
    const view = X.subarray(20, 60); // a view: copied, never detaching the larger buffer
    await handle.predict(view, 2, { transfer: true });
    expect(view.length).toBe(40);
  });

  it("errors keep their class and message; the model is unchanged after them", async () => {
    const handle = await inWorker();
    await handle.init(3);
    const before = await handle.save();
    const tooMany = await rejection(handle.trainStep(new Float32Array(20 * 17), new Uint8Array(17), 17));
    expect(tooMany).toBeInstanceOf(RangeError);
    expect(tooMany.message).toBe("trainStep: n must be an integer in [1, 16], got 17");
    const notFloats = await rejection(handle.predict([1, 2] as unknown as Float32Array, 1));
    expect(notFloats).toBeInstanceOf(TypeError);
    expect(notFloats.message).toBe("predict: x must be a Float32Array, got Array");
    const junk = await rejection(handle.load(new Uint8Array([1, 2, 3]), "junk.bin"));
    expect(junk).toBeInstanceOf(CheckpointError);
    expect(junk.message).toBe("junk.bin: too short: 3 bytes, but a safetensors file starts with an 8-byte header length");
    expect((junk as Runtime.CheckpointError).file).toBe("junk.bin");
    const model = await local();
    model.init(3);
    const w = model.parameter("h.weight");
    w[4] = Infinity;
    model.setParameter("h.weight", w);
    const poisoned = await rejection(handle.load(model.save(), "inf.safetensors"));
    expect(poisoned).toBeInstanceOf(NonFiniteCheckpointError);
    expect(poisoned.message).toContain("h.weight: Infinity at index 4 [0, 4]");
    expect(bytesOf(await handle.save()).equals(bytesOf(before))).toBe(true);
    await handle.load(model.save(), "inf.safetensors", { allowNonFinite: true });
    const train = await rejection(handle.train(dataset(10), { epochs: 1, batch: 99 }));
    expect(train).toBeInstanceOf(RangeError);
    expect(train.message).toBe("train: batch 99 exceeds the model's max batch 16; rebuild with --max-batch 99");
    expect((await rejection(handle.train(dataset(10), { epochs: 1.5 }))).message).toBe("train: epochs must be a non-negative integer, got 1.5");
  });
});

describe("train", () => {
  const TRAIN = dataset(200, "train");
  const TEST = dataset(60, "test");

  it("equals trainModel on this thread: weights, epoch reports, progress events", async () => {
    const handle = await inWorker();
    await handle.init(5);
    const progress: Array<{ epoch: number; done: number; step: number }> = [];
    const epochs: Array<{ epoch: number; step: number; accuracy: number }> = [];
    const result = await handle.train(
      { train: TRAIN, test: TEST },
      { onProgress: (p) => progress.push({ epoch: p.epoch, done: p.done, step: p.step }), onEpoch: (e) => epochs.push({ epoch: e.epoch, step: e.step, accuracy: e.test.accuracy }) },
    );
    const model = await local();
    model.init(5);
    const t = mlp.manifest.train;
    const reference = trainModel(model, TRAIN, TEST, { epochs: t.epochs, batch: t.batch, seed: t.seed, lr: Number(t.optimizer["lr"]), schedule: t.schedule });
    expect(bytesOf(await handle.save()).equals(bytesOf(model.save()))).toBe(true);
    expect(result.epochs.map((e) => [e.trainLoss, e.trainAccuracy, e.test.accuracy, e.test.loss])).toEqual(reference.epochs.map((e) => [e.trainLoss, e.trainAccuracy, e.test.accuracy, e.test.loss]));
    // 200 examples, batch 8: 25 steps an epoch; events every 10 steps and at each epoch's end.
    expect(progress).toEqual([1, 2, 3].flatMap((epoch) => [10, 20, 25].map((s) => ({ epoch, done: Math.min(s * 8, 200), step: (epoch - 1) * 25 + s }))));
    expect(epochs.map((e) => [e.epoch, e.step])).toEqual([[1, 25], [2, 50], [3, 75]]);
    expect(epochs.map((e) => e.accuracy)).toEqual(reference.epochs.map((e) => e.test.accuracy));
    expect(handle.step).toBe(75);
  });

  it("cancelling stops after the step in progress; the model equals one stopped there and stays usable", async () => {
    const handle = await inWorker();
    await handle.init(5);
    const controller = new AbortController();
    let events = 0;
    const error = await rejection(
      handle.train(TRAIN, {
        epochs: 50,
        progressEvery: 1,
        signal: controller.signal,
        onProgress: () => {
          if (++events === 30) controller.abort();
        },
      }),
    );
    expect(error).toBe(controller.signal.reason);
    expect(error.name).toBe("AbortError");
    const stoppedAt = handle.step;
    expect(stoppedAt).toBeGreaterThanOrEqual(30);
    expect(stoppedAt).toBeLessThan(50 * 25);

    // The same run on this thread, stopped after the same number of steps.
    const model = await local();
    model.init(5);
    const t = mlp.manifest.train;
    try {
      trainModel(model, TRAIN, TRAIN, {
        epochs: 50, batch: t.batch, seed: t.seed, lr: Number(t.optimizer["lr"]), schedule: t.schedule, progressEvery: 1,
        onProgress: () => {
          if (model.step === stoppedAt) throw new Error("stop");
        },
      });
    } catch (e) {
      expect((e as Error).message).toBe("stop");
    }
    expect(bytesOf(await handle.save()).equals(bytesOf(model.save()))).toBe(true);

    // Still usable: predictions, another (complete) run.
    expect(bytesOf(await handle.predict(X, 12)).equals(bytesOf(model.predict(X, 12)))).toBe(true);
    const again = await handle.train(TRAIN, { epochs: 1 });
    expect(again.epochs).toHaveLength(1);
    expect(handle.step).toBe(stoppedAt + 25);
  });

  it("an already aborted signal rejects at once and sends nothing", async () => {
    const handle = await inWorker();
    await handle.init(1);
    const reason = new Error("not now");
    expect(await rejection(handle.train(TRAIN, { signal: AbortSignal.abort(reason) }))).toBe(reason);
    expect(handle.step).toBe(0);
  });
});

describe("a worker that dies", () => {
  it("killed during training: the run and the queued calls reject with a WorkerError, later calls too", async () => {
    let worker: Worker | undefined;
    const handle = await inWorker(mlp, { create: () => (worker = new Worker(new URL(`file://${join(dir, "runtime/node/worker-node.js")}`))) });
    await handle.init(1);
    const run = handle.train(dataset(200), {
      epochs: 1000,
      onProgress: () => void worker!.terminate(),
    });
    const queued = handle.predict(X, 12);
    const error = await rejection(run);
    expect(error.name).toBe("WorkerError");
    expect(error.message).toBe("the model's worker stopped: it exited with code 1");
    expect((await rejection(queued)).message).toBe("the model's worker stopped: it exited with code 1");
    expect(handle.alive).toBe(false);
    expect((await rejection(handle.save())).message).toBe("the model's worker stopped: it exited with code 1; the handle cannot be used any more");
  });

  it("an uncaught error in the worker rejects the pending call with that error's message", async () => {
    // Static imports evaluate in order in one pass: the crashing listener is attached first.
    writeFileSync(
      join(dir, "crash-listener.mjs"),
      `import { parentPort } from "node:worker_threads";
parentPort.addEventListener("message", (event) => {
  if (event.data.kind !== "call" || event.data.method !== "predict") return;
  event.stopImmediatePropagation(); // the model never sees the call: only the crash answers
  throw new Error("crashed on purpose");
});
`,
    );
    const hook = join(dir, "crash-hook.mjs");
    writeFileSync(hook, `import "./crash-listener.mjs";\nimport "./runtime/node/worker-node.js";\n`);
    const handle = await inWorker(mlp, { url: new URL(`file://${hook}`) });
    await handle.init(1);
    const error = await rejection(handle.predict(X, 12));
    expect(error.name).toBe("WorkerError");
    expect(error.message).toBe("the model's worker stopped: Error: crashed on purpose");
  });

  it("a worker that cannot start, and a module that cannot load, reject loadModelInWorker", async () => {
    const broken = await rejection(api.loadModelInWorker(mlp.wasm, mlp.manifest, undefined, { create: () => new Worker("throw new Error('no such thing')", { eval: true }) }));
    expect(broken.name).toBe("WorkerError");
    expect(broken.message).toBe("the model's worker failed to start: Error: no such thing");
    const badWasm = await rejection(api.loadModelInWorker(new Uint8Array([0, 97, 115, 109, 9, 9, 9, 9]), mlp.manifest));
    expect(badWasm.name).toBe("ModelLoadError");
    expect(badWasm.message).toMatch(/^model 'WorkerMlp': not a WebAssembly module \(WebAssembly\.compile\(\): /);
    expect((await rejection(api.loadModelInWorker("x" as unknown as Uint8Array, mlp.manifest))).message).toBe(
      "loadModelInWorker: wasm must be a Uint8Array, ArrayBuffer or WebAssembly.Module, got string",
    );
  });

  it("a GPU back end in a worker: a RangeError naming the option (the worker drives a wasm model)", async () => {
    const error = await rejection(api.loadModelInWorker(mlp.wasm, mlp.manifest, { backend: "webgpu" }));
    expect(error.name).toBe("RangeError");
    expect(error.message).toBe('loadModelInWorker: options.backend "webgpu": a model in a worker runs on wasm; load a GPU model on the page with loadModel(..., { backend })');
  });

  it("options that cannot be sent to a worker: a TypeError (the worker is terminated)", async () => {
    const error = await rejection(api.loadModelInWorker(mlp.wasm, mlp.manifest, { onLoad: () => undefined }));
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toMatch(/^loadModelInWorker: wasm, manifest and options must be cloneable to a worker: .*could not be cloned/);
  });

  it("dispose() rejects pending calls and is safe twice", async () => {
    const handle = await inWorker();
    await handle.init(1);
    const pending = handle.train(dataset(200), { epochs: 200 });
    handle.dispose();
    handle.dispose();
    expect((await rejection(pending)).message).toBe("the model's worker was disposed");
  });
});

describe("process lifetime", () => {
  /** Runs a script in a fresh Node that imports condc/worker from the transpiled tree. */
  function runScript(body: string): { status: number | null; stdout: string; stderr: string; ms: number } {
    const script = join(dir, `script-${Math.random().toString(36).slice(2)}.mjs`);
    writeFileSync(
      script,
      `import { loadModelInWorker } from "./runtime/node/worker.js";
import { readFileSync } from "node:fs";
const { wasm, manifest } = JSON.parse(readFileSync(${JSON.stringify(join(dir, "mlp.json"))}, "utf8"));
const handle = await loadModelInWorker(Uint8Array.from(wasm), manifest);
${body}
`,
    );
    const t0 = Date.now();
    const r = spawnSync(process.execPath, [script], { encoding: "utf8", timeout: 30_000 });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - t0 };
  }

  beforeAll(() => writeFileSync(join(dir, "mlp.json"), JSON.stringify({ wasm: Array.from(mlp.wasm), manifest: mlp.manifest })));

  it("a script that never calls dispose() exits once its calls are done", () => {
    const r = runScript(`await handle.init(1);
const p = await handle.predict(new Float32Array(20), 1);
handle.train({ name: "d", count: 64, width: 20, classes: 3, images: new Float32Array(64 * 20), labels: new Uint8Array(64) }, { epochs: 2 }).then((r) => console.log("trained", r.epochs.length, p.length));`);
    expect(r.stderr).toBe("");
    expect(r.stdout.trim()).toBe("trained 2 3");
    expect(r.status).toBe(0);
  });

  it("a script that disposes exits at once", () => {
    const r = runScript(`await handle.init(1);
handle.dispose();
console.log("disposed");`);
    expect(r).toMatchObject({ status: 0, stdout: "disposed\n", stderr: "" });
  });
});
