/**
 * @fileoverview A method defined entirely outside the compiler, to prove the seam
 * (docs/adding-a-method.md): `dense(...) ACT gate keep(threshold: t)` keeps the units whose
 * input-independent score (drawn once from U(0, 1) by `init`, saved in the checkpoint) exceeds
 * t, and computes only those (block-sparse kernels with blocks of one unit). Built from kernels
 * the library already has; registered with `registerMethod` / `registerMethodRuntime`.
 */
import { defineMethod, type EmitContext, type EmitLayer } from "../../methods/unit.js";
import { defineRuntime, type RuntimeLayer } from "../../methods/runtime-unit.js";
import { denseParams } from "../../methods/dense/method.js";
import { ACTIVATION_CODE } from "../../methods/dense/emit.js";
import { POLICY_TEST_THRESHOLD } from "../../runtime/kernels/codes/policy.js";
import { findRegion } from "../../runtime/manifest.js";

export interface KeepOptions {
  threshold: number;
}

const SCORE_STREAM = 0x4b0000;

export const KEEP_MESSAGES = {
  keepsLittle: { code: "CD9101", severity: "warning", template: "gate 'keep' with threshold {threshold} is expected to keep only {percent}% of the units of layer '{layer}'" },
} as const;

/** Recomputes the kept units' lists from the scores: the rows of `sigma` are score + (0.5 - t), kept where > 0.5. */
function emitRefresh(layer: EmitLayer<KeepOptions>, ctx: EmitContext<KeepOptions, undefined>): void {
  const f = ctx.layerFunction(layer, "refresh", [], null, `${layer.name}: the kept units from the current scores`);
  const m = ctx.maxBatch;
  const r = (s: string) => layer.region(`keep_${s}`);
  f.kernel("zeroBytes", r("sigma"), m * layer.units * 4);
  f.kernel("addBias", r("sigma"), layer.param("keep_score").value, m, layer.units);
  const shift = 0.5 - layer.options.threshold;
  f.kernel("fillUniform", r("shift"), layer.units, shift, shift, 0, 0);
  f.kernel("addBias", r("sigma"), r("shift"), m, layer.units);
  // Threshold mode with no squashing and no rate: u = 1[sigma > 0.5], no random numbers.
  f.kernel("policySample", r("sigma"), r("u"), r("list"), r("count"), m, layer.units, 0, -1, POLICY_TEST_THRESHOLD, 0, 0, 0);
}

export const keepMethod = defineMethod<KeepOptions>({
  key: "keep",
  kind: "dense",
  gate: "keep",
  kindOptions: [],
  gateOptions: [{ name: "threshold", kind: "number", required: true, min: 0, max: 1, maxInclusive: false }],
  refusesGates: null,
  allowedOnOutput: false,
  messages: KEEP_MESSAGES,
  check(ctx) {
    const t = ctx.options.get("threshold");
    const threshold = typeof t === "number" ? t : 0;
    if (threshold > 0.95) ctx.report(KEEP_MESSAGES.keepsLittle, ctx.optionSpan("threshold"), { threshold, percent: Math.round((1 - threshold) * 1000) / 10, layer: ctx.name });
    return { threshold };
  },
  cost: (layer, inputDensity) => ({
    weights: layer.inputs * layer.units,
    biases: layer.units,
    gateParameters: layer.units,
    bodyMacs: layer.inputs * layer.units * (1 - layer.options.threshold),
    gateMacs: 0,
    density: 1 - layer.options.threshold,
    densityAssumed: false,
    inputDensity,
  }),
  label: (o) => `keep t=${o.threshold}`,
  params: (layer) => [...denseParams(layer), { suffix: "keep_score", shape: [layer.units], init: "method", decay: false, update: "none", role: "unit scores" }],
  regions: (layer, m) => [
    { suffix: "keep_sigma", dtype: "f32", shape: [m, layer.units], role: "state" },
    { suffix: "keep_shift", dtype: "f32", shape: [layer.units], role: "state" },
    { suffix: "keep_u", dtype: "f32", shape: [m, layer.units], role: "state" },
    { suffix: "keep_list", dtype: "i32", shape: [m, layer.units], role: "state" },
    { suffix: "keep_count", dtype: "i32", shape: [m], role: "state" },
    { suffix: "keep_groups", dtype: "i32", shape: [layer.units + layer.units * m], role: "scratch" },
  ],
  wasm: {
    exports: emitRefresh,
    init(f, layer, ctx, seed) {
      f.kernel("fillUniform", layer.param("keep_score").value, layer.units, 0, 1, seed, SCORE_STREAM + layer.index);
      f.comment(`${layer.name}: the kept units from the new scores`);
      f.call(ctx.layerFunctionRef(layer, "refresh"));
    },
    forward(f, layer, _ctx, n) {
      const r = (s: string) => layer.region(`keep_${s}`);
      const { inputs, units } = layer;
      f.kernel("bsForwardGrouped", n, units, inputs, layer.x, layer.param("weight").value, layer.param("bias").value, layer.output, 1, r("list"), r("count"), units, r("groups"));
      f.kernel("bsActivate", layer.output, n, units, 1, r("list"), r("count"), units, ACTIVATION_CODE[layer.activation]);
    },
    backward(f, layer, _ctx, n, source) {
      const { inputs, units } = layer;
      const delta = layer.delta!;
      const w = layer.param("weight");
      f.kernel("bsActivationBackward", delta, layer.output, n, units, 1, layer.region("keep_u"), units, ACTIVATION_CODE[layer.activation]);
      f.kernel("gemmTN", units, inputs, n, delta, units, layer.x, inputs, w.grad, inputs, 0);
      f.kernel("columnSums", delta, n, units, layer.param("bias").grad);
      if (source) f.kernel("gemmNN", n, inputs, units, delta, units, w.value, inputs, source.address, inputs, source.beta);
    },
  },
});

/** Units kept by a layer (the lists of row 0: every row holds the same). */
export function keptUnits(model: { wasmMemory: WebAssembly.Memory; manifest: import("../../runtime/manifest.js").Manifest }, layer: RuntimeLayer<KeepOptions>): number {
  const region = findRegion(model.manifest, layer.regions["keep_count"]!);
  return new Int32Array(model.wasmMemory.buffer, region.offset, 1)[0]!;
}

export const keepRuntime = defineRuntime<KeepOptions>({
  key: "keep",
  // A checkpoint brings its own scores: the kept units follow them.
  afterLoad: (model, layers) => layers.forEach((l) => (model.wasmExports[l.exports["refresh"]!] as () => void)()),
  report(model, layer) {
    const kept = keptUnits(model, layer);
    return { macsPerExample: kept * layer.inputs, activeFraction: kept / layer.units, metrics: { kept_units: kept } };
  },
});
