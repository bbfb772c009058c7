/**
 * @fileoverview Block-dropout policies (Bengio, Bacon, Pineau & Precup; methods.md 4):
 * `dense(...) gate policy(blocks: nb, tau: t)`. Per layer a policy Q = S Z + d over the
 * layer's (masked) input S, σ = sigm(Q), p = (1 - 2s) σ + s; Bernoulli masks u from the
 * counter RNG keyed by (seed, step, layer, example, block); the layer computes only its
 * active blocks (block-sparse kernels, runtime/kernels/blocksparse.ts), over the active
 * input blocks when its source is policy-gated too (ss), and H = f(S Wᵀ + b) ⊙ M.
 * Backward: the network through the sampled masks (masks constant), REINFORCE for the
 * policy with a baseline and the L_b, L_e, L_v regularizers (runtime/kernels/policy.ts).
 * `uniform: true` is block dropout at keep rate tau (bdNN): no policy parameters.
 */
import type { IrLayer, IrModule } from "../backend/ir.js";
import type { Activation, PolicyGate } from "../frontend/model.js";
import { denseMethod } from "./dense.js";
import type { EmitContext, LayerMethod } from "./method.js";

/** An f32 literal AssemblyScript parses exactly as JavaScript prints it (as in generate.ts). */
function f32(value: number): string {
  const text = String(value);
  return /[.eE]/.test(text) ? `<f32>${text}` : `<f32>${text}.0`;
}

const ACTIVATION_KIND: Record<Activation, number> = { linear: 0, relu: 1, tanh: 2, sigmoid: 3 };
const BASELINE_KIND = { none: 0, batch_min: 1, batch_mean: 2, moving_average: 3 } as const;

/** Region names of a policy layer's scratch. */
export function policyRegions(layer: string) {
  return {
    sigma: `${layer}.policy_sigma`,
    u: `${layer}.policy_u`,
    list: `${layer}.policy_active`,
    count: `${layer}.policy_count`,
    e: `${layer}.policy_e`,
    cost: `${layer}.policy_cost`,
    mu: `${layer}.policy_mu`,
    trainStats: `${layer}.policy_train_stats`,
    evalStats: `${layer}.policy_eval_stats`,
    groups: `${layer}.policy_groups`,
  };
}

function gateOf(layer: { gate: unknown }): PolicyGate {
  return layer.gate as PolicyGate;
}

function blockSize(layer: { units: number; gate: unknown }): number {
  return Math.ceil(layer.units / gateOf(layer).blocks);
}

function policyLayers(ir: IrModule): IrLayer[] {
  return ir.layers.filter((l) => l.gate?.kind === "policy" && l.delta !== null);
}

function sourceIsGated(ctx: EmitContext, layer: IrLayer): boolean {
  const source = layer.source === null ? null : ctx.ir.layers.find((l) => l.name === layer.source)!;
  return source?.gate?.kind === "policy";
}

/** The source's active lists when it is policy-gated (ss), else nulls (fs). */
function sourceLists(ctx: EmitContext, layer: IrLayer): string {
  const source = layer.source === null ? null : ctx.ir.layers.find((l) => l.name === layer.source)!;
  if (!source || source.gate?.kind !== "policy") return "0, 0, 1, 1";
  const r = policyRegions(source.name);
  return `${ctx.addr(r.list)}, ${ctx.addr(r.count)}, ${gateOf(source).blocks}, ${blockSize(source)}`;
}

function ema(layer: IrLayer): string {
  return `policyEma_${layer.name.replace(/[^A-Za-z0-9]/g, "_")}`;
}

export const policyMethod: LayerMethod = {
  key: "policy",
  imports: [
    ...denseMethod.imports,
    `import { bsForward, bsForwardGrouped, bsBackwardInput, bsActivate, bsActivationBackward } from "./kernels/blocksparse";`,
    `import { policyStream, policySample, policyCosts, policyBaseline, policyMeanCost, policyGradient, policyStep } from "./kernels/policy";`,
  ],
  params(layer) {
    const gate = gateOf(layer);
    const network = denseMethod.params(layer);
    if (gate.uniform) return network;
    return [
      ...network,
      { suffix: "policy_weight", shape: [layer.inputs, gate.blocks], init: "zeros", decay: false, trainable: true, customUpdate: true },
      { suffix: "policy_bias", shape: [gate.blocks], init: "zeros", decay: false, trainable: true, customUpdate: true },
    ];
  },
  regions(layer, ctx) {
    const nb = gateOf(layer).blocks;
    const r = policyRegions(layer.name);
    ctx.place(r.sigma, "scratch", [ctx.maxBatch, nb]);
    ctx.place(r.u, "scratch", [ctx.maxBatch, nb]);
    ctx.place(r.list, "scratch", [ctx.maxBatch, nb]);
    ctx.place(r.count, "scratch", [ctx.maxBatch]);
    ctx.place(r.e, "scratch", [ctx.maxBatch, nb]);
    ctx.place(r.cost, "scratch", [ctx.maxBatch]);
    ctx.place(r.mu, "scratch", [nb]);
    ctx.place(r.trainStats, "scratch", [2 * nb + 2]);
    ctx.place(r.evalStats, "scratch", [2 * nb + 2]);
    ctx.place(r.groups, "scratch", [nb + nb * ctx.maxBatch]);
  },
  forward(ctx, layer) {
    const { emit, addr } = ctx;
    const gate = gateOf(layer);
    const nb = gate.blocks;
    const r = policyRegions(layer.name);
    const src = ctx.sourceAddress(layer);
    const h = addr(layer.output);
    if (!gate.uniform) {
      emit(`  gemmNN(n, ${nb}, ${layer.inputs}, ${src}, ${layer.inputs}, ${addr(ctx.param(layer, "policy_weight").region)}, ${nb}, ${addr(r.sigma)}, ${nb}, 0);`);
      emit(`  addBias(${addr(r.sigma)}, ${addr(ctx.param(layer, "policy_bias").region)}, n, ${nb});`);
      emit(`  sigmoidForward(${addr(r.sigma)}, ${addr(r.sigma)}, n * ${nb});`);
    }
    const rate = gate.uniform ? f32(gate.tau) : "<f32>-1.0";
    const stream = `policyStream(training ? <u32>step : (<u32>0x2000000 + policyEvalCalls), ${layer.index})`;
    emit(`  policySample(${addr(r.sigma)}, ${addr(r.u)}, ${addr(r.list)}, ${addr(r.count)}, n, ${nb}, ${f32(gate.squash)}, ${rate}, training ? 0 : policyMode, policySeed, ${stream}, training ? ${addr(r.trainStats)} : ${addr(r.evalStats)});`);
    if (sourceIsGated(ctx, layer)) {
      emit(`  bsForward(n, ${layer.units}, ${layer.inputs}, ${src}, ${addr(layer.weight)}, ${addr(layer.bias)}, ${h}, ${blockSize(layer)}, ${addr(r.list)}, ${addr(r.count)}, ${nb}, ${sourceLists(ctx, layer)});`);
    } else {
      // dense input: examples grouped by active block share each weight load
      emit(`  bsForwardGrouped(n, ${layer.units}, ${layer.inputs}, ${src}, ${addr(layer.weight)}, ${addr(layer.bias)}, ${h}, ${blockSize(layer)}, ${addr(r.list)}, ${addr(r.count)}, ${nb}, ${addr(r.groups)});`);
    }
    emit(`  bsActivate(${h}, n, ${layer.units}, ${blockSize(layer)}, ${addr(r.list)}, ${addr(r.count)}, ${nb}, ${ACTIVATION_KIND[layer.activation]});`);
    const all = policyLayers(ctx.ir);
    if (all[all.length - 1] === layer) emit(`  if (!training) policyEvalCalls++;`);
  },
  backward(ctx, layer, sourceDelta) {
    const { emit, addr, ir } = ctx;
    const gate = gateOf(layer);
    const nb = gate.blocks;
    const r = policyRegions(layer.name);
    const src = ctx.sourceAddress(layer);
    const delta = addr(layer.delta!);
    const B = blockSize(layer);
    emit(`  bsActivationBackward(${delta}, ${addr(layer.output)}, n, ${layer.units}, ${B}, ${addr(r.u)}, ${nb}, ${ACTIVATION_KIND[layer.activation]});`);
    emit(`  gemmTN(${layer.units}, ${layer.inputs}, n, ${delta}, ${layer.units}, ${src}, ${layer.inputs}, ${addr(layer.weight + ".grad")}, ${layer.inputs}, 0);`);
    emit(`  columnSums(${delta}, n, ${layer.units}, ${addr(layer.bias + ".grad")});`);
    if (sourceDelta) {
      emit(`  bsBackwardInput(n, ${layer.units}, ${layer.inputs}, ${delta}, ${addr(layer.weight)}, ${sourceDelta.addr}, ${B}, ${addr(r.list)}, ${addr(r.count)}, ${nb}, ${sourceLists(ctx, layer)}, ${f32(sourceDelta.beta)});`);
    }
    if (gate.uniform) return;
    const spec = ir.train.policy!;
    const baseline = BASELINE_KIND[spec.baseline];
    const regScale = spec.regularizer === "code" ? "<f32>1.0" : "lr / policyLr";
    emit(`  policyCosts(${addr("probs")}, ${addr("labels")}, n, ${ir.classes}, ${addr(r.cost)});`);
    emit(`  {`);
    emit(`    const baseline = policyBaseline(${addr(r.cost)}, n, ${baseline}, ${ema(layer)});`);
    if (baseline === 3) {
      emit(`    const meanCost = policyMeanCost(${addr(r.cost)}, n);`);
      emit(`    ${ema(layer)} = ${ema(layer)} < 0 ? meanCost : <f32>0.9 * ${ema(layer)} + <f32>0.1 * meanCost;`);
      emit(`    const beta: f32 = baseline < 0 ? meanCost : baseline;`);
    } else {
      emit(`    const beta: f32 = baseline;`);
    }
    emit(`    policyGradient(${addr(r.sigma)}, ${addr(r.u)}, ${addr(r.cost)}, beta, n, ${nb}, ${f32(gate.squash)}, ${f32(gate.tau)}, ${f32(spec.lambdaS)}, ${f32(spec.lambdaV)}, ${regScale}, ${spec.regularizer === "code" ? 1 : 0}, ${addr(r.mu)}, ${addr(r.e)});`);
    emit(`  }`);
    emit(`  gemmTN(${layer.inputs}, ${nb}, n, ${src}, ${layer.inputs}, ${addr(r.e)}, ${nb}, ${addr(ctx.param(layer, "policy_weight").grad)}, ${nb}, 0);`);
    emit(`  columnSums(${addr(r.e)}, n, ${nb}, ${addr(ctx.param(layer, "policy_bias").grad)});`);
  },
  update(ctx, layer) {
    const gate = gateOf(layer);
    if (gate.uniform) return;
    const spec = ctx.ir.train.policy!;
    const decayLr = spec.regularizer === "code" ? "policyLr" : "lr";
    const z = ctx.param(layer, "policy_weight");
    const d = ctx.param(layer, "policy_bias");
    ctx.emit(`  policyStep(${ctx.addr(z.region)}, ${ctx.addr(z.grad)}, ${layer.inputs * gate.blocks}, policyLr, ${decayLr}, ${f32(spec.l2)});`);
    ctx.emit(`  policyStep(${ctx.addr(d.region)}, ${ctx.addr(d.grad)}, ${gate.blocks}, policyLr, ${decayLr}, <f32>0.0);`);
  },
  exports(ctx, layer) {
    const { emit, ir } = ctx;
    const all = policyLayers(ir);
    if (all[0] === layer) {
      const first = gateOf(layer);
      emit();
      emit("// Policy settings (runtime/policy.ts): RNG seed, test-time mode (0 sample, 1 threshold p > 0.5), policy lr.");
      emit("let policySeed: u32 = 0;");
      emit(`let policyMode: i32 = ${first.test === "threshold" ? 1 : 0};`);
      emit(`let policyLr: f32 = ${f32(ir.train.policy?.lr ?? 0)};`);
      emit("let policyEvalCalls: u32 = 0;");
      emit("export function policySetSeed(seed: u32): void { policySeed = seed; policyEvalCalls = 0; }");
      emit("export function policySetMode(mode: i32): void { policyMode = mode; }");
      emit("export function policyGetMode(): i32 { return policyMode; }");
      emit("export function policySetLr(lr: f32): void { policyLr = lr; }");
      emit("export function policyGetLr(): f32 { return policyLr; }");
      emit("export function policyResetEval(): void { policyEvalCalls = 0; }");
    }
    emit(`let ${ema(layer)}: f32 = -1;`);
  },
};
