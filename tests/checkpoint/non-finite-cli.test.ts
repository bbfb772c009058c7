/**
 * @fileoverview Issue 16, class 7 at the command line: `condc eval` and `condc bench` refuse a
 * checkpoint holding NaN or Infinity (exit 1, the tensor and first index named), where before
 * eval printed accuracy 10% and loss NaN with exit 0.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CliIO } from "../../cli/io.js";
import { main } from "../../cli/main.js";
import { compile } from "../../compiler/index.js";
import { loadModel } from "../../runtime/index.js";

const SOURCE = "model Small { input x: f32[784] target y: class[10] layer h = dense(x, 16) relu layer out = dense(h, 10) loss = softmax_cross_entropy(out, y) }\n";

async function run(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIO = { stdout: (l) => void out.push(l), stderr: (l) => void err.push(l), readFile: (p) => readFileSync(p, "utf8") };
  const code = await main(argv, io);
  return { code, stdout: out.join("\n"), stderr: err.join("\n") };
}

let tmp = "";
beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "condc-nonfinite-"));
  writeFileSync(join(tmp, "small.cond"), SOURCE);
  const compiled = await compile(SOURCE, { file: "small.cond", simd: "plain" });
  if (!compiled.ok) throw new Error("small.cond did not compile");
  const model = await loadModel(compiled.wasm, compiled.manifest);
  model.init(0);
  const bias = model.parameter("out.bias");
  bias[7] = Infinity;
  model.setParameter("out.bias", bias);
  const weight = model.parameter("h.weight");
  weight[784 * 3 + 2] = NaN;
  model.setParameter("h.weight", weight);
  writeFileSync(join(tmp, "nan.safetensors"), model.save());
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const MESSAGE = (command: string, file: string): string =>
  [
    `condc ${command}: ${file}: non-finite weights in 2 tensors (refused; allowNonFinite loads them for debugging):`,
    "  h.weight: NaN at index 2354 [3, 2]",
    "  out.bias: Infinity at index 7 [7]",
  ].join("\n");

describe("a checkpoint with NaN and Infinity weights", () => {
  for (const command of ["eval", "bench"]) {
    it(`condc ${command} refuses it with exit 1, naming each tensor and its first index`, async () => {
      const file = join(tmp, "nan.safetensors");
      const extra = command === "bench" ? ["--batch", "1"] : [];
      const r = await run([command, join(tmp, "small.cond"), "--weights", file, ...extra]);
      expect(r.stderr).toBe(MESSAGE(command, file));
      expect(r.stdout).toBe("");
      expect(r.code).toBe(1);
    });
  }
});
