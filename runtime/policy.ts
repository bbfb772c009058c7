/**
 * @fileoverview Runtime side of block-dropout policies (compiler/methods/policy.ts):
 * settings (RNG seed, test-time mode, policy learning rate), per-epoch statistics
 * (per-block mean and variance of the policy probabilities, mean activation = fraction
 * of blocks computed) and measured MACs. No Node-only imports.
 */
import type { Model } from "./model.js";
import type { ManifestLayer } from "./manifest.js";

export type PolicyTestMode = "sample" | "threshold";

interface PolicyExports {
  policySetSeed(seed: number): void;
  policySetMode(mode: number): void;
  policyGetMode(): number;
  policySetLr(lr: number): void;
  policyGetLr(): number;
  policyResetEval(): void;
}

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

export function policyLayers(model: Model): ManifestLayer[] {
  return model.manifest.layers.filter((l) => l.gate?.kind === "policy" && l.delta !== null);
}

export function hasPolicy(model: Model): boolean {
  return policyLayers(model).length > 0;
}

function exportsOf(model: Model): PolicyExports {
  const e = model.wasmExports as unknown as Partial<PolicyExports>;
  if (typeof e.policySetSeed !== "function") throw new Error(`model '${model.manifest.model}' has no policy gates`);
  return e as PolicyExports;
}

/** The RNG seed of the masks (training and test-time sampling); also restarts test-time streams. */
export function setPolicySeed(model: Model, seed: number): void {
  if (hasPolicy(model)) exportsOf(model).policySetSeed(seed >>> 0);
}

/** Test-time behaviour: sample masks (the paper's) or threshold p > 0.5. */
export function setPolicyMode(model: Model, mode: PolicyTestMode): void {
  exportsOf(model).policySetMode(mode === "threshold" ? 1 : 0);
}

export function getPolicyMode(model: Model): PolicyTestMode {
  return exportsOf(model).policyGetMode() === 1 ? "threshold" : "sample";
}

export function setPolicyLearningRate(model: Model, lr: number): void {
  exportsOf(model).policySetLr(lr);
}

export function getPolicyLearningRate(model: Model): number {
  return exportsOf(model).policyGetLr();
}

/**
 * Statistics accumulated since the last reset, from training steps ("train") or from
 * predict/evaluate ("eval"); `reset` clears them.
 */
export function readPolicyStats(model: Model, which: "train" | "eval", reset = true): PolicyLayerStats[] {
  return policyLayers(model).map((layer) => {
    const blocks = Number(layer.gate!["blocks"]);
    const view = model.regionView(`${layer.name}.policy_${which}_stats`);
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

/**
 * MACs per example as executed, from the mean activations of `stats` (eval statistics):
 * a policy layer computes ρ_l of its blocks over ρ_src of its input (ss; ρ_src = 1 for a
 * dense source) plus its policy inputs × blocks; other layers run dense. Uses the product
 * of the mean densities (exact per example only when densities are independent).
 */
export function measuredMacs(model: Model, stats: PolicyLayerStats[]): { conditional: number; dense: number } {
  const density = new Map(stats.map((s) => [s.layer, s.meanActivation]));
  let conditional = 0;
  let dense = 0;
  for (const layer of model.manifest.layers) {
    if (layer.delta === null) continue;
    dense += layer.inputs * layer.units;
    const own = density.get(layer.name);
    if (own === undefined) {
      conditional += layer.inputs * layer.units;
      continue;
    }
    const src = layer.source !== null ? density.get(layer.source) ?? 1 : 1;
    const uniform = layer.gate!["uniform"] === true;
    conditional += layer.inputs * layer.units * own * src + (uniform ? 0 : layer.inputs * Number(layer.gate!["blocks"]));
  }
  return { conditional, dense };
}

/** One line per policy layer: mean activation and the range of per-block mean probabilities. */
export function formatPolicyStats(stats: PolicyLayerStats[]): string {
  return stats
    .map((s) => {
      const lo = Math.min(...s.blockMean), hi = Math.max(...s.blockMean);
      const sd = Math.sqrt(s.blockVariance.reduce((a, b) => a + b, 0) / Math.max(1, s.blocks));
      return `  ${s.layer}: active ${(100 * s.meanActivation).toFixed(1)}%, block mean p [${lo.toFixed(3)}, ${hi.toFixed(3)}], mean sd ${sd.toFixed(3)}; p per block ${s.blockMean.map((m) => m.toFixed(2)).join(" ")}`;
    })
    .join("\n");
}
