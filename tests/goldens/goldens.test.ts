/**
 * @fileoverview Golden files for code generation: `tests/goldens/<name>.cond` compiles to a
 * module whose listing is exactly `<name>.wat.txt` (the compiler version and build id in the
 * header line are written as `<version>` and `<build>` so a version bump does not touch the
 * goldens). One golden per method, so a change to any method's emission shows in review.
 *
 * After an intended change to code generation, regenerate with
 *     UPDATE_GOLDENS=1 npx vitest run tests/goldens
 * and review the diff.
 */
import v8 from "node:v8";
v8.setFlagsFromString("--experimental-wasm-relaxed-simd");
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { compile } from "../../compiler/compile.js";
import { COMPILER_VERSION } from "../../compiler/version.js";
import { loadModel } from "../../runtime/model.js";

const DIR = "tests/goldens";
const UPDATE = process.env.UPDATE_GOLDENS === "1";
const names = readdirSync(DIR)
  .filter((f) => f.endsWith(".cond"))
  .map((f) => f.slice(0, -".cond".length))
  .sort();

describe("generated module goldens", () => {
  it("there are goldens to check, one per method at least", () => {
    expect(names).toEqual(["branchy-adam", "lowrank-in-loop", "moe-noisy-ffn", "policy-chain", "tanh-sigmoid-l1", "tree-per-unit", "two-layer-relu"]);
  });

  it.each(names)("%s", async (name) => {
    const file = `${DIR}/${name}.cond`;
    const text = readFileSync(file, "utf8");
    const result = await compile(text, { file, simd: "plain", maxBatch: 32 });
    if (!result.ok) throw new Error(`${file} does not compile: ${result.diagnostics.map((d) => d.message).join("; ")}`);
    expect(result.diagnostics.filter((d) => d.code !== "CD4002")).toEqual([]);
    const header = result.listing.split("\n")[0]!;
    expect(header).toBe(`;; ${result.ir.modelName} from ${file}, condc ${COMPILER_VERSION}, build ${result.manifest.buildId}, source sha256 ${result.manifest.sourceHash}`);
    const normalized = result.listing.replace(`condc ${COMPILER_VERSION},`, "condc <version>,").replace(`build ${result.manifest.buildId},`, "build <build>,");

    const goldenPath = `${DIR}/${name}.wat.txt`;
    if (UPDATE) writeFileSync(goldenPath, normalized);
    expect(existsSync(goldenPath), `${goldenPath} is missing: run with UPDATE_GOLDENS=1`).toBe(true);
    expect(normalized).toBe(readFileSync(goldenPath, "utf8"));
    // The module validates, links against the kernel library and runs a step.
    expect(WebAssembly.validate(result.wasm as BufferSource)).toBe(true);
    const model = await loadModel(result.wasm, result.manifest);
    model.init(1);
    const width = result.manifest.input.width;
    const x = Float32Array.from({ length: 4 * width }, (_, i) => Math.sin(i));
    expect(Number.isFinite(model.trainStep(x, new Int32Array([0, 1, 2, 0]).map((c) => c % result.manifest.classes), 4).loss)).toBe(true);
  });

  it("the same model text always gives the same bytes (deterministic code generation)", async () => {
    const text = readFileSync(`${DIR}/policy-chain.cond`, "utf8");
    const a = await compile(text, { file: "x.cond" });
    const b = await compile(text, { file: "x.cond" });
    if (!a.ok || !b.ok) throw new Error("unexpected");
    expect(Buffer.from(a.wasm).equals(Buffer.from(b.wasm))).toBe(true);
    expect(Buffer.from(a.relaxedWasm!).equals(Buffer.from(b.relaxedWasm!))).toBe(true);
    expect(a.manifest).toEqual(b.manifest);
  });

  it("model modules are small: no kernel code, a few KB", async () => {
    for (const example of ["mnist-dense", "mnist-lowrank", "mnist-tree", "mnist-policy", "mixed"]) {
      const result = await compile(readFileSync(`examples/${example}.cond`, "utf8"), { file: example });
      if (!result.ok) throw new Error(example);
      expect(result.wasm.byteLength, example).toBeLessThan(8192);
      const imports = WebAssembly.Module.imports(new WebAssembly.Module(result.wasm as BufferSource));
      expect(imports.every((i) => i.module === "kernels" && i.kind === "function"), example).toBe(true);
    }
  });
});
