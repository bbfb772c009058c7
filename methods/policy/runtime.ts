/**
 * @fileoverview Runtime side of block-dropout policies (docs/methods/policy.md): the RNG seed
 * (set by `init`), the test-time mode, the policy learning rate, per-epoch statistics (per-block
 * mean and variance of the policy probabilities, fraction of blocks computed) and counted MACs.
 */
import type { Model } from "../../runtime/model.js";
import type { AnyModel } from "../../runtime/backend.js";
import type { PolicyGpuState } from "./webgpu.js";
import { findRegion } from "../../runtime/manifest.js";
import { defineRuntime, type LayerDecisions, type LayerReport, type RuntimeLayer } from "../runtime-unit.js";
import { POLICY_TEST_SAMPLE, POLICY_TEST_THRESHOLD } from "../../runtime/kernels/codes/policy.js";

export type PolicyTestMode = "sample" | "threshold";

interface PolicySettings {
  blocks: number;
  tau: number;
  uniform: boolean;
  test: PolicyTestMode;
}

type Layer = RuntimeLayer<PolicySettings>;

const KEY = "policy";

export interface PolicyLayerStats {
  layer: string;
  blocks: number;
  /** Examples the statistics cover. */
  examples: number;
  /** Per block: mean over examples of the probability p (after squashing). */
  blockMean: number[];
  /** Per block: variance over examples of p. */
  blockVariance: number[];
  /** Fraction of the layer's blocks computed (sampled or thresholded masks). */
  meanActivation: number;
}

/** The gated layers the loss depends on (the ones the module runs). */
function policyLayers(model: AnyModel): Layer[] {
  return model.layersOf<PolicySettings>(KEY).filter((l) => l.delta !== null);
}

export function hasPolicy(model: AnyModel): boolean {
  return policyLayers(model).length > 0;
}

/** A GPU model's policy state (the module's globals, kept on the host); null for a wasm model. */
function gpuState(model: AnyModel): PolicyGpuState | null {
  if (model.backend !== "webgpu") return null;
  const state = model.methodState<PolicyGpuState>(KEY);
  if (!state) throw new RangeError(`model '${model.manifest.model}' has no policy gates`);
  return state;
}

function call<T>(model: Model, what: string, ...args: number[]): T {
  const name = model.manifest.exports[what];
  if (name === undefined) throw new RangeError(`model '${model.manifest.model}' has no policy gates`);
  return (model.wasmExports[name] as (...a: number[]) => T)(...args);
}

/** The RNG seed of the masks (training and test-time sampling); also restarts test-time streams. */
export function setPolicySeed(model: AnyModel, seed: number): void {
  if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32) throw new RangeError(`setPolicySeed: seed must be an integer in [0, 2^32), got ${seed}`);
  if (!hasPolicy(model)) return;
  const gpu = gpuState(model);
  if (gpu) {
    gpu.seed = seed >>> 0;
    gpu.evalCalls = 0;
  } else call(model as Model, "policySetSeed", seed >>> 0);
}

/** Test-time behaviour: sample masks (the paper's) or threshold p > 0.5. */
export function setPolicyMode(model: AnyModel, mode: PolicyTestMode): void {
  if (mode !== "sample" && mode !== "threshold") throw new RangeError(`setPolicyMode: mode must be "sample" or "threshold", got ${JSON.stringify(mode)}`);
  const gpu = gpuState(model);
  if (gpu) gpu.mode = mode;
  else call(model as Model, "policySetMode", mode === "threshold" ? POLICY_TEST_THRESHOLD : POLICY_TEST_SAMPLE);
}

export function getPolicyMode(model: AnyModel): PolicyTestMode {
  const gpu = gpuState(model);
  if (gpu) return gpu.mode;
  return call<number>(model as Model, "policyGetMode") === POLICY_TEST_THRESHOLD ? "threshold" : "sample";
}

export function setPolicyLearningRate(model: AnyModel, lr: number): void {
  if (!(typeof lr === "number" && Number.isFinite(lr) && lr >= 0)) throw new RangeError(`setPolicyLearningRate: lr must be a finite number >= 0, got ${lr}`);
  const gpu = gpuState(model);
  if (gpu) gpu.lr = Math.fround(lr);
  else call(model as Model, "policySetLr", lr);
}

export function getPolicyLearningRate(model: AnyModel): number {
  const gpu = gpuState(model);
  if (gpu) return gpu.lr;
  return call<number>(model as Model, "policyGetLr");
}

function statsView(model: Model, layer: Layer, which: "train" | "eval"): Float32Array {
  return model.regionView(layer.regions[`policy_${which}_stats`]!);
}

/** Statistics accumulated since the last reset, from training steps or from predict/evaluate. */
export function readPolicyStats(model: Model, which: "train" | "eval", reset = true): PolicyLayerStats[] {
  return policyLayers(model).map((layer) => {
    const blocks = layer.options.blocks;
    const view = statsView(model, layer, which);
    const examples = view[2 * blocks]!;
    const active = view[2 * blocks + 1]!;
    const blockMean: number[] = [];
    const blockVariance: number[] = [];
    for (let j = 0; j < blocks; j++) {
      const mean = examples > 0 ? view[j]! / examples : 0;
      blockMean.push(mean);
      blockVariance.push(examples > 0 ? Math.max(0, view[blocks + j]! / examples - mean * mean) : 0);
    }
    if (reset) view.fill(0);
    return { layer: layer.name, blocks, examples, blockMean, blockVariance, meanActivation: examples > 0 ? active / (examples * blocks) : 0 };
  });
}

export function resetPolicyStats(model: Model): void {
  readPolicyStats(model, "train", true);
  readPolicyStats(model, "eval", true);
}

function activeFraction(model: Model, layer: Layer, which: "train" | "eval"): number | null {
  const view = statsView(model, layer, which);
  const examples = view[2 * layer.options.blocks]!;
  return examples > 0 ? view[2 * layer.options.blocks + 1]! / (examples * layer.options.blocks) : null;
}

/**
 * MACs per example of one layer as executed: its active fraction ρ of its blocks over the active
 * fraction of its input (a policy-gated source; 1 otherwise) plus its policy's inputs × blocks.
 * Uses the product of the mean densities (exact per example only when they are independent).
 */
function layerMacs(model: Model, layer: Layer, which: "train" | "eval"): number | null {
  const own = activeFraction(model, layer, which);
  if (own === null) return null;
  const source = layer.source === null ? undefined : model.manifest.layers.find((l) => l.name === layer.source && l.method === KEY) as Layer | undefined;
  const input = source ? (activeFraction(model, source, which) ?? 1) : 1;
  return layer.inputs * layer.units * own * input + (layer.options.uniform ? 0 : layer.inputs * layer.options.blocks);
}

/** MACs per example of the whole model as executed (other layers dense), from the eval statistics. */
export function measuredMacs(model: Model, which: "train" | "eval" = "eval"): { conditional: number; dense: number } {
  let conditional = 0;
  let dense = 0;
  for (const layer of model.manifest.layers) {
    if (layer.delta === null) continue;
    dense += layer.inputs * layer.units;
    conditional += (layer.method === KEY ? layerMacs(model, layer as Layer, which) : null) ?? layer.inputs * layer.units;
  }
  return { conditional, dense };
}

/** The blocks each of the last forward pass's n rows computed (the sampled or thresholded masks). */
function decisions(model: Model, layer: Layer, n: number): LayerDecisions {
  const nb = layer.options.blocks;
  const lists = findRegion(model.manifest, layer.regions["policy_active"]!);
  const counts = new Int32Array(model.wasmMemory.buffer, findRegion(model.manifest, layer.regions["policy_count"]!).offset, n);
  const active: Int32Array[] = [];
  for (let i = 0; i < n; i++) active.push(new Int32Array(model.wasmMemory.buffer, lists.offset + i * nb * 4, counts[i]!).slice());
  return { of: "block", total: nb, active };
}

export const policyRuntime = defineRuntime<PolicySettings>({
  dispatchers: async () => (await import("./parallel.js")).POLICY_DISPATCHERS,
  key: KEY,
  afterInit: (model, _layers, seed) => setPolicySeed(model, seed),
  resetCounters: (model, layers, phase) => layers.filter((l) => l.delta !== null).forEach((l) => statsView(model, l, phase).fill(0)),
  decisions,
  report(model, layer, phase): LayerReport {
    const [stats] = readPolicyStats(model, phase, false).filter((s) => s.layer === layer.name);
    return {
      macsPerExample: layerMacs(model, layer, phase),
      activeFraction: activeFraction(model, layer, phase),
      metrics: stats ? { blocks: stats.blocks, block_mean: stats.blockMean, block_variance: stats.blockVariance } : { blocks: layer.options.blocks },
    };
  },
  webgpu: () => import("./webgpu.js").then((m) => m.policyGpu),
  cliOptions: [
    {
      name: "policy",
      choices: ["sample", "threshold"],
      help: "policy gates at test time: sample masks (the paper's) or threshold p > 0.5",
      commands: ["eval", "bench"],
      apply: (model, _layers, value) => setPolicyMode(model, value as PolicyTestMode),
    },
  ],
});
