/**
 * @fileoverview How the WebGPU back end fails: no WebGPU at all, a model it cannot run, a
 * shader the implementation rejects, a buffer past the device's limits, a device lost before or
 * during a call, and an out-of-memory or validation error reported by an error scope. The
 * classification of scope errors is also checked on a stand-in device (a GPU cannot be made
 * to run out of memory on demand); everything else runs on the real adapter.
 */
import { readFileSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { compile } from "../../compiler/index.js";
import { nodeGpu } from "../../runtime/node/webgpu.js";
import { buildFrame } from "../../runtime/webgpu/frame.js";
import { denseGpu } from "../../methods/dense/webgpu.js";
import type { GpuMethod } from "../../runtime/webgpu/method.js";
import { acquireGpuDevice, GpuDevice } from "../../runtime/webgpu/device.js";
import {
  GpuDeviceLostError,
  GpuInternalError,
  GpuLimitError,
  GpuOutOfMemoryError,
  GpuUnavailableError,
  GpuUnsupportedModelError,
  GpuValidationError,
} from "../../runtime/webgpu/errors.js";
import { GpuExecutor } from "../../runtime/webgpu/executor.js";
import { sgdKernel } from "../../runtime/webgpu/kernels/optim.js";
import { probeGpu, skipNote } from "./gpu.js";

const probe = await probeGpu();
afterAll(() => probe.device?.destroy());

describe("without a GPU", () => {
  it("no navigator.gpu, or no adapter: GpuUnavailableError saying which", async () => {
    if (!("gpu" in ((globalThis as { navigator?: object }).navigator ?? {}))) {
      await expect(acquireGpuDevice()).rejects.toThrow(/WebGPU is not available: this environment has no navigator.gpu/);
    }
    const none = { requestAdapter: async () => null } as unknown as GPU;
    await expect(acquireGpuDevice({ gpu: none })).rejects.toThrow(new GpuUnavailableError("requestAdapter found no adapter"));
    const failing = { requestAdapter: async () => Promise.reject(new Error("driver exploded")) } as unknown as GPU;
    await expect(acquireGpuDevice({ gpu: failing })).rejects.toThrow(/requestAdapter failed: driver exploded/);
  });

  it("a Vulkan driver manifest that does not exist: GpuUnavailableError naming it", async () => {
    await expect(nodeGpu({ vulkanDrivers: ["/nonexistent/icd.json"] })).rejects.toThrow(/the Vulkan driver manifest \/nonexistent\/icd.json does not exist/);
  });

  it("layers whose method has no GPU program: GpuUnsupportedModelError listing each one, before any GPU work", async () => {
    const file = "examples/mnist-lowrank.cond";
    const compiled = await compile(readFileSync(file, "utf8"), { file, maxBatch: 8, simd: "plain" });
    if (!compiled.ok) throw new Error("did not compile");
    // A registry that knows the dense program only (as for a method registered without one).
    const methods = new Map<string, GpuMethod<unknown, unknown>>([["dense", denseGpu as GpuMethod<unknown, unknown>]]);
    const io = { upload: () => Promise.reject(new Error("no GPU work expected")), download: () => Promise.reject(new Error("no GPU work expected")) };
    expect(() => buildFrame(compiled.manifest, methods, io)).toThrow(GpuUnsupportedModelError);
    expect(() => buildFrame(compiled.manifest, methods, io)).toThrow(
      "model 'MnistLowRank' cannot run on the WebGPU back end yet: layer 'h1' is compiled by method 'lowrank', which has no GPU program; " +
        "layer 'h2' is compiled by method 'lowrank', which has no GPU program",
    );
  });
});

/** A stand-in device whose error scopes report `errors[filter]` (and nothing else). */
function standInDevice(errors: Partial<Record<GPUErrorFilter, string>>): GpuDevice {
  const stack: GPUErrorFilter[] = [];
  const fake = {
    lost: new Promise(() => undefined),
    limits: {},
    pushErrorScope: (filter: GPUErrorFilter) => void stack.push(filter),
    popErrorScope: async () => {
      const filter = stack.pop()!;
      return errors[filter] ? ({ message: errors[filter] } as GPUError) : null;
    },
    destroy: () => undefined,
  };
  return new GpuDevice(fake as unknown as GPUDevice, { vendor: "", architecture: "", device: "stand-in", description: "", isFallbackAdapter: true });
}

describe("error scopes become typed rejections (stand-in device)", () => {
  it("out-of-memory, validation and internal errors, most specific first; the work's own error otherwise", async () => {
    await expect(standInDevice({ "out-of-memory": "no room", validation: "also bad" }).run("predict", async () => 1)).rejects.toThrow(
      new GpuOutOfMemoryError("no room", "predict"),
    );
    await expect(standInDevice({ validation: "bad binding" }).run("trainStep", async () => 1)).rejects.toThrow(
      "WebGPU validation failed during trainStep: bad binding",
    );
    await expect(standInDevice({ internal: "shader too big" }).run("compiling", async () => 1)).rejects.toThrow(GpuInternalError);
    await expect(standInDevice({}).run("x", async () => Promise.reject(new RangeError("mine")))).rejects.toThrow(new RangeError("mine"));
    await expect(standInDevice({}).run("x", async () => 42)).resolves.toBe(42);
  });

  it("calls run one after another, each in its own scopes", async () => {
    const device = standInDevice({});
    const order: string[] = [];
    const slow = device.run("a", async () => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      order.push("a");
    });
    const fast = device.run("b", async () => void order.push("b"));
    await Promise.all([slow, fast]);
    expect(order).toEqual(["a", "b"]);
  });
});

describe(`on the adapter${skipNote(probe)}`, () => {
  it.skipIf(!probe.device)("a shader that does not compile: GpuValidationError with the WGSL compiler's message", async () => {
    const executor = await GpuExecutor.create(probe.device!, [{ name: "a", role: "test", bytes: 16 }]);
    const broken = { label: "broken", code: "@compute @workgroup_size(1) fn main() { let x: u32 = 1.5; }", bindings: [], grid: () => [1, 1, 1] as [number, number, number] };
    const failure = executor.compile("broken program", [{ kind: "dispatch", kernel: broken, bind: {} }]);
    await expect(failure).rejects.toThrow(GpuValidationError);
    await expect(failure).rejects.toThrow(/during compiling broken program: .*error/s);
    // The device is still usable afterwards.
    await executor.upload("a", new Float32Array([1, 2, 3, 4]));
    expect(Array.from(new Float32Array(await executor.download("a")))).toEqual([1, 2, 3, 4]);
    executor.destroy();
  });

  it.skipIf(!probe.device)("a region past the device's binding limit: GpuLimitError before anything is allocated", async () => {
    const limit = Math.min(probe.device!.limits.maxStorageBufferBindingSize, probe.device!.limits.maxBufferSize);
    await expect(GpuExecutor.create(probe.device!, [{ name: "huge.weight", role: "param", bytes: limit + 4 }])).rejects.toThrow(
      new GpuLimitError(`region 'huge.weight' needs ${limit + 4} bytes; this device binds at most ${limit} bytes per storage buffer`),
    );
  });

  it.skipIf(!probe.device)("device lost (destroyed) before and during a call: GpuDeviceLostError, and every later call too", async () => {
    // Its own device (this one is destroyed) and a cheap kernel: pipelines are per device.
    const own = await probeGpu();
    const count = 1 << 20;
    const kernel = sgdKernel(count, 0.9, 0);
    const executor = await GpuExecutor.create(own.device!, kernel.bindings.map((b) => ({ name: b.name, role: "test", bytes: 4 * count })));
    const program = await executor.compile("sgd program", [{ kind: "dispatch", kernel, bind: { param: "param", grad: "grad", velocity: "velocity", loss: "loss" } }]);
    const call = { n: 1, t: 1, lr: 0.1, adamC1: 1, adamC2: 1 };
    await executor.run(program, { call, readback: { region: "param", bytes: 16 } });
    const inFlight = executor.run(program, { call, readback: { region: "param", bytes: 4 * count } });
    own.device!.destroy();
    await expect(inFlight).rejects.toThrow(GpuDeviceLostError);
    await expect(executor.run(program, { call })).rejects.toThrow(/^the GPU device was lost during sgd program \(destroyed.*\); reload the model from its last save\(\)$/);
    await expect(executor.download("param")).rejects.toThrow(GpuDeviceLostError);
    expect(own.device!.isLost).toBe(true);
  });
});
