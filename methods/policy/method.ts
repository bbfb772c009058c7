/**
 * @fileoverview Block-dropout policies (Bengio, Bacon, Pineau & Precup; docs/methods/policy.md):
 * `dense(...) ACT gate policy(blocks: nb, tau: t)`. Per layer a policy Q = S Z + d over the
 * layer's (masked) input S, σ = sigm(Q), p = (1 - 2s) σ + s; Bernoulli masks u from the counter
 * RNG keyed by (seed, step, layer, example, block); the layer computes only its active blocks
 * (block-sparse kernels, runtime/kernels/blocksparse.ts), over the active input blocks when its
 * source is policy-gated too (ss), and H = f(S Wᵀ + b) ⊙ M. Backward: the network through the
 * sampled masks (masks constant), REINFORCE for the policy with a baseline and the L_b, L_e, L_v
 * regularizers (runtime/kernels/policy.ts). `uniform: true` is block dropout at keep rate tau
 * (bdNN): no policy parameters. The train block's `policy = reinforce(...)` setting is this
 * method's (`trainSettings`).
 */
import { wasm, type Expr } from "../../compiler/backend/wasm/code.js";
import type { FunctionBuilder } from "../../compiler/backend/wasm/module-builder.js";
import { ACTIVATION_CODE } from "../dense/emit.js";
import { denseParams } from "../dense/method.js";
import { booleanOption, choiceOption, numberOption } from "../../compiler/frontend/options.js";
import { defineMethod, type EmitContext, type EmitLayer, type SourceDelta } from "../unit.js";
import { BASELINE_BATCH_MEAN, BASELINE_BATCH_MIN, BASELINE_MOVING_AVERAGE, BASELINE_NONE, POLICY_EVAL_STREAM_BASE as EVAL_STREAM_BASE, POLICY_TEST_SAMPLE, POLICY_TEST_THRESHOLD } from "../../runtime/kernels/codes/policy.js";
import { POLICY_MESSAGES } from "./messages.js";
import { MAX_WIDTH } from "../../compiler/frontend/language-spec.js";
import { reinforceSetting, type ReinforceSettings } from "./settings.js";

export interface PolicyOptions {
  blocks: number;
  /** Target fraction of blocks active. */
  tau: number;
  /** Probabilities squashed to [squash, 1 - squash]; 0 disables. Default 0.01. */
  squash: number;
  /** Test-time behaviour. Default "sample" (the paper's). */
  test: "sample" | "threshold";
  /** Uniform block dropout at keep rate tau instead of a learned policy (bdNN). */
  uniform: boolean;
}

/** Module-wide state shared by every policy layer of a model. */
interface PolicyState {
  seed: ReturnType<EmitContext["module"]["global"]>;
  mode: ReturnType<EmitContext["module"]["global"]>;
  lr: ReturnType<EmitContext["module"]["global"]>;
  evalCalls: ReturnType<EmitContext["module"]["global"]>;
}

const DEFAULTS = { squash: 0.01, test: "sample", uniform: false } as const;
const BASELINE = { none: BASELINE_NONE, batch_min: BASELINE_BATCH_MIN, batch_mean: BASELINE_BATCH_MEAN, moving_average: BASELINE_MOVING_AVERAGE } as const;

function blockSize(layer: { units: number; options: PolicyOptions }): number {
  return Math.ceil(layer.units / layer.options.blocks);
}

/** The source's active lists when it is policy-gated (ss), else nulls (fs). */
function sourceLists(layer: EmitLayer<PolicyOptions>): [Expr | number, Expr | number, number, number] {
  const source = layer.source as EmitLayer<PolicyOptions> | null;
  if (!source || source.method !== "policy") return [0, 0, 1, 1];
  return [source.region("policy_active"), source.region("policy_count"), source.options.blocks, blockSize(source)];
}

function settingsOf(ctx: EmitContext<PolicyOptions, unknown>): ReinforceSettings {
  return ctx.train.settings["policy"] as ReinforceSettings;
}

export const policyMethod = defineMethod<PolicyOptions, PolicyState>({
  key: "policy",
  kind: "dense",
  gate: "policy",
  kindOptions: [],
  gateOptions: [
    { name: "blocks", kind: "integer", required: true, min: 1, ceiling: MAX_WIDTH },
    { name: "tau", kind: "number", required: true, min: 0, minInclusive: false, max: 1 },
    { name: "squash", kind: "number", min: 0, max: 0.5, maxInclusive: false },
    { name: "test", kind: "choice", choices: ["sample", "threshold"] },
    { name: "uniform", kind: "boolean" },
  ],
  refusesGates: null,
  allowedOnOutput: false,
  messages: POLICY_MESSAGES,
  trainSettings: [reinforceSetting],
  needsSettings: (o) => (o.uniform ? [] : ["policy"]),
  check(ctx) {
    const { options } = ctx;
    const blocks = options.get("blocks");
    if (typeof blocks === "number" && ctx.units !== undefined && ctx.units % blocks !== 0) {
      ctx.report(POLICY_MESSAGES.blocksMustDivide, ctx.optionSpan("blocks"), { blocks, units: ctx.units });
    }
    return {
      blocks: numberOption(options, "blocks", 1),
      tau: numberOption(options, "tau", 1),
      squash: numberOption(options, "squash", DEFAULTS.squash),
      test: choiceOption(options, "test", DEFAULTS.test),
      uniform: booleanOption(options, "uniform", DEFAULTS.uniform),
    };
  },
  cost(layer, inputDensity) {
    const { inputs, units } = layer;
    const { blocks, tau, uniform } = layer.options;
    return {
      weights: inputs * units,
      biases: units,
      gateParameters: uniform ? 0 : inputs * blocks + blocks,
      bodyMacs: inputs * units * inputDensity * tau,
      gateMacs: uniform ? 0 : inputs * blocks,
      density: tau,
      densityAssumed: false,
      inputDensity,
    };
  },
  outputDensity: (o) => o.tau,
  label: (o) => `${o.uniform ? "uniform" : "policy"} nb=${o.blocks}`,
  params(layer) {
    const { blocks, uniform } = layer.options;
    if (uniform) return denseParams(layer);
    return [
      ...denseParams(layer),
      { suffix: "policy_weight", shape: [layer.inputs, blocks], init: "zeros", decay: false, update: "method", role: "policy weights Z" },
      { suffix: "policy_bias", shape: [blocks], init: "zeros", decay: false, update: "method", role: "policy biases d" },
    ];
  },
  regions(layer, m) {
    const nb = layer.options.blocks;
    return [
      { suffix: "policy_sigma", dtype: "f32", shape: [m, nb], role: "scratch" },
      { suffix: "policy_u", dtype: "f32", shape: [m, nb], role: "scratch" },
      { suffix: "policy_active", dtype: "i32", shape: [m, nb], role: "scratch" },
      { suffix: "policy_count", dtype: "i32", shape: [m], role: "scratch" },
      { suffix: "policy_e", dtype: "f32", shape: [m, nb], role: "scratch" },
      { suffix: "policy_cost", dtype: "f32", shape: [m], role: "scratch" },
      { suffix: "policy_mu", dtype: "f32", shape: [nb], role: "scratch" },
      // per block: Σ p, Σ p²; then examples, Σ active blocks (policySample)
      { suffix: "policy_train_stats", dtype: "f32", shape: [2 * nb + 2], role: "counters", fields: countersFields(nb) },
      { suffix: "policy_eval_stats", dtype: "f32", shape: [2 * nb + 2], role: "counters", fields: countersFields(nb) },
      { suffix: "policy_groups", dtype: "i32", shape: [nb + nb * m], role: "scratch" },
    ];
  },
  wasm: {
    setup(ctx) {
      const m = ctx.module;
      const first = ctx.layers[0]!.options;
      const state: PolicyState = {
        seed: m.global("policy.seed", "i32"),
        mode: m.global("policy.mode", "i32", first.test === "threshold" ? POLICY_TEST_THRESHOLD : POLICY_TEST_SAMPLE),
        lr: m.global("policy.lr", "f32", Math.fround((ctx.train.settings["policy"] as ReinforceSettings | undefined)?.lr ?? 0)),
        evalCalls: m.global("policy.evalCalls", "i32"),
      };
      const setSeed = ctx.modelFunction("policySetSeed", [{ name: "seed", type: "i32" }], null, "RNG seed of the masks; restarts the test-time streams");
      setSeed.set(state.seed, setSeed.param("seed"));
      setSeed.set(state.evalCalls, wasm.i32(0));
      const setMode = ctx.modelFunction("policySetMode", [{ name: "mode", type: "i32" }], null, "test-time mode: 0 sample, 1 threshold p > 0.5");
      setMode.set(state.mode, setMode.param("mode"));
      ctx.modelFunction("policyGetMode", [], "i32", "the test-time mode").return(wasm.global(state.mode));
      const setLr = ctx.modelFunction("policySetLr", [{ name: "lr", type: "f32" }], null, "the policy's learning rate");
      setLr.set(state.lr, setLr.param("lr"));
      ctx.modelFunction("policyGetLr", [], "f32", "the policy's learning rate").return(wasm.global(state.lr));
      const reset = ctx.modelFunction("policyResetEval", [], null, "restarts the test-time sampling streams");
      reset.set(state.evalCalls, wasm.i32(0));
      return state;
    },
    exports(layer, ctx) {
      ctx.global(layer, "ema", "f32", -1);
    },
    forward(f, layer, ctx, n, training) {
      const { inputs, units } = layer;
      const o = layer.options;
      const nb = o.blocks;
      const r = (s: string) => layer.region(`policy_${s}`);
      const s = ctx.state;
      if (!o.uniform) {
        f.kernel("gemmNN", n, nb, inputs, layer.x, inputs, layer.param("policy_weight").value, nb, r("sigma"), nb, 0);
        f.kernel("addBias", r("sigma"), layer.param("policy_bias").value, n, nb);
        f.kernel("sigmoidForward", r("sigma"), r("sigma"), wasm.mul(n, wasm.i32(nb)));
      }
      const stream = f.kernelValue("policyStream", wasm.select(training, wasm.global(ctx.step), wasm.add(wasm.i32(EVAL_STREAM_BASE), wasm.global(s.evalCalls))), layer.index);
      const mode = wasm.select(training, wasm.i32(POLICY_TEST_SAMPLE), wasm.global(s.mode));
      const stats = wasm.select(training, r("train_stats"), r("eval_stats"));
      f.kernel("policySample", r("sigma"), r("u"), r("active"), r("count"), n, nb, o.squash, o.uniform ? o.tau : -1, mode, wasm.global(s.seed), stream, stats);
      const w = layer.param("weight").value;
      const b = layer.param("bias").value;
      const B = blockSize(layer);
      if (layer.source?.method === "policy") {
        f.kernel("bsForward", n, units, inputs, layer.x, w, b, layer.output, B, r("active"), r("count"), nb, ...sourceLists(layer));
      } else {
        // dense input: examples grouped by active block share each weight load
        f.kernel("bsForwardGrouped", n, units, inputs, layer.x, w, b, layer.output, B, r("active"), r("count"), nb, r("groups"));
      }
      f.kernel("bsActivate", layer.output, n, units, B, r("active"), r("count"), nb, ACTIVATION_CODE[layer.activation]);
    },
    afterForward(f, ctx, training) {
      f.if(wasm.not(training), () => f.set(ctx.state.evalCalls, wasm.add(wasm.global(ctx.state.evalCalls), wasm.i32(1))));
    },
    backward(f, layer, ctx, n, source, lr) {
      emitPolicyBackward(f, layer, ctx, n, source, lr);
    },
    update(f, layer, ctx, _n, lr) {
      const o = layer.options;
      if (o.uniform) return;
      const spec = settingsOf(ctx);
      const policyLr = wasm.global(ctx.state.lr);
      const decayLr = spec.regularizer === "code" ? policyLr : lr;
      const z = layer.param("policy_weight");
      const d = layer.param("policy_bias");
      f.kernel("policyStep", z.value, z.grad, layer.inputs * o.blocks, policyLr, decayLr, spec.l2);
      f.kernel("policyStep", d.value, d.grad, o.blocks, policyLr, decayLr, 0);
    },
  },
});

function countersFields(nb: number): string[] {
  return [...Array.from({ length: nb }, (_, j) => `p_sum_${j}`), ...Array.from({ length: nb }, (_, j) => `p_square_sum_${j}`), "examples", "active_blocks"];
}

function emitPolicyBackward(f: FunctionBuilder, layer: EmitLayer<PolicyOptions>, ctx: EmitContext<PolicyOptions, PolicyState>, n: Expr, source: SourceDelta | null, lr: Expr): void {
  const { inputs, units } = layer;
  const o = layer.options;
  const nb = o.blocks;
  const r = (s: string) => layer.region(`policy_${s}`);
  const delta = layer.delta!;
  const B = blockSize(layer);
  const weight = layer.param("weight");
  f.kernel("bsActivationBackward", delta, layer.output, n, units, B, r("u"), nb, ACTIVATION_CODE[layer.activation]);
  f.kernel("gemmTN", units, inputs, n, delta, units, layer.x, inputs, weight.grad, inputs, 0);
  f.kernel("columnSums", delta, n, units, layer.param("bias").grad);
  if (source) {
    f.kernel("bsBackwardInput", n, units, inputs, delta, weight.value, source.address, B, r("active"), r("count"), nb, ...sourceLists(layer), source.beta);
  }
  if (o.uniform) return;
  const spec = settingsOf(ctx);
  const kind = BASELINE[spec.baseline];
  const ema = ctx.globalOf(layer, "ema");
  const regScale = spec.regularizer === "code" ? wasm.f32(1) : wasm.div(lr, wasm.global(ctx.state.lr));
  f.kernel("policyCosts", ctx.probs, ctx.labels, n, ctx.classes, r("cost"));
  const baseline = f.local(`${layer.name}.baseline`, "f32");
  const beta = f.local(`${layer.name}.beta`, "f32");
  f.set(baseline, f.kernelValue("policyBaseline", r("cost"), n, kind, wasm.global(ema)));
  if (kind === BASELINE_MOVING_AVERAGE) {
    const meanCost = f.local(`${layer.name}.meanCost`, "f32");
    f.set(meanCost, f.kernelValue("policyMeanCost", r("cost"), n));
    const mean = wasm.local(meanCost);
    f.set(ema, wasm.select(wasm.lt(wasm.global(ema), wasm.f32(0)), mean, wasm.add(wasm.mul(wasm.f32(0.9), wasm.global(ema)), wasm.mul(wasm.f32(0.1), mean))));
    f.set(beta, wasm.select(wasm.lt(wasm.local(baseline), wasm.f32(0)), mean, wasm.local(baseline)));
  } else {
    f.set(beta, wasm.local(baseline));
  }
  f.kernel("policyGradient", r("sigma"), r("u"), r("cost"), wasm.local(beta), n, nb, o.squash, o.tau, spec.lambdaS, spec.lambdaV, regScale, spec.regularizer === "code" ? 1 : 0, r("mu"), r("e"));
  f.kernel("gemmTN", inputs, nb, n, layer.x, inputs, r("e"), nb, layer.param("policy_weight").grad, nb, 0);
  f.kernel("columnSums", r("e"), n, nb, layer.param("policy_bias").grad);
}
