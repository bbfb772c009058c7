// @fileoverview `npm run size`: the min+gzip size of condc/runtime (and condc/worker) as a browser
// bundle (without the kernel library, the threads and the WebGPU back end, separate chunks loaded
// on demand), the kernel library per SIMD flavour, the threads, the WebGPU back end, and each
// example's model module; written into the README.
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import v8 from "node:v8";
import { build } from "esbuild";

v8.setFlagsFromString("--experimental-wasm-relaxed-simd");
const { compile } = await import("../dist/compiler/index.js");

const RUNTIME_GOAL = 30 * 1024;
const WASM_GOAL = 64 * 1024;
const gz = (bytes) => gzipSync(bytes, { level: 9 }).length;
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;

/**
 * The WebGPU back end: runtime/webgpu/ and the methods' GPU programs, reached only through
 * dynamic imports (loadModel's backend option), so a code-splitting bundler makes them a chunk
 * of their own that a wasm-only app never loads.
 */
const GPU_CHUNK = /(^|\/)webgpu\/(model|device|errors)\.js$|\/webgpu\.js$/;
/**
 * The threads: the pool and every kernel's dispatchers (runtime/pool/start.ts, the methods'
 * parallel.ts), imported by loadModel only for a model on several threads.
 */
const THREADS_CHUNK = /(^|\/)pool\/start\.js$|\/parallel\.js$/;
const ON_DEMAND = new RegExp(`${GPU_CHUNK.source}|${THREADS_CHUNK.source}`);

/** Minified browser bundle of `contents` (an entry importing from dist/): bytes, gzip bytes. */
async function bundle(contents, apart = true) {
  const result = await build({
    stdin: { contents, resolveDir: process.cwd(), loader: "js" },
    bundle: true,
    minify: true,
    format: "esm",
    platform: "browser",
    write: false,
    logLevel: "silent",
    // The kernel library is loaded by dynamic import, a chunk of its own: measured apart.
    plugins: [
      { name: "kernels-apart", setup: (b) => b.onResolve({ filter: /generated\/kernels-(plain|relaxed)\.js$/ }, (a) => ({ path: a.path, external: true })) },
      ...(apart ? [{ name: "on-demand-apart", setup: (b) => b.onResolve({ filter: ON_DEMAND }, (a) => (a.kind === "dynamic-import" ? { path: a.path, external: true } : undefined)) }] : []),
    ],
  });
  const bytes = result.outputFiles[0].contents;
  return { min: bytes.length, gzip: gz(bytes) };
}

const bundles = [
  ["`condc/runtime`, everything it exports", 'export * from "./dist/runtime/index.js";'],
  ["`condc/runtime`, an app using `loadModel` + `predict` only", 'import { loadModel, pickWasm } from "./dist/runtime/index.js"; export { loadModel, pickWasm };'],
  ["`condc/worker` (the page's side)", 'export * from "./dist/runtime/worker/browser.js";'],
  ["`condc/worker-script` (the worker)", 'import "./dist/runtime/worker/worker-browser.js";'],
];
/** Every method's GPU program in the build (dist/methods/<name>/webgpu.js). */
function gpuPrograms() {
  return readdirSync("dist/methods").map((name) => `dist/methods/${name}/webgpu.js`).filter((path) => existsSync(path));
}

/** Every method's thread dispatchers in the build (dist/methods/<name>/parallel.js). */
function threadDispatchers() {
  return readdirSync("dist/methods").map((name) => `dist/methods/${name}/parallel.js`).filter((path) => existsSync(path));
}

const rows = [];
for (const [what, entry] of bundles) rows.push({ what, ...(await bundle(entry)) });
rows.push({
  what: "the threads (a model on several threads: the pool and every kernel's dispatchers), loaded on demand",
  ...(await bundle('export * from "./dist/runtime/pool/start.js"; ' + threadDispatchers().map((path) => `export * from "./${path}";`).join(" "), false)),
});
rows.push({
  what: "the WebGPU back end (`backend: \"webgpu\"` / `\"auto\"`: runtime/webgpu and every method's GPU program), loaded on demand",
  ...(await bundle('export * from "./dist/runtime/webgpu/index.js"; ' + gpuPrograms().map((path) => `export * from "./${path}";`).join(" "), false)),
});

const wasmRows = [];
for (const file of readdirSync("examples").filter((f) => f.endsWith(".cond")).sort()) {
  const result = await compile(readFileSync(`examples/${file}`, "utf8"), { file: `examples/${file}`, simd: "both" });
  if (!result.ok) throw new Error(`examples/${file} does not compile`);
  wasmRows.push({ file, plain: result.wasm.length, plainGzip: gz(result.wasm), relaxed: result.relaxedWasm.length, relaxedGzip: gz(result.relaxedWasm) });
}

const { KERNEL_LIBRARY } = await import("../dist/runtime/generated/kernel-library.js");
const { kernelLibraryBytes } = await import("../dist/runtime/kernel-library.js");
const kernels = [];
for (const simd of ["plain", "relaxed"]) {
  const bytes = await kernelLibraryBytes(simd);
  const chunk = readFileSync(`dist/runtime/generated/kernels-${simd}.js`);
  kernels.push({ simd, raw: bytes.length, gzip: gz(bytes), chunkGzip: gz(chunk) });
}
const runtime = rows[0];
const largestWasm = Math.max(...wasmRows.map((r) => r.plainGzip));
const table = [
  "<!-- size:start (written by `npm run size`; do not edit by hand) -->",
  `Measured by \`npm run size\` (esbuild ${(await import("esbuild")).version} \`--bundle --minify --format=esm --platform=browser\`, gzip -9; wasm as \`compile()\` emits it, max batch 128):`,
  "",
  "| bundle | minified | min+gzip |",
  "|---|---|---|",
  ...rows.map((r) => `| ${r.what} | ${kb(r.min)} | ${kb(r.gzip)} |`),
  "",
  `| kernel library (${KERNEL_LIBRARY.id}), shipped once, loaded on first use | wasm | wasm gzip | its JS chunk (base64) gzip |`,
  "|---|---|---|---|",
  ...kernels.map((k) => `| ${k.simd} SIMD | ${kb(k.raw)} | ${kb(k.gzip)} | ${kb(k.chunkGzip)} |`),
  "",
  "| example | `.wasm` (plain SIMD) | gzip | `.relaxed.wasm` | gzip |",
  "|---|---|---|---|---|",
  ...wasmRows.map((r) => `| \`examples/${r.file}\` | ${kb(r.plain)} | ${kb(r.plainGzip)} | ${kb(r.relaxed)} | ${kb(r.relaxedGzip)} |`),
  "",
  `Goals: runtime <= 30 KB min+gzip (${runtime.gzip <= RUNTIME_GOAL ? "met" : "not met"}: ${kb(runtime.gzip)} for everything it exports), a model's wasm <= 64 KB (${largestWasm <= WASM_GOAL ? "met" : "not met"}: at most ${kb(largestWasm)} gzip; raw at most ${kb(Math.max(...wasmRows.map((r) => r.plain)))}). Model modules import the kernel library, which ships once with the runtime.`,
  "<!-- size:end -->",
].join("\n");

const readme = readFileSync("README.md", "utf8");
const pattern = /<!-- size:start[^]*?<!-- size:end -->/;
if (!pattern.test(readme)) throw new Error("README.md has no <!-- size:start --> ... <!-- size:end --> section");
writeFileSync("README.md", readme.replace(pattern, table));
console.log(table);
