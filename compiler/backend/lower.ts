/**
 * @fileoverview Lowering: checked model -> IR. Resolves the layer graph, builds the parameter
 * table from each layer's method and places every tensor in one linear memory (the plan).
 */
import type { CheckedModel } from "../frontend/model.js";
import { modelCost } from "../frontend/cost.js";
import type { MethodTable } from "../frontend/method-table.js";
import type { ParamRequest, RegionDtype } from "../../methods/unit.js";
import type { IrLayer, IrModule, IrParam, MemoryPlan, Region, RegionRole } from "./ir.js";

export interface LowerOptions {
  maxBatch: number;
  /** First byte of the plan: above the kernel library's static data. */
  base: number;
  methods: MethodTable;
}

/** Every region starts on a cache line. */
export const PLAN_ALIGNMENT = 64;

const DTYPE_BYTES: Record<RegionDtype, number> = { f32: 4, i32: 4, f64: 8 };

export function lowerModel(model: CheckedModel, options: LowerOptions): IrModule {
  const { maxBatch, methods } = options;
  const live = layersTheLossDependsOn(model);
  const l1 = new Map<string, number>();
  for (const penalty of model.loss.penalties) {
    for (const name of penalty.layers) l1.set(name, (l1.get(name) ?? 0) + penalty.coefficient);
  }
  const cost = modelCost(model, methods);
  const consumers = new Map<string, string[]>();
  for (const layer of model.layers) {
    if (layer.source !== model.input.name) consumers.set(layer.source, [...(consumers.get(layer.source) ?? []), layer.name]);
  }

  const planner = new MemoryPlanner(alignUp(options.base, PLAN_ALIGNMENT));
  const stateCount = model.train.optimizer.kind === "adam" ? 2 : 1;
  const params: IrParam[] = [];
  const layers: IrLayer[] = model.layers.map((layer, index) => {
    const unit = methods.require(layer.method);
    const own: Record<string, string> = {};
    for (const request of unit.params(layer)) {
      const param = toParam(layer.name, request, stateCount);
      own[request.suffix] = param.name;
      params.push(param);
    }
    return {
      name: layer.name,
      index,
      source: layer.source === model.input.name ? null : layer.source,
      inputs: layer.inputs,
      units: layer.units,
      activation: layer.activation,
      method: layer.method,
      options: layer.options,
      output: `${layer.name}.output`,
      delta: live.has(layer.name) ? `${layer.name}.delta` : null,
      consumers: consumers.get(layer.name) ?? [],
      l1: l1.get(layer.name) ?? 0,
      isOutput: layer.isOutput,
      params: own,
      regions: {},
      macs: cost.layers[index]!.conditionalMacs,
      denseMacs: cost.layers[index]!.denseMacs,
    };
  });

  // Parameters first and contiguous, then gradients, then optimizer state: a checkpoint is one
  // copy of the parameter block, and `init` zeroes gradients and state in one fill.
  for (const p of params) planner.place(p.region, "param", "f32", p.shape);
  for (const p of params) if (p.grad) planner.place(p.grad, "grad", "f32", p.shape);
  for (const p of params) for (const s of p.state) planner.place(s, "optimizer", "f32", p.shape);
  planner.place("input", "input", "f32", [maxBatch, model.input.width]);
  planner.place("labels", "labels", "i32", [maxBatch]);
  model.layers.forEach((checked, i) => {
    const layer = layers[i]!;
    planner.place(layer.output, "activation", "f32", [maxBatch, layer.units]);
    if (layer.delta) planner.place(layer.delta, "delta", "f32", [maxBatch, layer.units]);
    for (const r of methods.require(checked.method).regions?.(checked, maxBatch) ?? []) {
      const name = `${layer.name}.${r.suffix}`;
      layer.regions[r.suffix] = name;
      planner.place(name, r.role, r.dtype, r.shape, r.fields);
    }
  });
  planner.place("probs", "probs", "f32", [maxBatch, model.target.classes]);

  return {
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
    macsPerExample: layers.reduce((sum, l) => sum + (l.delta ? l.macs : 0), 0),
    denseMacsPerExample: layers.reduce((sum, l) => sum + (l.delta ? l.denseMacs : 0), 0),
  };
}

/**
 * Layers on a path to the logits or carrying a penalty: the ones forward and backward visit.
 * Iterative (a chain may be many thousands of layers long).
 */
function layersTheLossDependsOn(model: CheckedModel): Set<string> {
  const byName = new Map(model.layers.map((l) => [l.name, l]));
  const live = new Set<string>();
  for (const root of [model.loss.logits, ...model.loss.penalties.flatMap((p) => p.layers)]) {
    for (let name: string | undefined = root; name !== undefined && !live.has(name); name = byName.get(name)?.source) {
      if (!byName.has(name)) break;
      live.add(name);
    }
  }
  return live;
}

function toParam(layer: string, request: ParamRequest, stateCount: number): IrParam {
  const name = `${layer}.${request.suffix}`;
  return {
    name,
    layer,
    suffix: request.suffix,
    shape: request.shape,
    init: request.init,
    decay: request.decay,
    update: request.update,
    role: request.role,
    region: name,
    grad: request.update === "none" ? null : `${name}.grad`,
    state: request.update === "optimizer" ? Array.from({ length: stateCount }, (_, i) => `${name}.state${i}`) : [],
  };
}

class MemoryPlanner {
  private readonly regions: Region[] = [];
  private cursor: number;

  constructor(private readonly base: number) {
    this.cursor = base;
  }

  place(name: string, role: RegionRole, dtype: RegionDtype, shape: number[], fields?: string[]): void {
    let count = 1;
    for (const d of shape) count *= d;
    const bytes = DTYPE_BYTES[dtype] * count;
    this.regions.push({ name, role, dtype, offset: this.cursor, shape, bytes, ...(fields ? { fields } : {}) });
    this.cursor = alignUp(this.cursor + bytes, PLAN_ALIGNMENT);
  }

  plan(): MemoryPlan {
    return { base: this.base, end: this.cursor, regions: this.regions };
  }
}

export function alignUp(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
}
