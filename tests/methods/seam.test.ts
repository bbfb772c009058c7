/**
 * @fileoverview The seam's promises (issue 9): outside its own folder, its kernel files, tests,
 * docs and examples, a method's name appears (in code, comments aside) only in the two
 * registries; generated names are injective (layers `h1` and `H1`, `h1` and `h1__x`, a gated
 * `h1` and a layer `h1_policy` compile and train side by side); every method's diagnostic codes
 * are unique.
 */
import v8 from "node:v8";
v8.setFlagsFromString("--experimental-wasm-relaxed-simd");
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compile } from "../../compiler/compile.js";
import { allMessages } from "../../compiler/frontend/diagnostic-messages.js";
import { METHODS } from "../../methods/registry.js";
import { loadModel } from "../../runtime/model.js";

const ROOT = join(import.meta.dirname, "..", "..");
const SOURCE_DIRS = ["compiler", "runtime", "cli", "grammar", "methods", "scripts", "bin", "playground"];

function files(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(ROOT, dir))) {
    const path = join(dir, name);
    if (statSync(join(ROOT, path)).isDirectory()) {
      if (path !== join("runtime", "generated")) out.push(...files(path));
    } else if (/\.(ts|mjs|js)$/.test(name)) out.push(path);
  }
  return out;
}

/**
 * Names from outside condc that contain a method's name as a word: the HTTP headers a page needs
 * for threads (runtime/pool/browser-host.ts names them in its message).
 */
const FOREIGN_NAMES = /Cross-Origin-(?:Opener|Embedder)-Policy/g;

/** The words of the code with comments removed: identifiers split at camelCase and snake_case. */
function codeWords(text: string): Set<string> {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, " ").replace(/(^|[^:"'`])\/\/.*$/gm, "$1").replace(FOREIGN_NAMES, " ");
  const words = new Set<string>();
  for (const token of code.match(/[A-Za-z_][A-Za-z0-9_]*/g) ?? []) {
    for (const part of token.replace(/([a-z0-9])([A-Z])/g, "$1_$2").split("_")) if (part) words.add(part.toLowerCase());
  }
  return words;
}

describe("a method's name stays in its own unit", () => {
  const all = SOURCE_DIRS.flatMap(files);
  for (const method of METHODS.map((m) => m.key).filter((k) => k !== "dense")) {
    it(`'${method}' appears outside its folder and kernels only in the registries`, () => {
      const own = (path: string) => path.startsWith(join("methods", method) + "/") || path.startsWith(join("runtime", "kernels") + "/");
      const naming = all.filter((path) => !own(path) && codeWords(readFileSync(join(ROOT, path), "utf8")).has(method));
      expect(naming.sort()).toEqual([join("methods", "registry.ts"), join("methods", "runtime-registry.ts")]);
    });
  }
});

describe("diagnostic codes", () => {
  it("are unique across the generic table and every method", () => {
    const codes = allMessages(METHODS).map((m) => m.code);
    expect(new Set(codes).size).toBe(codes.length);
  });
});

describe("generated names are injective", () => {
  it("layers whose names differ only in case or by a method's suffix compile and train side by side", async () => {
    const text = `model Names {
  input x: f32[6]
  target y: class[3]
  layer h1 = dense(x, 8) relu gate policy(blocks: 2, tau: 0.5)
  layer H1 = dense(h1, 8) relu gate lowrank(rank: 2)
  layer h1_policy = dense(H1, 6) tanh
  layer h1__flush = tree(h1_policy, 5, depth: 2) relu
  layer h1_tree = dense(h1__flush, 5) sigmoid
  layer out = dense(h1_tree, 3)
  loss = softmax_cross_entropy(out, y)
}`;
    const result = await compile(text, { file: "names.cond", maxBatch: 4 });
    if (!result.ok) throw new Error(result.diagnostics.map((d) => d.message).join("\n"));
    const names = result.manifest.memory.regions.map((r) => r.name);
    expect(new Set(names).size).toBe(names.length);
    expect(result.manifest.layers.find((l) => l.name === "h1__flush")!.exports["flush"]).toBe("h1__flush__flush");
    const model = await loadModel(result.wasm, result.manifest);
    model.init(3);
    const x = Float32Array.from({ length: 24 }, (_, i) => Math.cos(i));
    expect(Number.isFinite(model.trainStep(x, new Int32Array([0, 1, 2, 1]), 4).loss)).toBe(true);
    expect(model.parameter("h1.weight")).not.toEqual(model.parameter("H1.weight"));
  });
});
