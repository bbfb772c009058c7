/**
 * @fileoverview `condc train`, `eval --json` and `bench --json` on a small low-rank model,
 * in-process: the checkpoint carries the factors, eval reports the per-layer metrics, bench
 * reports one case per batch size against the dense-equivalent build.
 */
import v8 from "node:v8";
v8.setFlagsFromString("--experimental-wasm-relaxed-simd");

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CliIO } from "../../cli/io.js";
import { main } from "../../cli/main.js";
import { decodeSafetensors } from "../../runtime/checkpoint/safetensors.js";

async function run(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIO = { stdout: (l) => void out.push(l), stderr: (l) => void err.push(l), readFile: (p) => readFileSync(p, "utf8") };
  const code = await main(argv, io);
  return { code, stdout: out.join("\n"), stderr: err.join("\n") };
}

const SMALL = `model SmallLowRank {
  input  x: f32[784]
  target y: class[10]
  layer h   = dense(x, 64) relu gate lowrank(rank: 8)
  layer out = dense(h, 10)
  loss = softmax_cross_entropy(out, y) + 1e-3 * l1(h)
}
train { data = mnist optimizer = sgd(lr: 0.05, momentum: 0.9) batch = 64 epochs = 1 seed = 0 }
`;

let tmp: string;
let file: string;
let ckpt: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "condc-lowrank-"));
  file = join(tmp, "small.cond");
  ckpt = join(tmp, "small.safetensors");
  writeFileSync(file, SMALL);
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("condc with a lowrank model", () => {
  it("train writes the factors into the checkpoint", async () => {
    const r = await run(["train", file, "--json", "--out", ckpt]);
    expect(r.code, r.stderr).toBe(0);
    const decoded = decodeSafetensors(new Uint8Array(readFileSync(ckpt)), ckpt);
    expect(decoded.tensors.get("h.lowrank_u")!.shape).toEqual([784, 8]);
    expect(decoded.tensors.get("h.lowrank_v")!.shape).toEqual([8, 64]);
    expect(Array.from(decoded.tensors.get("h.lowrank_v")!.data.subarray(0, 8 * 64)).some((v) => v !== 0)).toBe(true);
  });

  it("eval --json: accuracy with and without the estimator, per-layer metrics", async () => {
    const r = await run(["eval", file, "--weights", ckpt, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.accuracy).toBeGreaterThan(0.5);
    expect(j.accuracy_without_lowrank).toBeGreaterThan(0.5);
    expect(Object.keys(j.layers)).toEqual(["h", "out"]);
    const l = j.layers.h;
    expect(l).toMatchObject({ method: "lowrank", rank: 8, macs_source: "counted", dense_macs_per_example: 784 * 64 });
    for (const k of ["sign_agreement", "false_negative_rate", "alpha", "active_fraction"]) {
      expect(l[k]).toBeGreaterThanOrEqual(0);
      expect(l[k]).toBeLessThanOrEqual(1);
    }
    // The estimator's share of units computed during the timed pass and the measuring pass agree.
    expect(l.alpha).toBeCloseTo(l.active_fraction, 9);
    // Counted: the estimator r·(in + units) plus at most every unit's exact dot product.
    expect(l.macs_per_example).toBeGreaterThan(8 * (784 + 64));
    expect(l.macs_per_example).toBeLessThanOrEqual(8 * (784 + 64) + 784 * 64);
    expect(j.layers.out).toMatchObject({ method: "dense", macs_per_example: 640, macs_source: "cost_model" });
    expect(j.macs_per_example).toBeCloseTo(l.macs_per_example + 640, 6);
    expect(j.dense_macs_per_example).toBe(784 * 64 + 640);
  });

  it("bench --json: one case per batch, conditional vs dense, same weights", async () => {
    const r = await run(["bench", file, "--weights", ckpt, "--batch", "1,8", "--reps", "3", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.model).toBe("SmallLowRank");
    expect(j.cases.map((c: { batch: number }) => c.batch)).toEqual([1, 8]);
    for (const c of j.cases) {
      expect(c.dense_ms).toBeGreaterThan(0);
      expect(c.conditional_ms).toBeGreaterThan(0);
      expect(c.speedup).toBeCloseTo(c.dense_ms / c.conditional_ms, 6);
      expect(c.layers.h.active_fraction).toBeGreaterThanOrEqual(0);
      expect(c.layers.h.active_fraction).toBeLessThanOrEqual(1);
      // Dense: 784·64 + 64·10. Conditional, as counted: the output layer plus, for h, the
      // estimator and the exact part, never more than dense plus the estimator r·(in + units).
      expect(c.dense_macs_per_example).toBe(784 * 64 + 64 * 10);
      expect(c.macs_per_example).toBeGreaterThan(64 * 10);
      expect(c.macs_per_example).toBeLessThanOrEqual(784 * 64 + 64 * 10 + 8 * (784 + 64));
      expect(c.macs_per_example).toBeCloseTo(c.layers.h.macs_per_example + c.layers.out.macs_per_example, 6);
    }
  });

  it("bench without --weights says the active fractions are meaningless", async () => {
    const r = await run(["bench", file, "--batch", "2", "--reps", "3"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("untrained weights");
  });
});
