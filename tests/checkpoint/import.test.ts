/**
 * @fileoverview `condc import` and the mapping under it: a two-layer MLP exported as PyTorch
 * (F16), Flax (BF16, kernels [in, out]) and nn.Sequential (F32, with a JSON map) by the Python
 * safetensors library (tests/fixtures/import/) imports to the same F32 tensors, loads, and
 * predicts what a plain TypeScript forward pass of the exported weights gives; every kind of
 * mismatch is listed in one message; the output is written atomically or not at all.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CliIO } from "../../cli/io.js";
import { main } from "../../cli/main.js";
import { compile } from "../../compiler/index.js";
import { CheckpointError } from "../../runtime/checkpoint/errors.js";
import { mapTensors, parseImportMap, transpose2d } from "../../runtime/checkpoint/mapping.js";
import { decodeSafetensors, encodeSafetensors } from "../../runtime/checkpoint/safetensors.js";
import { loadModel } from "../../runtime/index.js";

const FIXTURES = fileURLToPath(new URL("../fixtures/import/", import.meta.url));
const expected: Record<string, { shape: number[]; values: number[] }> = JSON.parse(readFileSync(join(FIXTURES, "expected.json"), "utf8"));
const MLP = `model Mlp {
  input  x: f32[6]
  target y: class[3]
  layer h1  = dense(x, 4) relu
  layer out = dense(h1, 3)
  loss = softmax_cross_entropy(out, y)
}
`;

async function run(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIO = { stdout: (l) => void out.push(l), stderr: (l) => void err.push(l), readFile: (p) => readFileSync(p, "utf8") };
  const code = await main(argv, io);
  const all = `${out.join("\n")}\n${err.join("\n")}`;
  expect(all, "no stack trace").not.toContain("    at ");
  expect(all).not.toContain("internal error");
  return { code, stdout: out.join("\n"), stderr: err.join("\n") };
}

let tmp = "";
let mlpFile = "";
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "condc-import-"));
  mlpFile = join(tmp, "mlp.cond");
  writeFileSync(mlpFile, MLP);
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The MLP's forward pass in f64 from the exported weights: softmax(W2 relu(W1 x + b1) + b2). */
function referenceProbabilities(x: Float32Array, n: number): number[] {
  const w1 = expected["h1.weight"]!.values, b1 = expected["h1.bias"]!.values;
  const w2 = expected["out.weight"]!.values, b2 = expected["out.bias"]!.values;
  const probs: number[] = [];
  for (let r = 0; r < n; r++) {
    const h = b1.map((b, j) => Math.max(0, b + w1.slice(j * 6, j * 6 + 6).reduce((s, w, k) => s + w * x[r * 6 + k]!, 0)));
    const z = b2.map((b, c) => b + w2.slice(c * 4, c * 4 + 4).reduce((s, w, j) => s + w * h[j]!, 0));
    const top = Math.max(...z);
    const e = z.map((v) => Math.exp(v - top));
    const sum = e.reduce((a, b) => a + b, 0);
    probs.push(...e.map((v) => v / sum));
  }
  return probs;
}

describe("condc import of files written by the Python safetensors library", () => {
  const cases = [
    { from: "torch", file: "mlp-torch-f16.safetensors", dtype: "F16", transposed: false },
    { from: "flax", file: "mlp-flax-bf16.safetensors", dtype: "BF16", transposed: true },
    { from: join(FIXTURES, "mlp-sequential.map.json"), file: "mlp-sequential-f32.safetensors", dtype: "F32", transposed: false },
  ];
  for (const c of cases) {
    it(`--from ${c.from.endsWith(".json") ? "MAP.json (nn.Sequential)" : c.from}: the exported values, loadable, predicting as the reference`, async () => {
      const outFile = join(tmp, `out-${c.dtype}.safetensors`);
      const input = join(FIXTURES, c.file);
      const r = await run(["import", input, "--model", mlpFile, "--from", c.from, "-o", outFile]);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      const mappingLabel = c.from.endsWith(".json") ? `map ${c.from}` : c.from;
      expect(r.stdout.split("\n")[0]).toBe(`imported 4 tensors of Mlp from ${input} (${mappingLabel}, ${c.dtype} -> F32) into ${outFile}`);
      if (c.from === "flax") expect(r.stdout).toContain("  h1.weight [4, 6] <- params/h1/kernel [6, 4] transposed");
      if (c.from === "torch") expect(r.stdout).toContain("  h1.weight [4, 6]\n");

      const decoded = decodeSafetensors(new Uint8Array(readFileSync(outFile)), outFile);
      for (const [name, want] of Object.entries(expected)) {
        const got = decoded.tensors.get(name)!;
        expect(got.storedDtype, name).toBe("F32");
        expect(got.shape, name).toEqual(want.shape);
        expect(Array.from(got.data), name).toEqual(want.values);
      }
      expect(decoded.tensors.size).toBe(4);
      const compiled = await compile(MLP, { file: mlpFile, maxBatch: 8, simd: "plain" });
      if (!compiled.ok) throw new Error("mlp did not compile");
      expect(decoded.metadata).toMatchObject({ model: "Mlp", source_sha256: compiled.manifest.sourceHash, step: "0", imported_from: c.file });

      const model = await loadModel(compiled.wasm, compiled.manifest);
      model.load(new Uint8Array(readFileSync(outFile)), outFile);
      const x = Float32Array.from({ length: 5 * 6 }, (_, i) => Math.sin(i * 1.7));
      const probs = Array.from(model.predict(x, 5));
      const reference = referenceProbabilities(x, 5);
      probs.forEach((p, i) => expect(Math.abs(p - reference[i]!), `probability ${i}`).toBeLessThan(1e-6));
      expect(readdirSync(tmp).filter((f) => f.endsWith(".tmp"))).toEqual([]);
    });
  }
});

describe("one message for every problem", () => {
  it("a Flax file imported as torch: each unmatched and each missing tensor", async () => {
    const outFile = join(tmp, "never.safetensors");
    const input = join(FIXTURES, "mlp-flax-bf16.safetensors");
    const r = await run(["import", input, "--model", mlpFile, "--from", "torch", "-o", outFile]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      [
        `condc import: ${input}: does not map onto the model (8 problems):`,
        "  missing tensor h1.weight [4, 6]",
        "  missing tensor h1.bias [4]",
        "  missing tensor out.weight [3, 4]",
        "  missing tensor out.bias [3]",
        ...["params/h1/bias [4]", "params/h1/kernel [6, 4]", "params/out/bias [3]", "params/out/kernel [4, 3]"].map(
          (t) => `  unmatched tensor ${t}: the model has no tensor ${t.split(" ")[0]}`,
        ),
      ].join("\n"),
    );
    expect(existsSync(outFile)).toBe(false);
  });

  it("mis-shaped tensors, a transposed torch weight named as such, and a tensor the model lacks", async () => {
    const input = join(tmp, "bad-shapes.safetensors");
    writeFileSync(
      input,
      encodeSafetensors([
        { name: "h1.weight", shape: [6, 4], data: new Float32Array(24) },
        { name: "h1.bias", shape: [5], data: new Float32Array(5) },
        { name: "out.weight", shape: [3, 4], data: new Float32Array(12) },
        { name: "out.bias", shape: [3], data: new Float32Array(3) },
        { name: "h2.weight", shape: [2, 2], data: new Float32Array(4) },
      ]),
    );
    const r = await run(["import", input, "--model", mlpFile, "--from", "torch", "-o", join(tmp, "x.safetensors")]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      [
        `condc import: ${input}: does not map onto the model (3 problems):`,
        "  h1.weight: expected [4, 6], found [6, 4]; it is the transpose: transpose it with a map entry",
        "  h1.bias: expected [4], found [5]",
        "  unmatched tensor h2.weight [2, 2]: the model has no tensor h2.weight",
      ].join("\n"),
    );
  });

  it("map problems: entries naming absent tensors, two sources for one tensor", async () => {
    const map = join(tmp, "clash.json");
    writeFileSync(map, JSON.stringify({ "0.weight": "h1.weight", "1.weight": "h1.weight", "0.bias": "h1.bias", "2.weight": "out.weight", "2.bias": "out.bias", "9.bias": "out.bias", step: null }));
    const input = join(FIXTURES, "mlp-sequential-f32.safetensors");
    const source = decodeSafetensors(new Uint8Array(readFileSync(input)), input).tensors;
    const twice = new Map(source);
    twice.set("1.weight", source.get("0.weight")!);
    const mapping = parseImportMap(readFileSync(map, "utf8"), map);
    const compiled = await compile(MLP, { file: mlpFile, simd: "plain" });
    if (!compiled.ok) throw new Error("mlp did not compile");
    expect(() => mapTensors(twice, compiled.manifest.params, mapping, input)).toThrow(
      new CheckpointError(input, `does not map onto the model (2 problems):\n  ${map} maps 9.bias, which the file does not hold\n  h1.weight would come from both 0.weight and 1.weight`),
    );
  });

  it("refuses NaN weights unless --allow-non-finite", async () => {
    const input = join(tmp, "nan.safetensors");
    const tensors = Object.entries(expected).map(([name, t]) => ({ name, shape: t.shape, data: Float32Array.from(t.values) }));
    tensors[2]!.data[4] = NaN;
    writeFileSync(input, encodeSafetensors(tensors));
    const outFile = join(tmp, "nan-out.safetensors");
    const refused = await run(["import", input, "--model", mlpFile, "--from", "torch", "-o", outFile]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(
      `condc import: ${input}: non-finite weights in 1 tensor (refused; allowNonFinite loads them for debugging):\n  out.weight: NaN at index 4 [1, 0]`,
    );
    expect(existsSync(outFile)).toBe(false);
    const allowed = await run(["import", input, "--model", mlpFile, "--from", "torch", "-o", outFile, "--allow-non-finite"]);
    expect(allowed.code).toBe(0);
    expect(Number.isNaN(decodeSafetensors(new Uint8Array(readFileSync(outFile)), "o", { allowNonFinite: true }).tensors.get("out.weight")!.data[4])).toBe(true);
  });
});

describe("command line and map file errors", () => {
  const torchFile = join(FIXTURES, "mlp-torch-f16.safetensors");

  it("usage errors exit 2 with one line", async () => {
    const base = ["import", torchFile, "--model", mlpFile, "-o", join(tmp, "u.safetensors")];
    const typo = await run([...base, "--from", "toch"]);
    expect(typo).toMatchObject({ code: 2, stderr: "condc import: --from must be torch, flax or a MAP.json file, got 'toch'; did you mean 'torch'?" });
    const missing = await run(["import", torchFile, "--from", "torch", "-o", "x.safetensors"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr.split("\n")[0]).toBe("condc import: missing --model");
    const dir = await run([...base.slice(0, 4), "-o", tmp, "--from", "torch"]);
    expect(dir).toMatchObject({ code: 2, stderr: `condc import: -o ${tmp} is a directory; give the checkpoint's file name` });
  });

  it("bad map files name the file and every bad entry", async () => {
    const bad = join(tmp, "bad.json");
    writeFileSync(bad, JSON.stringify({ a: 3, b: { to: "h1.weight", transpose: "yes" }, c: "", d: "h1.bias", e: { to: "x", extra: 1 } }));
    const r = await run(["import", torchFile, "--model", mlpFile, "--from", bad, "-o", join(tmp, "m.safetensors")]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      [
        `condc import: ${bad}: bad map entries:`,
        '  "a": expected a tensor name, { "to": name, "transpose": true|false, "shape": [sizes] } or null, got 3',
        '  "b": expected a tensor name, { "to": name, "transpose": true|false, "shape": [sizes] } or null, got {"to":"h1.weight","transpose":"yes"}',
        '  "c": expected a tensor name, { "to": name, "transpose": true|false, "shape": [sizes] } or null, got ""',
        '  "e": expected a tensor name, { "to": name, "transpose": true|false, "shape": [sizes] } or null, got {"to":"x","extra":1}',
      ].join("\n"),
    );
    writeFileSync(bad, "[1]");
    expect((await run(["import", torchFile, "--model", mlpFile, "--from", bad, "-o", join(tmp, "m.safetensors")])).stderr).toBe(
      `condc import: ${bad}: a map must be a JSON object: { "source name": "model name", ... }`,
    );
    const missing = join(tmp, "nope.json");
    expect((await run(["import", torchFile, "--model", mlpFile, "--from", missing, "-o", join(tmp, "m.safetensors")])).stderr).toBe(
      `condc import: cannot read map ${missing}: no such file or directory`,
    );
  });

  it("input errors: missing file, not a regular file, model file with errors", async () => {
    const out = join(tmp, "i.safetensors");
    const missing = await run(["import", join(tmp, "none.safetensors"), "--model", mlpFile, "--from", "torch", "-o", out]);
    expect(missing).toMatchObject({ code: 1, stderr: `condc import: cannot read weights ${join(tmp, "none.safetensors")}: no such file or directory` });
    const device = await run(["import", "/dev/zero", "--model", mlpFile, "--from", "torch", "-o", out]);
    expect(device).toMatchObject({ code: 2, stderr: "condc import: /dev/zero is not a regular file" });
    const broken = join(tmp, "broken.cond");
    writeFileSync(broken, "model Broken { input x: f32[4] }\n");
    const r = await run(["import", torchFile, "--model", broken, "--from", "torch", "-o", out]);
    expect(r.code).toBe(1);
    expect(r.stderr.split("\n").at(-1)).toBe(`condc import: ${broken} has errors`);
  });

  it("an output path under a regular file fails before anything is written", async () => {
    const file = join(tmp, "plain-file");
    writeFileSync(file, "x");
    const r = await run(["import", torchFile, "--model", mlpFile, "--from", "torch", "-o", join(file, "w.safetensors")]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/^condc import: cannot write '.*plain-file\/w\.safetensors': a parent of the path is not a directory$/);
  });
});

describe("mapTensors with the conditional methods' tensors", () => {
  const SOURCE = `model Methods {
  input  x: f32[8]
  target y: class[3]
  layer t   = tree(x, 4, depth: 2) relu
  layer p   = dense(t, 8) tanh gate policy(blocks: 2, tau: 0.5)
  layer h   = dense(p, 6) relu gate lowrank(rank: 2)
  layer out = dense(h, 3)
  loss = softmax_cross_entropy(out, y)
}`;

  it("flax kernels transposed, every method tensor kept under its manifest name and shape", async () => {
    const compiled = await compile(SOURCE, { file: "methods.cond", simd: "plain" });
    if (!compiled.ok) throw new Error(`did not compile: ${JSON.stringify(compiled.diagnostics)}`);
    const params = compiled.manifest.params;
    const count = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
    const source = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const p of params) {
      const data = Float32Array.from({ length: count(p.shape) }, (_, i) => i + 0.5);
      const [layer, what] = p.name.split(".");
      if (what === "weight") source.set(`params/${layer}/kernel`, { shape: [p.shape[1]!, p.shape[0]!], data: transpose2d(data, p.shape[0]!, p.shape[1]!) });
      else source.set(`params/${layer}/${what}`, { shape: [...p.shape], data });
    }
    const imported = mapTensors(source, params, { kind: "flax" }, "methods.safetensors");
    expect(imported.map((t) => t.name)).toEqual(params.map((p) => p.name));
    for (const [i, t] of imported.entries()) {
      expect(t.shape, t.name).toEqual(params[i]!.shape);
      expect(Array.from(t.data), t.name).toEqual(Array.from({ length: count(t.shape) }, (_, k) => k + 0.5));
    }
    expect(imported.filter((t) => t.transposed).map((t) => t.name)).toEqual(["p.weight", "h.weight", "out.weight"]);
  });

  it("refuses to transpose a tensor that is not 2-D", () => {
    const source = new Map([["t.kernel", { shape: [3, 2, 2], data: new Float32Array(12) }]]);
    expect(() => mapTensors(source, [{ name: "t.weight", shape: [2, 2, 3] }], { kind: "flax" }, "f")).toThrow(
      "f: does not map onto the model (1 problem):\n  t.weight (from t.kernel, transposed): t.kernel [3, 2, 2] is 3-D; only 2-D tensors can be transposed",
    );
  });
});

describe("map entries with a shape", () => {
  it("reads a MegaBlocks-style [E·F, H] tensor as [E, F, H], transposed first when asked", () => {
    const w = Float32Array.from({ length: 2 * 3 * 4 }, (_, i) => i);
    const mapping = parseImportMap(
      JSON.stringify({ "experts.mlp.w1": { to: "moe.w1", shape: [2, 3, 4] }, "router.layer.weight": { to: "moe.router", transpose: true, shape: [4, 1, 2] } }),
      "moe.json",
    );
    const source = new Map([
      ["experts.mlp.w1", { shape: [6, 4], data: w }],
      ["router.layer.weight", { shape: [2, 4], data: Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]) }],
    ]);
    const imported = mapTensors(source, [{ name: "moe.w1", shape: [2, 3, 4] }, { name: "moe.router", shape: [4, 1, 2] }], mapping, "m");
    expect(imported[0]!.shape).toEqual([2, 3, 4]);
    expect(Array.from(imported[0]!.data)).toEqual(Array.from(w));
    expect(Array.from(imported[1]!.data)).toEqual([1, 5, 2, 6, 3, 7, 4, 8]);
    const wrong = parseImportMap(JSON.stringify({ "experts.mlp.w1": { to: "moe.w1", shape: [2, 3, 3] } }), "moe.json");
    expect(() => mapTensors(new Map([["experts.mlp.w1", { shape: [6, 4], data: w }]]), [{ name: "moe.w1", shape: [2, 3, 4] }], wrong, "m")).toThrow(
      "m: does not map onto the model (1 problem):\n  moe.w1 (from experts.mlp.w1, reshaped to [2, 3, 3]): cannot reshape [6, 4] (24 values) to [2, 3, 3] (18)",
    );
    expect(() => parseImportMap(JSON.stringify({ a: { to: "b", shape: [2, -1] } }), "bad.json")).toThrow(/bad map entries/);
  });
});

describe("transpose2d", () => {
  it("transposes row-major matrices", () => {
    expect(Array.from(transpose2d(Float32Array.from([1, 2, 3, 4, 5, 6]), 2, 3))).toEqual([1, 4, 2, 5, 3, 6]);
    expect(Array.from(transpose2d(Float32Array.from([7]), 1, 1))).toEqual([7]);
  });
});
