/**
 * @fileoverview What both tree layouts' GPU programs share (webgpu.ts, webgpu-unit.ts): the layer
 * and host-state types, the gater product and bits, the root as the dense product, its gradients
 * and REINFORCE on the gaters.
 */
import type { Step } from "../../runtime/webgpu/executor.js";
import { columnSumsKernel } from "../../runtime/webgpu/kernels/elementwise.js";
import { gemmKernel, SMALL_ROWS, smallRowsNtKernel, type GemmSpec } from "../../runtime/webgpu/kernels/gemm.js";
import type { GpuContext, GpuLayer } from "../../runtime/webgpu/method.js";
import { bitsKernel, reinforceSignalKernel, type BitsMode, type LevelMode } from "./wgsl.js";

export interface TreeOptions {
  depth: number;
  layout: "shared" | "per_unit";
  gaterTraining: BitsMode;
  sigma: number;
  levelLr: LevelMode;
  levelLrMax: number;
}

/** The module's globals of each layer: seed, Λ, and the MAC / example counters. */
export interface TreeGpuState {
  seed: number;
  lambda: Map<string, number>;
  macs: Map<string, number>;
  examples: Map<string, number>;
}

export type Layer = GpuLayer<TreeOptions>;
export type Ctx = GpuContext<TreeGpuState>;

export const nodesOf = (layer: Layer) => 2 ** (layer.options.depth + 1) - 1;
export const decayOf = (ctx: Ctx) => Number(ctx.manifest.train.optimizer["weightDecay"] ?? 0);

/** The gater product gz = x Gᵀ + g, then the bits and prefix codes (sampled in training per the option). */
export function gaterSteps(layer: Layer, phase: "predict" | "train"): Step[] {
  const k = layer.options.depth;
  const r = (s: string) => layer.region(`tree_${s}`);
  const mode: BitsMode = phase === "train" ? layer.options.gaterTraining : "deterministic";
  return [
    {
      kind: "dispatch",
      kernel: gemmKernel({ shape: "NT", m: "n", n: k, k: layer.inputs, lda: layer.inputs, ldb: layer.inputs, ldc: k, beta: 0, epilogue: { bias: true, activation: "linear" } }),
      bind: { a: layer.x, b: layer.param("gater_weight").value, c: r("gz"), bias: layer.param("gater_bias").value },
    },
    { kind: "dispatch", kernel: bitsKernel(k, mode, layer.options.sigma, layer.index), bind: { gz: r("gz"), bits: r("bits"), codes: r("codes"), words: layer.own("call") } },
  ];
}

/** The root (node 0, every unit) as the dense product with its bias, into the layer's output. */
export function rootForwardSteps(layer: Layer): Step[] {
  const { inputs, units } = layer;
  const root: GemmSpec = { shape: "NT", m: "n", n: units, k: inputs, lda: inputs, ldb: inputs, ldc: units, beta: 0, epilogue: { bias: true, activation: "linear" } };
  const bind = { a: layer.x, b: layer.param("tree_weight").value, c: layer.output, bias: layer.param("tree_bias").value };
  return [
    { kind: "dispatch", kernel: smallRowsNtKernel(root), bind, when: (n) => n <= SMALL_ROWS },
    { kind: "dispatch", kernel: gemmKernel(root), bind, when: (n) => n > SMALL_ROWS },
  ];
}

/** REINFORCE on the gaters when the option asks (their gradients; deterministic and noisy bits have none). */
export function reinforceSteps(layer: Layer, ctx: Ctx): Step[] {
  if (layer.options.gaterTraining !== "reinforce") return [];
  const k = layer.options.depth;
  const r = (s: string) => layer.region(`tree_${s}`);
  return [
    { kind: "dispatch", kernel: reinforceSignalKernel(k, ctx.classes), bind: { gz: r("gz"), bits: r("bits"), probs: ctx.probs, labels: ctx.labels } },
    {
      kind: "dispatch",
      kernel: gemmKernel({ shape: "TN", m: k, n: layer.inputs, k: "n", lda: k, ldb: layer.inputs, ldc: layer.inputs, beta: 0 }),
      bind: { a: r("gz"), b: layer.x, c: layer.param("gater_weight").grad! },
    },
    { kind: "dispatch", kernel: columnSumsKernel("n", k), bind: { delta: r("gz"), db: layer.param("gater_bias").grad! } },
  ];
}

/** The root's gradients over every row in the original order (the first node's slices of the tree gradients). */
export function rootBackwardSteps(layer: Layer): Step[] {
  const { inputs, units } = layer;
  const delta = layer.delta!;
  return [
    {
      kind: "dispatch",
      kernel: gemmKernel({ shape: "TN", m: units, n: inputs, k: "n", lda: units, ldb: inputs, ldc: inputs, beta: 0 }),
      bind: { a: delta, b: layer.x, c: layer.param("tree_weight").grad! },
    },
    { kind: "dispatch", kernel: columnSumsKernel("n", units), bind: { delta, db: layer.param("tree_bias").grad! } },
  ];
}

/** dX (+)= Δ T_root: the root's share of dL/d(input), written or added as the source asks. */
export function rootInputSteps(layer: Layer, source: { region: string; beta: 0 | 1 }): Step[] {
  const { inputs, units } = layer;
  return [
    {
      kind: "dispatch",
      kernel: gemmKernel({ shape: "NN", m: "n", n: inputs, k: units, lda: units, ldb: inputs, ldc: inputs, beta: source.beta }),
      bind: { a: layer.delta!, b: layer.param("tree_weight").value, c: source.region },
    },
  ];
}
