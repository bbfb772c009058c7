/**
 * @fileoverview The WebGPU tests' device: Node's `webgpu` package with SwiftShader added when
 * Debian's chromium ships it (a real GPU, if present, is still preferred). When no adapter can
 * be had, `probe.reason` says why, and the tests skip with that reason in their names.
 */
import { existsSync } from "node:fs";
import { acquireNodeGpuDevice, CHROMIUM_SWIFTSHADER_ICD } from "../../runtime/node/webgpu.js";
import type { GpuDevice } from "../../runtime/webgpu/device.js";
import { GpuExecutor, type Step } from "../../runtime/webgpu/executor.js";
import type { Kernel } from "../../runtime/webgpu/kernels/wgsl.js";

export interface GpuProbe {
  device: GpuDevice | null;
  /** Why there is no device ("" when there is one). */
  reason: string;
}

/** One device per test file; the reason is printed once so the skip is visible in the log. */
export async function probeGpu(): Promise<GpuProbe> {
  const drivers = existsSync(CHROMIUM_SWIFTSHADER_ICD) ? [CHROMIUM_SWIFTSHADER_ICD] : [];
  try {
    const device = await acquireNodeGpuDevice({ vulkanDrivers: drivers });
    return { device, reason: "" };
  } catch (error) {
    const reason = (error as Error).message;
    console.warn(`[webgpu tests SKIPPED] ${reason}`);
    return { device: null, reason };
  }
}

/** The suffix for a describe() name: empty, or the skip reason. */
export function skipNote(probe: GpuProbe): string {
  return probe.device ? "" : ` [SKIPPED: no WebGPU adapter: ${probe.reason}]`;
}

export type Data = Float32Array | Int32Array;

/**
 * Runs one kernel on its own buffers: `inputs` (name -> data) are uploaded to regions of the
 * same names, `sizes` allocates the written-only ones, and every region named in `read` is
 * downloaded afterwards as f32.
 */
export async function runKernel(
  device: GpuDevice,
  kernel: Kernel,
  inputs: Record<string, Data>,
  n: number,
  read: string[],
  sizes: Record<string, number> = {},
  call: { lr?: number; t?: number; adamC1?: number; adamC2?: number } = {},
): Promise<Record<string, Float32Array>> {
  const regions = kernel.bindings.map((b) => ({
    name: b.name,
    role: "test",
    bytes: 4 * Math.max(1, inputs[b.name]?.length ?? sizes[b.name] ?? 0),
  }));
  const executor = await GpuExecutor.create(device, regions, "test");
  try {
    for (const [name, data] of Object.entries(inputs)) await executor.upload(name, data);
    const bind = Object.fromEntries(kernel.bindings.map((b) => [b.name, b.name]));
    const steps: Step[] = [{ kind: "dispatch", kernel, bind }];
    const program = await executor.compile(kernel.label, steps);
    await executor.run(program, { call: { n, t: call.t ?? 1, lr: call.lr ?? 0, adamC1: call.adamC1 ?? 1, adamC2: call.adamC2 ?? 1 } });
    const out: Record<string, Float32Array> = {};
    for (const name of read) out[name] = new Float32Array(await executor.download(name));
    return out;
  } finally {
    executor.destroy();
  }
}
