/**
 * @fileoverview Back-end selection and failures: loadModel's `backend` option (checked names,
 * "auto" keeping wasm for a software adapter or a model the GPU cannot run, saying why), a
 * diverging step leaving every parameter as it was, a device lost during a step (the call and
 * every later one reject with GpuDeviceLostError; the model reloads from its last save() on a new
 * device), and `condc train|eval --backend` (the same figures as the wasm build, one-line errors).
 */
import v8 from "node:v8";
v8.setFlagsFromString("--experimental-wasm-relaxed-simd");

import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { CliIO } from "../../cli/io.js";
import { main } from "../../cli/main.js";
import { loadModel, NonFiniteError } from "../../runtime/model.js";
import "../../runtime/node/storage.js";
import { loadWeights, saveModel } from "../../runtime/storage/storage.js";
import { acquireNodeGpuDevice, CHROMIUM_SWIFTSHADER_ICD } from "../../runtime/node/webgpu.js";
import { GpuDeviceLostError, GpuUnsupportedModelError } from "../../runtime/webgpu/errors.js";
import { compile } from "../../compiler/index.js";
import { METHODS } from "../../methods/registry.js";
import type { MethodUnit } from "../../methods/unit.js";
import type { MethodRuntime } from "../../methods/runtime-unit.js";
import { keepMethod, keepRuntime } from "../methods/keep-gate.js";
import { probeGpu, skipNote } from "./gpu.js";
import { build, gpuModel, pair, rows, syntheticData } from "./compare.js";
import { closeness } from "./reference.js";

const probe = await probeGpu();
afterAll(() => probe.device?.destroy());

const SOURCE = `model SmallMoe {
  input  x: f32[24]
  target y: class[4]
  layer h   = moe(x, 12, experts: 3, top_k: 2) tanh
  layer out = dense(h, 4)
  loss = softmax_cross_entropy(out, y)
}
train { optimizer = sgd(lr: 0.1, momentum: 0.9) batch = 8 }`;
// A method registered from outside without a GPU program (tests/methods/keep-gate.ts).
const KEEP = SOURCE.replace("moe(x, 12, experts: 3, top_k: 2) tanh", "dense(x, 12) relu gate keep(threshold: 0.5)");
const data = syntheticData(24, 4, 400, 21);

describe(`loadModel's backend option${skipNote(probe)}`, () => {
  it.skipIf(!probe.device)("a backend name that is not one is a RangeError naming the option; auto keeps wasm for a software adapter and says so", async () => {
    const compiled = await build({ file: "small.cond", text: SOURCE }, 8);
    await expect(loadModel(compiled.wasm, compiled.manifest, { backend: "gpu" as "webgpu" })).rejects.toThrow(/options\.backend must be "wasm", "webgpu" or "auto", got "gpu"/);
    const reasons: string[] = [];
    const model = await loadModel(compiled.wasm, compiled.manifest, { backend: "auto", gpu: probe.device!, onFallback: (r) => reasons.push(r) });
    if (probe.device!.adapter.isFallbackAdapter) {
      expect(model.backend).toBe("wasm");
      expect(reasons.join()).toMatch(/software/);
    } else expect(model.backend).toBe("webgpu");
  });

  it.skipIf(!probe.device)("a model the GPU cannot run: webgpu rejects with GpuUnsupportedModelError naming the layer; auto takes wasm", async () => {
    const compiled = await compile(KEEP, { file: "keep.cond", maxBatch: 8, simd: "plain", methods: [...METHODS, keepMethod as MethodUnit] });
    if (!compiled.ok) throw new Error(compiled.diagnostics.map((d) => d.message).join("; "));
    const options = { gpu: probe.device!, methods: [keepRuntime as MethodRuntime] };
    await expect(loadModel(compiled.wasm, compiled.manifest, { ...options, backend: "webgpu" })).rejects.toThrow(GpuUnsupportedModelError);
    await expect(loadModel(compiled.wasm, compiled.manifest, { ...options, backend: "webgpu" })).rejects.toThrow(/layer 'h' is compiled by method 'keep', which has no GPU program/);
    // auto on a hardware adapter would try the GPU first; on the software one it never does.
    const model = await loadModel(compiled.wasm, compiled.manifest, { ...options, backend: "auto" });
    expect(model.backend).toBe("wasm");
  });
});

describe(`storage${skipNote(probe)}`, () => {
  it.skipIf(!probe.device)("saveModel and loadWeights take a GPU model (a file here): wasm loads what the GPU saved, and back", async () => {
    const compiled = await build({ file: "small.cond", text: SOURCE }, 8);
    const { wasm, gpu } = await pair(probe.device!, compiled, 4);
    const { x, y } = rows(data, 0, 8);
    await gpu.trainStep(x, y, 8);
    const tmp = mkdtempSync(join(tmpdir(), "condc-gpu-storage-"));
    try {
      const path = join(tmp, "gpu.safetensors");
      const saved = await saveModel(gpu, path);
      expect(saved.step).toBe(1);
      const loaded = await loadWeights(wasm, path);
      expect(loaded.sameSource).toBe(true);
      expect(closeness(await gpu.predict(x, 8), wasm.predict(x, 8))).toBe("");
      wasm.trainStep(x, y, 8);
      await saveModel(wasm, path);
      expect((await loadWeights(gpu, path)).step).toBe(2);
      expect(closeness(await gpu.predict(x, 8), wasm.predict(x, 8))).toBe("");
    } finally {
      rmSync(tmp, { recursive: true, force: true });
      gpu.destroy();
    }
  });
});

describe(`failures during a step${skipNote(probe)}`, () => {
  // A ReLU model: WGSL lets min, max and clamp swallow a NaN (tanh clamps its argument, the
  // router's softmax its exponent), so such a model may diverge later or to a finite loss instead.
  it.skipIf(!probe.device)("a step whose loss is not finite rejects with the wasm build's NonFiniteError and changes no parameter", async () => {
    const compiled = await build({ file: "small.cond", text: SOURCE.replace("moe(x, 12, experts: 3, top_k: 2) tanh", "dense(x, 12) relu") }, 8);
    const { wasm, gpu } = await pair(probe.device!, compiled, 1);
    const { x, y } = rows(data, 0, 8);
    const thrown = async (step: () => Promise<unknown>): Promise<{ error: Error; before: Uint8Array }> => {
      for (let i = 0; i < 10; i++) {
        const before = gpu.backend === "webgpu" ? await gpu.save() : new Uint8Array();
        try {
          await step();
        } catch (error) {
          return { error: error as Error, before };
        }
      }
      throw new Error("did not diverge in 10 steps");
    };
    const wasmError = await (async () => {
      for (let i = 0; i < 10; i++) {
        try {
          wasm.trainStep(x, y, 8, { lr: 1e30 });
        } catch (error) {
          return error as Error;
        }
      }
      throw new Error("wasm did not diverge");
    })();
    const { error, before } = await thrown(() => gpu.trainStep(x, y, 8, { lr: 1e30 }));
    expect(error).toBeInstanceOf(NonFiniteError);
    expect(error.message).toBe(wasmError.message);
    expect(Buffer.from(await gpu.save()).equals(Buffer.from(before))).toBe(true);
    gpu.destroy();
  });

  it.skipIf(!probe.device)("a device lost during a step: that call and every later one reject with GpuDeviceLostError; the model reloads from its last save() on a new device", async () => {
    const compiled = await build({ file: "small.cond", text: SOURCE }, 8);
    const device = await acquireNodeGpuDevice({ vulkanDrivers: existsSync(CHROMIUM_SWIFTSHADER_ICD) ? [CHROMIUM_SWIFTSHADER_ICD] : [] });
    const gpu = await gpuModel(device, compiled);
    await gpu.init(2);
    const { x, y } = rows(data, 0, 8);
    await gpu.trainStep(x, y, 8);
    const saved = await gpu.save();
    const expected = await gpu.predict(x, 8);
    const pending = gpu.trainStep(x, y, 8);
    device.destroy();
    await expect(pending).rejects.toThrow(GpuDeviceLostError);
    await expect(gpu.predict(x, 8)).rejects.toThrow(/the GPU device was lost .*reload the model from its last save\(\)/);
    const again = await gpuModel(probe.device!, compiled);
    await again.load(saved, "last.safetensors");
    expect(again.step).toBe(1);
    expect(closeness(await again.predict(x, 8), expected)).toBe("");
    again.destroy();
  });
});

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIO = { stdout: (line) => void out.push(line), stderr: (line) => void err.push(line), readFile: (path) => readFileSync(path, "utf8") };
  return { io, stdout: () => out.join("\n"), stderr: () => err.join("\n") };
}

async function run(argv: string[]) {
  const cli = capture();
  const code = await main(argv, cli.io);
  const all = `${cli.stdout()}\n${cli.stderr()}`;
  expect(all, `no stack trace from condc ${argv.join(" ")}`).not.toContain("    at ");
  expect(all).not.toContain("internal error");
  return { code, ...cli };
}

describe(`condc --backend${skipNote(probe)}`, () => {
  it.skipIf(!probe.device)("train and eval on webgpu report what the wasm build reports (MNIST, a small mixture of experts); a bad name is a usage error", async () => {
    const tmp = mkdtempSync(join(tmpdir(), "condc-backend-"));
    try {
      const file = join(tmp, "small.cond");
      writeFileSync(file, `model SmallMnist {
  input  x: f32[784]
  target y: class[10]
  layer h   = moe(x, 16, experts: 2, top_k: 1) relu
  layer out = dense(h, 10)
  loss = softmax_cross_entropy(out, y)
}
train { data = mnist optimizer = sgd(lr: 0.05, momentum: 0.9) batch = 128 epochs = 1 }
`);
      const results: Record<string, { test_accuracy: number; backend: string; epochs: Array<{ train_loss: number }> }> = {};
      for (const backend of ["wasm", "webgpu"]) {
        const r = await run(["train", file, "--backend", backend, "--json", "--out", join(tmp, `${backend}.safetensors`)]);
        expect(r.code, r.stderr()).toBe(0);
        results[backend] = JSON.parse(r.stdout());
      }
      expect(results["webgpu"]!.backend).toBe("webgpu");
      expect(results["webgpu"]!.test_accuracy).toBeCloseTo(results["wasm"]!.test_accuracy, 2);
      expect(closeness([results["webgpu"]!.epochs[0]!.train_loss], [results["wasm"]!.epochs[0]!.train_loss])).toBe("");
      const wasmEval = await run(["eval", file, "--weights", join(tmp, "webgpu.safetensors"), "--json"]);
      const gpuEval = await run(["eval", file, "--weights", join(tmp, "webgpu.safetensors"), "--json", "--backend", "webgpu"]);
      expect(gpuEval.code, gpuEval.stderr()).toBe(0);
      expect(gpuEval.stderr()).toMatch(/backend: webgpu, /);
      const [w, g] = [JSON.parse(wasmEval.stdout()), JSON.parse(gpuEval.stdout())];
      expect(g.accuracy).toBe(w.accuracy);
      expect(g.macs_per_example).toBe(w.macs_per_example);
      const bad = await run(["eval", file, "--weights", join(tmp, "webgpu.safetensors"), "--backend", "cuda"]);
      expect(bad.code).toBe(2);
      expect(bad.stderr()).toBe("condc eval: --backend must be wasm, webgpu or auto, got 'cuda'");
      // Threads are the wasm back end's: a GPU run reports none, and bench refuses a thread list for it.
      expect(g.threads).toBeNull();
      expect(w.threads).toBeGreaterThanOrEqual(1);
      const threaded = await run(["bench", file, "--backend", "webgpu", "--threads", "1,2"]);
      expect(threaded.code).toBe(2);
      expect(threaded.stderr()).toBe("condc bench: --threads is for the wasm back end; drop it with --backend webgpu");
      const gpuBench = await run(["bench", file, "--backend", "webgpu", "--batch", "4", "--reps", "1", "--json"]);
      expect(gpuBench.code, gpuBench.stderr()).toBe(0);
      const benchJson = JSON.parse(gpuBench.stdout());
      expect(benchJson.backend).toBe("webgpu");
      expect(benchJson.cases.map((c: { batch: number; threads: number | null }) => [c.batch, c.threads])).toEqual([[4, null]]);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 600_000);
});
