/**
 * @fileoverview The experiment the browser test runs twice, once in Chromium and once in Node:
 * load a compiled model, init(seed), predict, one trainStep, predict again, save, load.
 *
 * This file is transpiled once (tests/browser/support.ts) and the same JavaScript is served to
 * the page and imported by Node, so both engines run identical code on identical inputs.
 * It imports nothing at run time: the runtime's `loadModel` is passed in.
 */
import type { Manifest, Model } from "../../runtime/index.js";

export const SEED = 1234;
/** Rows predicted: more than maxBatch (the test compiles with 16), so predict runs in chunks. */
export const ROWS = 40;
/** Rows in the one training minibatch (= maxBatch). */
export const TRAIN_ROWS = 16;
export const LR = 0.05;

export interface CaseResult {
  /** False when this engine rejects the module (WebAssembly.validate); nothing else is filled in. */
  validates: boolean;
  inputsSha: string;
  /** Float32Array bytes of the probabilities, ROWS x classes, after init. */
  before: Uint8Array;
  loss: number;
  /** Float32Array bytes of the probabilities after the training step. */
  after: Uint8Array;
  /** Float32Array bytes of the probabilities after re-init with another seed and load(save()). */
  reloaded: Uint8Array;
  /** The safetensors checkpoint from save() after the step. */
  save: Uint8Array;
  saveSha: string;
}

/** A pure integer hash (murmur3 finaliser); identical in every engine. */
function mix(i: number): number {
  let h = Math.imul(i ^ 0x9e3779b9, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Deterministic MNIST-shaped inputs: ~60% exact zeros, the rest k / 2^24 in [0, 1) (exact in f32). */
export function makeInputs(rows: number, width: number, classes: number): { x: Float32Array; labels: Uint8Array } {
  const x = new Float32Array(rows * width);
  for (let i = 0; i < x.length; i++) {
    const h = mix(i);
    x[i] = (h & 0xff) < 154 ? 0 : (h >>> 8) / 16777216;
  }
  const labels = new Uint8Array(rows);
  for (let r = 0; r < rows; r++) labels[r] = mix(0x40000000 + r) % classes;
  return { x, labels };
}

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

function bytesOf(values: Float32Array): Uint8Array {
  return new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
}

type LoadModel = (wasm: Uint8Array, manifest: Manifest) => Promise<Model>;

export async function runCase(loadModel: LoadModel, wasm: Uint8Array, manifest: Manifest): Promise<CaseResult> {
  const empty = new Uint8Array(0);
  if (!WebAssembly.validate(wasm as Uint8Array<ArrayBuffer>)) {
    return { validates: false, inputsSha: "", before: empty, loss: NaN, after: empty, reloaded: empty, save: empty, saveSha: "" };
  }
  const { x, labels } = makeInputs(ROWS, manifest.input.width, manifest.classes);
  const inputsSha = await sha256Hex(new Uint8Array([...bytesOf(x), ...labels]));

  const model = await loadModel(wasm, manifest);
  model.init(SEED);
  const before = bytesOf(model.predict(x, ROWS));
  const { loss } = model.trainStep(x, labels, TRAIN_ROWS, { lr: LR });
  const after = bytesOf(model.predict(x, ROWS));
  const save = model.save();
  const saveSha = await sha256Hex(save);

  model.init(SEED + 1);
  model.load(save);
  const reloaded = bytesOf(model.predict(x, ROWS));
  return { validates: true, inputsSha, before, loss, after, reloaded, save, saveSha };
}
