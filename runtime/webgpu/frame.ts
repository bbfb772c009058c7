/**
 * @fileoverview The GPU back end's frame: from a compiled model's manifest, the regions and the
 * recorded steps of `predict`, `trainStep` and `flush`, asking each layer's method (the `webgpu`
 * program of its runtime unit) for the layer's own passes, in the order the wasm module runs
 * them: the forward pass, softmax cross-entropy, the layers in reverse source order (L1, then the
 * method's backward, whose dL/d(input) the source's first writer overwrites and later ones add),
 * the loss total, the optimizer on every live parameter it owns, then the methods' own updates.
 * The frame names no method: it iterates over the layers and their units.
 */
import type { LayerReport } from "../../methods/runtime-unit.js";
import type { Manifest, ManifestLayer } from "../manifest.js";
import { GpuUnsupportedModelError } from "./errors.js";
import type { RegionSpec, Step } from "./executor.js";
import { correctCountKernel, lossTotalKernel, reduceKernel, softmaxCrossEntropyKernel, softmaxKernel } from "./kernels/loss.js";
import { adamKernel, sgdKernel } from "./kernels/optim.js";
import { l1Groups, l1PenaltyKernel } from "./kernels/penalty.js";
import type { GpuCall, GpuContext, GpuLayer, GpuMethod, GpuParam } from "./method.js";

/** The back end's own regions, beside the memory plan's (names no plan region can have). */
export const ROW_LOSS = "#rowLoss";
/** [0]: the total loss; [1..terms]: its terms; [terms + 1]: the batch's correct count. */
export const LOSS = "#loss";
const l1Partials = (layer: string) => `#l1:${layer}`;
const ownRegion = (layer: string, suffix: string) => `#${layer}:${suffix}`;

/** The activations the GPU kernels implement (the language's set). */
const ACTIVATIONS: ReadonlySet<string> = new Set(["relu", "tanh", "sigmoid", "linear"]);

/** Reads and writes of GPU buffers outside programs, bound once the buffers exist. */
export interface GpuIo {
  upload(region: string, data: ArrayBufferView): Promise<void>;
  download(region: string): Promise<ArrayBuffer>;
}

interface MethodEntry {
  method: GpuMethod<unknown, unknown>;
  ctx: GpuContext<unknown>;
  layers: GpuLayer[];
}

export interface GpuFrame {
  regions: RegionSpec[];
  predict: Step[];
  train: Step[];
  flush: Step[];
  /** Words of the LOSS region; the correct count's slot. */
  lossWords: number;
  correctSlot: number;
  /** Every layer, by name (live or not), as the methods see it. */
  layers: Map<string, GpuLayer>;
  /** Region writes the methods make before a call. */
  writes(call: GpuCall): Array<{ region: string; data: ArrayBufferView }>;
  afterCall(call: GpuCall, finite: boolean): void;
  afterUpload(seed: number | null): Promise<void>;
  /** The regions to zero for a phase's counter reset. */
  counters(phase: "train" | "eval"): Array<{ region: string; bytes: number }>;
  /** Zeroes the counters methods keep on the host. */
  resetHostCounters(phase: "train" | "eval"): void;
  /** The method's figures for a live layer (undefined: its method reports nothing on the GPU). */
  report(layer: string, phase: "train" | "eval"): Promise<LayerReport | undefined>;
  /** A method's host state (what its `state` returned), by registry key. */
  state(method: string): unknown;
  /** Regions with initial contents other than zeros (written when the buffers are made). */
  initial: Array<{ region: string; data: ArrayBufferView }>;
}

/**
 * Records the programs of a model. `methods` maps registry keys to GPU programs; a live layer
 * whose method has none, an activation or optimizer the kernels lack, or an option a method has
 * not built is a GpuUnsupportedModelError listing every problem, before any GPU work.
 */
export function buildFrame(manifest: Manifest, methods: ReadonlyMap<string, GpuMethod<unknown, unknown>>, io: GpuIo): GpuFrame {
  const m = manifest;
  const byName = new Map(m.layers.map((l) => [l.name, l]));
  const params = new Map(m.params.map((p) => [p.name, p]));
  const layers = new Map<string, GpuLayer>();
  const ownRegions: RegionSpec[] = [];
  m.layers.forEach((layer, index) => layers.set(layer.name, toGpuLayer(layer, index, byName, params, layers)));
  const live = m.layers.filter((l) => l.delta !== null).map((l) => layers.get(l.name)!);

  const problems: string[] = [];
  for (const layer of live) {
    const method = methods.get(layer.method);
    if (!method) problems.push(`layer '${layer.name}' is compiled by method '${layer.method}', which has no GPU program`);
    else problems.push(...(method.unsupported?.(layer) ?? []).map((p) => `layer '${layer.name}': ${p}`));
    if (!ACTIVATIONS.has(layer.activation)) problems.push(`layer '${layer.name}' has activation '${layer.activation}'`);
  }
  const kind = m.train.optimizer["kind"];
  if (kind !== "sgd" && kind !== "adam") problems.push(`optimizer '${String(kind)}'`);
  const output = live.find((l) => l.isOutput);
  if (!output) problems.push("no computed output layer");
  if (problems.length > 0) throw new GpuUnsupportedModelError(m.model, problems);

  // One context per method present, in order of first appearance (as the wasm frame).
  const entries = new Map<string, MethodEntry>();
  for (const layer of live) {
    if (entries.has(layer.method)) continue;
    const method = methods.get(layer.method)!;
    const mine = live.filter((l) => l.method === layer.method);
    const ctx: GpuContext<unknown> = {
      manifest: m,
      maxBatch: m.maxBatch,
      classes: m.classes,
      state: undefined,
      layers: mine,
      probs: "probs",
      labels: "labels",
      loss: LOSS,
      upload: (region, data) => io.upload(region, data),
      download: (region) => io.download(region),
    };
    ctx.state = method.state?.(mine, m);
    entries.set(layer.method, { method, ctx, layers: mine });
  }
  const entryOf = (layer: GpuLayer) => entries.get(layer.method)!;

  const counterRegions: Array<{ region: string; bytes: number; phase: "train" | "eval" | "both" }> = [];
  const initial: GpuFrame["initial"] = [];
  for (const layer of live) {
    const { method, ctx } = entryOf(layer);
    for (const request of method.regions?.(layer, ctx) ?? []) {
      const name = ownRegion(layer.name, request.suffix);
      ownRegions.push({ name, role: request.counters ? "counters" : "scratch", bytes: 4 * Math.max(1, request.words) });
      if (request.counters) counterRegions.push({ region: name, bytes: 4 * request.words, phase: request.counters });
      if (request.initial) initial.push({ region: name, data: request.initial() });
    }
  }

  // Loss slots: 1 the cross-entropy, then the methods' terms in layer order, then the L1 terms.
  let terms = 1;
  const termSlot = new Map<string, number>();
  for (const layer of live) if (entryOf(layer).method.hasLossTerm?.(layer)) termSlot.set(layer.name, ++terms);
  const forward = (phase: "predict" | "train"): Step[] =>
    live.flatMap((layer) => entryOf(layer).method.forward(layer, entryOf(layer).ctx, phase, termSlot.get(layer.name) ?? null));

  const predict: Step[] = [...forward("predict"), { kind: "dispatch", kernel: softmaxKernel(m.classes), bind: { logits: output!.output, probs: "probs" } }];

  const train: Step[] = [...forward("train")];
  train.push({
    kind: "dispatch",
    kernel: softmaxCrossEntropyKernel(m.classes),
    bind: { logits: output!.output, labels: "labels", probs: "probs", dlogits: output!.delta!, rowLoss: ROW_LOSS },
  });
  train.push({ kind: "dispatch", kernel: reduceKernel("n", 1, 1), bind: { values: ROW_LOSS, slots: LOSS } });
  const frameRegions: RegionSpec[] = [{ name: ROW_LOSS, role: "scratch", bytes: 4 * m.maxBatch }];
  const written = new Set<string>([output!.name]);
  for (let i = live.length - 1; i >= 0; i--) {
    const layer = live[i]!;
    const delta = layer.delta!;
    if (!written.has(layer.name)) train.push({ kind: "clear", region: delta, bytes: (n) => 4 * n * layer.units });
    if (layer.l1 !== 0) {
      const groups = l1Groups(m.maxBatch * layer.units);
      frameRegions.push({ name: l1Partials(layer.name), role: "scratch", bytes: 4 * groups });
      terms++;
      train.push({ kind: "dispatch", kernel: l1PenaltyKernel("n", layer.units, layer.l1, groups), bind: { h: layer.output, delta, partials: l1Partials(layer.name) } });
      train.push({ kind: "dispatch", kernel: reduceKernel(groups, layer.l1, terms), bind: { values: l1Partials(layer.name), slots: LOSS } });
    }
    let source: { region: string; beta: 0 | 1 } | null = null;
    if (layer.source !== null) {
      source = { region: layer.source.delta!, beta: written.has(layer.source.name) ? 1 : 0 };
      written.add(layer.source.name);
    }
    train.push(...entryOf(layer).method.backward(layer, entryOf(layer).ctx, source));
  }
  train.push({ kind: "dispatch", kernel: lossTotalKernel(terms), bind: { slots: LOSS } });
  const correctSlot = terms + 1;
  train.push({ kind: "dispatch", kernel: correctCountKernel(m.classes, correctSlot), bind: { probs: "probs", labels: "labels", slots: LOSS } });
  frameRegions.push({ name: LOSS, role: "scratch", bytes: 4 * (terms + 2) });
  train.push(...optimizerSteps(m, new Set(live.map((l) => l.name))));
  for (const layer of live) train.push(...(entryOf(layer).method.update?.(layer, entryOf(layer).ctx) ?? []));

  const flush = live.flatMap((layer) => entryOf(layer).method.flush?.(layer, entryOf(layer).ctx) ?? []);

  return {
    regions: [...m.memory.regions, ...frameRegions, ...ownRegions],
    predict,
    train,
    flush,
    lossWords: terms + 2,
    correctSlot,
    layers,
    initial,
    writes: (call) => live.flatMap((layer) => entryOf(layer).method.writes?.(layer, entryOf(layer).ctx, call) ?? []),
    afterCall(call, finite) {
      for (const { method, ctx } of entries.values()) method.afterCall?.(ctx, call, finite);
    },
    async afterUpload(seed) {
      for (const { method, ctx } of entries.values()) await method.afterUpload?.(ctx, seed);
    },
    counters: (phase) => counterRegions.filter((c) => c.phase === phase || c.phase === "both"),
    resetHostCounters(phase) {
      for (const { method, ctx } of entries.values()) method.resetCounters?.(ctx, phase);
    },
    async report(name, phase) {
      const layer = layers.get(name);
      if (!layer || layer.delta === null) return undefined;
      const { method, ctx } = entryOf(layer);
      return method.report?.(layer, ctx, phase);
    },
    state: (method) => entries.get(method)?.ctx.state,
  };
}

function toGpuLayer(layer: ManifestLayer, index: number, byName: Map<string, ManifestLayer>, params: Map<string, Manifest["params"][number]>, all: Map<string, GpuLayer>): GpuLayer {
  const param = (suffix: string): GpuParam => {
    const name = layer.params[suffix];
    const p = name === undefined ? undefined : params.get(name);
    if (!p) throw new RangeError(`layer '${layer.name}' has no parameter '${suffix}'`);
    return { name: p.name, value: p.region, grad: p.grad, state: [...p.state], shape: [...p.shape], count: p.shape.reduce((a, b) => a * b, 1) };
  };
  return {
    name: layer.name,
    index,
    inputs: layer.inputs,
    units: layer.units,
    activation: layer.activation,
    options: layer.options,
    isOutput: layer.isOutput,
    method: layer.method,
    get source() {
      return layer.source === null ? null : all.get(layer.source)!;
    },
    x: layer.source === null ? "input" : byName.get(layer.source)!.output,
    output: layer.output,
    delta: layer.delta,
    l1: layer.l1,
    param,
    hasParam: (suffix) => layer.params[suffix] !== undefined,
    region(suffix) {
      const name = layer.regions[suffix];
      if (name === undefined) throw new RangeError(`layer '${layer.name}' has no region '${suffix}'`);
      return name;
    },
    own: (suffix) => ownRegion(layer.name, suffix),
    manifest: layer,
  };
}

/**
 * One optimizer dispatch per live parameter the optimizer owns, in parameter-table order; each
 * leaves its parameter as it was when the step's loss is not finite.
 */
function optimizerSteps(m: Manifest, live: Set<string>): Step[] {
  const o = m.train.optimizer;
  const steps: Step[] = [];
  for (const p of m.params) {
    if (p.update !== "optimizer" || !live.has(p.layer) || p.grad === null) continue;
    const count = p.shape.reduce((a, b) => a * b, 1);
    const decay = p.decay ? Number(o["weightDecay"] ?? 0) : 0;
    if (o["kind"] === "sgd") {
      steps.push({ kind: "dispatch", kernel: sgdKernel(count, Number(o["momentum"]), decay), bind: { param: p.region, grad: p.grad, velocity: p.state[0]!, loss: LOSS } });
    } else {
      steps.push({
        kind: "dispatch",
        kernel: adamKernel(count, Number(o["beta1"]), Number(o["beta2"]), Number(o["epsilon"]), decay),
        bind: { param: p.region, grad: p.grad, m1: p.state[0]!, m2: p.state[1]!, loss: LOSS },
      });
    }
  }
  return steps;
}
