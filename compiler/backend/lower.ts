/**
 * @fileoverview Lowering: checked model -> IR. Resolves the layer graph, builds the
 * parameter table and places every tensor in one linear memory (the memory plan).
 */
import type { CheckedLayer, CheckedModel } from "../frontend/model.js";
import type { IrLayer, IrModule, IrParam, MemoryPlan, Region, RegionRole } from "./ir.js";
import type { Span } from "../frontend/ast.js";
import { findMethod } from "../methods/index.js";
import type { LowerContext, ParamRequest } from "../methods/method.js";

/** A construct the back end does not compile yet; reported as a diagnostic. */
export interface Unsupported {
  layer: string;
  what: string;
  span: Span;
}

export type LowerResult = { ok: true; ir: IrModule } | { ok: false; unsupported: Unsupported[] };

export interface LowerOptions {
  maxBatch: number;
  /** First byte of the plan. Address 0 stays unused so a null pointer never aliases data. */
  base?: number;
}

const ALIGN = 64;

export function lowerModel(model: CheckedModel, options: LowerOptions): LowerResult {
  const unsupported = findUnsupported(model.layers);
  if (unsupported.length > 0) return { ok: false, unsupported };

  const maxBatch = options.maxBatch;
  const live = layersTheLossDependsOn(model);
  const l1 = new Map<string, number>();
  for (const penalty of model.loss.penalties) {
    for (const name of penalty.layers) l1.set(name, (l1.get(name) ?? 0) + penalty.coefficient);
  }

  const planner = new MemoryPlanner(options.base ?? ALIGN);
  const stateCount = model.train.optimizer.kind === "adam" ? 2 : 1;
  const params: IrParam[] = [];
  const layers: IrLayer[] = model.layers.map((layer, index) => {
    const method = findMethod(layer)!;
    for (const request of method.params(layer)) params.push(toParam(layer, request, stateCount));
    return {
      name: layer.name,
      index,
      source: layer.source === model.input.name ? null : layer.source,
      inputs: layer.inputs,
      units: layer.units,
      activation: layer.activation,
      op: layer.op,
      gate: layer.gate,
      tree: layer.tree,
      weight: `${layer.name}.weight`,
      bias: `${layer.name}.bias`,
      output: `${layer.name}.output`,
      delta: live.has(layer.name) ? `${layer.name}.delta` : null,
      consumers: model.layers.filter((c) => c.source === layer.name).map((c) => c.name),
      l1: l1.get(layer.name) ?? 0,
      isOutput: layer.isOutput,
      macs: layer.inputs * layer.units,
    };
  });

  // Parameters first and contiguous, then gradients, then optimizer state: a checkpoint
  // is one copy of the parameter block, and the optimizer walks each block linearly.
  for (const p of params) planner.place(p.region, "param", p.shape);
  for (const p of params) if (p.trainable) planner.place(p.grad, "grad", p.shape);
  for (const p of params) for (const s of p.state) planner.place(s, "optimizer", p.shape);
  planner.place("input", "input", [maxBatch, model.input.width]);
  planner.place("labels", "labels", [maxBatch]);
  const context: LowerContext = { model, maxBatch, place: (name, role, shape) => planner.place(name, role, shape) };
  model.layers.forEach((checked, i) => {
    const layer = layers[i]!;
    planner.place(layer.output, "activation", [maxBatch, layer.units]);
    if (layer.delta) planner.place(layer.delta, "delta", [maxBatch, layer.units]);
    findMethod(checked)!.regions?.(checked, context);
  });
  planner.place("probs", "probs", [maxBatch, model.target.classes]);

  return {
    ok: true,
    ir: {
      modelName: model.name,
      maxBatch,
      inputName: model.input.name,
      inputWidth: model.input.width,
      classes: model.target.classes,
      layers,
      params,
      memory: planner.plan(),
      optimizer: model.train.optimizer,
      train: model.train,
      macsPerExample: layers.reduce((sum, l) => sum + l.macs, 0),
    },
  };
}

function findUnsupported(layers: CheckedLayer[]): Unsupported[] {
  const found: Unsupported[] = [];
  for (const layer of layers) {
    if (findMethod(layer)) continue;
    const what = layer.gate ? `'${layer.gate.kind}' gates` : `${layer.op} layers`;
    found.push({ layer: layer.name, what, span: layer.span });
  }
  return found;
}

/** Layers on a path to the logits or carrying a penalty: the ones backward must visit. */
function layersTheLossDependsOn(model: CheckedModel): Set<string> {
  const byName = new Map(model.layers.map((l) => [l.name, l]));
  const live = new Set<string>();
  const roots = [model.loss.logits, ...model.loss.penalties.flatMap((p) => p.layers)];
  const visit = (name: string): void => {
    const layer = byName.get(name);
    if (!layer || live.has(name)) return;
    live.add(name);
    visit(layer.source);
  };
  roots.forEach(visit);
  return live;
}

function toParam(layer: CheckedLayer, request: ParamRequest, stateCount: number): IrParam {
  const name = `${layer.name}.${request.suffix}`;
  return {
    name,
    layer: layer.name,
    shape: request.shape,
    init: request.init,
    decay: request.decay,
    trainable: request.trainable,
    customUpdate: request.customUpdate ?? false,
    region: name,
    grad: `${name}.grad`,
    state: request.trainable && !request.customUpdate ? Array.from({ length: stateCount }, (_, i) => `${name}.state${i}`) : [],
  };
}

class MemoryPlanner {
  private readonly regions: Region[] = [];
  private cursor: number;

  constructor(private readonly base: number) {
    this.cursor = base;
  }

  place(name: string, role: RegionRole, shape: number[]): void {
    const bytes = 4 * shape.reduce((a, b) => a * b, 1);
    this.regions.push({ name, role, offset: this.cursor, shape, bytes });
    this.cursor = alignUp(this.cursor + bytes, ALIGN);
  }

  plan(): MemoryPlan {
    return { base: this.base, end: this.cursor, regions: this.regions };
  }
}

export function alignUp(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
}
