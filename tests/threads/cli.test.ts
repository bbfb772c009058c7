/**
 * @fileoverview `--threads` on the commands: `train` and `eval` run on the count given and
 * report it (text and JSON), with the same checkpoint and accuracy on 1 and 2 threads; `bench
 * --threads 1,2` times every count in the same rounds and reports each case with "threads" and
 * the load average; a bad count is a usage error naming the flag.
 */
import v8 from "node:v8";
v8.setFlagsFromString("--experimental-wasm-relaxed-simd");
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCli as run } from "../helpers/cli.js";

const dir = mkdtempSync(join(tmpdir(), "condc-threads-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const file = join(dir, "small.cond");
writeFileSync(
  file,
  `model SmallThreads {
  input  x: f32[784]
  target y: class[10]
  layer h   = dense(x, 32) relu gate lowrank(rank: 4)
  layer out = dense(h, 10)
  loss = softmax_cross_entropy(out, y)
}
train { data = mnist optimizer = sgd(lr: 0.05, momentum: 0.9) batch = 64 epochs = 1 seed = 2 }`,
);


describe("--threads", () => {
  it("train and eval: the same checkpoint and results on 1 and 2 threads, the count reported", async () => {
    const one = await run(["train", file, "--threads", "1", "--out", join(dir, "one.safetensors"), "--json"]);
    const two = await run(["train", file, "--threads", "2", "--out", join(dir, "two.safetensors"), "--json"]);
    expect([one.err, two.err]).toEqual(["", ""]);
    expect([one.code, two.code]).toEqual([0, 0]);
    expect(JSON.parse(one.out).threads).toBe(1);
    expect(JSON.parse(two.out).threads).toBe(2);
    expect(JSON.parse(two.out).epochs[0].test_accuracy).toBe(JSON.parse(one.out).epochs[0].test_accuracy);
    expect(readFileSync(join(dir, "two.safetensors")).equals(readFileSync(join(dir, "one.safetensors")))).toBe(true);
    const text = await run(["train", file, "--threads", "2", "--epochs", "1"]);
    expect(text.out.split("\n")[0]).toMatch(/, 2 threads$/);

    const evals = [];
    for (const threads of ["1", "2"]) {
      const r = await run(["eval", file, "--weights", join(dir, "one.safetensors"), "--threads", threads, "--json"]);
      expect(r.code).toBe(0);
      evals.push(JSON.parse(r.out));
    }
    expect(evals.map((e) => e.threads)).toEqual([1, 2]);
    expect(evals[1].accuracy).toBe(evals[0].accuracy);
    expect(evals[1].loss).toBe(evals[0].loss);
    expect(evals[1].macs_per_example).toBe(evals[0].macs_per_example);
    const textEval = await run(["eval", file, "--weights", join(dir, "one.safetensors"), "--threads", "2"]);
    expect(textEval.out.split("\n")[0]).toMatch(/examples\/s on 2 threads$/);
  });

  it("bench --threads 1,2: each case once per count, in the same rounds, with the load average", async () => {
    const r = await run(["bench", file, "--threads", "1,2", "--batch", "1,8", "--reps", "3", "--json"]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const report = JSON.parse(r.out) as { load_average: number[] | null; cases: { batch: number; threads: number; conditional_ms: number; macs_per_example: number }[] };
    expect(report.cases.map((c) => [c.batch, c.threads])).toEqual([[1, 1], [1, 2], [8, 1], [8, 2]]);
    for (const c of report.cases) expect(c.conditional_ms).toBeGreaterThan(0);
    // The same inputs and weights on each count: the same work counted.
    expect(report.cases[1]!.macs_per_example).toBe(report.cases[0]!.macs_per_example);
    expect(report.cases[3]!.macs_per_example).toBe(report.cases[2]!.macs_per_example);
    expect(report.load_average === null || report.load_average.length === 3).toBe(true);
    const text = await run(["bench", file, "--threads", "2", "--batch", "4", "--reps", "2"]);
    expect(text.out).toMatch(/batch {3}threads {3}dense ms/);
    expect(text.out).toMatch(/\n {4}4 {9}2 {3}/);
  });

  it("a count that is not an integer in [1, 1024], or a repeated one, is a usage error naming --threads", async () => {
    for (const [command, value, message] of [
      ["train", "0", "condc train: --threads must be an integer in [1, 1024], got '0'"],
      ["eval", "two", "condc eval: --threads must be an integer in [1, 1024], got 'two'"],
      ["bench", "1,1", "condc bench: --threads lists 1 twice"],
      ["bench", "2,1025", "condc bench: --threads must be an integer in [1, 1024], got '1025'"],
    ] as const) {
      const extra = command === "eval" ? ["--weights", "x.safetensors"] : [];
      const r = await run([command, file, ...extra, "--threads", value]);
      expect(r.code, `${command} --threads ${value}`).toBe(2);
      expect(r.err).toContain(message);
    }
  });
});
