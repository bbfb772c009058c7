// Runs the AssemblyScript compiler in memory (no temp files) on entry sources plus the kernel
// library in runtime/kernels/, which every entry imports as "./kernels/<family>" (the constants
// shared with TypeScript are runtime/kernels/codes/*.ts). Used to build the kernel library
// (build-kernels.mjs), by the kernel tests and by the kernel benchmarks; compiling a model never
// runs it.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import asc from "assemblyscript/asc";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
let kernelSources;

/** Kernel library sources keyed by virtual path ("kernels/gemm.ts", "kernels/codes/tree.ts"), read once. */
export function loadKernelSources() {
  if (kernelSources) return kernelSources;
  const out = {};
  const walk = (dir, prefix) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path, `${prefix}${name}/`);
      else if (name.endsWith(".ts")) out[`${prefix}${name}`] = readFileSync(path, "utf8");
    }
  };
  walk(join(root, "runtime", "kernels"), "kernels/");
  kernelSources = out;
  return out;
}

/** Files of inline helpers that kernels import; the library does not export them. */
const HELPER_FILES = new Set(["helpers", "mathf4"]);

/** The families of the library: every kernels/*.ts but the helper files (codes/ holds constants). */
export function kernelFamilies() {
  return Object.keys(loadKernelSources())
    .filter((path) => /^kernels\/[^/]+\.ts$/.test(path))
    .map((path) => path.slice("kernels/".length, -".ts".length))
    .filter((family) => !HELPER_FILES.has(family));
}

function normalize(path) {
  const parts = [];
  for (const p of path.replace(/\\/g, "/").split("/")) {
    if (p === "" || p === ".") continue;
    if (p === "..") parts.pop();
    else parts.push(p);
  }
  return parts.join("/");
}

/**
 * Compiles `files[entry]` (plus the other `files` and the kernel library) to wasm. Paths in
 * `files` are relative to a virtual root where the kernels are `kernels/<family>.ts`; files
 * given win over kernel files of the same path (tests inject variants that way).
 * options: { relaxedSimd, optimizeLevel = 3, memoryBase, initialPages, maximumPages, importMemory, emitText, extraArgs }
 * Resolves to { wasm, text, stderr, ok }.
 */
export async function compileAssemblyScript(files, entry, options) {
  const sources = new Map(Object.entries(loadKernelSources()));
  for (const [name, text] of Object.entries(files)) sources.set(normalize(name), text);
  const optimizeLevel = options.optimizeLevel ?? 3;
  const args = [normalize(entry), "--outFile", "out.wasm", "--optimizeLevel", String(optimizeLevel), "--shrinkLevel", "0", "--runtime", "stub", "--noAssert", "--enable", "simd"];
  if (optimizeLevel > 0) args.push("--optimize");
  if (options.relaxedSimd) args.push("--enable", "relaxed-simd");
  if (options.importMemory) args.push("--importMemory");
  if (options.memoryBase !== undefined) args.push("--memoryBase", String(options.memoryBase));
  if (options.initialPages !== undefined) args.push("--initialMemory", String(options.initialPages));
  if (options.maximumPages !== undefined) args.push("--maximumMemory", String(options.maximumPages));
  if (options.emitText) args.push("--textFile", "out.wat");
  if (options.extraArgs) args.push(...options.extraArgs);
  let wasm;
  let text;
  let stderr = "";
  const result = await asc.main(args, {
    stdout: asc.createMemoryStream(),
    stderr: asc.createMemoryStream((chunk) => { stderr += typeof chunk === "string" ? chunk : new TextDecoder().decode(chunk); }),
    readFile: (name) => sources.get(normalize(name)) ?? null,
    writeFile: (name, contents) => {
      if (name.endsWith(".wasm")) wasm = typeof contents === "string" ? new TextEncoder().encode(contents) : contents;
      else if (name.endsWith(".wat")) text = typeof contents === "string" ? contents : new TextDecoder().decode(contents);
    },
    listFiles: () => [],
  });
  if (result.error && !stderr.includes(result.error.message)) stderr += `${result.error.message}\n`;
  return { wasm: wasm ?? new Uint8Array(0), text, stderr, ok: !result.error && wasm !== undefined };
}
