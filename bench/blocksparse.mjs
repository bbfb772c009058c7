// Block-sparse product benchmark (docs/methods/policy.md §12, check 6; results in §14): one
// thread, 1024 x 1024, blocks of 64, batch 50, 10% of the output blocks active per example (fs: dense input)
// and 10% on both sides (ss), against the dense product gemmNT of the same shape, both
// SIMD builds, interleaved runs, medians. Target: block-sparse >= 4x faster than dense.
// Build first (imports the compiled asc wrapper): npx tsc -p tsconfig.json
// Usage: node bench/blocksparse.mjs [--runs 30] [--n 1024] [--batch 50] [--block 64] [--density 0.1] [--json]
import v8 from "node:v8";
v8.setFlagsFromString("--experimental-wasm-relaxed-simd");

const args = process.argv.slice(2);
const opt = (name, dflt) => { const i = args.indexOf(`--${name}`); return i >= 0 ? Number(args[i + 1]) : dflt; };
const runs = opt("runs", 30), N = opt("n", 1024), K = N, m = opt("batch", 50), B = opt("block", 64), density = opt("density", 0.1);
const nb = Math.ceil(N / B);
const { compileAssemblyScript } = await import("../scripts/asc.mjs");
const ENTRY = `
export { gemmNT } from "./kernels/gemm";
export { bsForward, bsForwardGrouped, bsBackwardInput } from "./kernels/blocksparse";
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
  const f32 = (count, fill) => { const p = alloc(count * 4); const v = new Float32Array(e.memory.buffer, p, count); for (let i = 0; i < count; i++) v[i] = fill(); return p; };
  const x = f32(m * K, () => r0() - 0.5), w = f32(N * K, () => r0() - 0.5), bias = f32(N, () => 0), out = f32(m * N, () => 0);
  // exactly round(density * nb) active blocks per example, chosen at random
  const k = Math.max(1, Math.round(density * nb));
  const mkLists = (seed) => {
    const r = rand(seed), list = alloc(m * nb * 4), count = alloc(m * 4);
    const L = new Int32Array(e.memory.buffer, list, m * nb), C = new Int32Array(e.memory.buffer, count, m);
    for (let i = 0; i < m; i++) {
      const perm = Array.from({ length: nb }, (_, j) => j).sort(() => r() - 0.5).slice(0, k).sort((a, b) => a - b);
      perm.forEach((b, q) => (L[i * nb + q] = b));
      C[i] = k;
    }
    return [list, count];
  };
  const [ol, oc] = mkLists(2), [il, ic] = mkLists(3);
  const groups = alloc((nb + nb * m) * 4);
  const dx = f32(m * K, () => 0);
  return {
    dense: () => e.gemmNT(m, N, K, x, K, w, K, out, N, 0),
    fs: () => e.bsForward(m, N, K, x, w, bias, out, B, ol, oc, nb, 0, 0, nb, B),
    "fs grouped": () => e.bsForwardGrouped(m, N, K, x, w, bias, out, B, ol, oc, nb, groups),
    ss: () => e.bsForward(m, N, K, x, w, bias, out, B, ol, oc, nb, il, ic, nb, B),
    "fs backward dX": () => e.bsBackwardInput(m, N, K, out, w, dx, B, ol, oc, nb, 0, 0, nb, B, 0),
    activeFraction: k / nb,
  };
}

const median = (a) => { const s = [...a].sort((p, q) => p - q); return s[s.length >> 1]; };
const results = [];
for (const variant of ["plain", "relaxed"]) {
  const b = await build(variant === "relaxed");
  const names = ["dense", "fs", "fs grouped", "ss", "fs backward dX"];
  const times = Object.fromEntries(names.map((n) => [n, []]));
  for (const n of names) for (let i = 0; i < 3; i++) b[n]();
  for (let r = 0; r < runs; r++) for (const n of names) { const t0 = performance.now(); b[n](); times[n].push(performance.now() - t0); }
  const dense = median(times.dense);
  for (const n of names) {
    const ms = median(times[n]);
    const macs = n === "dense" ? m * N * K : n === "ss" ? m * N * K * b.activeFraction * b.activeFraction : m * N * K * b.activeFraction;
    results.push({ variant, kernel: n, ms, gflops: (2 * macs) / (ms * 1e6), speedup_vs_dense: dense / ms });
  }
}
if (args.includes("--json")) console.log(JSON.stringify({ shape: { batch: m, n: N, k: K, block: B, density }, results }));
else {
  console.log(`batch ${m}, ${N}x${K}, blocks of ${B}, ${(100 * density).toFixed(0)}% of blocks active, ${runs} interleaved runs, medians`);
  console.log("| build | kernel | ms | GFLOP/s (useful) | speedup vs dense |\n|---|---|---|---|---|");
  for (const r of results) console.log(`| ${r.variant} | ${r.kernel} | ${r.ms.toFixed(3)} | ${r.gflops.toFixed(1)} | ${r.speedup_vs_dense.toFixed(2)}x |`);
}
