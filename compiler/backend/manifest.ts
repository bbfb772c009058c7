/**
 * @fileoverview Builds the manifest (`NAME.json`) from the IR: the runtime's only knowledge of
 * a compiled module (runtime/manifest.ts states the format).
 */
import type { IrModule } from "./ir.js";
import type { Manifest } from "../../runtime/manifest.js";
import { MANIFEST_FORMAT, MANIFEST_VERSION } from "../../runtime/manifest.js";
import { KERNEL_LIBRARY } from "../../runtime/generated/kernel-library.js";
import { COMPILER_VERSION } from "../version.js";
import type { GeneratedModule } from "./wasm/frame.js";

export function buildManifest(ir: IrModule, generated: GeneratedModule, file: string, sourceHash: string): Omit<Manifest, "buildId"> {
  const t = ir.train;
  return {
    format: MANIFEST_FORMAT,
    formatVersion: MANIFEST_VERSION,
    compilerVersion: COMPILER_VERSION,
    sourceHash,
    file,
    model: ir.modelName,
    kernels: { id: KERNEL_LIBRARY.id, staticDataEnd: KERNEL_LIBRARY.staticDataEnd, scratchBytes: KERNEL_LIBRARY.scratchBytes },
    input: { name: ir.inputName, width: ir.inputWidth },
    classes: ir.classes,
    maxBatch: ir.maxBatch,
    layers: ir.layers.map((l) => ({
      name: l.name,
      method: l.method,
      options: structuredClone(l.options) as Record<string, unknown>,
      source: l.source,
      inputs: l.inputs,
      units: l.units,
      activation: l.activation,
      isOutput: l.isOutput,
      output: l.output,
      delta: l.delta,
      params: { ...l.params },
      regions: { ...l.regions },
      exports: { ...generated.layerExports.get(l.name) },
      l1: l.l1,
      macs: l.macs,
      denseMacs: l.denseMacs,
    })),
    params: ir.params.map((p) => ({ name: p.name, layer: p.layer, shape: [...p.shape], dtype: "f32" as const, region: p.region, update: p.update, decay: p.decay, grad: p.grad, state: [...p.state], role: p.role })),
    memory: { base: ir.memory.base, end: ir.memory.end, regions: ir.memory.regions.map((r) => structuredClone(r)) },
    exports: { ...generated.modelExports },
    train: {
      data: { ...t.data },
      optimizer: { ...t.optimizer },
      settings: structuredClone(t.settings),
      batch: t.batch,
      epochs: t.epochs,
      seed: t.seed,
      schedule: { ...t.schedule },
    },
    cost: {
      parameters: ir.params.reduce((sum, p) => sum + p.shape.reduce((a, b) => a * b, 1), 0),
      macsPerExample: ir.macsPerExample,
      denseMacsPerExample: ir.denseMacsPerExample,
    },
  };
}

/** SHA-256 of bytes or text, hex; WebCrypto, so it runs wherever the compiler runs. */
export async function sha256Hex(data: string | Uint8Array): Promise<string> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const digest = await globalThis.crypto.subtle.digest("SHA-256", bytes as BufferSource);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}
