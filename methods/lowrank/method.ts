/**
 * @fileoverview `dense(...) relu gate lowrank(rank: r)` (Davis & Arel; docs/methods/lowrank.md):
 * a rank-r factor U V of the layer's weights estimates the pre-activation, Ẑ = (X U) V + b; only
 * units with Ẑ > θ are computed exactly (runtime/kernels/lowrank.ts). U [inputs, r] and
 * V [r, units] are not trained: the runtime recomputes them from W by truncated SVD
 * (methods/lowrank/runtime.ts).
 *
 * test_only: training runs the dense layer; inference runs the estimator.
 * in_loop: both run the estimator; the backward is masked (only computed units).
 * Exports per layer: `enable(on)` (off: the dense layer everywhere, for accuracy without the
 * estimator) and `stats(n)` (sign statistics of the last forward against the exact
 * pre-activation on the same input, into the `stats` counters).
 */
import { wasm } from "../../compiler/backend/wasm/code.js";
import { denseParams } from "../dense/method.js";
import { emitActivationBackward, emitDenseBackward, emitDenseForward } from "../dense/emit.js";
import { choiceOption, numberOption } from "../../compiler/frontend/options.js";
import { defineMethod, type EmitLayer } from "../unit.js";
import { LOWRANK_MESSAGES } from "./messages.js";
import { MAX_WIDTH } from "../../compiler/frontend/language-spec.js";

export interface LowRankOptions {
  rank: number;
  /** Units with estimated pre-activation > threshold are computed. Default 0. */
  threshold: number;
  /** When the factors are recomputed from W while training. Default "epoch". */
  refresh: "epoch" | "never";
  /** Train dense and estimate at inference, or train through the estimator. */
  mode: "test_only" | "in_loop";
  /** The active fraction `inspect` assumes (shown as assumed, not measured). */
  assumedDensity: number;
}

/** Counter fields of `<layer>.stats` (f64), in the order runtime/kernels/lowrank.ts writes them. */
export const LOWRANK_COUNTERS = ["examples", "computed", "macs", "agree", "positive", "false_negative", "measured", "estimated"];

/**
 * `density` is the fraction of units `inspect` assumes the estimator lets through; 0.5 is a
 * deliberately cautious guess (calibration measured 0.03-0.3 with an L1 penalty).
 */
const DEFAULTS = { threshold: 0, refresh: "epoch", mode: "test_only", density: 0.5 } as const;

/** Rounded for messages: 29.97 -> "30", 383.6 -> "383.6". */
function formatBreakEven(value: number): string {
  return String(Math.round(value * 10) / 10);
}

export const lowrankMethod = defineMethod<LowRankOptions, undefined>({
  key: "lowrank",
  kind: "dense",
  gate: "lowrank",
  kindOptions: [],
  gateOptions: [
    // The range 1 <= rank < min(inputs, units) depends on the layer: checked below.
    { name: "rank", kind: "integer", required: true, ceiling: MAX_WIDTH },
    { name: "threshold", kind: "number" },
    { name: "refresh", kind: "choice", choices: ["epoch", "never"] },
    { name: "mode", kind: "choice", choices: ["test_only", "in_loop"] },
    { name: "density", kind: "number", min: 0, minInclusive: false, max: 1 },
  ],
  refusesGates: null,
  allowedOnOutput: false,
  messages: LOWRANK_MESSAGES,
  check(ctx) {
    const { inputs, units, options } = ctx;
    const rank = options.get("rank");
    if (typeof rank === "number" && inputs !== undefined && units !== undefined) {
      const limit = Math.min(inputs, units);
      const span = ctx.optionSpan("rank");
      if (rank < 1 || rank >= limit) {
        ctx.report(LOWRANK_MESSAGES.rankRange, span, { limit, layer: ctx.name, rank });
      } else {
        const breakEven = (inputs * units) / (inputs + units);
        if (rank >= breakEven) ctx.report(LOWRANK_MESSAGES.rankAboveBreakEven, span, { rank, breakEven: formatBreakEven(breakEven), inputs, units, layer: ctx.name });
      }
    }
    if (ctx.activation !== undefined && ctx.activation !== "relu") {
      ctx.report(LOWRANK_MESSAGES.needsRelu, ctx.activationSpan, { layer: ctx.name, activation: ctx.activation });
    }
    return {
      rank: numberOption(options, "rank", 1),
      threshold: numberOption(options, "threshold", DEFAULTS.threshold),
      refresh: choiceOption(options, "refresh", DEFAULTS.refresh),
      mode: choiceOption(options, "mode", DEFAULTS.mode),
      assumedDensity: numberOption(options, "density", DEFAULTS.density),
    };
  },
  cost(layer, inputDensity) {
    const { inputs, units } = layer;
    const { rank, assumedDensity } = layer.options;
    return {
      weights: inputs * units,
      biases: units,
      gateParameters: rank * (inputs + units),
      bodyMacs: inputs * units * inputDensity * assumedDensity,
      gateMacs: rank * (inputs + units),
      density: assumedDensity,
      densityAssumed: true,
      inputDensity,
    };
  },
  label: (o) => `lowrank r=${o.rank}`,
  params: (layer) => [
    ...denseParams(layer),
    { suffix: "lowrank_u", shape: [layer.inputs, layer.options.rank], init: "zeros", decay: false, update: "none", role: "estimator factor U Σ (truncated SVD of Wᵀ)" },
    { suffix: "lowrank_v", shape: [layer.options.rank, layer.units], init: "zeros", decay: false, update: "none", role: "estimator factor Vᵀ (truncated SVD of Wᵀ)" },
  ],
  regions(layer, m) {
    const { inputs, units } = layer;
    const r = layer.options.rank;
    return [
      { suffix: "lowrank_t", dtype: "f32", shape: [m, r], role: "scratch" },
      { suffix: "lowrank_zhat", dtype: "f32", shape: [m, units], role: "scratch" },
      { suffix: "lowrank_active", dtype: "i32", shape: [m, units], role: "scratch" },
      { suffix: "lowrank_count", dtype: "i32", shape: [m], role: "scratch" },
      { suffix: "lowrank_nzidx", dtype: "i32", shape: [inputs], role: "scratch" },
      { suffix: "lowrank_nzval", dtype: "f32", shape: [inputs], role: "scratch" },
      { suffix: "lowrank_stats", dtype: "f64", shape: [LOWRANK_COUNTERS.length], role: "counters", fields: LOWRANK_COUNTERS },
      { suffix: "lowrank_ztrue", dtype: "f32", shape: [m, units], role: "scratch" },
      { suffix: "lowrank_units", dtype: "i32", shape: [m * units], role: "scratch" },
      { suffix: "lowrank_ustart", dtype: "i32", shape: [units + 1], role: "scratch" },
    ];
  },
  wasm: {
    forward(f, layer, ctx, n, training) {
      const on = wasm.global(ctx.globalOf(layer, "enabled"));
      const dense = layer.options.mode === "in_loop" ? wasm.not(on) : wasm.select(training, wasm.i32(1), wasm.not(on));
      f.if(dense, () => emitDenseForward(f, layer, n), () => emitEstimatedForward(f, layer, n));
    },
    backward(f, layer, _ctx, n, source) {
      emitActivationBackward(f, layer, n);
      if (layer.options.mode !== "in_loop") return emitDenseBackward(f, layer, n, source);
      f.if(
        wasm.not(wasm.global(_ctx.globalOf(layer, "enabled"))),
        () => emitDenseBackward(f, layer, n, source),
        () =>
          f.kernel("lowrankBackward", n, layer.inputs, layer.units, layer.x, layer.param("weight").value, layer.delta!, layer.region("lowrank_active"), layer.region("lowrank_count"), layer.param("weight").grad, layer.param("bias").grad, source ? source.address : 0, source ? source.beta : 0),
      );
    },
    exports(layer, ctx) {
      const enabled = ctx.global(layer, "enabled", "i32", 1);
      const enable = ctx.layerFunction(layer, "lowrankEnable", [{ name: "on", type: "i32" }], null, `${layer.name}: 1 runs the low-rank estimator at inference, 0 the dense layer`);
      enable.set(enabled, wasm.select(enable.param("on"), wasm.i32(1), wasm.i32(0)));
      const stats = ctx.layerFunction(layer, "lowrankStats", [{ name: "n", type: "i32" }], null, `${layer.name}: sign statistics of the last forward of n rows (exact pre-activation on the same input)`);
      const n = stats.param("n");
      const zt = layer.region("lowrank_ztrue");
      stats.kernel("gemmNT", n, layer.units, layer.inputs, layer.x, layer.inputs, layer.param("weight").value, layer.inputs, zt, layer.units, 0);
      stats.kernel("addBias", zt, layer.param("bias").value, n, layer.units);
      stats.kernel("lowrankSignStats", n, layer.units, layer.region("lowrank_zhat"), zt, layer.options.threshold, layer.region("lowrank_stats"));
    },
  },
});

function emitEstimatedForward(f: Parameters<typeof emitDenseForward>[0], layer: EmitLayer<LowRankOptions>, n: Parameters<typeof emitDenseForward>[2]): void {
  const r = (s: string) => layer.region(`lowrank_${s}`);
  f.kernel(
    "lowrankForward",
    n, layer.inputs, layer.units, layer.options.rank, layer.x,
    layer.param("weight").value, layer.param("bias").value, layer.param("lowrank_u").value, layer.param("lowrank_v").value,
    layer.options.threshold, layer.output,
    r("t"), r("zhat"), r("active"), r("count"), r("nzidx"), r("nzval"), r("stats"), r("units"), r("ustart"),
  );
}
