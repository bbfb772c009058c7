/**
 * @fileoverview Bit-identity cases: every example model plus small models that reach the
 * options the examples do not (tree per_unit / reinforce / noisy, lowrank in_loop, uniform
 * policy, code-form regularizers, Adam with weight decay, a dead layer, a shared source).
 * `runIdentityCase` trains a few steps from a seed and hashes the losses, the checkpoint and
 * the predictions; `fixtures/identity.json` holds those hashes as produced by the compiler
 * before the method-unit and direct-to-wasm rewrites (commit 035d5cd), so any change in
 * numerics shows up as a failed comparison.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";

export interface IdentityCase {
  name: string;
  source: string;
  /** "mnist": the bundled digits (784 wide); "synthetic": seeded uniform rows of `width`. */
  data: "mnist" | "synthetic";
  width: number;
  classes: number;
  batch: number;
  steps: number;
}

const ROOT = join(import.meta.dirname, "..", "..");
const example = (file: string): IdentityCase => ({
  name: file,
  source: readFileSync(join(ROOT, "examples", file), "utf8"),
  data: "mnist",
  width: 784,
  classes: 10,
  batch: 24,
  steps: 3,
});

const small = (name: string, body: string, train: string): IdentityCase => ({
  name,
  source: `model ${name} {\n  input x: f32[20]\n  target y: class[4]\n${body}\n}\ntrain {\n${train}\n}\n`,
  data: "synthetic",
  width: 20,
  classes: 4,
  batch: 12,
  steps: 5,
});

export const IDENTITY_CASES: IdentityCase[] = [
  ...["mnist-dense.cond", "mnist-lowrank.cond", "mnist-tree.cond", "mnist-policy.cond", "fashion-dense.cond", "fashion-lowrank.cond", "fashion-policy.cond", "mixed.cond"].map(example),
  small(
    "TreeUnitReinforce",
    `  layer t = tree(x, 12, depth: 3, layout: per_unit, gater_training: reinforce, level_lr: scaled) tanh
  layer out = dense(t, 4)
  loss = softmax_cross_entropy(out, y)`,
    `  optimizer = sgd(lr: 0.1, weight_decay: 1e-3)\n  seed = 3`,
  ),
  small(
    "TreeNoisyBucket",
    `  layer a = dense(x, 16) relu
  layer t = tree(a, 10, depth: 2, gater_training: noisy, sigma: 0.5, level_lr: bucket, level_lr_max: 4) sigmoid
  layer out = dense(t, 4)
  loss = softmax_cross_entropy(out, y)`,
    `  optimizer = sgd(lr: 0.2, weight_decay: 1e-2)\n  seed = 11`,
  ),
  small(
    "LowRankInLoop",
    `  layer h = dense(x, 16) relu gate lowrank(rank: 4, mode: in_loop, threshold: -0.05)
  layer g = dense(h, 12) relu gate lowrank(rank: 3)
  layer out = dense(g, 4)
  loss = softmax_cross_entropy(out, y) + 1e-3 * l1(h, g)`,
    `  optimizer = sgd(lr: 0.1, momentum: 0.5)\n  seed = 5`,
  ),
  small(
    "PolicyUniformAndCode",
    `  layer u = dense(x, 16) relu gate policy(blocks: 4, tau: 0.5, uniform: true)
  layer p = dense(u, 12) sigmoid gate policy(blocks: 3, tau: 1/3, squash: 0.05, test: threshold)
  layer out = dense(p, 4)
  loss = softmax_cross_entropy(out, y)`,
    `  optimizer = sgd(lr: 0.1)\n  policy = reinforce(lr: 0.01, baseline: moving_average, regularizer: code, l2: 0.01)\n  seed = 9`,
  ),
  small(
    "AdamShared",
    `  layer a = dense(x, 16) relu
  layer b = dense(a, 8) tanh
  layer c = dense(a, 8) sigmoid
  layer dead = dense(c, 5)
  layer out = dense(c, 4)
  loss = softmax_cross_entropy(out, y) + 1e-3 * l1(b)`,
    `  optimizer = adam(lr: 0.01, beta1: 0.8, weight_decay: 0.01)\n  seed = 2`,
  ),
];
