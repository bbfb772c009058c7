// Runs the AssemblyScript compiler in memory (no temp files) on generated sources plus the
// kernel library in runtime/kernels/, which every entry can import as "./kernels/<family>".
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import asc from "assemblyscript/asc";

export interface AscOptions {
  /** Emit the relaxed-SIMD build (FMA); the plain build contains no relaxed op. */
  relaxedSimd: boolean;
  /** Binaryen optimize level, default 3. */
  optimizeLevel?: number;
  /** Where static data (`memory.data`, strings) starts; everything below is free for a fixed plan. */
  memoryBase?: number;
  /** Initial memory in 64 KiB pages. */
  initialPages?: number;
  /** Maximum memory in 64 KiB pages. */
  maximumPages?: number;
  /** Also return the text format (.wat). */
  emitText?: boolean;
  /** Further asc command-line arguments, appended last. */
  extraArgs?: string[];
}

export interface AscResult {
  wasm: Uint8Array;
  text?: string;
  stderr: string;
  ok: boolean;
}

/** The directory prefix under which kernel sources are visible to the compiled entry. */
export const KERNEL_IMPORT_DIR = "kernels";

let kernelSources: Record<string, string> | undefined;

function findPackageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, "package.json")) && existsSync(join(dir, "runtime", "kernels"))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error("condc: cannot locate package root (runtime/kernels) from " + import.meta.url);
    dir = parent;
  }
}

/** Kernel library sources keyed by file name ("gemm.ts"), read once from runtime/kernels/. */
export function loadKernelSources(): Record<string, string> {
  if (kernelSources) return kernelSources;
  const dir = join(findPackageRoot(), "runtime", "kernels");
  const out: Record<string, string> = {};
  for (const name of readdirSync(dir)) {
    if (name.endsWith(".ts")) out[name] = readFileSync(join(dir, name), "utf8");
  }
  // Constants shared with the TypeScript side, imported by kernels as "../kernel-codes".
  out["../kernel-codes.ts"] = readFileSync(join(findPackageRoot(), "runtime", "kernel-codes.ts"), "utf8");
  kernelSources = out;
  return out;
}

function normalize(path: string): string {
  const parts: string[] = [];
  for (const p of path.replace(/\\/g, "/").split("/")) {
    if (p === "" || p === ".") continue;
    if (p === "..") parts.pop();
    else parts.push(p);
  }
  return parts.join("/");
}

/**
 * Compiles `files[entry]` (plus the other `files` and the kernel library) to wasm.
 * Paths in `files` are relative to a virtual root; kernels live at `kernels/<family>.ts`
 * there, so an entry at the root imports `./kernels/gemm`. Files given in `files` win
 * over kernel files of the same path (tests use this to inject variants).
 */
export async function compileAssemblyScript(
  files: Record<string, string>,
  entry: string,
  options: AscOptions,
): Promise<AscResult> {
  const kernels = loadKernelSources();
  const sources = new Map<string, string>();
  for (const [name, text] of Object.entries(kernels)) sources.set(normalize(`${KERNEL_IMPORT_DIR}/${name}`), text);
  for (const [name, text] of Object.entries(files)) sources.set(normalize(name), text);

  const args = [
    normalize(entry),
    "--outFile", "out.wasm",
    "--optimizeLevel", String(options.optimizeLevel ?? 3),
    "--shrinkLevel", "0",
    "--runtime", "stub",
    "--noAssert",
    "--enable", "simd",
  ];
  if ((options.optimizeLevel ?? 3) > 0) args.push("--optimize");
  if (options.relaxedSimd) args.push("--enable", "relaxed-simd");
  if (options.memoryBase !== undefined) args.push("--memoryBase", String(options.memoryBase));
  if (options.initialPages !== undefined) args.push("--initialMemory", String(options.initialPages));
  if (options.maximumPages !== undefined) args.push("--maximumMemory", String(options.maximumPages));
  if (options.emitText) args.push("--textFile", "out.wat");
  if (options.extraArgs) args.push(...options.extraArgs);

  let wasm: Uint8Array | undefined;
  let text: string | undefined;
  let stderr = "";
  const errStream = asc.createMemoryStream((chunk) => {
    stderr += typeof chunk === "string" ? chunk : new TextDecoder().decode(chunk);
  });
  const outStream = asc.createMemoryStream();
  const result = await asc.main(args, {
    stdout: outStream,
    stderr: errStream,
    readFile: (name) => sources.get(normalize(name)) ?? null,
    writeFile: (name, contents) => {
      if (name.endsWith(".wasm")) wasm = typeof contents === "string" ? new TextEncoder().encode(contents) : contents;
      else if (name.endsWith(".wat")) text = typeof contents === "string" ? contents : new TextDecoder().decode(contents);
    },
    listFiles: () => [],
  });
  if (result.error && !stderr.includes(result.error.message)) stderr += `${result.error.message}\n`;
  const ok = !result.error && wasm !== undefined;
  return { wasm: wasm ?? new Uint8Array(0), text, stderr, ok };
}
