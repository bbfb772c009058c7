/**
 * @fileoverview Issue 16, class 8: data sets. The class count comes from the model: IDX
 * labels are validated against it (a `class[3]` model trains on labels 0-2, a `class[20]`
 * model accepts label 10); empty training or test splits are refused, never trained on.
 */
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadData } from "../../cli/session.js";
import { DataError } from "../../runtime/data/errors.js";
import { encodeIdx } from "../../runtime/data/idx.js";
import { clearDatasetCache, loadDataset } from "../../runtime/node/data.js";
import { expectNoCrash, runCli, tempDir } from "./helpers.js";

/** An IDX directory: `train` and `test` label lists, images of 28×28 pixels derived from the label. */
function idxDir(train: number[], test: number[]): string {
  const dir = tempDir("idx");
  const write = (prefix: string, labels: number[]) => {
    const pixels = new Uint8Array(labels.length * 784);
    labels.forEach((label, i) => pixels.fill(40 + 60 * (label % 4), i * 784 + label * 20, i * 784 + label * 20 + 200));
    writeFileSync(join(dir, `${prefix}-images-idx3-ubyte`), encodeIdx({ type: "uint8", dims: [labels.length, 28, 28], data: pixels }));
    writeFileSync(join(dir, `${prefix}-labels-idx1-ubyte`), encodeIdx({ type: "uint8", dims: [labels.length], data: Uint8Array.from(labels) }));
  };
  write("train", train);
  write("t10k", test);
  return dir;
}

function model(classes: number, dir: string): string {
  return `model Small {
  input x: f32[784]
  target y: class[${classes}]
  layer h = dense(x, 16) relu
  layer out = dense(h, ${classes})
  loss = softmax_cross_entropy(out, y)
}
train { data = idx("${dir}") optimizer = sgd(lr: 0.1) batch = 8 epochs = 1 }
`;
}

const repeat = (labels: number[], times: number) => Array.from({ length: times }, () => labels).flat();

async function dataError(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(DataError);
  return (error as DataError).message;
}

describe("the class count comes from the model", () => {
  it("the issue's example: a class[3] model loads IDX labels 0-2 (the set reports 3 classes)", async () => {
    const dir = idxDir(repeat([0, 1, 2], 10), [0, 1, 2]);
    const split = await loadData({ kind: "idx", dir }, 784, 3);
    expect(split.train).toMatchObject({ count: 30, classes: 3 });
    expect(split.test).toMatchObject({ count: 3, classes: 3 });
  });

  it("the issue's example: a class[20] model accepts label 10 (and 19)", async () => {
    const dir = idxDir([0, 10, 19, 5], [10, 19]);
    const split = await loadData({ kind: "idx", dir }, 784, 20);
    expect(Array.from(split.train.labels)).toEqual([0, 10, 19, 5]);
    expect(split.train.classes).toBe(20);
  });

  it("a label at or past the model's class count is refused, naming the file and the index", async () => {
    const dir = idxDir([0, 1, 2, 3], [0]);
    const message = await dataError(loadData({ kind: "idx", dir }, 784, 3));
    expect(message).toBe(`${join(dir, "train-labels-idx1-ubyte")}: label 3 at index 3 is not < 3 classes`);
    const test = idxDir([0], [0, 25]);
    expect(await dataError(loadData({ kind: "idx", dir: test }, 784, 20))).toBe(`${join(test, "t10k-labels-idx1-ubyte")}: label 25 at index 1 is not < 20 classes`);
  });

  it("the same directory serves models of different class counts (cached per count)", async () => {
    clearDatasetCache();
    const dir = idxDir([0, 1, 2], [2]);
    expect((await loadDataset({ kind: "idx", dir }, { classes: 3 })).train.classes).toBe(3);
    expect((await loadDataset({ kind: "idx", dir }, { classes: 12 })).train.classes).toBe(12);
    expect(await dataError(loadDataset({ kind: "idx", dir }, { classes: 2 }))).toContain("label 2 at index 2 is not < 2 classes");
  });

  it("the built-in mnist (10 classes) is refused for a class[3] model and accepted for class[20]", async () => {
    expect(await dataError(loadData({ kind: "mnist" }, 784, 3))).toBe("mnist:train: has 10 classes but the model's target has 3");
    expect((await loadData({ kind: "mnist" }, 784, 20)).train.count).toBe(8000);
  });

  it("condc train: a class[3] model trains on a 3-class IDX set end to end", async () => {
    const dir = idxDir(repeat([0, 1, 2], 20), repeat([0, 1, 2], 4));
    const run = await runCli(["train", "small.cond", "--json"], { "small.cond": model(3, dir) });
    expectNoCrash(run);
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as { test_accuracy: number; epochs: unknown[] };
    expect(report.epochs).toHaveLength(1);
    expect(report.test_accuracy).toBeGreaterThanOrEqual(0);
  });
});

describe("empty splits", () => {
  it.each([
    ["training", [] as number[], [0, 1]],
    ["test", [0, 1], [] as number[]],
  ])("an empty %s split is refused (no NaN%% accuracy, no training on nothing)", async (which, train, test) => {
    const dir = idxDir(train, test);
    const message = await dataError(loadData({ kind: "idx", dir }, 784, 2));
    expect(message).toBe(`idx:${dir}:${which === "training" ? "train" : "test"}: has no examples: training and evaluation need at least one`);
  });

  it("condc train on an empty training split: exit 1, one line, no checkpoint", async () => {
    const dir = idxDir([], [0, 1]);
    const out = join(tempDir("empty-out"), "w.safetensors");
    const run = await runCli(["train", "small.cond", "--out", out], { "small.cond": model(2, dir) });
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(`condc train: idx:${dir}:train: has no examples: training and evaluation need at least one`);
    expect(run.stdout).not.toContain("NaN");
    expect(existsSync(out)).toBe(false);
  });
});
