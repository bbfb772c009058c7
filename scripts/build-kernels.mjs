#!/usr/bin/env node
// Builds the kernel library once per SIMD flavour (plain, relaxed) from runtime/kernels/ with the
// AssemblyScript compiler, in memory, and writes runtime/generated/: the two modules as base64
// (so that the runtime loads them with a plain dynamic import, in Node and in every bundler) and
// the library's facts the compiler needs (export signatures, static data end, scratch size, id).
// Run by `npm run build` / `prepare` before tsc; the files are build outputs (git-ignored).
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import asc from "assemblyscript/asc";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const kernelDir = join(root, "runtime", "kernels");
const outDir = join(root, "runtime", "generated");
/** Static data starts here; [0, 1024) stays unused so that a null pointer never aliases data. */
const MEMORY_BASE = 1024;

const sources = new Map();
for (const name of readdirSync(kernelDir).sort()) {
  if (name.endsWith(".ts")) sources.set(`kernels/${name}`, readFileSync(join(kernelDir, name), "utf8"));
}
// Constants shared with the TypeScript side (runtime/kernel-codes.ts), imported as "../kernel-codes".
sources.set("kernel-codes.ts", readFileSync(join(root, "runtime", "kernel-codes.ts"), "utf8"));
const sourceHash = createHash("sha256");
for (const [name, text] of sources) sourceHash.update(name).update("\0").update(text).update("\0");

async function build(relaxed) {
  const args = [
    "kernels/library.ts", "--outFile", "out.wasm",
    "--optimizeLevel", "3", "--shrinkLevel", "0", "--optimize",
    "--runtime", "stub", "--noAssert",
    "--enable", "simd", ...(relaxed ? ["--enable", "relaxed-simd"] : []),
    "--importMemory", "--memoryBase", String(MEMORY_BASE),
  ];
  let wasm;
  let stderr = "";
  const result = await asc.main(args, {
    stdout: asc.createMemoryStream(),
    stderr: asc.createMemoryStream((chunk) => { stderr += typeof chunk === "string" ? chunk : new TextDecoder().decode(chunk); }),
    readFile: (name) => sources.get(name.replace(/^\.\//, "")) ?? null,
    writeFile: (name, contents) => { if (name.endsWith(".wasm")) wasm = contents; },
    listFiles: () => [],
  });
  if (result.error || !wasm) {
    process.stderr.write(`build-kernels: asc failed (${relaxed ? "relaxed" : "plain"}):\n${stderr}${result.error?.message ?? ""}\n`);
    process.exit(1);
  }
  return wasm;
}

/** Exported functions with their wasm types, read from the binary. */
function exportSignatures(bytes) {
  let pos = 8;
  const u8 = () => bytes[pos++];
  const leb = () => { let r = 0, s = 0, b; do { b = u8(); r |= (b & 0x7f) << s; s += 7; } while (b & 0x80); return r >>> 0; };
  const name = () => { const n = leb(); const t = new TextDecoder().decode(bytes.subarray(pos, pos + n)); pos += n; return t; };
  const VAL = { 0x7f: "i32", 0x7e: "i64", 0x7d: "f32", 0x7c: "f64", 0x7b: "v128" };
  const types = [], funcTypes = [], exports = [];
  let importedFuncs = 0;
  while (pos < bytes.length) {
    const id = u8(); const size = leb(); const end = pos + size;
    if (id === 1) {
      for (let i = 0, n = leb(); i < n; i++) {
        u8(); // 0x60
        const params = Array.from({ length: leb() }, () => VAL[u8()]);
        const results = Array.from({ length: leb() }, () => VAL[u8()]);
        types.push({ params, results });
      }
    } else if (id === 2) {
      for (let i = 0, n = leb(); i < n; i++) {
        name(); name(); const kind = u8();
        if (kind === 0) { funcTypes.push(leb()); importedFuncs++; }
        else if (kind === 2) { const flags = u8(); leb(); if (flags & 1) leb(); }
        else if (kind === 3) { u8(); u8(); }
        else if (kind === 1) { u8(); const flags = u8(); leb(); if (flags & 1) leb(); }
      }
    } else if (id === 3) {
      for (let i = 0, n = leb(); i < n; i++) funcTypes.push(leb());
    } else if (id === 7) {
      for (let i = 0, n = leb(); i < n; i++) { const nm = name(); const kind = u8(); const index = leb(); if (kind === 0) exports.push([nm, index]); }
    }
    pos = end;
  }
  const out = {};
  for (const [nm, index] of exports.sort((a, b) => a[0].localeCompare(b[0]))) {
    const t = types[funcTypes[index]];
    if (t.params.includes("v128") || t.results.includes("v128")) continue;
    out[nm] = t;
  }
  return out;
}

const plain = await build(false);
const relaxed = await build(true);
const signatures = exportSignatures(plain);
const relaxedSignatures = exportSignatures(relaxed);
if (JSON.stringify(signatures) !== JSON.stringify(relaxedSignatures)) {
  process.stderr.write("build-kernels: the plain and relaxed builds export different functions\n");
  process.exit(1);
}
const memory = new WebAssembly.Memory({ initial: 64 });
const probe = await WebAssembly.instantiate(plain, { env: { memory, abort() { throw new Error("abort"); } } });
const staticDataEnd = Number(probe.instance.exports.staticDataEnd());
const scratchBytes = Number(probe.instance.exports.scratchBytes());
const id = createHash("sha256").update(plain).update(relaxed).digest("hex").slice(0, 16);

const banner = "// Generated by scripts/build-kernels.mjs from runtime/kernels/: do not edit.\n";
const writeAtomic = (file, text) => {
  const path = join(outDir, file);
  writeFileSync(path + ".tmp", text);
  renameSync(path + ".tmp", path);
};
mkdirSync(outDir, { recursive: true });
writeAtomic("kernels-plain.ts", `${banner}/** The plain-SIMD kernel library (${plain.length} bytes), base64. */\nexport const KERNELS_PLAIN_BASE64 = "${Buffer.from(plain).toString("base64")}";\n`);
writeAtomic("kernels-relaxed.ts", `${banner}/** The relaxed-SIMD (FMA) kernel library (${relaxed.length} bytes), base64. */\nexport const KERNELS_RELAXED_BASE64 = "${Buffer.from(relaxed).toString("base64")}";\n`);
writeAtomic("kernel-library.ts", `${banner}/** Facts of the kernel library a model module links against. */
export const KERNEL_LIBRARY = {
  /** sha256 (16 hex) of both builds: a manifest names the library its module was built for. */
  id: "${id}",
  /** sha256 of runtime/kernels/*.ts when this was generated (a test tells stale builds apart). */
  sourceHash: "${sourceHash.digest("hex")}",
  /** First byte above the library's static data. */
  staticDataEnd: ${staticDataEnd},
  /** Bytes of per-instance scratch (packing buffers) each thread needs. */
  scratchBytes: ${scratchBytes},
  plainBytes: ${plain.length},
  relaxedBytes: ${relaxed.length},
} as const;

export type KernelValueType = "i32" | "i64" | "f32" | "f64";

/** Every exported kernel with its wasm parameter and result types. */
export const KERNEL_SIGNATURES = ${JSON.stringify(signatures, null, 2).replace(/\n\s+"(i32|i64|f32|f64)"/g, ' "$1"').replace(/\n\s+\]/g, " ]")} as const satisfies Record<string, { params: readonly KernelValueType[]; results: readonly KernelValueType[] }>;

export type KernelName = keyof typeof KERNEL_SIGNATURES;
`);
console.log(`kernel library ${id}: plain ${plain.length} B, relaxed ${relaxed.length} B, ${Object.keys(signatures).length} kernels, static data end ${staticDataEnd}, scratch ${scratchBytes} B`);
