// Finds the split thresholds of runtime/pool/thresholds.ts: for each kernel family, one call of
// growing size timed on the calling thread alone and split in two tiles over a 2-thread pool
// (the dispatchers of runtime/pool/, split "always"), interleaved, medians. The threshold is
// the work per tile at the smallest size where the split call is faster in at least 2 of 3
// consecutive sizes, i.e. the break-even: below it, calls stay on the calling thread.
//
//   npm run build && node bench/thread-thresholds.mjs [--reps 21] [--only NAME] [--json]
//
// On a shared machine the pool's handoffs wait for the OS to schedule the worker: the load
// average is printed with the results, and thresholds measured under load come out high
// (conservative: the split is then taken only where it pays even on a busy machine).
import v8 from "node:v8";
v8.setFlagsFromString("--experimental-wasm-relaxed-simd");
import os from "node:os";
import { execFileSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const opt = (name, dflt) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : dflt);
const REPS = Number(opt("reps", "21"));
const JSON_OUT = args.includes("--json");
/** --only TEXT: just the families whose name contains TEXT. */
const ONLY = opt("only", "");
const log = (...a) => { if (!JSON_OUT) console.log(...a); };

const { kernelLibraryModule, instantiateKernels, KERNEL_LIBRARY } = await import("../dist/runtime/kernel-library.js");
const { KERNEL_SIGNATURES } = await import("../dist/runtime/generated/kernel-library.js");
const { ThreadPool } = await import("../dist/runtime/pool/pool.js");
const { ParallelContext } = await import("../dist/runtime/pool/parallel.js");
const { DENSE_DISPATCHERS } = await import("../dist/runtime/pool/dense-kernels.js");
const { POLICY_DISPATCHERS } = await import("../dist/methods/policy/parallel.js");
const { TREE_DISPATCHERS } = await import("../dist/methods/tree/parallel.js");
const { threadHost } = await import("../dist/runtime/pool/host.js");
await import("../dist/runtime/node/thread-host.js");
const { relaxedSimdSupported } = await import("../dist/runtime/simd.js");
const { parallelCapacity } = await import("./capacity.mjs");
const capacityBefore = await parallelCapacity();

const simd = relaxedSimdSupported() ? "relaxed" : "plain";
const PAGES = 4096; // 256 MiB
const memory = new WebAssembly.Memory({ initial: PAGES, maximum: PAGES, shared: true });
const library = await kernelLibraryModule(simd, "shared");
const scratch0 = 16 << 20;
const local = (await instantiateKernels(library, memory, scratch0)).exports;
const names = Object.keys(KERNEL_SIGNATURES);
const pool = await ThreadPool.start({
  host: threadHost(), workers: 1, library, memory, scratch: [scratch0 + KERNEL_LIBRARY.scratchBytes], kernels: names,
  local: names.map((n) => local[n]), workerSpin: 20_000, callerSpin: 50_000, minSpin: 4096, startTimeoutMs: 20_000,
});
const ctx = new ParallelContext(pool, local, names, "always", memory, { ...DENSE_DISPATCHERS, ...POLICY_DISPATCHERS, ...TREE_DISPATCHERS });
const split = (name) => ctx.dispatched(name);

// Regions (bytes) well apart in the 256 MiB memory.
const A = 32 << 20, B = 96 << 20, C = 160 << 20, D = 224 << 20;
new Float32Array(memory.buffer, A, 16 << 20).fill(0.5);
new Float32Array(memory.buffer, B, 16 << 20).fill(0.25);

function median(a) { const s = [...a].sort((x, y) => x - y); return s[s.length >> 1]; }
/** ms per call of fn, calibrated to >= 2 ms per sample. */
function timer(fn) {
  for (let i = 0; i < 5; i++) fn();
  const t0 = performance.now(); fn(); const one = Math.max(performance.now() - t0, 1e-4);
  const inner = Math.max(1, Math.min(20000, Math.ceil(2 / one)));
  return () => { const t = performance.now(); for (let i = 0; i < inner; i++) fn(); return (performance.now() - t) / inner; };
}
function compare(one, two) {
  const t1 = timer(one), t2 = timer(two);
  const a = [], b = [];
  for (let r = 0; r < REPS; r++) { if (r & 1) { b.push(t2()); a.push(t1()); } else { a.push(t1()); b.push(t2()); } }
  return { one: median(a), two: median(b) };
}

/** sizes: [work, oneCall, splitCall] from small to large; returns rows and the break-even work per tile. */
function family(name, sizes) {
  if (ONLY && !name.includes(ONLY)) return { name, skipped: true };
  const rows = [];
  for (const [work, one, two] of sizes) {
    const r = compare(one, two);
    rows.push({ work, one_us: +(r.one * 1000).toFixed(2), two_us: +(r.two * 1000).toFixed(2), speedup: +(r.one / r.two).toFixed(2) });
  }
  let breakEven = null;
  for (let i = 0; i < rows.length && breakEven === null; i++) {
    const wins = rows.slice(i, i + 3).filter((x) => x.speedup > 1).length;
    if (rows[i].speedup > 1 && wins >= Math.min(2, rows.length - i)) breakEven = Math.ceil(rows[i].work / 2);
  }
  log(`\n${name}: break-even work per tile ${breakEven ?? "not reached"}`);
  for (const r of rows) log(`  work ${String(r.work).padStart(10)}  1 thread ${String(r.one_us).padStart(9)} us  2 threads ${String(r.two_us).padStart(9)} us  x${r.speedup}`);
  return { name, breakEven, rows };
}

const geometric = (from, to, steps) => Array.from({ length: steps }, (_, i) => Math.round(from * (to / from) ** (i / (steps - 1))));
const results = [];

// GEMM, packed path (m = 32 rows, k = 256), growing n; and the small-m path (m = 1, k = 784).
results.push(family("gemm (packed: m 32, k 256)", geometric(16, 2048, 9).map((n) => {
  n = Math.max(32, Math.round(n / 16) * 16);
  return [32 * 256 * n, () => local.gemmNT(32, n, 256, A, 256, B, 256, C, n, 0), () => split("gemmNT")(32, n, 256, A, 256, B, 256, C, n, 0)];
})));
results.push(family("gemm (small m: m 1, k 128)", geometric(32, 8192, 9).map((n) => {
  n = Math.max(32, Math.round(n / 16) * 16);
  return [128 * n, () => local.gemmNT(1, n, 128, A, 128, B, 128, C, n, 0), () => split("gemmNT")(1, n, 128, A, 128, B, 128, C, n, 0)];
})));
results.push(family("gemm (small m: m 8, k 128)", geometric(32, 8192, 9).map((n) => {
  n = Math.max(32, Math.round(n / 16) * 16);
  return [8 * 128 * n, () => local.gemmNT(8, n, 128, A, 128, B, 128, C, n, 0), () => split("gemmNT")(8, n, 128, A, 128, B, 128, C, n, 0)];
})));
results.push(family("element-wise (reluForward)", geometric(1024, 1 << 20, 11).map((n) => [n, () => local.reluForward(A, C, n), () => split("reluForward")(A, C, n)])));
results.push(family("element-wise (tanhForward)", geometric(64, 1 << 16, 11).map((n) => [n, () => local.tanhForward(A, C, n), () => split("tanhForward")(A, C, n)])));
results.push(family("optimizer (sgdStep)", geometric(1024, 1 << 20, 11).map((n) => [n, () => local.sgdStep(C, A, D, n, 0.001, 0.9, 0), () => split("sgdStep")(C, A, D, n, 0.001, 0.9, 0)])));
results.push(family("zero (zeroBytes)", geometric(4096, 1 << 24, 11).map((n) => [n, () => local.zeroBytes(C, n), () => split("zeroBytes")(C, n)])));
// policySample over n examples of 16 blocks (Philox per 4 elements): work in elements.
results.push(family("policy sampling (policySample, 16 blocks)", geometric(2, 4096, 12).map((n) => [n * 16,
  () => local.policySample(A, C, D, D + (8 << 20), n, 16, 0, -1, 0, 7, 3, 0),
  () => split("policySample")(A, C, D, D + (8 << 20), n, 16, 0, -1, 0, 7, 3, 0)])));

// The low-rank layer's active lists (compact: compare, bitmask, store per unit) by rows of
// 1000 units; zhat alternates around the threshold so about half the units are active.
{
  const units = 1000;
  const zhat = new Float32Array(memory.buffer, A, 256 * units);
  for (let i = 0; i < zhat.length; i++) zhat[i] = (i * 2654435761) % 7 < 3 ? 1 : -1;
  const compactOp = ctx.op("lowrankCompactRows");
  const compactSplit = (n) => {
    const tiles = 2;
    const len = Math.ceil(n / tiles);
    for (let t = 0; t < tiles; t++) ctx.run(t, compactOp, A, units, 0, C, D, t * len, Math.min(n, (t + 1) * len));
    ctx.join();
  };
  results.push(family("low-rank active lists (lowrankCompactRows, 1000 units)", [2, 4, 8, 16, 32, 64, 128].map((n) => [n * units,
    () => local.lowrankCompactRows(A, units, 0, C, D, 0, n), () => compactSplit(n)])));
}

// Cold calls: the same small-m GEMM after 2 ms of idling, so the worker sleeps in Atomics.wait
// when the call comes (a model called now and then); timed one call at a time.
{
  const pause = new Int32Array(new SharedArrayBuffer(4));
  const cold = (fn) => { Atomics.wait(pause, 0, 0, 2); const t0 = performance.now(); fn(); return performance.now() - t0; };
  const coldFamily = (name, sizes) => {
    if (ONLY && !name.includes(ONLY)) return { name, skipped: true };
    const rows = [];
    for (const [work, one, two] of sizes) {
      for (let i = 0; i < 5; i++) { one(); two(); }
      const a = [], b = [];
      for (let r = 0; r < 4 * REPS; r++) { a.push(cold(one)); b.push(cold(two)); }
      rows.push({ work, one_us: +(median(a) * 1000).toFixed(2), two_us: +(median(b) * 1000).toFixed(2), speedup: +(median(a) / median(b)).toFixed(2) });
    }
    let breakEven = null;
    for (let i = 0; i < rows.length && breakEven === null; i++) if (rows[i].speedup > 1 && rows.slice(i, i + 3).filter((x) => x.speedup > 1).length >= Math.min(2, rows.length - i)) breakEven = Math.ceil(rows[i].work / 2);
    log(`\n${name}: break-even work per tile ${breakEven ?? "not reached"}`);
    for (const r of rows) log(`  work ${String(r.work).padStart(10)}  1 thread ${String(r.one_us).padStart(9)} us  2 threads ${String(r.two_us).padStart(9)} us  x${r.speedup}`);
    return { name, breakEven, rows };
  };
  results.push(coldFamily("cold gemm (small m: m 1, k 128), worker asleep", geometric(1024, 131072, 8).map((n) => {
    n = Math.max(32, Math.round(n / 16) * 16);
    return [128 * n, () => local.gemmNT(1, n, 128, A, 128, B, 128, C, n, 0), () => split("gemmNT")(1, n, 128, A, 128, B, 128, C, n, 0)];
  })));
}

const load = os.loadavg().map((x) => +x.toFixed(2));
const commit = (() => { try { return execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: root, encoding: "utf8" }).trim(); } catch { return "?"; } })();
const capacityAfter = await parallelCapacity();
log(`\nload average ${load.join(" ")}, parallel capacity ${capacityBefore.toFixed(2)}x before, ${capacityAfter.toFixed(2)}x after (2.0 = two free cores), ${os.cpus().length} cores (${os.cpus()[0]?.model}), ${simd} SIMD, commit ${commit}`);
if (JSON_OUT) console.log(JSON.stringify({ load, capacity: [capacityBefore, capacityAfter], cores: os.cpus().length, simd, commit, results }, null, 2));
pool.dispose();
