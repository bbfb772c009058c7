/**
 * @fileoverview Issue 16, class 9: every argument of every public Model method, and of
 * `compile`/`loadModel`, given the wrong type, NaN, Infinity, a negative, zero or a too-large
 * value: the call throws a TypeError or RangeError naming the method and the argument, and the
 * model's parameters, optimizer state and step are exactly as before the call. A step whose
 * input holds Inf/NaN is refused before it runs; a step whose loss is not finite changes nothing.
 */
import v8 from "node:v8";
v8.setFlagsFromString("--experimental-wasm-relaxed-simd");
import { beforeAll, describe, expect, it } from "vitest";
import { compile, type CompileSuccess } from "../../compiler/index.js";
import { collectFigures, loadModel, NonFiniteError, type Model } from "../../runtime/index.js";

const SOURCE = `model Api {
  input x: f32[6]
  target y: class[3]
  layer h = dense(x, 8) relu gate lowrank(rank: 2, mode: in_loop)
  layer p = dense(h, 8) tanh gate policy(blocks: 2, tau: 0.5)
  layer out = dense(p, 3)
  loss = softmax_cross_entropy(out, y)
}
train { optimizer = adam(lr: 0.01) batch = 4 }`;

let built: CompileSuccess;
let model: Model;
const X = Float32Array.from({ length: 4 * 6 }, (_, i) => Math.sin(i + 1));
const Y = new Int32Array([0, 1, 2, 1]);

beforeAll(async () => {
  const r = await compile(SOURCE, { file: "api.cond", maxBatch: 4, simd: "plain" });
  if (!r.ok) throw new Error(r.diagnostics.map((d) => d.message).join("\n"));
  built = r;
  model = await loadModel(r.wasm, r.manifest);
  model.init(1);
  model.trainStep(X, Y, 4);
});

/** Everything a failed call must leave alone: parameters, gradients, optimizer state, step. */
function snapshot(m: Model): { bytes: Uint8Array; step: number } {
  const plan = m.manifest.memory;
  const first = plan.regions.find((r) => r.role === "param")!;
  const last = [...plan.regions].reverse().find((r) => r.role === "optimizer")!;
  return { bytes: new Uint8Array(m.wasmMemory.buffer, first.offset, last.offset + last.bytes - first.offset).slice(), step: m.step };
}

const BAD_NUMBERS: Array<[string, unknown]> = [
  ["a string", "3"],
  ["NaN", NaN],
  ["Infinity", Infinity],
  ["-Infinity", -Infinity],
  ["negative", -1],
  ["a fraction", 2.5],
  ["too large", 2 ** 40],
  ["undefined", undefined],
  ["an object", {}],
];

type Call = [method: string, call: (m: Model, bad: unknown) => unknown, expected: Array<typeof TypeError | typeof RangeError>, skip?: (bad: unknown) => boolean];

const CALLS: Call[] = [
  ["init(seed)", (m, bad) => m.init(bad as number), [RangeError]],
  ["predict(x, n)", (m, bad) => m.predict(X, bad as number), [RangeError], (bad) => bad === undefined],
  ["predict(x)", (m, bad) => m.predict(bad as Float32Array, 1), [TypeError]],
  ["trainStep(n)", (m, bad) => m.trainStep(X, Y, bad as number), [RangeError]],
  ["trainStep(x)", (m, bad) => m.trainStep(bad as Float32Array, Y, 4), [TypeError]],
  ["trainStep(labels)", (m, bad) => m.trainStep(X, bad as Int32Array, 4), [TypeError]],
  ["trainStep(lr)", (m, bad) => m.trainStep(X, Y, 4, { lr: bad as number }), [RangeError], (bad) => bad === undefined || bad === 2.5 || bad === 2 ** 40],
  ["load(bytes)", (m, bad) => m.load(bad as Uint8Array), [TypeError]],
  ["parameter(name)", (m, bad) => m.parameter(bad as string), [TypeError, RangeError]],
  ["setParameter(values)", (m, bad) => m.setParameter("h.weight", bad as Float32Array), [TypeError]],
];

describe("API misuse: a clear error and the model unchanged", () => {
  for (const [method, call, expected, skip] of CALLS) {
    for (const [label, bad] of BAD_NUMBERS) {
      if (skip?.(bad)) continue;
      it(`${method} with ${label}`, () => {
        const before = snapshot(model);
        let error: unknown;
        try {
          call(model, bad);
        } catch (e) {
          error = e;
        }
        expect(error, `${method} with ${label} did not throw`).toBeDefined();
        expect(expected.some((type) => error instanceof type), `${method} with ${label}: ${String(error)}`).toBe(true);
        expect((error as Error).message).toMatch(new RegExp(`^${method.split("(")[0]}: `));
        const after = snapshot(model);
        expect(after.step).toBe(before.step);
        expect(Buffer.from(after.bytes).equals(Buffer.from(before.bytes))).toBe(true);
      });
    }
  }

  it("n = 0 is refused for a training step and harmless for predict", () => {
    const before = snapshot(model);
    expect(() => model.trainStep(X, Y, 0)).toThrow("trainStep: n must be an integer in [1, 4], got 0");
    expect(model.predict(X, 0)).toHaveLength(0);
    expect(snapshot(model).step).toBe(before.step);
  });

  it("Inf or NaN in x is refused before the step, naming the example and feature; nothing changes", () => {
    for (const value of [Infinity, NaN, -Infinity]) {
      const x = X.slice();
      x[13] = value;
      const before = snapshot(model);
      expect(() => model.trainStep(x, Y, 4)).toThrow(`trainStep: x[13] (example 2, feature 1) is ${value}, not a finite number`);
      expect(() => model.predict(x, 4)).toThrow(RangeError);
      expect(Buffer.from(snapshot(model).bytes).equals(Buffer.from(before.bytes))).toBe(true);
    }
  });

  it("the input check finds the first value that is not finite anywhere in wide rows and later chunks", async () => {
    // 70 features, chunks of 8 rows: 560 values per chunk (the check's SIMD blocks of 64 and its scalar tail).
    const wide = await compile(`model Wide { input x: f32[70] target y: class[3] layer out = dense(x, 3) loss = softmax_cross_entropy(out, y) }`, { maxBatch: 8, simd: "plain" });
    if (!wide.ok) throw new Error("the wide model does not compile");
    const m = await loadModel(wide.wasm, wide.manifest, { threads: 1 });
    m.init(3);
    const rows = 20;
    const x = Float32Array.from({ length: rows * 70 }, (_, i) => Math.cos(i));
    const clean = m.predict(x, rows);
    for (const at of [0, 63, 64, 127, 511, 512, 559, 560, 700, 1119, 1120, 1399]) {
      for (const value of [NaN, Infinity, -Infinity]) {
        const bad = x.slice();
        bad[at] = value;
        if (at < rows * 70 - 1) bad[rows * 70 - 1] = NaN; // a later one too, never named
        expect(() => m.predict(bad, rows)).toThrow(`predict: x[${at}] (example ${Math.floor(at / 70)}, feature ${at % 70}) is ${value}, not a finite number`);
        if (at < 8 * 70) expect(() => m.trainStep(bad, new Int32Array(8), 8)).toThrow(`trainStep: x[${at}] (example ${Math.floor(at / 70)}, feature ${at % 70}) is ${value}, not a finite number`);
      }
    }
    expect(m.predict(x, rows)).toEqual(clean);
  });

  it("a predict over several batches with a bad value in a later one runs none of them (the counters stay)", async () => {
    const gated = await compile(`model Gated { input x: f32[30] target y: class[3] layer h = dense(x, 40) relu gate lowrank(rank: 4) layer out = dense(h, 3) loss = softmax_cross_entropy(out, y) }`, { maxBatch: 8, simd: "plain" });
    if (!gated.ok) throw new Error("the gated model does not compile");
    const m = await loadModel(gated.wasm, gated.manifest, { threads: 1 });
    m.init(4);
    const x = Float32Array.from({ length: 20 * 30 }, (_, i) => Math.sin(i));
    m.predict(x, 20);
    const figures = JSON.stringify([...collectFigures(m, "eval").layers]);
    const bad = x.slice();
    bad[17 * 30 + 2] = NaN; // the third batch of 8
    expect(() => m.predict(bad, 20)).toThrow("predict: x[512] (example 17, feature 2) is NaN, not a finite number");
    expect(JSON.stringify([...collectFigures(m, "eval").layers])).toBe(figures);
  });

  it("a step whose loss is not finite changes no parameter and does not count", async () => {
    const m = await loadModel(built.wasm, built.manifest);
    m.init(2);
    m.setParameter("out.bias", new Float32Array([3e38, -3e38, 3e38])); // logits overflow to Inf - Inf
    const before = snapshot(m);
    expect(() => m.trainStep(X, Y, 4)).toThrow(NonFiniteError);
    const after = snapshot(m);
    expect(after.step).toBe(before.step);
    expect(Buffer.from(after.bytes).equals(Buffer.from(before.bytes))).toBe(true);
  });

  it("compile and loadModel check their arguments", async () => {
    await expect(compile(undefined as unknown as string)).rejects.toThrow(new TypeError("compile: the model text must be a string, got undefined"));
    await expect(compile(SOURCE, { simd: "bogus" as "plain" })).rejects.toThrow(new RangeError('compile: options.simd must be "both", "plain" or "relaxed", got "bogus"'));
    await expect(compile(SOURCE, { maxBatch: NaN })).rejects.toThrow(RangeError);
    await expect(compile(SOURCE, null as unknown as object)).rejects.toThrow(TypeError);
    await expect(loadModel("wasm" as unknown as Uint8Array, built.manifest)).rejects.toThrow(TypeError);
    await expect(loadModel(built.wasm, { ...built.manifest, maxBatch: -1 })).rejects.toThrow("invalid manifest: maxBatch is not a positive integer");
  });
});
