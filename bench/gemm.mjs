// GEMM benchmark: GFLOP/s medians of the kernel library's gemmNT/NN/TN, plain and relaxed SIMD.
// Build first (the bench imports the compiled asc wrapper): npx tsc -p tsconfig.json
// Usage: node bench/gemm.mjs [--runs 10] [--shapes 128x784x1000,...] [--ops NT,NN,TN]
//        [--variants plain,relaxed] [--no-mlp] [--tfjs] [--json]
// --tfjs adds tfjs-backend-wasm's matMul (untransposed operands) as a side-by-side baseline.
// Shapes are m x k x n: op(A) is m x k, op(B) is k x n (as in docs/performance.md).
import v8 from "node:v8";
v8.setFlagsFromString("--experimental-wasm-relaxed-simd");

const args = process.argv.slice(2);
const opt = (name, dflt) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : dflt; };
const runs = Number(opt("runs", "10"));
const shapes = opt("shapes", "128x784x1000,128x1000x1000,1024x1024x1024").split(",").map((s) => s.split("x").map(Number));
const ops = opt("ops", "NT,NN,TN").split(",");
const variants = opt("variants", "plain,relaxed").split(",");

// jobs: [label, op, m, k, n]
const jobs = [];
for (const [m, k, n] of shapes) for (const op of ops) jobs.push(["", op, m, k, n]);
if (!args.includes("--no-mlp")) {
  // the three products of a 784 -> 1000 dense layer's training step at batch 128, and batch 1
  jobs.push(["mlp forward Z = X W^T", "NT", 128, 784, 1000]);
  jobs.push(["mlp dW = dZ^T X", "TN", 1000, 128, 784]);
  jobs.push(["mlp dX = dZ W", "NN", 128, 1000, 784]);
  jobs.push(["batch-1 forward (GEMV)", "NT", 1, 784, 1000]);
  jobs.push(["batch-1 forward (GEMV)", "NT", 1, 1000, 1000]);
}

const { compileAssemblyScript } = await import("../scripts/asc.mjs");

const ENTRY = `
export { gemmNN, gemmNT, gemmTN } from "./kernels/gemm";
export function heapBase(): usize { return __heap_base; }
`;

async function build(relaxed) {
  const r = await compileAssemblyScript({ "bench.ts": ENTRY }, "bench.ts", { relaxedSimd: relaxed });
  if (!r.ok) throw new Error(r.stderr);
  const { instance } = await WebAssembly.instantiate(r.wasm, {});
  return instance.exports;
}

function median(xs) { const s = [...xs].sort((a, b) => a - b); return s[s.length >> 1]; }

// Contenders are interleaved round-robin inside each repetition, so that load from other
// processes on the shared machine hits all of them alike and the ratios stay meaningful.
const builds = {};
for (const variant of variants) builds[variant] = await build(variant === "relaxed");

let tf = null;
if (args.includes("--tfjs")) {
  // baseline: tfjs-backend-wasm (XNNPACK, SIMD, 1 thread in Node), untransposed matMul (its fast case)
  tf = await import("@tensorflow/tfjs-core");
  const { setWasmPaths } = await import("@tensorflow/tfjs-backend-wasm");
  const { createRequire } = await import("node:module");
  const path = await import("node:path");
  const require = createRequire(import.meta.url);
  setWasmPaths(path.dirname(require.resolve("@tensorflow/tfjs-backend-wasm/package.json")) + "/dist/");
  await tf.setBackend("wasm");
  await tf.ready();
}

const rows = [];
for (const [label, op, m, k, n] of jobs) {
  const flops = 2 * m * n * k;
  const contenders = [];
  for (const variant of variants) {
    const ex = builds[variant];
    const mem = ex.memory;
    const base = (Number(ex.heapBase()) + 63) & ~63;
    const bytes = (m * k + k * n + m * n) * 4 + 256;
    const need = Math.ceil((base + bytes) / 65536) - mem.buffer.byteLength / 65536;
    if (need > 0) mem.grow(need);
    const f = new Float32Array(mem.buffer);
    const a = base, b = a + m * k * 4, c = b + k * n * 4;
    for (let i = 0; i < m * k + k * n; i++) f[(a >> 2) + i] = Math.random() - 0.5;
    // leading dimensions of the stored operands: A is m x k (NN, NT) or k x m (TN); B is k x n (NN, TN) or n x k (NT)
    const call = op === "NT" ? () => ex.gemmNT(m, n, k, a, k, b, k, c, n, 0)
      : op === "NN" ? () => ex.gemmNN(m, n, k, a, k, b, n, c, n, 0)
      : () => ex.gemmTN(m, n, k, a, m, b, n, c, n, 0);
    contenders.push({ name: variant, call, ts: [] });
  }
  let ta = null, tb = null;
  if (tf) {
    ta = tf.randomUniform([m, k]); tb = tf.randomUniform([k, n]);
    contenders.push({ name: "tfjs-wasm", call: () => { const r = tf.matMul(ta, tb); r.dataSync(); r.dispose(); }, ts: [] });
  }
  const reps = Math.max(runs, Math.min(200, Math.ceil(2e9 / flops)));
  for (const c of contenders) c.call(); // warm-up
  for (let i = 0; i < reps; i++) {
    for (const c of contenders) { const t0 = performance.now(); c.call(); c.ts.push(performance.now() - t0); }
  }
  const tfMedian = tf ? median(contenders[contenders.length - 1].ts) : null;
  for (const c of contenders) {
    const t = median(c.ts);
    const row = { variant: c.name, op, label, shape: `${m}x${k}x${n}`, ms: +t.toFixed(4), gflops: +(flops / t / 1e6).toFixed(1), best: +(flops / Math.min(...c.ts) / 1e6).toFixed(1), runs: reps };
    if (tfMedian !== null) row.vsTfjs = +(tfMedian / t).toFixed(2);
    rows.push(row);
    const opName = c.name === "tfjs-wasm" ? "matMul" : `gemm${op}`;
    console.log(`${c.name.padEnd(9)} ${opName} ${row.shape.padEnd(15)} median ${t.toFixed(3).padStart(8)} ms ${String(row.gflops).padStart(6)} GFLOP/s (best ${row.best}, ${reps} runs)${row.vsTfjs !== undefined && c.name !== "tfjs-wasm" ? ` ${row.vsTfjs}x tfjs` : ""} ${label}`);
  }
  ta?.dispose(); tb?.dispose();
}
if (args.includes("--json")) console.log(JSON.stringify(rows));
