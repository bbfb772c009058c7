/**
 * @fileoverview The dense MLP on the GPU: from a compiled model's manifest, the regions and
 * the recorded steps of `predict` and `trainStep`, in the order the wasm module runs them:
 * forward, softmax cross-entropy, the layers in reverse source order (L1, activation
 * derivative, dW, db, dX into the source's delta: the first writer overwrites, later ones add),
 * the loss total, then the optimizer on every live trainable parameter.
 */
import type { Manifest, ManifestLayer } from "../manifest.js";
import { GpuUnsupportedModelError } from "./errors.js";
import type { RegionSpec, Step } from "./executor.js";
import { activationBackwardKernel, columnSumsKernel, type Activation } from "./kernels/elementwise.js";
import { gemmKernel, SMALL_ROWS, smallRowsNtKernel, type GemmSpec } from "./kernels/gemm.js";
import { lossTotalKernel, reduceKernel, softmaxCrossEntropyKernel, softmaxKernel } from "./kernels/loss.js";
import { adamKernel, sgdKernel } from "./kernels/optim.js";
import { l1Groups, l1PenaltyKernel } from "./kernels/penalty.js";

export interface GpuParamSpec {
  /** Weight decay applies (weights, not biases). */
  decay: boolean;
  trainable: boolean;
  /** Updated by its layer's method rather than the optimizer (none in a dense model). */
  customUpdate: boolean;
  grad: string;
  /** Optimizer state regions: [velocity] for SGD, [m1, m2] for Adam. */
  state: string[];
}

/** A compiled model as the GPU back end takes it: the manifest and what it does not say yet. */
export interface GpuModelSpec {
  manifest: Manifest;
  /** The layer whose output feeds the softmax cross-entropy. */
  outputLayer: string;
  /** Per layer name, the coefficient of its L1 activation penalty (absent or 0: none). */
  penalties: Record<string, number>;
  /** Per parameter name. */
  params: Record<string, GpuParamSpec>;
}

/** A GpuModelSpec from a compiled model's manifest (the contract carries every fact the back end needs). */
export function gpuModelSpec(manifest: Manifest): GpuModelSpec {
  const output = manifest.layers.find((l) => l.isOutput);
  if (!output) throw new RangeError(`gpuModelSpec: the manifest of '${manifest.model}' marks no output layer`);
  return {
    manifest,
    outputLayer: output.name,
    penalties: Object.fromEntries(manifest.layers.map((l) => [l.name, l.l1])),
    params: Object.fromEntries(
      manifest.params.map((p) => [p.name, { decay: p.decay, trainable: p.update !== "none", customUpdate: p.update === "method", grad: p.grad ?? "", state: [...p.state] }]),
    ),
  };
}

/** The back end's own regions, beside the memory plan's (names no plan region can have). */
export const ROW_LOSS = "#rowLoss";
/** [0]: the total loss (the one value trainStep reads back); [1..]: its terms. */
export const LOSS = "#loss";
const l1Partials = (layer: string) => `#l1:${layer}`;

export interface DensePrograms {
  regions: RegionSpec[];
  predict: Step[];
  train: Step[];
}

const ACTIVATIONS: ReadonlySet<string> = new Set(["relu", "tanh", "sigmoid", "linear"]);

/** Throws GpuUnsupportedModelError listing everything the back end cannot run. */
export function checkSupported(spec: GpuModelSpec): void {
  const m = spec.manifest;
  const problems: string[] = [];
  for (const layer of m.layers) {
    if (layer.method !== "dense") problems.push(`layer '${layer.name}' is compiled by method '${layer.method}' (only dense layers run on the GPU so far)`);
    if (!ACTIVATIONS.has(layer.activation)) problems.push(`layer '${layer.name}' has activation '${layer.activation}'`);
  }
  const kind = m.train.optimizer["kind"];
  if (kind !== "sgd" && kind !== "adam") problems.push(`optimizer '${String(kind)}'`);
  for (const p of m.params) {
    const facts = spec.params[p.name];
    if (!facts) problems.push(`parameter '${p.name}' is missing from the spec`);
    else if (facts.customUpdate) problems.push(`parameter '${p.name}' is updated by its method`);
  }
  if (problems.length > 0) throw new GpuUnsupportedModelError(m.model, problems);
}

export function densePrograms(spec: GpuModelSpec): DensePrograms {
  checkSupported(spec);
  const m = spec.manifest;
  const layers = m.layers.filter((l) => l.delta !== null);
  const byName = new Map(m.layers.map((l) => [l.name, l]));
  const output = layers.find((l) => l.name === spec.outputLayer);
  if (!output) throw new GpuUnsupportedModelError(m.model, [`output layer '${spec.outputLayer}' is not a computed layer`]);
  const source = (layer: ManifestLayer) => (layer.source === null ? "input" : byName.get(layer.source)!.output);
  const weight = (layer: ManifestLayer) => paramRegion(m, layer.params["weight"]!);
  const bias = (layer: ManifestLayer) => paramRegion(m, layer.params["bias"]!);

  const forward: Step[] = [];
  for (const layer of layers) {
    const forwardGemm: GemmSpec = {
      shape: "NT", m: "n", n: layer.units, k: layer.inputs, lda: layer.inputs, ldb: layer.inputs, ldc: layer.units, beta: 0,
      epilogue: { bias: true, activation: layer.activation as Activation },
    };
    const bind = { a: source(layer), b: weight(layer), c: layer.output, bias: bias(layer) };
    forward.push({ kind: "dispatch", kernel: smallRowsNtKernel(forwardGemm), bind, when: (n) => n <= SMALL_ROWS });
    forward.push({ kind: "dispatch", kernel: gemmKernel(forwardGemm), bind, when: (n) => n > SMALL_ROWS });
  }
  const predict: Step[] = [...forward, { kind: "dispatch", kernel: softmaxKernel(m.classes), bind: { logits: output.output, probs: "probs" } }];

  const train: Step[] = [...forward];
  train.push({
    kind: "dispatch",
    kernel: softmaxCrossEntropyKernel(m.classes),
    bind: { logits: output.output, labels: "labels", probs: "probs", dlogits: output.delta!, rowLoss: ROW_LOSS },
  });
  train.push({ kind: "dispatch", kernel: reduceKernel("n", 1, 1), bind: { values: ROW_LOSS, slots: LOSS } });
  const extraRegions: RegionSpec[] = [{ name: ROW_LOSS, role: "scratch", bytes: 4 * m.maxBatch }];
  let terms = 1;
  const written = new Set<string>([output.name]);
  for (let i = layers.length - 1; i >= 0; i--) {
    const layer = layers[i]!;
    const delta = layer.delta!;
    if (!written.has(layer.name)) train.push({ kind: "clear", region: delta, bytes: (n) => 4 * n * layer.units });
    const lambda = spec.penalties[layer.name] ?? 0;
    if (lambda !== 0) {
      const groups = l1Groups(m.maxBatch * layer.units);
      extraRegions.push({ name: l1Partials(layer.name), role: "scratch", bytes: 4 * groups });
      terms++;
      train.push({ kind: "dispatch", kernel: l1PenaltyKernel("n", layer.units, lambda, groups), bind: { h: layer.output, delta, partials: l1Partials(layer.name) } });
      train.push({ kind: "dispatch", kernel: reduceKernel(groups, lambda, terms), bind: { values: l1Partials(layer.name), slots: LOSS } });
    }
    if (layer.activation !== "linear") {
      train.push({ kind: "dispatch", kernel: activationBackwardKernel(layer.activation as Exclude<Activation, "linear">, "n", layer.units), bind: { delta, h: layer.output } });
    }
    train.push({
      kind: "dispatch",
      kernel: gemmKernel({ shape: "TN", m: layer.units, n: layer.inputs, k: "n", lda: layer.units, ldb: layer.inputs, ldc: layer.inputs, beta: 0 }),
      bind: { a: delta, b: source(layer), c: spec.params[`${layer.name}.weight`]!.grad },
    });
    train.push({ kind: "dispatch", kernel: columnSumsKernel("n", layer.units), bind: { delta, db: spec.params[`${layer.name}.bias`]!.grad } });
    if (layer.source !== null) {
      const from = byName.get(layer.source)!;
      const beta = written.has(from.name) ? 1 : 0;
      written.add(from.name);
      train.push({
        kind: "dispatch",
        kernel: gemmKernel({ shape: "NN", m: "n", n: layer.inputs, k: layer.units, lda: layer.units, ldb: layer.inputs, ldc: layer.inputs, beta }),
        bind: { a: delta, b: weight(layer), c: from.delta! },
      });
    }
  }
  train.push({ kind: "dispatch", kernel: lossTotalKernel(terms), bind: { slots: LOSS } });
  extraRegions.push({ name: LOSS, role: "scratch", bytes: 4 * (terms + 1) });
  train.push(...optimizerSteps(spec, new Set(layers.map((l) => l.name))));

  return { regions: [...m.memory.regions, ...extraRegions], predict, train };
}

/** One optimizer dispatch per live trainable parameter, in parameter-table order. */
function optimizerSteps(spec: GpuModelSpec, live: Set<string>): Step[] {
  const m = spec.manifest;
  const o = m.train.optimizer;
  const steps: Step[] = [];
  for (const p of m.params) {
    const facts = spec.params[p.name]!;
    if (!facts.trainable || !live.has(p.layer)) continue;
    const count = p.shape.reduce((a, b) => a * b, 1);
    const decay = facts.decay ? Number(o["weightDecay"] ?? 0) : 0;
    if (o["kind"] === "sgd") {
      steps.push({ kind: "dispatch", kernel: sgdKernel(count, Number(o["momentum"]), decay), bind: { param: p.region, grad: facts.grad, velocity: facts.state[0]! } });
    } else {
      steps.push({
        kind: "dispatch",
        kernel: adamKernel(count, Number(o["beta1"]), Number(o["beta2"]), Number(o["epsilon"]), decay),
        bind: { param: p.region, grad: facts.grad, m1: facts.state[0]!, m2: facts.state[1]! },
      });
    }
  }
  return steps;
}

function paramRegion(m: Manifest, name: string): string {
  const p = m.params.find((q) => q.name === name);
  if (!p) throw new GpuUnsupportedModelError(m.model, [`no parameter '${name}'`]);
  return p.region;
}
