/**
 * @fileoverview Runtime side of moe layers (docs/methods/moe.md): their counters (per phase:
 * examples, routed and dropped pairs, counted MACs, router entropy, balance loss, per-expert
 * load), reset and reported in the shared fields (runtime/report.ts); its kernels' thread
 * dispatchers (parallel.ts). The gating-noise seed is set by the module's `init` itself.
 */
import type { Model } from "../../runtime/model.js";
import { MOE_STAT_BALANCE, MOE_STAT_DROPPED, MOE_STAT_ENTROPY, MOE_STAT_EXAMPLES, MOE_STAT_LOAD, MOE_STAT_MACS, MOE_STAT_PAIRS } from "../../runtime/kernels/codes/moe.js";
import { findRegion } from "../../runtime/manifest.js";
import { defineRuntime, type LayerDecisions, type LayerReport, type RuntimeLayer } from "../runtime-unit.js";

interface MoeSettings {
  experts: number;
  topK: number;
  hidden: number;
}

type Layer = RuntimeLayer<MoeSettings>;
type Phase = "train" | "eval";

const KEY = "moe";

/** One moe layer's figures since the last reset of a phase's counters. */
export interface MoeLayerStats {
  layer: string;
  experts: number;
  topK: number;
  /** Examples run forward. */
  examples: number;
  /** (example, slot) pairs routed, n k per batch, and those the capacity dropped. */
  pairs: number;
  dropped: number;
  /** MACs as counted by the kernels (router, expert GEMMs) plus the combine, per example. */
  macsPerExample: number;
  /** Per expert: the fraction of examples routed to it (before the capacity; sums to k). */
  load: number[];
  /** Mean entropy of the router's softmax over the E experts (nats). */
  entropy: number;
  /** The balance loss, mean over batches weighted by their size. */
  balanceLoss: number;
}

function statsView(model: Model, layer: Layer, phase: Phase): Float64Array {
  return model.regionViewF64(layer.regions[`moe_${phase}_stats`]!);
}

function readStats(model: Model, layer: Layer, phase: Phase): MoeLayerStats {
  const s = statsView(model, layer, phase);
  const examples = s[MOE_STAT_EXAMPLES]!;
  const per = (v: number) => (examples > 0 ? v / examples : 0);
  return {
    layer: layer.name,
    experts: layer.options.experts,
    topK: layer.options.topK,
    examples,
    pairs: s[MOE_STAT_PAIRS]!,
    dropped: s[MOE_STAT_DROPPED]!,
    macsPerExample: per(s[MOE_STAT_MACS]!),
    load: Array.from({ length: layer.options.experts }, (_, i) => per(s[MOE_STAT_LOAD + i]!)),
    entropy: per(s[MOE_STAT_ENTROPY]!),
    balanceLoss: per(s[MOE_STAT_BALANCE]!),
  };
}

/** The model's moe layers the loss depends on. */
function liveLayers(model: Model): Layer[] {
  return model.layersOf<MoeSettings>(KEY).filter((l) => l.delta !== null);
}

/** The figures of every moe layer since the last reset of `phase`'s counters. */
export function moeStats(model: Model, phase: Phase = "eval"): MoeLayerStats[] {
  if (phase !== "train" && phase !== "eval") throw new RangeError(`moeStats: phase must be "train" or "eval", got ${JSON.stringify(phase)}`);
  return liveLayers(model).map((l) => readStats(model, l, phase));
}

/**
 * The experts that computed each of the last forward pass's n rows: its top-k choices
 * (`moe_top`, [n, k]) that the capacity kept (`moe_pair_row` is -1 for a dropped pair).
 */
function decisions(model: Model, layer: Layer, n: number): LayerDecisions {
  const k = layer.options.topK;
  const view = (name: string) => new Int32Array(model.wasmMemory.buffer, findRegion(model.manifest, layer.regions[name]!).offset, n * k);
  const top = view("moe_top");
  const pairRow = view("moe_pair_row");
  const active: Int32Array[] = [];
  for (let e = 0; e < n; e++) {
    const kept: number[] = [];
    for (let s = 0; s < k; s++) if (pairRow[e * k + s]! >= 0) kept.push(top[e * k + s]!);
    active.push(Int32Array.from(kept).sort());
  }
  return { of: "expert", total: layer.options.experts, active };
}

export const moeRuntime = defineRuntime<MoeSettings>({
  key: KEY,
  webgpu: () => import("./webgpu.js").then((m) => m.moeGpu),
  dispatchers: async () => (await import("./parallel.js")).MOE_DISPATCHERS,
  resetCounters: (model, layers, phase) => layers.filter((l) => l.delta !== null).forEach((l) => statsView(model, l, phase).fill(0)),
  decisions,
  report(model, layer, phase): LayerReport {
    const s = readStats(model, layer, phase);
    const shape = { experts: s.experts, top_k: s.topK };
    if (s.examples === 0) return { macsPerExample: null, activeFraction: null, metrics: shape };
    return {
      macsPerExample: s.macsPerExample,
      // experts computed per example over E: k / E, less what the capacity dropped
      activeFraction: (s.pairs - s.dropped) / (s.examples * s.experts),
      metrics: { ...shape, expert_load: s.load, router_entropy: s.entropy, balance_loss: s.balanceLoss, dropped_fraction: s.pairs > 0 ? s.dropped / s.pairs : 0 },
    };
  },
});
