/// <reference types="@webgpu/types" preserve="true" />
/**
 * @fileoverview WebGPU in Node: the npm package `webgpu` (Dawn's Node bindings), imported
 * lazily so that nothing loads it unless a GPU is asked for. Node-only (kept under runtime/node).
 */
import { existsSync } from "node:fs";
import { delimiter, join } from "node:path";
import { acquireGpuDevice, type AcquireOptions, type GpuDevice } from "../webgpu/device.js";
import { GpuUnavailableError } from "../webgpu/errors.js";

/** SwiftShader's Vulkan driver manifest as Debian's `chromium` package installs it. */
export const CHROMIUM_SWIFTSHADER_ICD = "/usr/lib/chromium/vk_swiftshader_icd.json";

export interface NodeGpuOptions {
  /**
   * Extra Vulkan driver manifests (ICD JSON files) for the Vulkan loader to consider, e.g.
   * CHROMIUM_SWIFTSHADER_ICD for a software adapter. Appended to VK_ADD_DRIVER_FILES for this
   * process before Dawn starts; the system's drivers stay visible, and a high-performance
   * request still prefers a real GPU over a software one.
   */
  vulkanDrivers?: string[];
  /** Flags for Dawn's `create()`, e.g. `adapter=NAME`, `backend=vulkan`. */
  dawnFlags?: string[];
}

/**
 * The `navigator.gpu` of Node: a GPU entry point from the `webgpu` package. Drop every
 * reference to it (and destroy its devices) when done: Dawn keeps the process alive while it lives.
 */
export async function nodeGpu(options: NodeGpuOptions = {}): Promise<GPU> {
  const drivers = options.vulkanDrivers ?? [];
  for (const file of drivers) {
    if (!existsSync(file)) throw new GpuUnavailableError(`the Vulkan driver manifest ${file} does not exist`);
  }
  if (drivers.length > 0) {
    const current = (process.env["VK_ADD_DRIVER_FILES"] ?? "").split(delimiter).filter((s) => s);
    process.env["VK_ADD_DRIVER_FILES"] = [...current, ...drivers.filter((d) => !current.includes(d))].join(delimiter);
  }
  let bindings: { create(flags: string[]): GPU };
  try {
    bindings = (await import("webgpu")) as unknown as { create(flags: string[]): GPU };
  } catch (error) {
    throw new GpuUnavailableError(
      `the npm package 'webgpu' (Dawn for Node) could not be loaded (${firstLine(error)}); install it with npm install webgpu`,
    );
  }
  try {
    return bindings.create(options.dawnFlags ?? []);
  } catch (error) {
    throw new GpuUnavailableError(`Dawn could not start: ${firstLine(error)}`);
  }
}

/**
 * acquireGpuDevice on Node's entry point; when no adapter is found, the error says what the
 * machine lacks (the Vulkan loader, a driver) and how Debian provides a software one.
 */
export async function acquireNodeGpuDevice(options: NodeGpuOptions & Omit<AcquireOptions, "gpu"> = {}): Promise<GpuDevice> {
  const gpu = await nodeGpu(options);
  try {
    return await acquireGpuDevice({ ...options, gpu });
  } catch (error) {
    if (error instanceof GpuUnavailableError && process.platform === "linux") {
      throw new GpuUnavailableError(`${error.message.replace(/^WebGPU is not available: /, "")}; ${linuxHint(options.vulkanDrivers ?? [])}`);
    }
    throw error;
  }
}

/** Why a Linux machine may have no adapter, and the Debian packages that give it one. */
function linuxHint(offered: string[]): string {
  if (!vulkanLoaderPresent()) {
    return "the Vulkan loader libvulkan.so.1 is not installed (apt-get install libvulkan1); for a software adapter also apt-get install chromium, which ships SwiftShader";
  }
  if (offered.length > 0) {
    return `no Vulkan driver accepted, the offered ${offered.join(", ")} included (check VK_LOADER_* and VK_*_DRIVER* variables)`;
  }
  if (existsSync(CHROMIUM_SWIFTSHADER_ICD)) {
    return `no Vulkan driver accepted; for the software adapter pass vulkanDrivers: ["${CHROMIUM_SWIFTSHADER_ICD}"]`;
  }
  return "no Vulkan driver accepted; for a software adapter apt-get install chromium (it ships SwiftShader)";
}

function vulkanLoaderPresent(): boolean {
  const dirs = [
    ...(process.env["LD_LIBRARY_PATH"] ?? "").split(delimiter).filter((s) => s),
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/usr/lib64",
    "/usr/lib",
    "/lib/x86_64-linux-gnu",
    "/lib/aarch64-linux-gnu",
  ];
  return dirs.some((dir) => existsSync(join(dir, "libvulkan.so.1")));
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split("\n")[0]!;
}
