#!/usr/bin/env node
// How fast a model compiles (issue 10): per example, compile() in a warm process (median of 30),
// the first compile() plus loadModel in a fresh process (which instantiates the kernel library),
// `condc check` and `condc build` wall time (medians of fresh processes), and the shipped sizes:
// the kernel library per SIMD flavour and each example's model module. Prints a markdown table
// and, with --json, one JSON object. Usage: npm run bench:compile [-- --runs N] [--json]
import v8 from "node:v8";
v8.setFlagsFromString("--experimental-wasm-relaxed-simd");
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir, cpus, loadavg } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

const root = new URL("..", import.meta.url).pathname;
const args = process.argv.slice(2);
const runs = Number(args[args.indexOf("--runs") + 1] ?? 0) || 7;
const json = args.includes("--json");
const { compile } = await import("../dist/compiler/index.js");
const { KERNEL_LIBRARY } = await import("../dist/runtime/generated/kernel-library.js");

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const examples = readdirSync(join(root, "examples")).filter((f) => f.endsWith(".cond")).sort();
const FIRST_CALL = `
import v8 from "node:v8"; v8.setFlagsFromString("--experimental-wasm-relaxed-simd");
import { readFileSync } from "node:fs";
const t0 = performance.now();
const { compile } = await import(${JSON.stringify(join(root, "dist/compiler.bundle.mjs"))});
const { loadModel, pickWasm } = await import(${JSON.stringify(join(root, "dist/runtime/index.js"))});
const t1 = performance.now();
const r = await compile(readFileSync(process.argv[1], "utf8"), { file: process.argv[1] });
const t2 = performance.now();
await loadModel(pickWasm(r.wasm, r.relaxedWasm).wasm, r.manifest);
const t3 = performance.now();
console.log(JSON.stringify({ imports: t1 - t0, compile: t2 - t1, load: t3 - t2 }));`;

const rows = [];
const tmp = mkdtempSync(join(tmpdir(), "condc-bench-compile-"));
try {
  for (const file of examples) {
    const path = join(root, "examples", file);
    const text = readFileSync(path, "utf8");
    const warm = [];
    let result;
    for (let i = 0; i < 3; i++) result = await compile(text, { file });
    for (let i = 0; i < 30; i++) {
      const t0 = performance.now();
      result = await compile(text, { file });
      warm.push(performance.now() - t0);
    }
    const first = [], check = [], build = [];
    for (let i = 0; i < runs; i++) {
      first.push(JSON.parse(execFileSync(process.execPath, ["--input-type=module", "-e", FIRST_CALL, path], { encoding: "utf8" })));
      let t0 = performance.now();
      const c = spawnSync(process.execPath, [join(root, "bin/condc.js"), "check", path]);
      check.push(performance.now() - t0);
      if (c.status !== 0) throw new Error(`condc check ${file}: ${c.stderr}`);
      t0 = performance.now();
      const b = spawnSync(process.execPath, [join(root, "bin/condc.js"), "build", path, "-o", tmp]);
      build.push(performance.now() - t0);
      if (b.status !== 0) throw new Error(`condc build ${file}: ${b.stderr}`);
    }
    rows.push({
      example: file,
      compile_warm_ms: median(warm),
      first_call_ms: median(first.map((f) => f.imports + f.compile + f.load)),
      first_call_imports_ms: median(first.map((f) => f.imports)),
      first_call_compile_ms: median(first.map((f) => f.compile)),
      first_call_load_ms: median(first.map((f) => f.load)),
      check_wall_ms: median(check),
      build_wall_ms: median(build),
      module_bytes: result.wasm.byteLength,
      module_gzip_bytes: gzipSync(result.wasm).byteLength,
    });
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
const commit = (() => { try { return execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: root, encoding: "utf8" }).trim(); } catch { return "unknown"; } })();
const machine = `${cpus().length} x ${cpus()[0]?.model ?? "cpu"}, load ${loadavg()[0].toFixed(1)}, node ${process.version}, commit ${commit}`;
const kernels = { plain_bytes: KERNEL_LIBRARY.plainBytes, relaxed_bytes: KERNEL_LIBRARY.relaxedBytes, id: KERNEL_LIBRARY.id };
if (json) {
  console.log(JSON.stringify({ machine, runs, kernels, rows }));
} else {
  console.log(`machine: ${machine}; medians (warm: 30 calls; fresh processes: ${runs} runs)`);
  console.log(`kernel library ${kernels.id}: plain ${kernels.plain_bytes} B, relaxed ${kernels.relaxed_bytes} B (shipped once, shared by every model)\n`);
  console.log("| example | compile() warm, ms | first call in a process (imports + compile + load), ms | condc check, wall ms | condc build, wall ms | module bytes (gzip) |");
  console.log("|---|---|---|---|---|---|");
  for (const r of rows) {
    console.log(`| ${r.example} | ${r.compile_warm_ms.toFixed(2)} | ${r.first_call_ms.toFixed(0)} (${r.first_call_imports_ms.toFixed(0)} + ${r.first_call_compile_ms.toFixed(0)} + ${r.first_call_load_ms.toFixed(0)}) | ${r.check_wall_ms.toFixed(0)} | ${r.build_wall_ms.toFixed(0)} | ${r.module_bytes} (${r.module_gzip_bytes}) |`);
  }
}
