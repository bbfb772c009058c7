/**
 * @fileoverview `gate lowrank(rank: r)` (Davis & Arel): a rank-r factor U V of a ReLU
 * layer's weights estimates the pre-activation, Ẑ = (X U) V + b; only units with Ẑ > θ are
 * computed exactly (runtime/kernels/lowrank.ts). U [inputs, r] and V [r, units] are not
 * trained: the runtime recomputes them from W by truncated SVD (runtime/lowrank.ts).
 *
 * test_only: training runs the dense layer; inference runs the estimator.
 * in_loop: both run the estimator; the backward is masked (only computed units).
 * Each layer also exports `<layer>__lowrankEnable(on)` (off: the dense layer everywhere, for
 * accuracy without the estimator) and `<layer>__lowrankStats(n)` (sign statistics of the
 * last forward against the exact pre-activation on the same input).
 */
import type { IrLayer } from "../backend/ir.js";
import type { LowRankGate } from "../frontend/model.js";
import { emitActivationBackward, emitDenseBackward, emitDenseForward } from "./dense.js";
import type { EmitContext, LayerMethod } from "./method.js";
import { layerExportName } from "../../runtime/manifest.js";

/** Scratch region suffixes, `<layer>.lowrank_<suffix>`. */
export const LOWRANK_REGIONS = ["t", "zhat", "active", "count", "nzidx", "nzval", "stats", "ztrue", "units", "ustart"] as const;

function gateOf(layer: { gate: unknown }): LowRankGate {
  return layer.gate as LowRankGate;
}

function region(layer: IrLayer, suffix: (typeof LOWRANK_REGIONS)[number]): string {
  return `${layer.name}.lowrank_${suffix}`;
}

function enabledFlag(layer: IrLayer): string {
  return `lowrankOn_${layer.name}`;
}

export const lowrankMethod: LayerMethod = {
  key: "lowrank",
  imports: [
    `import { gemmNN, gemmNT, gemmTN } from "./kernels/gemm";`,
    `import { addBias, columnSums, reluForward, reluBackward, tanhForward, tanhBackward, sigmoidForward, sigmoidBackward } from "./kernels/elementwise";`,
    `import { lowrankForward, lowrankBackward, lowrankSignStats } from "./kernels/lowrank";`,
  ],
  params: (layer) => {
    const rank = (layer.gate as LowRankGate).rank;
    return [
      { suffix: "weight", shape: [layer.units, layer.inputs], init: "glorot_uniform", decay: true, trainable: true },
      { suffix: "bias", shape: [layer.units], init: "zeros", decay: false, trainable: true },
      { suffix: "lowrank_u", shape: [layer.inputs, rank], init: "zeros", decay: false, trainable: false },
      { suffix: "lowrank_v", shape: [rank, layer.units], init: "zeros", decay: false, trainable: false },
    ];
  },
  regions(layer, ctx) {
    const r = (layer.gate as LowRankGate).rank;
    const m = ctx.maxBatch;
    const at = (s: string): string => `${layer.name}.lowrank_${s}`;
    ctx.place(at("t"), "scratch", [m, r]);
    ctx.place(at("zhat"), "scratch", [m, layer.units]);
    ctx.place(at("active"), "scratch", [m, layer.units]);
    ctx.place(at("count"), "scratch", [m]);
    ctx.place(at("nzidx"), "scratch", [layer.inputs]);
    ctx.place(at("nzval"), "scratch", [layer.inputs]);
    ctx.place(at("stats"), "scratch", [16]);
    ctx.place(at("ztrue"), "scratch", [m, layer.units]);
    ctx.place(at("units"), "scratch", [m * layer.units]);
    ctx.place(at("ustart"), "scratch", [layer.units + 1]);
  },
  forward(ctx, layer) {
    const gate = gateOf(layer);
    const denseWhen = gate.mode === "in_loop" ? `!${enabledFlag(layer)}` : `training || !${enabledFlag(layer)}`;
    ctx.emit(`  if (${denseWhen}) {`);
    emitDenseForward(indented(ctx), layer);
    ctx.emit(`  } else {`);
    ctx.emit(`    ${forwardCall(ctx, layer)}`);
    ctx.emit(`  }`);
  },
  backward(ctx, layer, sourceDelta) {
    const gate = gateOf(layer);
    if (gate.mode !== "in_loop") {
      emitActivationBackward(ctx, layer);
      emitDenseBackward(ctx, layer, sourceDelta);
      return;
    }
    emitActivationBackward(ctx, layer);
    ctx.emit(`  if (!${enabledFlag(layer)}) {`);
    emitDenseBackward(indented(ctx), layer, sourceDelta);
    ctx.emit(`  } else {`);
    const dx = sourceDelta ? sourceDelta.addr : "0";
    const beta = sourceDelta ? sourceDelta.beta : 0;
    ctx.emit(`    lowrankBackward(n, ${layer.inputs}, ${layer.units}, ${ctx.sourceAddress(layer)}, ${ctx.addr(layer.weight)}, ${ctx.addr(layer.delta!)}, ${ctx.addr(region(layer, "active"))}, ${ctx.addr(region(layer, "count"))}, ${ctx.addr(layer.weight + ".grad")}, ${ctx.addr(layer.bias + ".grad")}, ${dx}, ${beta});`);
    ctx.emit(`  }`);
  },
  exports(ctx, layer) {
    const gate = gateOf(layer);
    const flag = enabledFlag(layer);
    const zt = ctx.addr(region(layer, "ztrue"));
    ctx.emit();
    ctx.emit(`let ${flag}: bool = true;`);
    ctx.emit(`/** ${layer.name}: 1 runs the low-rank estimator at inference, 0 the dense layer. */`);
    ctx.emit(`export function ${layerExportName(layer.name, "lowrankEnable")}(on: i32): void { ${flag} = on != 0; }`);
    ctx.emit(`/** ${layer.name}: sign statistics of the last forward of n rows (exact pre-activation on the same input). */`);
    ctx.emit(`export function ${layerExportName(layer.name, "lowrankStats")}(n: i32): void {`);
    ctx.emit(`  gemmNT(n, ${layer.units}, ${layer.inputs}, ${ctx.sourceAddress(layer)}, ${layer.inputs}, ${ctx.addr(layer.weight)}, ${layer.inputs}, ${zt}, ${layer.units}, 0);`);
    ctx.emit(`  addBias(${zt}, ${ctx.addr(layer.bias)}, n, ${layer.units});`);
    ctx.emit(`  lowrankSignStats(n, ${layer.units}, ${ctx.addr(region(layer, "zhat"))}, ${zt}, ${f32(gate.threshold)}, ${ctx.addr(region(layer, "stats"))});`);
    ctx.emit(`}`);
  },
};

function forwardCall(ctx: EmitContext, layer: IrLayer): string {
  const gate = gateOf(layer);
  const a = (s: (typeof LOWRANK_REGIONS)[number]): string => ctx.addr(region(layer, s));
  return `lowrankForward(n, ${layer.inputs}, ${layer.units}, ${gate.rank}, ${ctx.sourceAddress(layer)}, ${ctx.addr(layer.weight)}, ${ctx.addr(layer.bias)}, ${ctx.addr(`${layer.name}.lowrank_u`)}, ${ctx.addr(`${layer.name}.lowrank_v`)}, ${f32(gate.threshold)}, ${ctx.addr(layer.output)}, ${a("t")}, ${a("zhat")}, ${a("active")}, ${a("count")}, ${a("nzidx")}, ${a("nzval")}, ${a("stats")}, ${a("units")}, ${a("ustart")});`;
}

function indented(ctx: EmitContext): EmitContext {
  return { ...ctx, emit: (line = "") => ctx.emit(line === "" ? "" : "  " + line) };
}

/** An f32 literal AssemblyScript parses exactly as JavaScript prints it. */
function f32(value: number): string {
  if (!Number.isFinite(value)) return value > 0 ? "Infinity" : "-Infinity";
  const text = String(value);
  return /[.eE]/.test(text) ? `<f32>${text}` : `<f32>${text}.0`;
}
