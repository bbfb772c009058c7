// Mixture-of-experts forward benchmark (issue 12): one thread, batch 128, 784 inputs, MoE layer
// (router + dispatch + gather + one GEMM per expert + combine) against the dense layer of equal
// MACs per example (router included), both SIMD builds, interleaved runs, medians.
// Goal: MoE forward at batch 128 <= 1.3x the equal-MACs dense layer.
// Build first (imports the compiled asc wrapper): npx tsc -p tsconfig.json
// Usage: node bench/moe.mjs [--runs 30] [--batch 128] [--inputs 784] [--units 64] [--hidden 0] [--json]
import v8 from "node:v8";
v8.setFlagsFromString("--experimental-wasm-relaxed-simd");

const args = process.argv.slice(2);
const opt = (name, dflt) => { const i = args.indexOf(`--${name}`); return i >= 0 ? Number(args[i + 1]) : dflt; };
const runs = opt("runs", 30), n = opt("batch", 128), D = opt("inputs", 784), U = opt("units", 64), H = opt("hidden", 0);
const CONFIGS = [[4, 1], [4, 2], [8, 1], [8, 2], [16, 1], [16, 2]];
const RELU = 1;
const { compileAssemblyScript } = await import("../scripts/asc.mjs");
const ENTRY = `
export { gemmNT } from "./kernels/gemm";
export { addBias, reluForward } from "./kernels/elementwise";
export * from "./kernels/moe";
export function heapBase(): usize { return __heap_base; }
`;

function rand(seed) { let s = seed >>> 0; return () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 4294967296; }; }

async function build(relaxed) {
  const r = await compileAssemblyScript({ "bench.ts": ENTRY }, "bench.ts", { relaxedSimd: relaxed });
  if (!r.ok) throw new Error(r.stderr);
  const { instance } = await WebAssembly.instantiate(r.wasm, {});
  const e = instance.exports;
  let top = (Number(e.heapBase()) + 63) & ~63;
  const alloc = (bytes) => { const p = top; top = (top + bytes + 63) & ~63; const need = Math.ceil(top / 65536) - e.memory.buffer.byteLength / 65536; if (need > 0) e.memory.grow(need); return p; };
  const r0 = rand(1);
  const f32 = (count, scale = 1) => { const p = alloc(Math.max(1, count) * 4); const v = new Float32Array(e.memory.buffer, p, count); for (let i = 0; i < count; i++) v[i] = (r0() - 0.5) * scale; return p; };
  const x = f32(n * D);
  return { e, alloc, f32, x };
}

/** Closures for one (E, k): the MoE forward (eval: no noise, no balance loss), its stages, the equal-MACs dense layer. */
function setup(b, E, k) {
  const { e, alloc, f32, x } = b;
  const width = H > 0 ? H : U, pairs = n * k;
  const wg = f32(E * D, 0.1), w1 = f32(E * width * D, 0.05), b1 = f32(E * width, 0.1);
  const w2 = H > 0 ? f32(E * U * H, 0.1) : 0, b2 = H > 0 ? f32(E * U, 0.1) : 0;
  const logits = f32(n * E), gateLogits = f32(n * E), probs = f32(n * E), gates = f32(pairs), noise = f32(n * E);
  const topIdx = alloc(pairs * 4), counts = alloc(E * 4), start = alloc((E + 1) * 4), rowPair = alloc(pairs * 4), pairRow = alloc(pairs * 4);
  const work = alloc(e.moeRouterWorkBytes(E)), routerScratch = f32(E * n);
  const xs = f32(pairs * D), hs = f32(pairs * H), ys = f32(pairs * U), h = f32(n * U);
  const router = () => { e.moeRouterLogits(x, n, D, E, wg, 0, logits, 0, routerScratch); e.moeRoute(logits, 0, n, E, k, 0, 1, 0, 0, work, noise, gateLogits, probs, topIdx, gates); };
  const dispatch = () => { e.moeDispatch(topIdx, n, k, E, -1, counts, start, rowPair, pairRow); e.moeGather(x, D, k, rowPair, start, E, xs); };
  const experts = () => e.moeExpertsForward(xs, start, E, D, U, H, RELU, w1, b1, w2, b2, hs, ys);
  const combine = () => e.moeCombine(ys, U, n, k, pairRow, gates, h);
  // dense of equal MACs per example: one layer of k U + E units (FFN: hidden (k H (D + U) + E D) / (D + U))
  const moeMacs = H > 0 ? k * H * (D + U) + E * D : k * U * D + E * D;
  const dWidth = H > 0 ? Math.round(moeMacs / (D + U)) : Math.round(moeMacs / D);
  const dw1 = f32(dWidth * D, 0.05), db1 = f32(dWidth, 0.1), dz = f32(n * dWidth);
  const dw2 = H > 0 ? f32(U * dWidth, 0.1) : 0, db2 = H > 0 ? f32(U, 0.1) : 0, dy = H > 0 ? f32(n * U) : 0;
  const dense = () => {
    e.gemmNT(n, dWidth, D, x, D, dw1, D, dz, dWidth, 0); e.addBias(dz, db1, n, dWidth); e.reluForward(dz, dz, n * dWidth);
    if (H > 0) { e.gemmNT(n, U, dWidth, dz, dWidth, dw2, dWidth, dy, U, 0); e.addBias(dy, db2, n, U); }
  };
  const denseMacs = H > 0 ? dWidth * (D + U) : dWidth * D;
  const moe = () => { router(); dispatch(); experts(); combine(); };
  moe();
  const loads = Array.from(new Int32Array(e.memory.buffer, counts, E));
  return { moe, dense, router, dispatch, experts, combine, moeMacs, denseMacs, dWidth, loads };
}

const median = (a) => { const s = [...a].sort((p, q) => p - q); return s[s.length >> 1]; };
const results = [];
for (const variant of ["plain", "relaxed"]) {
  const b = await build(variant === "relaxed");
  for (const [E, k] of CONFIGS) {
    const c = setup(b, E, k);
    const names = ["moe", "dense", "router", "dispatch", "experts", "combine"];
    const times = Object.fromEntries(names.map((q) => [q, []]));
    for (const q of names) for (let i = 0; i < 3; i++) c[q]();
    for (let r = 0; r < runs; r++) for (const q of names) { const t0 = performance.now(); c[q](); times[q].push(performance.now() - t0); }
    const ms = Object.fromEntries(names.map((q) => [q, median(times[q])]));
    results.push({ variant, experts: E, topK: k, moeMacsPerExample: c.moeMacs, denseUnits: c.dWidth, denseMacsPerExample: c.denseMacs, ms, ratio: ms.moe / ms.dense, maxLoad: Math.max(...c.loads) / n });
  }
}
if (args.includes("--json")) console.log(JSON.stringify({ shape: { batch: n, inputs: D, units: U, hidden: H }, runs, results }));
else {
  console.log(`batch ${n}, ${D} inputs, ${H > 0 ? `FFN experts ${D} -> ${H} -> ${U}` : `one-layer experts of ${U} units`}, relu, dropless, ${runs} interleaved runs, medians (ms)`);
  console.log("| build | E | k | MACs/example MoE (dense) | dense units | MoE | dense | MoE / dense | router | dispatch+gather | experts | combine | max load |");
  console.log("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
  for (const r of results) {
    const m = r.ms;
    console.log(`| ${r.variant} | ${r.experts} | ${r.topK} | ${r.moeMacsPerExample} (${r.denseMacsPerExample}) | ${r.denseUnits} | ${m.moe.toFixed(3)} | ${m.dense.toFixed(3)} | ${r.ratio.toFixed(2)}x | ${m.router.toFixed(3)} | ${m.dispatch.toFixed(3)} | ${m.experts.toFixed(3)} | ${m.combine.toFixed(3)} | ${r.maxLoad.toFixed(2)} |`);
  }
}
