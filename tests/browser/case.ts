/**
 * @fileoverview The experiment the browser test runs twice per model, once in Chromium and once
 * in Node: load a compiled model, init(seed), predict, one trainStep, predict again, save, load;
 * plus, for each conditional method the model uses (found from its manifest), that method's
 * runtime steps and observations:
 *
 * - low-rank gates: the truncated SVD of each gated layer's weights in f64 (runtime/linalg/svd.ts,
 *   TypeScript, so this is where engines' Math could differ), `refreshEstimators` after init (so
 *   predict runs the estimator), the estimator's ẑ, and predict with the estimator off;
 * - tree layers: the MAC / example counters after the step (`Model.flush` runs inside save);
 * - policy gates: `setPolicySeed(SEED)`, the masks (and probabilities, costs, statistics) the
 *   counter RNG sampled in predict and in the trainStep, and predict in threshold mode.
 *
 * This file is transpiled once (tests/browser/support.ts) and the same JavaScript is served to
 * the page and imported by Node, so both engines run identical code on identical inputs.
 * It imports nothing at run time: the runtime's functions are passed in.
 */
import type * as RuntimeIndex from "../../runtime/index.js";
import type * as RuntimeTree from "../../methods/tree/runtime.js";
import type { Manifest, Model } from "../../runtime/index.js";

export const SEED = 1234;
/** Rows predicted: more than maxBatch (the test compiles with 16), so predict runs in chunks. */
export const ROWS = 40;
/** Rows in the one training minibatch (= maxBatch). */
export const TRAIN_ROWS = 16;
export const LR = 0.05;

/** What runCase needs from the runtime (runtime/index.ts, which exports the methods' runtime API too). */
export type Runtime = Pick<
  typeof RuntimeIndex,
  "loadModel" | "lowrankLayers" | "truncatedSvd" | "refreshEstimators" | "setEstimatorsEnabled" | "hasPolicy" | "setPolicySeed" | "setPolicyMode" | "readPolicyStats"
> &
  Pick<typeof RuntimeTree, "treeLayers" | "treeCounters">;

/** One named observation, compared byte for byte between the engines. */
export interface Check {
  what: string;
  bytes: Uint8Array;
}

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
  /** The method-specific observations, in the order they were taken (empty for a dense model). */
  checks: Check[];
  /** Threads the model ran on. */
  threads: number;
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

/** A copy of the values' bytes (never shared: a model on threads has a shared memory). */
function bytesOf(values: Float32Array | Float64Array): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength).slice();
}

/** Numbers as f64 bytes, so they compare exactly. */
function numbers(values: number[]): Uint8Array {
  return bytesOf(Float64Array.from(values));
}

/** `load` goes to loadModel (threads; one thread unless given, so engines compare like with like). */
export async function runCase(runtime: Runtime, wasm: Uint8Array, manifest: Manifest, load: RuntimeIndex.LoadOptions = { threads: 1 }): Promise<CaseResult> {
  const empty = new Uint8Array(0);
  if (!WebAssembly.validate(wasm as Uint8Array<ArrayBuffer>)) {
    return { validates: false, inputsSha: "", before: empty, loss: NaN, after: empty, reloaded: empty, save: empty, saveSha: "", checks: [], threads: 0 };
  }
  const { x, labels } = makeInputs(ROWS, manifest.input.width, manifest.classes);
  const inputsSha = await sha256Hex(new Uint8Array([...bytesOf(x), ...labels]));

  const model: Model = await runtime.loadModel(wasm, manifest, load);
  try {
    return await steps(runtime, model, manifest, x, labels, inputsSha);
  } finally {
    model.dispose();
  }
}

async function steps(runtime: Runtime, model: Model, manifest: Manifest, x: Float32Array, labels: Uint8Array, inputsSha: string): Promise<CaseResult> {
  const checks: Check[] = [];
  const check = (what: string, bytes: Uint8Array): void => void checks.push({ what, bytes });
  const region = (name: string): Uint8Array => bytesOf(model.regionView(name));
  const lowrank = runtime.lowrankLayers(model).map(({ layer }) => layer);
  const policy = runtime.hasPolicy(model) ? manifest.layers.filter((l) => l.method === "policy") : [];
  const trees = runtime.treeLayers(model);
  const policyStats = (which: "train" | "eval"): Uint8Array =>
    numbers(runtime.readPolicyStats(model, which).flatMap((s) => [s.examples, s.meanActivation, ...s.blockMean, ...s.blockVariance]));

  model.init(SEED);
  for (const layer of lowrank) {
    // What refreshEstimators computes, before the f32 rounding: Wᵀ [inputs, units] in f64.
    const w = model.parameter(`${layer.name}.weight`);
    const at = new Float64Array(layer.inputs * layer.units);
    for (let j = 0; j < layer.units; j++) for (let k = 0; k < layer.inputs; k++) at[k * layer.units + j] = w[j * layer.inputs + k]!;
    const rank = Number(layer.options["rank"]);
    const svd = runtime.truncatedSvd(at, layer.inputs, layer.units, rank);
    check(`${layer.name}: truncatedSvd sigma (f64)`, bytesOf(svd.sigma));
    check(`${layer.name}: truncatedSvd U·Σ (f64)`, bytesOf(svd.us));
    check(`${layer.name}: truncatedSvd Vᵀ (f64)`, bytesOf(svd.vt));
  }
  if (lowrank.length > 0) {
    runtime.refreshEstimators(model);
    for (const layer of lowrank) {
      check(`${layer.name}.lowrank_u after refreshEstimators`, bytesOf(model.parameter(`${layer.name}.lowrank_u`)));
      check(`${layer.name}.lowrank_v after refreshEstimators`, bytesOf(model.parameter(`${layer.name}.lowrank_v`)));
    }
    runtime.setEstimatorsEnabled(model, false);
    check("probabilities after init with the estimators off", bytesOf(model.predict(x, ROWS)));
    runtime.setEstimatorsEnabled(model, true);
  }
  if (policy.length > 0) runtime.setPolicySeed(model, SEED); // also restarts the test-time streams

  const before = bytesOf(model.predict(x, ROWS));
  for (const layer of lowrank) check(`${layer.name}.lowrank_zhat after predict (last chunk)`, region(`${layer.name}.lowrank_zhat`));
  for (const layer of policy) check(`${layer.name}.policy_u: masks sampled by predict (last chunk)`, region(`${layer.name}.policy_u`));
  if (policy.length > 0) check("policy eval statistics after predict", policyStats("eval"));

  const { loss } = model.trainStep(x, labels, TRAIN_ROWS, { lr: LR });
  for (const layer of policy) {
    check(`${layer.name}.policy_sigma in the trainStep`, region(`${layer.name}.policy_sigma`));
    check(`${layer.name}.policy_u: masks sampled by the trainStep`, region(`${layer.name}.policy_u`));
    check(`${layer.name}.policy_cost in the trainStep`, region(`${layer.name}.policy_cost`));
  }
  if (policy.length > 0) check("policy train statistics", policyStats("train"));
  if (trees.length > 0) check("tree counters (macs, examples) after predict and trainStep", numbers(runtime.treeCounters(model).flatMap((c) => [c.macs, c.examples])));

  if (policy.length > 0) runtime.setPolicySeed(model, SEED); // the same test-time masks as after load below
  const after = bytesOf(model.predict(x, ROWS));
  if (policy.length > 0) {
    runtime.setPolicyMode(model, "threshold");
    check("probabilities after the step, threshold mode", bytesOf(model.predict(x, ROWS)));
    for (const layer of policy) check(`${layer.name}.policy_u: masks in threshold mode (last chunk)`, region(`${layer.name}.policy_u`));
    runtime.setPolicyMode(model, "sample");
  }
  const save = model.save();
  const saveSha = await sha256Hex(save);

  model.init(SEED + 1);
  model.load(save);
  if (policy.length > 0) runtime.setPolicySeed(model, SEED);
  const reloaded = bytesOf(model.predict(x, ROWS));
  return { validates: true, inputsSha, before, loss, after, reloaded, save, saveSha, checks, threads: model.threads };
}
