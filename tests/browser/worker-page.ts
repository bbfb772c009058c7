/**
 * @fileoverview The worker test's page module (/tests/browser/worker-page.js): condc/worker's
 * browser build driving a Web Worker, checked against the same model on the page's thread.
 */
import * as runtime from "../../runtime/index.js";
import { loadModelInWorker, type WorkerModel } from "../../runtime/worker/browser.js";

const X = Float32Array.from({ length: 12 * 20 }, (_, i) => Math.sin(i * 0.37));
const LABELS = Uint8Array.from({ length: 12 }, (_, i) => i % 3);

async function build() {
  const manifest = await (await fetch("/model/mlp/manifest.json")).json();
  const wasm = new Uint8Array(await (await fetch("/model/mlp/plain.wasm")).arrayBuffer());
  return { manifest, wasm };
}

function dataset(count: number) {
  const width = 20;
  const images = new Float32Array(count * width);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    for (let k = 0; k < width; k++) images[i * width + k] = ((i * 31 + k * 17) % 97) / 97;
    labels[i] = (i * 7) % 3;
  }
  return { name: "page", count, width, classes: 3, images, labels };
}

const same = (a: ArrayBufferView, b: ArrayBufferView): boolean => {
  const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  return x.length === y.length && x.every((v, i) => v === y[i]);
};

async function caught(promise: Promise<unknown>): Promise<{ name: string; message: string } | null> {
  try {
    await promise;
    return null;
  } catch (e) {
    return { name: (e as Error).name, message: (e as Error).message };
  }
}

const settingsOf = (manifest: runtime.Manifest, epochs: number) => ({
  epochs,
  batch: manifest.train.batch,
  seed: manifest.train.seed,
  lr: Number(manifest.train.optimizer["lr"]),
  schedule: manifest.train.schedule,
});

export async function methods() {
  const { manifest, wasm } = await build();
  const handle = await loadModelInWorker(wasm, manifest);
  const model = await runtime.loadModel(wasm, manifest);
  await handle.init(7);
  model.init(7);
  const predictSame = same(await handle.predict(X, 12), model.predict(X, 12));
  const loss = (await handle.trainStep(X, LABELS, 12)).loss;
  const lossSame = Object.is(loss, model.trainStep(X, LABELS, 12).loss);
  const saveSame = same(await handle.save(), model.save());
  const data = dataset(64);
  const progress: number[] = [];
  const result = await handle.train(data, { epochs: 2, onProgress: (p) => progress.push(p.step) });
  const reference = runtime.trainModel(model, data, data, settingsOf(manifest, 2));
  const trainedSame = same(await handle.save(), model.save());
  const error = await caught(handle.load(new Uint8Array(3), "junk.bin"));
  handle.dispose();
  return {
    isolated: crossOriginIsolated,
    predictSame,
    lossSame,
    saveSame,
    trainedSame,
    accuracies: [result.epochs.map((e) => e.test.accuracy), reference.epochs.map((e) => e.test.accuracy)],
    progress,
    error,
    afterDispose: await caught(handle.predict(X, 1)),
  };
}

/** Cancels a long run after `afterEvents` progress events; compares with runs on the page. */
export async function cancel(afterEvents: number) {
  const { manifest, wasm } = await build();
  const handle: WorkerModel = await loadModelInWorker(wasm, manifest);
  await handle.init(5);
  const data = dataset(400);
  const controller = new AbortController();
  let events = 0;
  let epochsDone = 0;
  const error = await caught(
    handle.train(data, {
      epochs: 40,
      progressEvery: 1,
      signal: controller.signal,
      onEpoch: (e) => (epochsDone = e.epoch),
      onProgress: () => {
        if (++events === afterEvents) controller.abort();
      },
    }),
  );
  const step = handle.step;
  // Where the model must be: stopped after `step` steps (shared memory), or at the last epoch's end.
  const model = await runtime.loadModel(wasm, manifest);
  model.init(5);
  try {
    runtime.trainModel(model, data, data, {
      ...settingsOf(manifest, 40),
      progressEvery: 1,
      onProgress: () => {
        if (model.step === step) throw new Error("stop");
      },
    });
  } catch {
    // stopped where the worker stopped
  }
  const weightsSame = same(await handle.save(), model.save());
  const usable = same(await handle.predict(X, 12), model.predict(X, 12));
  const again = await handle.train(data, { epochs: 1 });
  handle.dispose();
  return { isolated: crossOriginIsolated, error, step, epochsDone, stepsPerEpoch: Math.ceil(400 / manifest.train.batch), weightsSame, usable, againEpochs: again.epochs.length };
}

/** A worker whose script throws on the first predict, and one whose script does not exist. */
export async function crashes() {
  const { manifest, wasm } = await build();
  const handle = await loadModelInWorker(wasm, manifest, undefined, { url: "/tests/browser/worker-crash.js" });
  await handle.init(1);
  const crashed = await caught(handle.predict(X, 12));
  const later = await caught(handle.init(2));
  const missing = await caught(loadModelInWorker(wasm, manifest, undefined, { url: "/no-such-worker.js" }));
  return { crashed, later, missing, alive: handle.alive };
}

/** A worker whose model has its own pool (options passed through): the page thread's results on one thread. */
export async function pooled() {
  const { manifest, wasm } = await build();
  const handle = await loadModelInWorker(wasm, manifest, { threads: 2, split: "always" });
  const model = await runtime.loadModel(wasm, manifest, { threads: 1 });
  await handle.init(3);
  model.init(3);
  const predictSame = same(await handle.predict(X, 12), model.predict(X, 12));
  const lossSame = Object.is((await handle.trainStep(X, LABELS, 12)).loss, model.trainStep(X, LABELS, 12).loss);
  const saveSame = same(await handle.save(), model.save());
  handle.dispose();
  return { isolated: (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true, predictSame, lossSame, saveSame };
}
