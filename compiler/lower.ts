/**
 * @fileoverview Lowering: checked model -> IR. Resolves the layer graph, builds the
 * parameter table and places every tensor in one linear memory (the memory plan).
 */
import type { CheckedLayer, CheckedModel } from "./model.js";
import type { IrLayer, IrModule, IrParam, MemoryPlan, Region, RegionRole } from "./ir.js";
import type { Span } from "./ast.js";

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
    const weight = addParam(params, layer, "weight", [layer.units, layer.inputs], "glorot_uniform", true, stateCount);
    const bias = addParam(params, layer, "bias", [layer.units], "zeros", false, stateCount);
    return {
      name: layer.name,
      index,
      source: layer.source === model.input.name ? null : layer.source,
      inputs: layer.inputs,
      units: layer.units,
      activation: layer.activation,
      weight: weight.name,
      bias: bias.name,
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
  for (const p of params) planner.place(p.grad, "grad", p.shape);
  for (const p of params) for (const s of p.state) planner.place(s, "optimizer", p.shape);
  planner.place("input", "input", [maxBatch, model.input.width]);
  planner.place("labels", "labels", [maxBatch]);
  for (const layer of layers) {
    planner.place(layer.output, "activation", [maxBatch, layer.units]);
    if (layer.delta) planner.place(layer.delta, "delta", [maxBatch, layer.units]);
  }
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
    if (layer.op === "tree") found.push({ layer: layer.name, what: "tree layers", span: layer.span });
    if (layer.gate) found.push({ layer: layer.name, what: `'${layer.gate.kind}' gates`, span: layer.span });
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

function addParam(
  params: IrParam[],
  layer: CheckedLayer,
  kind: "weight" | "bias",
  shape: number[],
  init: IrParam["init"],
  decay: boolean,
  stateCount: number,
): IrParam {
  const name = `${layer.name}.${kind}`;
  const param: IrParam = {
    name,
    layer: layer.name,
    shape,
    init,
    decay,
    region: name,
    grad: `${name}.grad`,
    state: Array.from({ length: stateCount }, (_, i) => `${name}.state${i}`),
  };
  params.push(param);
  return param;
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
