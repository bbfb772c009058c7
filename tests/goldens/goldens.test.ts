/**
 * @fileoverview Golden files for code generation: `tests/goldens/<name>.cond` compiles to
 * exactly the AssemblyScript in `<name>.as.txt` (the compiler version in the header line is
 * written as `<version>` so a version bump does not touch the goldens). Each model is built
 * once (plain SIMD) so a golden is also known to pass asc.
 *
 * After an intended change to code generation, regenerate with
 *     UPDATE_GOLDENS=1 npx vitest run tests/goldens
 * and review the diff.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { compile } from "../../compiler/compile.js";
import { COMPILER_VERSION } from "../../compiler/version.js";

const DIR = "tests/goldens";
const UPDATE = process.env.UPDATE_GOLDENS === "1";
const names = readdirSync(DIR)
  .filter((f) => f.endsWith(".cond"))
  .map((f) => f.slice(0, -".cond".length))
  .sort();

describe("generated AssemblyScript goldens", () => {
  it("there are goldens to check", () => {
    expect(names).toEqual(["branchy-adam", "tanh-sigmoid-l1", "two-layer-relu"]);
  });

  it.each(names)("%s", async (name) => {
    const file = `${DIR}/${name}.cond`;
    const text = readFileSync(file, "utf8");
    const result = await compile(text, { file, simd: "plain", maxBatch: 32 });
    if (!result.ok) throw new Error(`${file} does not compile: ${result.diagnostics.map((d) => d.message).join("; ")}`);
    expect(result.diagnostics.filter((d) => d.code !== "CD4002")).toEqual([]);

    const sha = createHash("sha256").update(text).digest("hex");
    const header = `// ${result.ir.modelName} from ${file}, condc ${COMPILER_VERSION}, sha256 ${sha}`;
    expect(result.assemblyScript.split("\n")[0]).toBe(header);
    const normalized = result.assemblyScript.replace(`condc ${COMPILER_VERSION},`, "condc <version>,");

    const goldenPath = `${DIR}/${name}.as.txt`;
    if (UPDATE) writeFileSync(goldenPath, normalized);
    expect(existsSync(goldenPath), `${goldenPath} is missing: run with UPDATE_GOLDENS=1`).toBe(true);
    expect(normalized).toBe(readFileSync(goldenPath, "utf8"));
    expect(result.wasm.byteLength).toBeGreaterThan(0);
    expect(WebAssembly.validate(result.wasm as BufferSource)).toBe(true);
  });

  it("the same model text always generates the same source (deterministic codegen)", async () => {
    const text = readFileSync(`${DIR}/two-layer-relu.cond`, "utf8");
    const { lowerModel } = await import("../../compiler/backend/lower.js");
    const { generateModule } = await import("../../compiler/backend/codegen/generate.js");
    const { checkSource } = await import("../../compiler/frontend/frontend.js");
    const gen = () => {
      const lowered = lowerModel(checkSource(text, "x.cond").model!, { maxBatch: 32 });
      if (!lowered.ok) throw new Error("unexpected");
      return generateModule(lowered.ir, "h").source;
    };
    expect(gen()).toBe(gen());
  });
});
