/// <reference types="@webgpu/types" preserve="true" />
/**
 * @fileoverview Acquiring a WebGPU device (browsers: `navigator.gpu`; Node: the entry point
 * from runtime/node/webgpu.ts, passed in) and running work on it so that every failure is a
 * rejected promise with a clear error: validation, out-of-memory and internal errors through
 * error scopes, device loss through `device.lost`. No Node-only imports.
 */
import {
  GpuDeviceLostError,
  GpuInternalError,
  GpuOutOfMemoryError,
  GpuUnavailableError,
  GpuValidationError,
} from "./errors.js";

/** The limits the back end depends on, as the device grants them. */
export interface GpuLimits {
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
  maxStorageBuffersPerShaderStage: number;
  maxComputeWorkgroupStorageSize: number;
  maxComputeInvocationsPerWorkgroup: number;
  maxComputeWorkgroupSizeX: number;
  maxComputeWorkgroupSizeY: number;
  maxComputeWorkgroupsPerDimension: number;
}

const LIMIT_NAMES: ReadonlyArray<keyof GpuLimits> = [
  "maxBufferSize",
  "maxStorageBufferBindingSize",
  "maxStorageBuffersPerShaderStage",
  "maxComputeWorkgroupStorageSize",
  "maxComputeInvocationsPerWorkgroup",
  "maxComputeWorkgroupSizeX",
  "maxComputeWorkgroupSizeY",
  "maxComputeWorkgroupsPerDimension",
];

/** How long a failed call waits for `device.lost` to settle before reporting the failure as is. */
const LOSS_GRACE_MS = 100;

/** Which adapter the device came from (GPUAdapterInfo, copied). */
export interface GpuAdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** A software or otherwise reduced-capability adapter (SwiftShader reports true). */
  isFallbackAdapter: boolean;
}

export interface AcquireOptions {
  /** The WebGPU entry point: `navigator.gpu` when omitted; in Node, `await nodeGpu()`. */
  gpu?: GPU;
  /** Default "high-performance": a discrete GPU over an integrated or software one. */
  powerPreference?: GPUPowerPreference;
  label?: string;
}

/** The part of a GPUDevice this file drives (the real one, or a test double of it). */
type DeviceLike = Pick<GPUDevice, "lost" | "pushErrorScope" | "popErrorScope" | "destroy" | "limits"> &
  Partial<Pick<GPUDevice, "addEventListener">>;

/**
 * A device plus the rules for using it: `run` serialises work (so error scopes and the
 * per-model staging buffers are never shared by two calls at once) and turns every GPU failure
 * into a typed rejection. After a loss, every call rejects with GpuDeviceLostError.
 */
export class GpuDevice {
  readonly device: GPUDevice;
  readonly adapter: GpuAdapterSummary;
  readonly limits: GpuLimits;
  private lostInfo: { reason: string; message: string } | null = null;
  private readonly lostSignal: Promise<{ reason: string; message: string }>;
  private uncaptured: GPUError | null = null;
  private tail: Promise<unknown> = Promise.resolve();
  /**
   * The entry point the device came from. Dawn's Node bindings tear the whole implementation
   * down when their GPU object is garbage-collected, so it lives as long as the device is used.
   */
  private entry: GPU | null;

  constructor(device: GPUDevice, adapter: GpuAdapterSummary, entry: GPU | null = null) {
    this.device = device;
    this.entry = entry;
    this.adapter = adapter;
    this.limits = readLimits(device.limits);
    const like = device as DeviceLike;
    this.lostSignal = like.lost.then((info) => {
      this.lostInfo = { reason: String(info.reason), message: info.message };
      return this.lostInfo;
    });
    // Errors outside any scope (none are expected: all work runs in `run`) surface at the next call.
    like.addEventListener?.("uncapturederror", (event) => {
      this.uncaptured ??= (event as GPUUncapturedErrorEvent).error;
    });
  }

  /** True once the device is lost (or destroyed); the model must then be reloaded. */
  get isLost(): boolean {
    return this.lostInfo !== null;
  }

  /** One line: the adapter and the limits that bound model size. */
  describe(): string {
    const a = this.adapter;
    const name = [a.vendor, a.architecture, a.device].filter((s) => s).join(" ") || "unknown adapter";
    const mib = (bytes: number) => `${Math.floor(bytes / 2 ** 20)} MiB`;
    return (
      `${name}${a.description ? ` (${a.description})` : ""}${a.isFallbackAdapter ? ", fallback (software) adapter" : ""}; ` +
      `max buffer ${mib(this.limits.maxBufferSize)}, max storage binding ${mib(this.limits.maxStorageBufferBindingSize)}, ` +
      `${this.limits.maxStorageBuffersPerShaderStage} storage buffers per stage, ` +
      `${this.limits.maxComputeWorkgroupStorageSize} bytes of workgroup memory`
    );
  }

  /**
   * Runs `work` after every earlier `run` has settled, inside validation, out-of-memory and
   * internal error scopes, and raced against device loss. `during` names the operation in errors.
   */
  run<T>(during: string, work: () => Promise<T>): Promise<T> {
    const result = this.tail.then(() => this.runNow(during, work));
    this.tail = result.catch(() => undefined);
    return result;
  }

  /** Releases the device; later calls reject with GpuDeviceLostError (reason "destroyed"). */
  destroy(): void {
    (this.device as DeviceLike).destroy();
    this.entry = null;
  }

  private async runNow<T>(during: string, work: () => Promise<T>): Promise<T> {
    this.throwIfLost(during);
    if (this.uncaptured) {
      const error = this.uncaptured;
      this.uncaptured = null;
      throw classify(error, "an earlier operation");
    }
    const device = this.device as DeviceLike;
    device.pushErrorScope("internal");
    device.pushErrorScope("out-of-memory");
    device.pushErrorScope("validation");
    let value: T | undefined;
    let thrown: unknown = undefined;
    let failed = false;
    const lost = this.lostSignal.then((info) => {
      throw new GpuDeviceLostError(info.reason, info.message, during);
    });
    const pending = work();
    // Whichever loses the race may settle later with no one listening: not an unhandled rejection.
    lost.catch(() => undefined);
    pending.catch(() => undefined);
    try {
      value = await Promise.race([pending, lost]);
    } catch (error) {
      thrown = error;
      failed = true;
    }
    const popped = await Promise.all([device.popErrorScope(), device.popErrorScope(), device.popErrorScope()]).catch(
      () => [null, null, null] as const,
    );
    const [validation, outOfMemory, internal] = popped;
    // A lost device explains everything that failed with it (mapAsync aborts, scope errors on
    // a destroyed device); its loss is announced asynchronously, so a failure waits briefly for it.
    if (failed || validation || outOfMemory || internal) {
      await Promise.race([this.lostSignal, new Promise((resolve) => setTimeout(resolve, LOSS_GRACE_MS))]);
    }
    this.throwIfLost(during);
    if (outOfMemory) throw new GpuOutOfMemoryError(outOfMemory.message, during);
    if (validation) throw new GpuValidationError(validation.message, during);
    if (internal) throw new GpuInternalError(internal.message, during);
    if (failed) throw thrown;
    return value as T;
  }

  private throwIfLost(during: string): void {
    if (this.lostInfo) throw new GpuDeviceLostError(this.lostInfo.reason, this.lostInfo.message, during);
  }
}

function classify(error: GPUError, during: string): Error {
  const kind = error.constructor?.name ?? "";
  if (kind.includes("OutOfMemory")) return new GpuOutOfMemoryError(error.message, during);
  if (kind.includes("Internal")) return new GpuInternalError(error.message, during);
  return new GpuValidationError(error.message, during);
}

function readLimits(limits: GPUSupportedLimits): GpuLimits {
  const out = {} as GpuLimits;
  for (const name of LIMIT_NAMES) out[name] = Number(limits[name]);
  return out;
}

/**
 * Requests an adapter and a device with the adapter's own maxima for the limits in GpuLimits
 * (the defaults are far lower than most GPUs allow: 128 MiB per storage binding).
 * Rejects with GpuUnavailableError when there is no WebGPU or no adapter.
 */
export async function acquireGpuDevice(options: AcquireOptions = {}): Promise<GpuDevice> {
  const gpu = options.gpu ?? (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  if (!gpu) throw new GpuUnavailableError("this environment has no navigator.gpu (in Node, pass { gpu: await nodeGpu() } from runtime/node/webgpu)");
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference ?? "high-performance" });
  } catch (error) {
    throw new GpuUnavailableError(`requestAdapter failed: ${(error as Error).message ?? String(error)}`);
  }
  if (!adapter) throw new GpuUnavailableError("requestAdapter found no adapter");
  const requiredLimits: Record<string, number> = {};
  for (const name of LIMIT_NAMES) requiredLimits[name] = Number(adapter.limits[name]);
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ label: options.label ?? "condc", requiredLimits });
  } catch (error) {
    throw new GpuUnavailableError(`requestDevice failed: ${(error as Error).message ?? String(error)}`);
  }
  const info = adapter.info;
  return new GpuDevice(device, {
    vendor: info?.vendor ?? "",
    architecture: info?.architecture ?? "",
    device: info?.device ?? "",
    description: info?.description ?? "",
    isFallbackAdapter: Boolean((info as { isFallbackAdapter?: boolean } | undefined)?.isFallbackAdapter),
  }, gpu);
}
