/**
 * @fileoverview Code generation: IR -> a model module. This file owns the module's frame
 * (`init`, `predict`, `trainStep`, the step counter), the loss, the order of the backward
 * pass, the accumulation of deltas into shared sources and the optimizer; every layer's own
 * code comes from its method (`MethodUnit.wasm`). The module imports the kernel library's
 * functions and holds no memory of its own: every address is a constant of the memory plan.
 */
import { InternalCompilerError } from "../../errors.js";
import type { MethodTable } from "../../frontend/method-table.js";
import type { IrLayer, IrModule, IrParam } from "../ir.js";
import type { EmitContext, EmitLayer, MethodUnit } from "../../../methods/unit.js";
import { wasm, type Expr, type FunctionRef, type GlobalRef } from "./code.js";
import { ModuleBuilder, type FunctionBuilder } from "./module-builder.js";

/** The name of a layer's own export: `<layer>__<what>` (what never contains `__`, so names are unique). */
export function layerExportName(layer: string, what: string): string {
  return `${layer}__${what}`;
}

/** Exports every model module has. */
export const FRAME_EXPORTS = ["init", "predict", "trainStep", "getStep", "setStep"] as const;

export interface GeneratedModule {
  module: ModuleBuilder;
  /** Per layer, the method's exported functions by what they do; and the model-wide ones. */
  layerExports: Map<string, Record<string, string>>;
  modelExports: Record<string, string>;
}

export function generateModule(ir: IrModule, methods: MethodTable): GeneratedModule {
  const module = new ModuleBuilder();
  const step = module.global("step", "i32");
  const regions = new Map(ir.memory.regions.map((r) => [r.name, r]));
  const params = new Map(ir.params.map((p) => [p.name, p]));
  const addr = (name: string): Expr => {
    const region = regions.get(name);
    if (!region) throw new InternalCompilerError(`no region '${name}' in the memory plan`, "code generation");
    return wasm.address(region.offset, name);
  };
  const layerExports = new Map<string, Record<string, string>>(ir.layers.map((l) => [l.name, {}]));
  const modelExports: Record<string, string> = {};
  const globals = new Map<string, GlobalRef>();
  const layerFunctions = new Map<string, FunctionRef>();

  const emitLayers = new Map<string, EmitLayer>();
  const irLayers = new Map(ir.layers.map((l) => [l.name, l]));
  for (const layer of ir.layers) emitLayers.set(layer.name, toEmitLayer(layer, irLayers, addr, params, emitLayers));
  const units = new Map(ir.layers.map((l) => [l.name, methods.require(l.method)]));
  const live = ir.layers.filter((l) => l.delta !== null);

  // One context per method present, in order of first appearance.
  const contexts = new Map<MethodUnit, EmitContext>();
  for (const layer of ir.layers) {
    const unit = units.get(layer.name)!;
    if (contexts.has(unit)) continue;
    const mine = ir.layers.filter((l) => units.get(l.name) === unit);
    const liveMine = mine.filter((l) => l.delta !== null);
    const ctx: EmitContext = {
      module,
      train: ir.train,
      classes: ir.classes,
      maxBatch: ir.maxBatch,
      probs: addr("probs"),
      labels: addr("labels"),
      step,
      state: undefined,
      layers: (liveMine.length > 0 ? liveMine : mine).map((l) => emitLayers.get(l.name)!),
      global(layer, what, type, initial = 0) {
        const key = `${layer.name}.${what}`;
        const ref = module.global(key, type, initial);
        globals.set(key, ref);
        return ref;
      },
      globalOf(layer, what) {
        const ref = globals.get(`${layer.name}.${what}`);
        if (!ref) throw new InternalCompilerError(`global '${what}' was not declared`, "code generation", layer.name);
        return ref;
      },
      layerFunction(layer, what, fnParams, result, doc) {
        const name = layerExportName(layer.name, what);
        layerExports.get(layer.name)![what] = name;
        const fn = module.function(name, fnParams, result, { exportName: name, doc });
        layerFunctions.set(name, fn.ref);
        return fn;
      },
      layerFunctionRef(layer, what) {
        const ref = layerFunctions.get(layerExportName(layer.name, what));
        if (!ref) throw new InternalCompilerError(`function '${what}' was not defined`, "code generation", layer.name);
        return ref;
      },
      modelFunction(what, fnParams, result, doc) {
        if ((FRAME_EXPORTS as readonly string[]).includes(what)) throw new InternalCompilerError(`a method export may not be named '${what}'`, "code generation");
        modelExports[what] = what;
        return module.function(what, fnParams, result, { exportName: what, doc });
      },
    };
    contexts.set(unit, ctx);
  }
  const stage = <T>(what: string, layer: string | undefined, body: () => T): T => {
    try {
      return body();
    } catch (error) {
      if (error instanceof InternalCompilerError && !layer) throw error;
      if (error instanceof InternalCompilerError) throw new InternalCompilerError(error.message.replace(/^code generation: /, ""), `code generation (${what})`, layer);
      throw new InternalCompilerError(error instanceof Error ? error.message : String(error), `code generation (${what})`, layer);
    }
  };
  for (const [unit, ctx] of contexts) ctx.state = stage("setup", undefined, () => unit.wasm.setup?.(ctx as EmitContext<never, undefined>));
  for (const layer of ir.layers) {
    const unit = units.get(layer.name)!;
    stage("exports", layer.name, () => unit.wasm.exports?.(emitLayers.get(layer.name)!, contexts.get(unit)!));
  }

  const getStep = module.function("getStep", [], "i32", { exportName: "getStep", doc: "training steps taken since init" });
  getStep.return(wasm.global(step));
  const setStep = module.function("setStep", [{ name: "value", type: "i32" }], null, { exportName: "setStep" });
  setStep.set(step, setStep.param("value"));

  emitInit(module, ir, addr, (f, seed) => {
    for (const layer of ir.layers) {
      const unit = units.get(layer.name)!;
      stage("init", layer.name, () => unit.wasm.init?.(f, emitLayers.get(layer.name)!, contexts.get(unit)!, seed));
    }
    f.set(step, wasm.i32(0));
  });

  const forward = module.function("forward", [{ name: "n", type: "i32" }, { name: "training", type: "i32" }], null, { doc: "the forward pass of rows [0, n); training 1 in trainStep, 0 in predict" });
  for (const layer of live) {
    const unit = units.get(layer.name)!;
    forward.comment(`${layer.name}: [n, ${layer.inputs}] -> [n, ${layer.units}] ${layer.activation} (${layer.method})`);
    stage("forward", layer.name, () => unit.wasm.forward(forward, emitLayers.get(layer.name)!, contexts.get(unit)!, forward.param("n"), forward.param("training")));
  }
  for (const [unit, ctx] of contexts) {
    if (ctx.layers.some((l) => l.delta !== null)) stage("forward", undefined, () => unit.wasm.afterForward?.(forward, ctx, forward.param("training")));
  }

  const output = ir.layers.find((l) => l.isOutput)!;
  const predict = module.function("predict", [{ name: "n", type: "i32" }], null, { exportName: "predict", doc: "class probabilities of rows [0, n) into probs" });
  predict.call(forward.ref, predict.param("n"), 0);
  predict.kernel("softmax", addr(output.output), addr("probs"), predict.param("n"), ir.classes);

  const lossTerms = live.flatMap((layer) => {
    const unit = units.get(layer.name)!;
    const term = unit.wasm.lossTerm && stage("loss", layer.name, () => unit.wasm.lossTerm!(emitLayers.get(layer.name)!, contexts.get(unit)!));
    return term ? [term] : [];
  });
  emitTrainStep(module, ir, addr, forward.ref, step, live, lossTerms, (f, layer, n, source, lr) => {
    const unit = units.get(layer.name)!;
    stage("backward", layer.name, () => unit.wasm.backward(f, emitLayers.get(layer.name)!, contexts.get(unit)!, n, source, lr));
  }, (f, n, lr) => {
    for (const layer of live) {
      const unit = units.get(layer.name)!;
      stage("update", layer.name, () => unit.wasm.update?.(f, emitLayers.get(layer.name)!, contexts.get(unit)!, n, lr));
    }
  });
  return { module, layerExports, modelExports };
}

function toEmitLayer(layer: IrLayer, irLayers: Map<string, IrLayer>, addr: (name: string) => Expr, params: Map<string, IrParam>, all: Map<string, EmitLayer>): EmitLayer {
  const param = (suffix: string): IrParam => {
    const name = layer.params[suffix];
    const p = name === undefined ? undefined : params.get(name);
    if (!p) throw new InternalCompilerError(`no parameter '${suffix}'`, "code generation", layer.name);
    return p;
  };
  return {
    name: layer.name,
    index: layer.index,
    inputs: layer.inputs,
    units: layer.units,
    activation: layer.activation,
    options: layer.options,
    isOutput: layer.isOutput,
    get source() {
      return layer.source === null ? null : all.get(layer.source)!;
    },
    method: layer.method,
    x: layer.source === null ? addr("input") : addr(irLayers.get(layer.source)!.output),
    output: addr(layer.output),
    delta: layer.delta === null ? null : addr(layer.delta),
    param(suffix) {
      const p = param(suffix);
      return {
        value: addr(p.region),
        get grad(): Expr {
          if (!p.grad) throw new InternalCompilerError(`parameter '${p.name}' has no gradient`, "code generation", layer.name);
          return addr(p.grad);
        },
        count: p.shape.reduce((a, b) => a * b, 1),
      };
    },
    hasParam: (suffix) => layer.params[suffix] !== undefined,
    region(suffix) {
      const name = layer.regions[suffix];
      if (name === undefined) throw new InternalCompilerError(`no region '${suffix}'`, "code generation", layer.name);
      return addr(name);
    },
  };
}

function emitInit(module: ModuleBuilder, ir: IrModule, addr: (name: string) => Expr, methodInit: (f: FunctionBuilder, seed: Expr) => void): void {
  const f = module.function("init", [{ name: "seed", type: "i32" }], null, { exportName: "init", doc: "initialise parameters from the seed; zero gradients and optimizer state" });
  const seed = f.param("seed");
  const layers = new Map(ir.layers.map((l) => [l.name, l]));
  for (const p of ir.params) {
    const layer = layers.get(p.layer)!;
    const count = p.shape.reduce((a, b) => a * b, 1);
    if (p.init === "glorot_uniform") f.kernel("glorotUniform", addr(p.region), layer.inputs, layer.units, count, seed, layer.index);
    else f.kernel("zeroBytes", addr(p.region), count * 4);
  }
  const state = ir.memory.regions.filter((r) => r.role === "grad" || r.role === "optimizer");
  if (state.length > 0) {
    const first = state[0]!;
    const last = state[state.length - 1]!;
    f.kernel("zeroBytes", addr(first.name), last.offset + last.bytes - first.offset);
  }
  methodInit(f, seed);
}

type BackwardHook = (f: FunctionBuilder, layer: IrLayer, n: Expr, source: { address: Expr; beta: 0 | 1 } | null, lr: Expr) => void;

function emitTrainStep(
  module: ModuleBuilder,
  ir: IrModule,
  addr: (name: string) => Expr,
  forward: ReturnType<ModuleBuilder["kernel"]>,
  step: GlobalRef,
  live: IrLayer[],
  lossTerms: Expr[],
  backward: BackwardHook,
  update: (f: FunctionBuilder, n: Expr, lr: Expr) => void,
): void {
  const f = module.function("trainStep", [{ name: "n", type: "i32" }, { name: "lr", type: "f32" }], "f32", { exportName: "trainStep", doc: "one minibatch: forward, loss, backward, parameter update; returns the loss" });
  const n = f.param("n");
  const lr = f.param("lr");
  const loss = f.local("loss", "f32");
  const output = ir.layers.find((l) => l.isOutput)!;
  const byName = new Map(ir.layers.map((l) => [l.name, l]));
  f.call(forward, n, 1);
  f.set(step, wasm.add(wasm.global(step), wasm.i32(1)));
  f.set(loss, f.kernelValue("softmaxCrossEntropy", addr(output.output), addr("labels"), n, ir.classes, addr("probs"), addr(output.delta!)));
  for (const term of lossTerms) f.set(loss, wasm.add(wasm.local(loss), term));
  // A step whose loss is not finite changes nothing: the runtime reports it with the layer.
  const refuse = (): void => f.if(wasm.notFinite(wasm.local(loss)), () => {
    f.set(step, wasm.sub(wasm.global(step), wasm.i32(1)));
    f.return(wasm.local(loss));
  });
  refuse();
  // Which delta buffers already hold a contribution: the first writer overwrites.
  const written = new Set<string>([output.name]);
  for (let i = live.length - 1; i >= 0; i--) {
    const layer = live[i]!;
    const delta = addr(layer.delta!);
    const count = wasm.mul(n, wasm.i32(layer.units));
    f.comment(`backward ${layer.name}`);
    if (!written.has(layer.name)) f.kernel("zeroBytes", delta, wasm.mul(count, wasm.i32(4)));
    if (layer.l1 !== 0) f.set(loss, wasm.add(wasm.local(loss), f.kernelValue("l1Penalty", addr(layer.output), delta, count, wasm.div(wasm.f32(layer.l1), wasm.f32FromI32(n)))));
    let source: { address: Expr; beta: 0 | 1 } | null = null;
    if (layer.source !== null) {
      const s = byName.get(layer.source)!;
      source = { address: addr(s.delta!), beta: written.has(s.name) ? 1 : 0 };
      written.add(s.name);
    }
    backward(f, layer, n, source, lr);
  }
  refuse();
  f.comment("update");
  // Parameters of layers the loss does not depend on get no gradient: leave them alone.
  const liveNames = new Set(live.map((l) => l.name));
  const o = ir.optimizer;
  for (const p of ir.params) {
    if (p.update !== "optimizer" || !liveNames.has(p.layer)) continue;
    const count = p.shape.reduce((a, b) => a * b, 1);
    const decay = p.decay ? o.weightDecay : 0;
    if (o.kind === "sgd") f.kernel("sgdStep", addr(p.region), addr(p.grad!), addr(p.state[0]!), count, lr, o.momentum, decay);
    else f.kernel("adamStep", addr(p.region), addr(p.grad!), addr(p.state[0]!), addr(p.state[1]!), count, lr, o.beta1, o.beta2, o.epsilon, decay, wasm.global(step));
  }
  update(f, n, lr);
  f.return(wasm.local(loss));
}
