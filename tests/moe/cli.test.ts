/**
 * @fileoverview examples/fashion-moe.cond through the commands: `check` clean, `inspect` with
 * the moe cost model (E / k weights per body MAC), `train` reporting the layer's figures per
 * epoch, `eval --json` and `bench --json` reporting the same counted MACs per example. Trained
 * on the bundled MNIST digits (`--data mnist`) so that the test needs no data package.
 */
import v8 from "node:v8";
v8.setFlagsFromString("--experimental-wasm-relaxed-simd");

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { CliIO } from "../../cli/io.js";
import { main } from "../../cli/main.js";

const EXAMPLE = "examples/fashion-moe.cond";
const tmp = mkdtempSync(join(tmpdir(), "condc-moe-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIO = { stdout: (l) => void out.push(l), stderr: (l) => void err.push(l), readFile: (p) => readFileSync(p, "utf8") };
  const code = await main(argv, io);
  const all = `${out.join("\n")}\n${err.join("\n")}`;
  expect(all).not.toContain("    at ");
  expect(all).not.toContain("internal error");
  return { code, out: out.join("\n"), err: err.join("\n") };
}

// moe(x, 128, experts: 8, top_k: 2, router: centred) relu, then dense(h, 10)
const ROUTER = 8 * 784;
/** The centred router's running centre: a router tensor, no MACs per example. */
const CENTRE = 784;
const EXPERT_MACS = 2 * 128 * 784;
const COMBINE = 2 * 128;

type LayerJson = Record<string, unknown> & { macs_per_example: number };

describe("examples/fashion-moe.cond through condc", () => {
  const checkpoint = join(tmp, "moe.safetensors");

  it("check: clean", async () => {
    const r = await run(["check", EXAMPLE]);
    expect([r.code, r.out, r.err]).toEqual([0, "", ""]);
  });

  it("inspect: parameters, MACs with the router and the capacity/computation ratio E / k", async () => {
    const text = await run(["inspect", EXAMPLE]);
    expect(text.code).toBe(0);
    expect(text.out).toContain("moe E=8 k=2");
    expect(text.out).toContain("h: weights / MACs of its body = 4.0; gate overhead 6,528 MACs");
    const json = JSON.parse((await run(["inspect", EXAMPLE, "--json"])).out) as { layers: Record<string, Record<string, number>> };
    expect(json.layers["h"]).toMatchObject({
      parameters: 8 * (128 * 784 + 128) + ROUTER + CENTRE,
      weights: 8 * 128 * 784,
      gate_parameters: ROUTER + CENTRE,
      body_macs_per_example: EXPERT_MACS,
      gate_macs_per_example: ROUTER + COMBINE,
      macs_per_example: EXPERT_MACS + ROUTER + COMBINE,
      dense_macs_per_example: 128 * 784,
      active_fraction: 0.25,
      weight_ratio: 4,
    });
  });

  it("train: the layer's figures per epoch", async () => {
    const r = await run(["train", EXAMPLE, "--data", "mnist", "--epochs", "1", "--json", "--out", checkpoint]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const report = JSON.parse(r.out) as { test_accuracy: number; epochs: { layers: Record<string, LayerJson>; test: { layers: Record<string, LayerJson> } }[] };
    expect(report.test_accuracy).toBeGreaterThan(0.7);
    for (const h of [report.epochs[0]!.layers["h"]!, report.epochs[0]!.test.layers["h"]!]) {
      expect(h).toMatchObject({ method: "moe", macs_source: "counted", experts: 8, top_k: 2, dropped_fraction: 0, active_fraction: 0.25, macs_per_example: EXPERT_MACS + ROUTER + COMBINE });
      expect((h["expert_load"] as number[]).reduce((a, b) => a + b, 0)).toBeCloseTo(2, 9);
      expect(h["router_entropy"] as number).toBeGreaterThan(0);
      expect(h["balance_loss"] as number).toBeGreaterThan(0);
    }
    const text = await run(["train", EXAMPLE, "--data", "mnist", "--epochs", "1"]);
    expect(text.out).toMatch(/h \(moe\): 25\.0% active, 207,232 MACs\/example of 100,352 dense, experts 8, top k 2, expert load \[\d\.\d{3}, \d\.\d{3}\], router entropy \d\.\d{3}, balance loss \d\.\d{3}, dropped fraction 0/);
  });

  it("eval --json and bench --json report the same MACs per example (within 1%)", async () => {
    const evaluated = await run(["eval", EXAMPLE, "--weights", checkpoint, "--data", "mnist", "--json"]);
    expect(evaluated.code).toBe(0);
    const evalH = (JSON.parse(evaluated.out) as { layers: Record<string, LayerJson> }).layers["h"]!;
    expect(evalH).toMatchObject({ method: "moe", macs_source: "counted" });
    const bench = await run(["bench", EXAMPLE, "--weights", checkpoint, "--batch", "1,32", "--reps", "3", "--json"]);
    expect(bench.code).toBe(0);
    const cases = (JSON.parse(bench.out) as { cases: { layers: Record<string, LayerJson> }[] }).cases;
    expect(cases).toHaveLength(2);
    for (const c of cases) expect(Math.abs(c.layers["h"]!.macs_per_example - evalH.macs_per_example) / evalH.macs_per_example).toBeLessThan(0.01);
  });
});
