/**
 * @fileoverview `condc train`, `eval` and `build` in-process with captured output: JSON
 * reports, the checkpoint written atomically (no temp files left), eval reproducing the
 * training accuracy, build output files and manifest, and every expected failure as a
 * one-line message with its exit code, never a stack trace.
 */
import v8 from "node:v8";
v8.setFlagsFromString("--experimental-wasm-relaxed-simd");

import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CliIO } from "../../cli/io.js";
import { main } from "../../cli/main.js";
import { manifestProblems } from "../../runtime/manifest.js";

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIO = {
    stdout: (line) => void out.push(line),
    stderr: (line) => void err.push(line),
    readFile: (path) => readFileSync(path, "utf8"),
  };
  return { io, out, err, stdout: () => out.join("\n"), stderr: () => err.join("\n") };
}

async function run(argv: string[]) {
  const cli = capture();
  const code = await main(argv, cli.io);
  const all = `${cli.stdout()}\n${cli.stderr()}`;
  expect(all, `no stack trace from condc ${argv.join(" ")}`).not.toContain("    at ");
  expect(all).not.toContain("internal error");
  return { code, ...cli };
}

let tmp: string;
const SMALL = "model Small { input x: f32[784] target y: class[10] layer out = dense(x, 10) loss = softmax_cross_entropy(out, y) }\n";

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "condc-cli-train-"));
  writeFileSync(join(tmp, "small.cond"), SMALL);
});

afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

describe("condc train / eval", () => {
  let report: Record<string, unknown>;
  let checkpoint: string;

  it("train --epochs 1 --json --out: one JSON object, the checkpoint and no temp files", async () => {
    const dir = join(tmp, "train");
    rmSync(dir, { recursive: true, force: true });
    await import("node:fs").then((fs) => fs.mkdirSync(dir));
    checkpoint = join(dir, "mnist.safetensors");
    const r = await run(["train", "examples/mnist-dense.cond", "--epochs", "1", "--json", "--out", checkpoint]);
    expect(r.stderr()).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toHaveLength(1);
    report = JSON.parse(r.out[0]!) as Record<string, unknown>;
    expect(report).toMatchObject({ model: "MnistDense", file: "examples/mnist-dense.cond", data: "mnist:train", checkpoint });
    expect(["plain", "relaxed"]).toContain(report["simd"]);
    expect(report["test_accuracy"]).toBeGreaterThanOrEqual(0.85);
    expect(report["examples_per_second"]).toBeGreaterThan(0);
    expect(report["seconds"]).toBeGreaterThan(0);
    const epochs = report["epochs"] as Array<Record<string, number>>;
    expect(epochs).toHaveLength(1);
    expect(Object.keys(epochs[0]!).sort()).toEqual(["dense_macs_per_example", "epoch", "layers", "lr", "mac_ratio", "macs_per_example", "seconds", "test", "test_accuracy", "test_loss", "train_accuracy", "train_loss"]);
    // A dense model: the cost model's MACs, every layer plain dense (docs/reports.md).
    expect(report).toMatchObject({ macs_per_example: 784 * 256 + 256 * 10, dense_macs_per_example: 784 * 256 + 256 * 10, mac_ratio: 1 });
    expect(Object.keys(report["layers"] as object)).toEqual(["h1", "out"]);
    expect(epochs[0]!["test_accuracy"]).toBe(report["test_accuracy"]);
    expect(epochs[0]!["lr"]).toBe(0.05);
    expect(readdirSync(dir)).toEqual(["mnist.safetensors"]);
    // 784*256 + 256 + 256*10 + 10 floats and a header.
    expect(readFileSync(checkpoint).length).toBeGreaterThan(4 * 203530);
  });

  it("eval --weights reproduces the training run's test accuracy (JSON and text)", async () => {
    const json = await run(["eval", "examples/mnist-dense.cond", "--weights", checkpoint, "--json"]);
    expect(json.code).toBe(0);
    const result = JSON.parse(json.stdout()) as Record<string, unknown>;
    expect(result).toMatchObject({ model: "MnistDense", data: "mnist:test", count: 2000, simd: report["simd"] });
    expect(result["accuracy"]).toBe(report["test_accuracy"]);
    expect(result["loss"]).toBe((report["epochs"] as Array<Record<string, number>>)[0]!["test_loss"]);

    const text = await run(["eval", "examples/mnist-dense.cond", "--weights", checkpoint]);
    expect(text.code).toBe(0);
    const percent = (100 * (report["test_accuracy"] as number)).toFixed(2);
    expect(text.out[0]).toMatch(new RegExp(`^MnistDense on mnist:test \\(2000 examples\\): accuracy ${percent.replace(".", "\\.")}%, loss \\d+\\.\\d{4}, \\d+ examples/s on \\d+ threads?$`));
    expect(text.out[1]).toBe("  whole model: 203,264 MACs/example vs 203,264 dense (1.00x)");
  });

  it("eval with a corrupt checkpoint: one line, exit 1", async () => {
    const bad = join(tmp, "corrupt.safetensors");
    writeFileSync(bad, new Uint8Array([1, 2, 3]));
    const r = await run(["eval", "examples/mnist-dense.cond", "--weights", bad, "--plain-simd"]);
    expect(r.code).toBe(1);
    expect(r.stdout()).toBe("");
    expect(r.stderr()).toBe(`condc eval: ${bad}: too short: 3 bytes, but a safetensors file starts with an 8-byte header length`);
  });

  it("eval with a checkpoint of another model: exit 1, every mismatch listed", async () => {
    const r = await run(["eval", join(tmp, "small.cond"), "--weights", checkpoint, "--plain-simd"]);
    expect(r.code).toBe(1);
    // Multi-line by design (one mismatch a line), still no stack trace.
    expect(r.stderr()).toBe(
      [
        `condc eval: ${checkpoint}: does not match the model (3 mismatches):`,
        "  out.weight: expected [10, 784], found [10, 256]",
        "  unexpected tensor h1.bias [256]",
        "  unexpected tensor h1.weight [256, 784]",
      ].join("\n"),
    );
  });

  it("eval with a missing checkpoint: exit 1, names the file", async () => {
    const path = join(tmp, "nope.safetensors");
    const r = await run(["eval", "examples/mnist-dense.cond", "--weights", path]);
    expect(r.code).toBe(1);
    expect(r.stderr()).toBe(`condc eval: cannot read checkpoint ${path}: no such file or directory`);
  });
});

describe("condc build", () => {
  it("build -o DIR writes NAME.wasm, NAME.relaxed.wasm and NAME.json; the manifest is usable", async () => {
    const dir = join(tmp, "build");
    const r = await run(["build", "examples/mnist-dense.cond", "-o", dir, "--max-batch", "32"]);
    expect(r.code).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(["MnistDense.json", "MnistDense.relaxed.wasm", "MnistDense.wasm"]);
    expect(r.stdout()).toBe(`built MnistDense: ${join(dir, "MnistDense.wasm")}, ${join(dir, "MnistDense.relaxed.wasm")}, ${join(dir, "MnistDense.json")}`);
    const manifest = JSON.parse(readFileSync(join(dir, "MnistDense.json"), "utf8")) as Record<string, unknown>;
    expect(manifestProblems(manifest)).toEqual([]);
    expect(manifest).toMatchObject({ model: "MnistDense", maxBatch: 32, classes: 10, file: "examples/mnist-dense.cond", input: { name: "x", width: 784 } });
    expect(WebAssembly.validate(readFileSync(join(dir, "MnistDense.wasm")))).toBe(true);
    expect(WebAssembly.validate(readFileSync(join(dir, "MnistDense.relaxed.wasm")))).toBe(true);
  });

  it("build --emit wat prints the generated module as text", async () => {
    const r = await run(["build", join(tmp, "small.cond"), "--emit", "wat", "--simd", "plain"]);
    expect(r.code).toBe(0);
    const source = r.stdout();
    expect(source.split("\n")[0]).toMatch(/^;; Small from .*small\.cond, condc \S+, build [0-9a-f]{32}, source sha256 [0-9a-f]{64}$/);
    expect(source).toContain('export "trainStep" func trainStep(n: i32, lr: f32) -> f32 {');
    expect(source).toContain('export "predict" func predict(n: i32) {');
    expect(source).toContain('export "init" func init(seed: i32) {');
    const old = await run(["build", join(tmp, "small.cond"), "--emit", "as"]);
    expect(old.code).toBe(2);
    expect(old.stderr()).toContain("--emit supports only 'wat', got 'as' (models are no longer compiled through AssemblyScript");
  });

  it("build usage errors exit 2", async () => {
    const noOut = await run(["build", "examples/mnist-dense.cond"]);
    expect(noOut.code).toBe(2);
    expect(noOut.err[0]!.split("\n")[0]).toBe("condc build: missing -o DIR");
    expect(noOut.err[0]).toContain("usage: condc build FILE -o DIR");
    const simd = await run(["build", "examples/mnist-dense.cond", "-o", tmp, "--simd", "fast"]);
    expect(simd.code).toBe(2);
    expect(simd.stderr()).toBe("condc build: --simd must be both, plain or relaxed, got 'fast'");
  });
});

describe("condc train failures", () => {
  it("--out in a directory that does not exist yet: it is created", async () => {
    const out = join(tmp, "new", "dir", "small.safetensors");
    const r = await run(["train", join(tmp, "small.cond"), "--epochs", "1", "--out", out]);
    expect(r.code).toBe(0);
    expect(existsSync(out)).toBe(true);
  });

  it("--out under a file: exit 1 before training, one line naming the path (issue 16, class 12)", async () => {
    const file = join(tmp, "a-file");
    writeFileSync(file, "x");
    const r = await run(["train", join(tmp, "small.cond"), "--out", join(file, "w.safetensors")]);
    expect(r.code).toBe(1);
    expect(r.stdout()).toBe("");
    expect(r.stderr()).toBe(`condc train: cannot write '${join(file, "w.safetensors")}': a parent of the path is not a directory`);
  });

  it("a missing model file: exit 2, one line", async () => {
    const r = await run(["train", "nope.cond"]);
    expect(r.code).toBe(2);
    expect(r.stderr()).toBe("condc: cannot read 'nope.cond': no such file");
  });

  it("a model file whose batch is above the default max batch trains without --batch", async () => {
    const file = join(tmp, "big-batch.cond");
    writeFileSync(file, `${SMALL}train { batch = 200 epochs = 1 }\n`);
    const r = await run(["train", file, "--json", "--plain-simd"]);
    expect(r.stderr()).toBe("");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout())["test_accuracy"]).toBeGreaterThan(0.8);
  });

  it("--data idx:/nonexistent: exit 1, names the files looked for", async () => {
    const r = await run(["train", join(tmp, "small.cond"), "--data", "idx:/nonexistent", "--plain-simd"]);
    expect(r.code).toBe(1);
    expect(r.stderr()).toBe(
      "condc train: /nonexistent: missing IDX files: looked for train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]",
    );
  });

  it("a model with errors: exit 1, diagnostics printed, nothing trained", async () => {
    const bad = join(tmp, "bad.cond");
    writeFileSync(bad, SMALL.replace("dense(x, 10)", "dens(x, 10)"));
    const column = SMALL.indexOf("dense(x, 10)") + 1;
    const r = await run(["train", bad, "--out", join(tmp, "never.safetensors")]);
    expect(r.code).toBe(1);
    expect(r.stdout()).toBe("");
    expect(r.stderr()).toBe(
      [
        `${bad}:1:${column}: error CD2003: unknown layer kind 'dens'; did you mean 'dense'?`,
        ` 1 | ${SMALL.trimEnd()}`.replace("dense(x, 10)", "dens(x, 10)"),
        `   | ${" ".repeat(column - 1)}^~~~`,
        `condc train: ${bad} has errors`,
      ].join("\n"),
    );
    expect(existsSync(join(tmp, "never.safetensors"))).toBe(false);
  });

  it("bad option values: exit 2, one line each", async () => {
    const cases: Array<[string[], string]> = [
      [["train", "x.cond", "--epochs", "0"], "condc train: --epochs must be a positive integer, got '0'"],
      [["train", "x.cond", "--lr", "0"], "condc train: --lr must be a positive number, got '0'"],
      [["train", "x.cond", "--lr=-1"], "condc train: --lr must be a positive number, got '-1'"],
      [["train", "x.cond", "--batch", "two"], "condc train: --batch must be a positive integer, got 'two'"],
      [["train", "x.cond", "--seed", "1.5"], "condc train: --seed must be an integer in [0, 2^32), got '1.5'"],
      [["train", "x.cond", "--data", "cifar"], "condc train: --data must be mnist, fashion-mnist or idx:DIR, got 'cifar'"],
      [["eval", "x.cond"], "condc eval: missing --weights CKPT"],
    ];
    for (const [argv, message] of cases) {
      const r = await run(argv);
      expect(r.code, argv.join(" ")).toBe(2);
      expect(r.err[0]!.split("\n")[0], argv.join(" ")).toBe(message);
    }
  });

  it("divergence (--lr 1e30): exit 1, one line naming the step and layer, no checkpoint", async () => {
    const out = join(tmp, "diverged.safetensors");
    const r = await run(["train", "examples/mnist-dense.cond", "--lr", "1e30", "--epochs", "1", "--plain-simd", "--out", out]);
    expect(r.code).toBe(1);
    expect(r.stderr()).toMatch(/^condc train: training diverged at step \d+: (NaN|Inf) loss; first non-finite values in layer '(h1|out)'; the parameters are those before the step$/);
    expect(existsSync(out)).toBe(false);
  });
});
