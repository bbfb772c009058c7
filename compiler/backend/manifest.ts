/**
 * @fileoverview Builds the manifest (`NAME.json`) from the IR: the runtime's only
 * knowledge of a compiled module.
 */
import type { IrModule } from "./ir.js";
import type { Manifest } from "../../runtime/manifest.js";
import { MANIFEST_FORMAT, MANIFEST_VERSION } from "../../runtime/manifest.js";
import { COMPILER_VERSION } from "../version.js";

export function buildManifest(ir: IrModule, file: string, sourceHash: string): Manifest {
  const t = ir.train;
  return {
    format: MANIFEST_FORMAT,
    formatVersion: MANIFEST_VERSION,
    compilerVersion: COMPILER_VERSION,
    sourceHash,
    file,
    model: ir.modelName,
    input: { name: ir.inputName, width: ir.inputWidth },
    classes: ir.classes,
    maxBatch: ir.maxBatch,
    layers: ir.layers.map((l) => ({
      name: l.name,
      op: l.op,
      gate: l.gate ? { ...l.gate } : null,
      source: l.source,
      inputs: l.inputs,
      units: l.units,
      activation: l.activation,
      output: l.output,
      delta: l.delta,
      macs: l.macs,
    })),
    params: ir.params.map((p) => ({ name: p.name, layer: p.layer, shape: p.shape, region: p.region })),
    memory: { base: ir.memory.base, end: ir.memory.end, regions: ir.memory.regions.map((r) => ({ ...r })) },
    train: {
      data: { ...t.data },
      optimizer: { ...t.optimizer },
      batch: t.batch,
      epochs: t.epochs,
      seed: t.seed,
      schedule: { ...t.schedule },
    },
    cost: {
      parameters: ir.params.reduce((sum, p) => sum + p.shape.reduce((a, b) => a * b, 1), 0),
      macsPerExample: ir.macsPerExample,
    },
  };
}

/** SHA-256 of a text, hex; WebCrypto, so it runs wherever the compiler runs. */
export async function sha256Hex(text: string): Promise<string> {
  const digest = await globalThis.crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}
