/**
 * @fileoverview The pool's promises: `threads` is checked and reported (`model.threads`,
 * default the cores); predictions and training on several threads equal one thread's; a trap
 * in a worker ends the call within a second with a ThreadError naming the thread, the kernel
 * and the cause, and the model and its threads stay usable; a worker that cannot start fails
 * `loadModel` at once, naming why; where threads cannot run the model runs on one and says so
 * once; `dispose()` ends the workers and the model keeps working on the calling thread; a
 * process exits without dispose(); and condc/worker runs a model that has its own pool.
 */
import v8 from "node:v8";
v8.setFlagsFromString("--experimental-wasm-relaxed-simd");
import { spawnSync } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { nodeThreadHost } from "../../runtime/node/thread-host.js";
import { compile } from "../../compiler/index.js";
import { loadModel, ModelLoadError, setThreadHost, ThreadError, type Manifest, type Model } from "../../runtime/index.js";
import { findRegion } from "../../runtime/manifest.js";
import { browserThreadHost } from "../../runtime/pool/browser-host.js";
import type * as NodeWorker from "../../runtime/node/worker.js";
import { importFrom, transpiledRuntime } from "../worker/support.js";

const SOURCE = `model PoolMlp {
  input  x: f32[64]
  target y: class[4]
  layer h   = dense(x, 16) relu
  layer g   = dense(h, 48) tanh
  layer out = dense(g, 4)
  loss = softmax_cross_entropy(out, y)
}
train { optimizer = adam(lr: 0.01) batch = 16 }`;

let wasm: Uint8Array;
let manifest: Manifest;
const models: Model[] = [];
const X = Float32Array.from({ length: 16 * 64 }, (_, i) => Math.sin(i * 0.61));
const Y = Int32Array.from({ length: 16 }, (_, i) => i % 4);
const bytes = (a: Float32Array | Uint8Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

beforeAll(async () => {
  const built = await compile(SOURCE, { file: "pool.cond", maxBatch: 16, simd: "plain" });
  if (!built.ok) throw new Error(built.diagnostics.map((d) => d.message).join("\n"));
  wasm = built.wasm;
  manifest = built.manifest;
});
afterEach(() => setThreadHost(undefined));
afterAll(() => models.forEach((m) => m.dispose()));

async function load(options: Parameters<typeof loadModel>[2]): Promise<Model> {
  const model = await loadModel(wasm, manifest, options);
  models.push(model);
  return model;
}

/** Elapsed milliseconds of a call that must throw, and its error. */
function timedError(call: () => unknown): { error: Error; ms: number } {
  const t0 = performance.now();
  try {
    call();
  } catch (error) {
    return { error: error as Error, ms: performance.now() - t0 };
  }
  throw new Error("the call returned without an error");
}

describe("threads option", () => {
  it("defaults to the cores for a model with work to split, to one for a model too small to split, and reports the count", async () => {
    const big = await compile(SOURCE.replace("x: f32[64]", "x: f32[784]").replace("dense(x, 16)", "dense(x, 256)"), { file: "big.cond", maxBatch: 64, simd: "plain" });
    if (!big.ok) throw new Error("big.cond did not compile");
    const bigModel = await loadModel(big.wasm, big.manifest);
    models.push(bigModel);
    expect(bigModel.threads).toBe(Math.max(1, os.availableParallelism()));
    // 64 x 48 x 16 multiply-adds at most: no call reaches two tiles of the least threshold.
    expect((await load({})).threads).toBe(1);
    expect((await load({ threads: 3 })).threads).toBe(3);
    expect((await load({ threads: 1 })).threads).toBe(1);
  });

  it("refuses counts that are not integers in [1, 1024] and unknown split policies, naming the option", async () => {
    for (const threads of [0, -1, 1.5, Number.NaN, 1025, "2"]) {
      await expect(loadModel(wasm, manifest, { threads: threads as number }), String(threads)).rejects.toThrow(RangeError);
      await expect(loadModel(wasm, manifest, { threads: threads as number })).rejects.toThrow(/loadModel: threads must be an integer in \[1, 1024\]/);
    }
    await expect(loadModel(wasm, manifest, { split: "sometimes" as "always" })).rejects.toThrow(/loadModel: split must be "measured" or "always"/);
  });
});

describe("results", () => {
  it("training and predictions on 2 and 3 threads equal one thread's, byte for byte", async () => {
    const runs: Buffer[][] = [];
    for (const threads of [1, 2, 3]) {
      const model = await load({ threads, split: "always" });
      model.init(4);
      const losses: number[] = [];
      for (let s = 0; s < 4; s++) losses.push(model.trainStep(X, Y, 16).loss);
      runs.push([bytes(Float32Array.from(losses)), bytes(model.save()), bytes(model.predict(X, 16)), bytes(model.predict(X, 1))]);
    }
    for (const run of runs.slice(1)) run.forEach((b, i) => expect(b.equals(runs[0]![i]!), `part ${i}`).toBe(true));
  });
});

describe("errors", () => {
  it("a trap in a worker ends the call within a second with a ThreadError; the model and its threads stay usable", async () => {
    const model = await load({ threads: 2, split: "always" });
    const reference = await load({ threads: 1 });
    model.init(2);
    reference.init(2);
    // predict(m) past the input region: the first layer's GEMM (16 columns: one column tile)
    // splits its m rows in two, and the second half of the rows lies past the end of memory
    // (as a corrupted row count or region address would put it).
    const input = findRegion(manifest, "input").offset;
    const inBounds = Math.floor((model.wasmMemory.buffer.byteLength - input) / (64 * 4));
    const output = findRegion(manifest, manifest.layers[0]!.output).offset;
    expect(output + inBounds * 16 * 4).toBeLessThan(model.wasmMemory.buffer.byteLength);
    const predictRows = model.wasmExports["predict"] as (n: number) => void;
    let threadErrors = 0;
    for (let attempt = 0; attempt < 10 && threadErrors === 0; attempt++) {
      const { error, ms } = timedError(() => predictRows(2 * inBounds));
      expect(ms).toBeLessThan(1000);
      // The calling thread runs a tile itself when its worker is late (a busy machine): then the trap is its own.
      if (error instanceof ThreadError) {
        threadErrors++;
        expect(error.message).toMatch(/^worker thread 1 of 1 failed in gemmNT: RuntimeError: memory access out of bounds; the call's results are undefined/);
      } else {
        expect(error).toBeInstanceOf(WebAssembly.RuntimeError);
      }
    }
    expect(threadErrors).toBeGreaterThan(0);
    expect(model.threads).toBe(2);
    model.init(2);
    expect(bytes(model.predict(X, 16)).equals(bytes(reference.predict(X, 16)))).toBe(true);
    expect(model.trainStep(X, Y, 16).loss).toBe(reference.trainStep(X, Y, 16).loss);
  });

  it("a worker that cannot start fails loadModel at once when threads were asked for, naming the thread and the cause", async () => {
    const node = nodeThreadHost();
    setThreadHost({ ...node, spawn: () => node.spawn("throw new Error('no room for a thread here')") });
    const t0 = performance.now();
    const error = await loadModel(wasm, manifest, { threads: 2 }).then(() => null, (e: Error) => e);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(error).toBeInstanceOf(ModelLoadError);
    expect(error!.message).toMatch(/worker thread 1 could not start: Error: no room for a thread here; load it with \{ threads: 1 \} to run on this thread alone/);
  });

  it("with the default thread count, a worker that cannot start leaves the model on one thread, said once", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    try {
      const node = nodeThreadHost();
      setThreadHost({ ...node, cores: () => 4, spawn: () => node.spawn("throw new Error('blocked by policy')") });
      const big = await compile(SOURCE.replace("x: f32[64]", "x: f32[784]").replace("dense(x, 16)", "dense(x, 256)"), { file: "big.cond", maxBatch: 64, simd: "plain" });
      if (!big.ok) throw new Error("big.cond did not compile");
      for (let i = 0; i < 2; i++) {
        const model = await loadModel(big.wasm, big.manifest);
        models.push(model);
        expect(model.threads).toBe(1);
        model.init(1);
        expect(model.predict(new Float32Array(784), 1).length).toBe(4);
      }
      const said = warn.mock.calls.map((c) => String(c[0])).filter((m) => m.startsWith("condc: running on one thread"));
      expect(said).toEqual(["condc: running on one thread instead of 4: the worker threads could not start (Error: blocked by policy)"]);
    } finally {
      warn.mockRestore();
    }
  });

  it("where threads cannot run, the model runs on one thread and says why once", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    try {
      const scope = globalThis as { crossOriginIsolated?: boolean };
      scope.crossOriginIsolated = false;
      const browser = browserThreadHost();
      const reason = browser.unavailable();
      delete scope.crossOriginIsolated;
      expect(reason).toMatch(/Cross-Origin-Opener-Policy: same-origin/);
      expect(reason).toMatch(/Cross-Origin-Embedder-Policy: require-corp/);
      setThreadHost({ ...browser, unavailable: () => reason, cores: () => 8 });
      expect((await load({ threads: 4 })).threads).toBe(1);
      expect((await load({ threads: 8 })).threads).toBe(1);
      const said = warn.mock.calls.filter((c) => String(c[0]).startsWith("condc: running on one thread"));
      expect(said.length).toBe(1);
      expect(String(said[0]![0])).toBe(`condc: running on one thread instead of 4: ${reason}`);
    } finally {
      warn.mockRestore();
    }
  });
});

describe("dispose", () => {
  it("ends the workers; the model keeps working on the calling thread, with the same results", async () => {
    const model = await load({ threads: 3, split: "always" });
    model.init(9);
    const before = bytes(model.predict(X, 16));
    model.dispose();
    model.dispose();
    expect(model.threads).toBe(1);
    expect(bytes(model.predict(X, 16)).equals(before)).toBe(true);
    expect(Number.isFinite(model.trainStep(X, Y, 16).loss)).toBe(true);
  });
});

describe("processes and workers", () => {
  let dir = "";
  beforeAll(async () => {
    dir = await transpiledRuntime();
    writeFileSync(join(dir, "model.wasm"), wasm);
    writeFileSync(join(dir, "model.json"), JSON.stringify(manifest));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("a process exits normally without dispose() (idle workers never keep Node alive)", () => {
    const script = join(dir, "exits.mjs");
    writeFileSync(
      script,
      `import { readFileSync } from "node:fs";
import "./runtime/node/thread-host.js";
import { loadModel } from "./runtime/index.js";
const model = await loadModel(readFileSync(new URL("./model.wasm", import.meta.url)), JSON.parse(readFileSync(new URL("./model.json", import.meta.url), "utf8")), { threads: 3, split: "always" });
model.init(1);
const x = new Float32Array(16 * 64).fill(0.25);
for (let i = 0; i < 20; i++) model.trainStep(x, new Int32Array(16), 16);
console.log("threads", model.threads, model.predict(x, 2).length);
`,
    );
    const t0 = performance.now();
    const run = spawnSync(process.execPath, [script], { encoding: "utf8", timeout: 30_000 });
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    expect(run.stdout.trim()).toBe("threads 3 8");
    expect(performance.now() - t0).toBeLessThan(30_000);
  });

  it("condc/worker runs a model with its own pool (options passed through), with one thread's results", async () => {
    const api = (await importFrom(dir, "runtime/node/worker.js")) as unknown as typeof NodeWorker;
    const handle = await api.loadModelInWorker(wasm, manifest, { threads: 2, split: "always" });
    try {
      const local = await load({ threads: 1 });
      await handle.init(5);
      local.init(5);
      expect(bytes(await handle.predict(X, 16)).equals(bytes(local.predict(X, 16)))).toBe(true);
      const stepped = await handle.trainStep(X, Y, 16);
      expect(stepped.loss).toBe(local.trainStep(X, Y, 16).loss);
      expect(bytes(await handle.save()).equals(bytes(local.save()))).toBe(true);
    } finally {
      handle.dispose();
    }
  });
});
