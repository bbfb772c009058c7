/**
 * @fileoverview Runs one bit-identity case (cases.ts) on one SIMD flavour through the public
 * API and returns hashes of what it produced.
 */
import { createHash } from "node:crypto";
import { compile } from "../../compiler/index.js";
import { decodeSafetensors, hasPolicy, loadModel, lowrankLayers, refreshEstimators, setPolicySeed, type LoadOptions, type Model } from "../../runtime/index.js";
import { loadDataset } from "../../runtime/node/data.js";
import type { IdentityCase } from "./cases.js";

export interface IdentityResult {
  /** Training losses as f32 bit patterns (hex). */
  losses: string[];
  /**
   * sha256 of the checkpoint's tensors after the steps (names, shapes, bytes, in file order) and
   * its step: not of the whole file, whose metadata holds the source text's hash and the
   * compiler's version, which change without any change in numbers.
   */
  checkpoint: string;
  /** sha256 of the probabilities of 2 x batch held-out rows. */
  probs: string;
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

function f32Hex(value: number): string {
  const view = new DataView(new ArrayBuffer(4));
  view.setFloat32(0, value);
  return view.getUint32(0).toString(16).padStart(8, "0");
}

/** Seeded uniform rows and labels (mulberry32), the same in every run. */
function synthetic(count: number, width: number, classes: number, seed: number): { x: Float32Array; y: Int32Array } {
  let s = seed >>> 0;
  const next = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const x = Float32Array.from({ length: count * width }, () => next() * 2 - 1);
  const y = Int32Array.from({ length: count }, () => Math.floor(next() * classes));
  return { x, y };
}

async function rows(c: IdentityCase, count: number): Promise<{ x: Float32Array; y: Int32Array }> {
  if (c.data === "synthetic") return synthetic(count, c.width, c.classes, 1234);
  const split = await loadDataset({ kind: "mnist" });
  const x = split.train.images.slice(0, count * c.width);
  const y = Int32Array.from(split.train.labels.subarray(0, count));
  return { x, y };
}

function tensorsHash(file: Uint8Array): string {
  const decoded = decodeSafetensors(file, "checkpoint");
  const hash = createHash("sha256");
  for (const [name, tensor] of decoded.tensors) {
    hash.update(`${name}:${tensor.shape.join("x")}:`);
    hash.update(new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength));
  }
  hash.update(`step:${decoded.metadata["step"]}`);
  return hash.digest("hex");
}

/** Runs a case; `load` goes to loadModel (threads and how calls split; one thread by default). */
export async function runIdentityCase(c: IdentityCase, simd: "plain" | "relaxed", load: LoadOptions = { threads: 1 }): Promise<IdentityResult> {
  const result = await compile(c.source, { file: `${c.name}.cond`, maxBatch: c.batch, simd });
  if (!result.ok) throw new Error(`${c.name} does not compile: ${result.diagnostics.map((d) => d.message).join("; ")}`);
  const model = await loadModel(simd === "plain" ? result.wasm : result.relaxedWasm!, result.manifest, load);
  try {
    return await trainAndHash(c, model);
  } finally {
    model.dispose();
  }
}

async function trainAndHash(c: IdentityCase, model: Model): Promise<IdentityResult> {
  const seed = model.manifest.train.seed;
  model.init(seed);
  const lowrank = lowrankLayers(model).length > 0;
  if (lowrank) refreshEstimators(model);
  if (hasPolicy(model)) setPolicySeed(model, seed);
  const data = await rows(c, c.batch * (c.steps + 2));
  const losses: string[] = [];
  for (let s = 0; s < c.steps; s++) {
    const x = data.x.subarray(s * c.batch * c.width, (s + 1) * c.batch * c.width);
    const y = data.y.subarray(s * c.batch, (s + 1) * c.batch);
    losses.push(f32Hex(model.trainStep(x, y, c.batch).loss));
  }
  const checkpoint = tensorsHash(model.save());
  if (lowrank) refreshEstimators(model);
  const heldOut = data.x.subarray(c.steps * c.batch * c.width);
  const probs = model.predict(heldOut, 2 * c.batch);
  return { losses, checkpoint, probs: sha256(new Uint8Array(probs.buffer, probs.byteOffset, probs.byteLength)) };
}
