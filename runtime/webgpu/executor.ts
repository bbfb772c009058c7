/// <reference types="@webgpu/types" preserve="true" />
/**
 * @fileoverview The GPU executor: one storage buffer per region of a compiled model's memory
 * plan (plus the back end's own scratch regions), uploads and downloads by region name, and
 * programs: a recorded list of kernel dispatches (kernel + bound regions) and buffer clears,
 * compiled once to pipelines and bind groups, then encoded into one command buffer per call
 * with the call's row count and learning rate in a uniform block. A call reads back at most one
 * region prefix (the probabilities, or the loss).
 */
import type { GpuDevice } from "./device.js";
import { GpuLimitError } from "./errors.js";
import { CALL_UNIFORM_BYTES, encodeCall, type CallValues, type Kernel } from "./kernels/wgsl.js";

/** What the executor needs of a memory-plan region (ManifestRegion fits). */
export interface RegionSpec {
  name: string;
  role: string;
  bytes: number;
}

/**
 * One recorded operation: a dispatch binding regions to a kernel's bindings (only for calls
 * whose n passes `when`, if given: how a program carries two kernels for one product and
 * picks by batch size), or a zero fill.
 */
export type Step =
  | { kind: "dispatch"; kernel: Kernel; bind: Record<string, string>; when?: (n: number) => boolean }
  | { kind: "clear"; region: string; bytes: (n: number) => number };

interface CompiledDispatch {
  kind: "dispatch";
  kernel: Kernel;
  when?: (n: number) => boolean;
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
}

interface CompiledClear {
  kind: "clear";
  buffer: GPUBuffer;
  bytes: (n: number) => number;
}

/** A compiled step list; run it with GpuExecutor.run. */
export interface Program {
  label: string;
  steps: Array<CompiledDispatch | CompiledClear>;
}

export interface RunOptions {
  call: CallValues;
  /** Written (queue.writeBuffer) before the passes run, in order. */
  writes?: Array<{ region: string; data: ArrayBufferView }>;
  /** The first `bytes` of this region are copied back after the passes. */
  readback?: { region: string; bytes: number };
}

// GPUBufferUsage / GPUMapMode / GPUShaderStage values (fixed by the spec; the globals are absent in Node).
const USAGE = { MAP_READ: 1, COPY_SRC: 4, COPY_DST: 8, UNIFORM: 64, STORAGE: 128 } as const;
const MAP_READ = 1;
const STAGE_COMPUTE = 4;

const align4 = (bytes: number) => Math.ceil(bytes / 4) * 4;

type CachedPipeline = Promise<{ pipeline: GPUComputePipeline; layout: GPUBindGroupLayout }>;

/**
 * Pipelines by WGSL text, per device: models and executors on one device share them (a GEMM
 * pipeline takes about a second to build on a software adapter).
 */
const PIPELINES = new WeakMap<GPUDevice, Map<string, CachedPipeline>>();

export class GpuExecutor {
  readonly gpu: GpuDevice;
  private readonly buffers = new Map<string, { spec: RegionSpec; buffer: GPUBuffer }>();
  private readonly uniform: GPUBuffer;
  private staging: GPUBuffer | null = null;
  private destroyed = false;

  private constructor(gpu: GpuDevice, uniform: GPUBuffer) {
    this.gpu = gpu;
    this.uniform = uniform;
  }

  /**
   * Allocates a buffer per region (zero-filled, as WebGPU guarantees). Throws GpuLimitError,
   * before allocating anything, when a region exceeds the device's buffer or binding limits.
   */
  static async create(gpu: GpuDevice, regions: RegionSpec[], label = "condc"): Promise<GpuExecutor> {
    const seen = new Set<string>();
    const maxBinding = Math.min(gpu.limits.maxStorageBufferBindingSize, gpu.limits.maxBufferSize);
    for (const region of regions) {
      if (seen.has(region.name)) throw new RangeError(`GpuExecutor: region '${region.name}' is listed twice`);
      seen.add(region.name);
      if (!Number.isInteger(region.bytes) || region.bytes < 0) throw new RangeError(`GpuExecutor: region '${region.name}' has ${region.bytes} bytes`);
      if (region.bytes > maxBinding) {
        throw new GpuLimitError(`region '${region.name}' needs ${region.bytes} bytes; this device binds at most ${maxBinding} bytes per storage buffer`);
      }
    }
    return gpu.run(`allocating ${label}`, async () => {
      const device = gpu.device;
      const uniform = device.createBuffer({ label: `${label} call`, size: CALL_UNIFORM_BYTES, usage: USAGE.UNIFORM | USAGE.COPY_DST });
      const executor = new GpuExecutor(gpu, uniform);
      for (const spec of regions) {
        const buffer = device.createBuffer({
          label: `${label} ${spec.name}`,
          size: Math.max(16, Math.ceil(spec.bytes / 16) * 16),
          usage: USAGE.STORAGE | USAGE.COPY_SRC | USAGE.COPY_DST,
        });
        executor.buffers.set(spec.name, { spec, buffer });
      }
      return executor;
    });
  }

  has(region: string): boolean {
    return this.buffers.has(region);
  }

  /** Replaces the first data.byteLength bytes of a region. */
  upload(region: string, data: ArrayBufferView): Promise<void> {
    const entry = this.entry(region);
    this.checkFits(entry.spec, data.byteLength, "upload");
    return this.gpu.run(`upload of ${region}`, async () => {
      this.write(entry.buffer, data);
      await this.gpu.device.queue.onSubmittedWorkDone();
    });
  }

  /** A copy of the first `bytes` bytes of a region (all of it by default). */
  download(region: string, bytes?: number): Promise<ArrayBuffer> {
    const entry = this.entry(region);
    const size = bytes ?? entry.spec.bytes;
    this.checkFits(entry.spec, size, "download");
    return this.gpu.run(`download of ${region}`, async () => {
      const encoder = this.gpu.device.createCommandEncoder();
      const staging = this.stagingFor(size);
      if (size > 0) encoder.copyBufferToBuffer(entry.buffer, 0, staging, 0, align4(size));
      this.gpu.device.queue.submit([encoder.finish()]);
      return this.readStaging(staging, size);
    });
  }

  /** Compiles steps into pipelines (cached by WGSL text) and bind groups. */
  compile(label: string, steps: Step[]): Promise<Program> {
    const storageLimit = this.gpu.limits.maxStorageBuffersPerShaderStage;
    for (const step of steps) {
      if (step.kind === "clear") {
        this.entry(step.region);
        continue;
      }
      const { kernel, bind } = step;
      if (kernel.bindings.length > storageLimit) {
        throw new GpuLimitError(`kernel '${kernel.label}' binds ${kernel.bindings.length} storage buffers; this device allows ${storageLimit}`);
      }
      const used = new Set<string>();
      for (const binding of kernel.bindings) {
        const region = bind[binding.name];
        if (region === undefined) throw new Error(`${label}: kernel '${kernel.label}' binding '${binding.name}' is not bound`);
        this.entry(region);
        // WebGPU forbids a writable binding aliased with any other binding of the same buffer.
        if (used.has(region)) throw new Error(`${label}: kernel '${kernel.label}' binds region '${region}' twice`);
        used.add(region);
      }
      const extra = Object.keys(bind).filter((name) => !kernel.bindings.some((b) => b.name === name));
      if (extra.length > 0) throw new Error(`${label}: kernel '${kernel.label}' has no binding ${extra.map((e) => `'${e}'`).join(", ")}`);
    }
    return this.gpu.run(`compiling ${label}`, async () => {
      const compiled: Program["steps"] = [];
      for (const step of steps) {
        if (step.kind === "clear") {
          compiled.push({ kind: "clear", buffer: this.entry(step.region).buffer, bytes: step.bytes });
          continue;
        }
        const { pipeline, layout } = await this.pipelineFor(step.kernel);
        const bindGroup = this.gpu.device.createBindGroup({
          label: step.kernel.label,
          layout,
          entries: [
            { binding: 0, resource: { buffer: this.uniform } },
            ...step.kernel.bindings.map((b, i) => ({ binding: i + 1, resource: { buffer: this.entry(step.bind[b.name]!).buffer } })),
          ],
        });
        compiled.push({ kind: "dispatch", kernel: step.kernel, when: step.when, pipeline, bindGroup });
      }
      return { label, steps: compiled };
    });
  }

  /**
   * Runs a program for a call on `call.n` rows: writes, then every step in one command buffer,
   * then the readback (if any), whose bytes it resolves with.
   */
  run(program: Program, options: RunOptions): Promise<ArrayBuffer | null> {
    const writes = (options.writes ?? []).map((w) => {
      const entry = this.entry(w.region);
      this.checkFits(entry.spec, w.data.byteLength, program.label);
      return { buffer: entry.buffer, data: w.data };
    });
    const readback = options.readback ? { entry: this.entry(options.readback.region), bytes: options.readback.bytes } : null;
    if (readback) this.checkFits(readback.entry.spec, readback.bytes, program.label);
    const maxGroups = this.gpu.limits.maxComputeWorkgroupsPerDimension;
    return this.gpu.run(program.label, async () => {
      const { device } = this.gpu;
      device.queue.writeBuffer(this.uniform, 0, encodeCall(options.call));
      for (const w of writes) this.write(w.buffer, w.data);
      const encoder = device.createCommandEncoder({ label: program.label });
      let pass: GPUComputePassEncoder | null = null;
      for (const step of program.steps) {
        if (step.kind === "clear") {
          pass?.end();
          pass = null;
          const bytes = align4(step.bytes(options.call.n));
          if (bytes > 0) encoder.clearBuffer(step.buffer, 0, bytes);
          continue;
        }
        if (step.when && !step.when(options.call.n)) continue;
        const [x, y, z] = step.kernel.grid(options.call.n);
        if (x === 0 || y === 0 || z === 0) continue;
        if (x > maxGroups || y > maxGroups || z > maxGroups) {
          throw new GpuLimitError(`kernel '${step.kernel.label}' needs a ${x} x ${y} x ${z} grid; this device allows ${maxGroups} workgroups per dimension`);
        }
        pass ??= encoder.beginComputePass({ label: program.label });
        pass.setPipeline(step.pipeline);
        pass.setBindGroup(0, step.bindGroup);
        pass.dispatchWorkgroups(x, y, z);
      }
      pass?.end();
      const staging = readback ? this.stagingFor(readback.bytes) : null;
      if (readback && staging && readback.bytes > 0) encoder.copyBufferToBuffer(readback.entry.buffer, 0, staging, 0, align4(readback.bytes));
      device.queue.submit([encoder.finish()]);
      if (!readback || !staging) {
        await device.queue.onSubmittedWorkDone();
        return null;
      }
      return this.readStaging(staging, readback.bytes);
    });
  }

  /** Frees every buffer (the device stays usable for other models). */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const { buffer } of this.buffers.values()) buffer.destroy();
    this.uniform.destroy();
    this.staging?.destroy();
  }

  private entry(region: string): { spec: RegionSpec; buffer: GPUBuffer } {
    if (this.destroyed) throw new Error("GpuExecutor: used after destroy()");
    const entry = this.buffers.get(region);
    if (!entry) throw new RangeError(`GpuExecutor: no region '${region}'`);
    return entry;
  }

  private checkFits(spec: RegionSpec, bytes: number, what: string): void {
    if (!Number.isInteger(bytes) || bytes < 0 || bytes > spec.bytes) {
      throw new RangeError(`${what}: ${bytes} bytes do not fit region '${spec.name}' (${spec.bytes} bytes)`);
    }
  }

  private write(buffer: GPUBuffer, data: ArrayBufferView): void {
    if (data.byteLength === 0) return;
    // Node's Dawn bindings take no SharedArrayBuffer (a host model on threads has a shared memory): copy.
    if (data.byteLength % 4 === 0 && !(data.buffer instanceof ArrayBuffer)) {
      this.gpu.device.queue.writeBuffer(buffer, 0, new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice());
      return;
    }
    if (data.byteLength % 4 === 0) {
      this.gpu.device.queue.writeBuffer(buffer, 0, data.buffer, data.byteOffset, data.byteLength);
      return;
    }
    const padded = new Uint8Array(align4(data.byteLength));
    padded.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    this.gpu.device.queue.writeBuffer(buffer, 0, padded);
  }

  private stagingFor(bytes: number): GPUBuffer {
    const size = Math.max(16, Math.ceil(bytes / 16) * 16);
    if (!this.staging || this.staging.size < size) {
      this.staging?.destroy();
      this.staging = this.gpu.device.createBuffer({ label: "condc readback", size, usage: USAGE.MAP_READ | USAGE.COPY_DST });
    }
    return this.staging;
  }

  private async readStaging(staging: GPUBuffer, bytes: number): Promise<ArrayBuffer> {
    if (bytes === 0) return new ArrayBuffer(0);
    await staging.mapAsync(MAP_READ, 0, align4(bytes));
    try {
      return staging.getMappedRange(0, align4(bytes)).slice(0, bytes);
    } finally {
      staging.unmap();
    }
  }

  private pipelineFor(kernel: Kernel): CachedPipeline {
    const device = this.gpu.device;
    let pipelines = PIPELINES.get(device);
    if (!pipelines) PIPELINES.set(device, (pipelines = new Map()));
    let cached = pipelines.get(kernel.code);
    if (!cached) {
      const layout = device.createBindGroupLayout({
        label: kernel.label,
        entries: [
          { binding: 0, visibility: STAGE_COMPUTE, buffer: { type: "uniform" } },
          ...kernel.bindings.map((b, i) => ({
            binding: i + 1,
            visibility: STAGE_COMPUTE,
            buffer: { type: b.access === "read" ? ("read-only-storage" as const) : ("storage" as const) },
          })),
        ],
      });
      const module = device.createShaderModule({ label: kernel.label, code: kernel.code });
      cached = device
        .createComputePipelineAsync({
          label: kernel.label,
          layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
          compute: { module, entryPoint: "main" },
        })
        .then((pipeline) => ({ pipeline, layout }));
      // A failed compile is reported once, then retried on the next request.
      cached.catch(() => pipelines.delete(kernel.code));
      pipelines.set(kernel.code, cached);
    }
    return cached;
  }
}
