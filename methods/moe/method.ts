/**
 * @fileoverview Sparsely-gated mixture of experts, `moe(source, units, experts: E, top_k: k) ACT`
 * (Shazeer et al. 2017; Switch; dropless as MegaBlocks; docs/methods/moe.md): a router scores E
 * experts per example, the k best compute, the output is their gate-weighted sum. Kernels:
 * runtime/kernels/moe.ts and moerouter.ts. Every parameter, router and experts, is the model
 * optimizer's; an expert no example reached in a step gets a zero gradient (see the doc).
 *
 * Checkpoint tensors: `<layer>.router_weight` [E, inputs] (nn.Linear orientation, no bias),
 * `<layer>.router_noise_weight` [E, inputs] (gating: noisy), `<layer>.router_centre` [inputs]
 * (router: centred; the running mean of the router's training inputs, no gradient); one-layer experts
 * `<layer>.expert_weight` [E, units, inputs], `expert_bias` [E, units]; FFN experts (hidden: H)
 * `expert_w1` [E, H, inputs], `expert_b1` [E, H], `expert_w2` [E, units, H], `expert_b2` [E, units].
 */
import { wasm, type Expr } from "../../compiler/backend/wasm/code.js";
import type { CallOptionValue, OptionValues } from "../../compiler/frontend/options.js";
import { MOE_BALANCE_CV, MOE_BALANCE_NONE, MOE_BALANCE_SWITCH } from "../../runtime/kernels/codes/moe.js";
import { ACTIVATION_CODE } from "../dense/emit.js";
import type { FunctionBuilder } from "../../compiler/backend/wasm/module-builder.js";
import { defineMethod, type CheckLayerContext, type EmitContext, type EmitLayer, type ParamRequest, type RegionRequest } from "../unit.js";
import { MOE_MESSAGES } from "./messages.js";
import { MAX_WIDTH } from "../../compiler/frontend/language-spec.js";
import { MOE_COUNTER_FIELDS, moeCounterFields } from "./counters.js";

export type MoeBalance = { kind: "none" } | { kind: "switch"; alpha: number } | { kind: "cv"; importance: number; load: number };

export interface MoeOptions {
  experts: number;
  topK: number;
  /** Hidden units of each expert's FFN; 0: one-layer experts. */
  hidden: number;
  gating: "softmax" | "noisy";
  balance: MoeBalance;
  /** Capacity factor c (each expert takes at most ceil(c k n / E) pairs); null: dropless. */
  capacity: number | null;
  /** `centred`: the router reads x minus the batch's mean input in training, minus the running mean in evaluation. */
  router: "plain" | "centred";
  /** Coefficient of the router z-loss (ST-MoE): z · mean over the batch of (ln Σ_j exp G_j)²; 0: none. */
  zLoss: number;
}

/** Switch's coefficient (Fedus et al. 2021) when `balance` is not written (and E > 1). */
export const DEFAULT_BALANCE: MoeBalance = { kind: "switch", alpha: 0.01 };
const WASM_MEMORY_BYTES = 4 * 1024 * 1024 * 1024;
/** RNG streams of the router and of the FFN's second weights (the first weights use the layer index, as a dense layer). */
const ROUTER_STREAM = 0x40000000;
const SECOND_WEIGHT_STREAM = 0x50000000;
const BALANCE_CODE = { none: MOE_BALANCE_NONE, switch: MOE_BALANCE_SWITCH, cv: MOE_BALANCE_CV } as const;

const nonNegative = (name: string) => ({ name, kind: "number", required: true, min: 0 }) as const;

/** Weights and biases of one expert. */
function expertSizes(inputs: number, units: number, hidden: number): { weights: number; biases: number } {
  return hidden > 0 ? { weights: hidden * inputs + units * hidden, biases: hidden + units } : { weights: units * inputs, biases: units };
}

/** Router parameters: E x inputs, twice with the noise weights; the running centre's inputs when centred. */
function routerParameters(o: Pick<MoeOptions, "experts" | "gating" | "router">, inputs: number): number {
  return (o.gating === "noisy" ? 2 : 1) * o.experts * inputs + (o.router === "centred" ? inputs : 0);
}

/** The balance option; not written: Switch's, or none with one expert (where it is a constant). */
function readBalance(value: unknown, experts: number): MoeBalance {
  const call = value as CallOptionValue | undefined;
  if (!call || typeof call !== "object") return experts === 1 ? { kind: "none" } : DEFAULT_BALANCE;
  const num = (v: OptionValues, name: string) => (typeof v.get(name) === "number" ? (v.get(name) as number) : 0);
  if (call.call === "switch") return { kind: "switch", alpha: num(call.values, "alpha") };
  if (call.call === "cv") return { kind: "cv", importance: num(call.values, "importance"), load: num(call.values, "load") };
  return { kind: "none" };
}

function checkMoe(ctx: CheckLayerContext): MoeOptions {
  const { options, inputs, units } = ctx;
  const num = (name: string, fallback: number) => (typeof options.get(name) === "number" ? (options.get(name) as number) : fallback);
  const o: MoeOptions = {
    experts: num("experts", 1),
    topK: num("top_k", 1),
    hidden: num("hidden", 0),
    gating: options.get("gating") === "noisy" ? "noisy" : "softmax",
    balance: readBalance(options.get("balance"), num("experts", 1)),
    capacity: typeof options.get("capacity") === "number" ? (options.get("capacity") as number) : null,
    router: options.get("router") === "centred" ? "centred" : "plain",
    zLoss: num("z_loss", 0),
  };
  const experts = options.get("experts");
  const k = options.get("top_k");
  if (typeof experts === "number" && typeof k === "number" && k > experts) {
    ctx.report(MOE_MESSAGES.topKAboveExperts, ctx.optionSpan("top_k"), { layer: ctx.name, k, experts });
  }
  if (typeof experts === "number" && inputs !== undefined && units !== undefined) {
    const perExpert = expertSizes(inputs, units, o.hidden);
    const perExpertBytes = 4 * (perExpert.weights + perExpert.biases + routerParameters({ experts: 1, gating: o.gating, router: "plain" }, inputs));
    const bytes = experts * perExpertBytes;
    if (bytes > WASM_MEMORY_BYTES) {
      const largest = Math.floor(WASM_MEMORY_BYTES / perExpertBytes);
      const advice = largest >= 1 ? `at most ${largest.toLocaleString("en-US")} experts of this size fit` : "not even one expert of this size fits: use fewer units, hidden units or inputs";
      ctx.report(MOE_MESSAGES.tooLarge, ctx.optionSpan("experts"), { layer: ctx.name, bytes: bytes.toLocaleString("en-US"), experts, advice });
    }
  }
  if (o.capacity !== null && typeof experts === "number" && typeof k === "number" && (o.capacity * k) / experts >= 1) {
    const ratio = String(Math.round(((o.capacity * k) / experts) * 1000) / 1000);
    ctx.report(MOE_MESSAGES.capacityNeverDrops, ctx.optionSpan("capacity"), { capacity: o.capacity, layer: ctx.name, ratio });
  }
  if (o.balance.kind === "cv" && o.balance.load > 0 && o.gating !== "noisy" && experts !== 1) {
    ctx.report(MOE_MESSAGES.loadTermNeedsNoise, ctx.optionSpan("balance"), { layer: ctx.name });
  }
  if (experts === 1) {
    if (o.gating === "noisy") ctx.report(MOE_MESSAGES.oneExpert, ctx.optionSpan("gating"), { layer: ctx.name, what: "noisy gating" });
    if (o.balance.kind !== "none") ctx.report(MOE_MESSAGES.oneExpert, ctx.optionSpan("balance"), { layer: ctx.name, what: `balance loss '${o.balance.kind}' (a constant)` });
    if (o.router === "centred") ctx.report(MOE_MESSAGES.oneExpert, ctx.optionSpan("router"), { layer: ctx.name, what: "centred router" });
    if (o.zLoss > 0) ctx.report(MOE_MESSAGES.oneExpert, ctx.optionSpan("z_loss"), { layer: ctx.name, what: "router z-loss" });
  }
  return o;
}

export const moeMethod = defineMethod<MoeOptions, undefined>({
  key: "moe",
  kind: "moe",
  gate: null,
  kindOptions: [
    { name: "experts", kind: "integer", required: true, min: 1, ceiling: MAX_WIDTH },
    { name: "top_k", kind: "integer", required: true, min: 1, ceiling: MAX_WIDTH },
    { name: "hidden", kind: "integer", min: 1, ceiling: MAX_WIDTH },
    { name: "gating", kind: "choice", choices: ["softmax", "noisy"] },
    {
      name: "balance",
      kind: "call",
      calls: {
        switch: { positional: [nonNegative("alpha")], options: [] },
        cv: { positional: [nonNegative("importance"), nonNegative("load")], options: [] },
        none: { positional: [], options: [] },
      },
    },
    { name: "capacity", kind: "number", min: 0, minInclusive: false },
    { name: "router", kind: "choice", choices: ["plain", "centred"] },
    { name: "z_loss", kind: "number", min: 0 },
  ],
  gateOptions: [],
  refusesGates: "moe layers route examples themselves",
  allowedOnOutput: true,
  messages: MOE_MESSAGES,
  check: checkMoe,
  // Per example: the router E x inputs and the combine k x units are the gate's work; the k
  // experts are the body, so that weights / body MACs is exactly E / k.
  cost(layer) {
    const o = layer.options;
    const expert = expertSizes(layer.inputs, layer.units, o.hidden);
    return {
      weights: o.experts * expert.weights,
      biases: o.experts * expert.biases,
      gateParameters: routerParameters(o, layer.inputs),
      bodyMacs: o.topK * expert.weights,
      gateMacs: o.experts * layer.inputs + o.topK * layer.units,
      density: o.topK / o.experts,
      densityAssumed: false,
      inputDensity: 1,
    };
  },
  label: (o) => `moe E=${o.experts} k=${o.topK}${o.hidden > 0 ? ` H=${o.hidden}` : ""}${o.gating === "noisy" ? " noisy" : ""}`,
  params(layer) {
    const { inputs, units } = layer;
    const { experts: E, hidden: H, gating } = layer.options;
    const router: ParamRequest[] = [{ suffix: "router_weight", shape: [E, inputs], init: "method", decay: true, update: "optimizer", role: "router weights Wg (logits = Wg x)" }];
    if (layer.options.router === "centred") router.push({ suffix: "router_centre", shape: [inputs], init: "zeros", decay: false, update: "none", role: "router centre: running mean of the router's training inputs (router: centred)" });
    if (gating === "noisy") router.push({ suffix: "router_noise_weight", shape: [E, inputs], init: "zeros", decay: true, update: "optimizer", role: "router noise weights Wn (noise scale softplus(Wn x))" });
    if (H === 0) {
      return [
        ...router,
        { suffix: "expert_weight", shape: [E, units, inputs], init: "method", decay: true, update: "optimizer", role: "expert weights, stacked" },
        { suffix: "expert_bias", shape: [E, units], init: "zeros", decay: false, update: "optimizer", role: "expert biases, stacked" },
      ];
    }
    return [
      ...router,
      { suffix: "expert_w1", shape: [E, H, inputs], init: "method", decay: true, update: "optimizer", role: "expert FFN first weights, stacked" },
      { suffix: "expert_b1", shape: [E, H], init: "zeros", decay: false, update: "optimizer", role: "expert FFN first biases, stacked" },
      { suffix: "expert_w2", shape: [E, units, H], init: "method", decay: true, update: "optimizer", role: "expert FFN second weights, stacked" },
      { suffix: "expert_b2", shape: [E, units], init: "zeros", decay: false, update: "optimizer", role: "expert FFN second biases, stacked" },
    ];
  },
  regions(layer, m) {
    const { inputs, units } = layer;
    const { experts: E, topK: k, hidden: H, gating } = layer.options;
    const pairs = m * k;
    const f32 = (suffix: string, shape: number[]): RegionRequest => ({ suffix: `moe_${suffix}`, dtype: "f32", shape, role: "scratch" });
    const i32 = (suffix: string, shape: number[]): RegionRequest => ({ suffix: `moe_${suffix}`, dtype: "i32", shape, role: "scratch" });
    const counters = (phase: string): RegionRequest => ({ suffix: `moe_${phase}_stats`, dtype: "f64", shape: [MOE_COUNTER_FIELDS.length + E], role: "counters", fields: moeCounterFields(E) });
    const noisy = gating === "noisy" ? [f32("noise_logits", [m, E]), f32("noise", [m, E]), f32("dnoise_logits", [m, E])] : [];
    const ffn = H > 0 ? [f32("hs", [pairs, H]), f32("dhs", [pairs, H])] : [];
    return [
      f32("logits", [m, E]), f32("gate_logits", [m, E]), f32("probs", [m, E]), f32("dlogits", [m, E]), ...noisy,
      f32("router_scratch", [E, m]),
      i32("top", [m, k]), f32("gates", [m, k]), f32("dgates", [m, k]),
      i32("counts", [E]), i32("expert_start", [E + 1]), i32("row_pair", [pairs]), i32("pair_row", [pairs]),
      f32("xs", [pairs, inputs]), f32("dxs", [pairs, inputs]), f32("ys", [pairs, units]), f32("dys", [pairs, units]), ...ffn,
      // the router's per-thread work block: moeRouterWorkBytes(E) = 48 + 80 E bytes
      { suffix: "moe_work", dtype: "f64", shape: [6 + 10 * E], role: "scratch" },
      counters("train"),
      counters("eval"),
    ];
  },
  wasm: {
    exports(layer, ctx) {
      ctx.global(layer, "seed", "i32");
      ctx.global(layer, "balance", "f64");
    },
    init(f, layer, ctx, seed) {
      const { inputs, units } = layer;
      const { experts: E, hidden: H } = layer.options;
      // Router: uniform with Switch's reduced-scale standard deviation sqrt(0.1 / inputs)
      // (bound sqrt(0.3 / inputs)): small but random, so that experts differ from the start.
      const bound = Math.sqrt(0.3 / inputs);
      f.comment(`${layer.name}: router uniform(+-${bound.toPrecision(4)}); experts Glorot-uniform per expert`);
      f.kernel("fillUniform", layer.param("router_weight").value, E * inputs, -bound, bound, seed, ROUTER_STREAM + layer.index);
      if (H === 0) {
        f.kernel("glorotUniform", layer.param("expert_weight").value, inputs, units, E * units * inputs, seed, layer.index);
      } else {
        f.kernel("glorotUniform", layer.param("expert_w1").value, inputs, H, E * H * inputs, seed, layer.index);
        f.kernel("glorotUniform", layer.param("expert_w2").value, H, units, E * units * H, seed, SECOND_WEIGHT_STREAM + layer.index);
      }
      f.set(ctx.globalOf(layer, "seed"), seed);
    },
    forward(f, layer, ctx, n, training) {
      const { inputs, units } = layer;
      const o = layer.options;
      const { experts: E, topK: k, hidden: H } = o;
      const r = (s: string) => layer.region(`moe_${s}`);
      const noisyRegion = (s: string): Expr | number => (o.gating === "noisy" ? r(s) : 0);
      const noisy = o.gating === "noisy" ? training : wasm.i32(0);
      const w = expertWeights(layer);
      const routerMacs = f.local(`${layer.name}.routerMacs`, "f64");
      const entropy = f.local(`${layer.name}.entropy`, "f64");
      const dropped = f.local(`${layer.name}.dropped`, "i32");
      const expertMacs = f.local(`${layer.name}.expertMacs`, "f64");
      const wn = o.gating === "noisy" ? wasm.select(training, layer.param("router_noise_weight").value, wasm.i32(0)) : 0;
      f.set(routerMacs, f.kernelValue("moeRouterLogits", layer.x, n, inputs, E, layer.param("router_weight").value, wn, r("logits"), noisyRegion("noise_logits"), r("router_scratch")));
      if (o.router === "centred") centreRouter(f, layer, ctx, n, training);
      f.set(entropy, f.kernelValue("moeRoute", r("logits"), noisyRegion("noise_logits"), n, E, k, noisy, wasm.global(ctx.globalOf(layer, "seed")), wasm.global(ctx.step), layer.index,
        r("work"), noisyRegion("noise"), r("gate_logits"), r("probs"), r("top"), r("gates")));
      const capacity = o.capacity === null ? wasm.i32(-1) : f.kernelValue("moeCapacity", o.capacity, k, n, E);
      f.set(dropped, f.kernelValue("moeDispatch", r("top"), n, k, E, capacity, r("counts"), r("expert_start"), r("row_pair"), r("pair_row")));
      f.kernel("moeGather", layer.x, inputs, k, r("row_pair"), r("expert_start"), E, r("xs"));
      f.set(expertMacs, f.kernelValue("moeExpertsForward", r("xs"), r("expert_start"), E, inputs, units, H, ACTIVATION_CODE[layer.activation], w.w1, w.b1, w.w2, w.b2, H > 0 ? r("hs") : 0, r("ys")));
      f.kernel("moeCombine", r("ys"), units, n, k, r("pair_row"), r("gates"), layer.output);
      const [c1, c2] = balanceCoefficients(o.balance);
      const balance = ctx.globalOf(layer, "balance");
      f.set(balance, f.kernelValue("moeBalanceLoss", BALANCE_CODE[o.balance.kind], c1, c2, o.zLoss, n, E, k, noisy, r("logits"), noisyRegion("noise_logits"), r("gate_logits"), r("probs"), r("top"), r("gates"), r("work")));
      f.kernel("moeAccumulateStats", wasm.select(training, r("train_stats"), r("eval_stats")), r("counts"), E, n, k, units, wasm.local(dropped),
        wasm.add(wasm.local(routerMacs), wasm.local(expertMacs)), wasm.local(entropy), wasm.global(balance));
    },
    lossTerm(layer, ctx) {
      return layer.options.balance.kind === "none" && layer.options.zLoss === 0 ? null : wasm.f32FromF64(wasm.global(ctx.globalOf(layer, "balance")));
    },
    backward(f, layer, _ctx, n, source) {
      const { inputs, units } = layer;
      const o = layer.options;
      const { experts: E, topK: k, hidden: H } = o;
      const r = (s: string) => layer.region(`moe_${s}`);
      const noisyRegion = (s: string): Expr | number => (o.gating === "noisy" ? r(s) : 0);
      const noisyParam = (which: "value" | "grad"): Expr | number => (o.gating === "noisy" ? layer.param("router_noise_weight")[which] : 0);
      const w = expertWeights(layer);
      const g = expertGradients(layer);
      f.kernel("moeCombineBackward", layer.delta!, r("ys"), units, n, k, r("pair_row"), r("gates"), r("dys"), r("dgates"));
      // Untouched experts get zero gradients: the optimizer steps every expert (docs/methods/moe.md).
      f.kernel("moeExpertsBackward", r("xs"), H > 0 ? r("hs") : 0, r("ys"), r("dys"), H > 0 ? r("dhs") : 0, r("expert_start"), E, inputs, units, H, ACTIVATION_CODE[layer.activation],
        w.w1, w.w2, g.w1, g.b1, g.w2, g.b2, source ? r("dxs") : 0, 1);
      if (source) f.kernel("moeScatterInput", r("dxs"), inputs, n, k, r("pair_row"), source.address, source.beta);
      const [c1, c2] = balanceCoefficients(o.balance);
      f.kernel("moeRouterBackward", BALANCE_CODE[o.balance.kind], c1, c2, o.zLoss, o.router === "centred" ? 1 : 0, layer.x, inputs, n, E, k, o.gating === "noisy" ? 1 : 0,
        layer.param("router_weight").value, noisyParam("value"), r("logits"), noisyRegion("noise_logits"), noisyRegion("noise"), r("gate_logits"), r("probs"),
        r("top"), r("gates"), r("dgates"), r("dlogits"), noisyRegion("dnoise_logits"), layer.param("router_weight").grad, noisyParam("grad"), source ? source.address : 0, r("work"));
    },
  },
});

/**
 * `router: centred`: the logits (and noise logits) of x minus the batch mean in training, of x
 * minus the running centre in evaluation; then the running centre takes the training batch.
 */
function centreRouter(f: FunctionBuilder, layer: EmitLayer<MoeOptions>, ctx: EmitContext<MoeOptions, undefined>, n: Expr, training: Expr): void {
  const { inputs } = layer;
  const E = layer.options.experts;
  const centre = layer.param("router_centre").value;
  f.kernel("moeCentreLogits", training, n, E, inputs, layer.param("router_weight").value, centre, layer.region("moe_logits"));
  // the noise logits exist in training only: n = 0 in evaluation makes the call a no-op
  const trainingRows = wasm.select(training, n, wasm.i32(0));
  if (layer.options.gating === "noisy") {
    f.kernel("moeCentreLogits", training, trainingRows, E, inputs, layer.param("router_noise_weight").value, centre, layer.region("moe_noise_logits"));
  }
  f.kernel("moeUpdateCentre", layer.x, trainingRows, inputs, centre, wasm.global(ctx.step));
}

function balanceCoefficients(b: MoeBalance): [number, number] {
  return b.kind === "switch" ? [b.alpha, 0] : b.kind === "cv" ? [b.importance, b.load] : [0, 0];
}

/** W1, b1, W2, b2 of the kernels: one-layer experts are W1, b1 (W2, b2 absent: 0). */
function expertWeights(layer: EmitLayer<MoeOptions>): { w1: Expr; b1: Expr; w2: Expr | number; b2: Expr | number } {
  if (layer.options.hidden === 0) return { w1: layer.param("expert_weight").value, b1: layer.param("expert_bias").value, w2: 0, b2: 0 };
  return { w1: layer.param("expert_w1").value, b1: layer.param("expert_b1").value, w2: layer.param("expert_w2").value, b2: layer.param("expert_b2").value };
}

function expertGradients(layer: EmitLayer<MoeOptions>): { w1: Expr; b1: Expr; w2: Expr | number; b2: Expr | number } {
  if (layer.options.hidden === 0) return { w1: layer.param("expert_weight").grad, b1: layer.param("expert_bias").grad, w2: 0, b2: 0 };
  return { w1: layer.param("expert_w1").grad, b1: layer.param("expert_b1").grad, w2: layer.param("expert_w2").grad, b2: layer.param("expert_b2").grad };
}
