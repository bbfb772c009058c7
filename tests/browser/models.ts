/**
 * @fileoverview The models the browser tests run in both engines (browser.test.ts, threads.test.ts):
 * examples/mnist-dense.cond and one small model per conditional method.
 */

/**
 * The models run in both engines: a name (the page fetches /model/<name>/*) and a model source,
 * from a file or inline. The conditional ones are small (100 inputs, 10 classes) so the whole
 * file stays fast; case.ts finds each model's methods in its manifest.
 */
export interface CaseSpec {
  name: string;
  file: string;
  source?: string;
}

export const CASES: CaseSpec[] = [
  { name: "dense", file: "examples/mnist-dense.cond" },
  {
    name: "lowrank",
    file: "browser-lowrank.cond",
    source: `
model BrowserLowRank {
  input  x: f32[100]
  target y: class[10]
  layer h   = dense(x, 64) relu gate lowrank(rank: 8)
  layer out = dense(h, 10)
  loss = softmax_cross_entropy(out, y)
}
train { optimizer = sgd(lr: 0.05, momentum: 0.9) batch = 16 }`,
  },
  {
    name: "tree",
    file: "browser-tree.cond",
    // Weight decay so the tree's lazy decay is pending at save() (Model.flush applies it).
    source: `
model BrowserTree {
  input  x: f32[100]
  target y: class[10]
  layer h   = tree(x, 32, depth: 3) relu
  layer out = dense(h, 10)
  loss = softmax_cross_entropy(out, y)
}
train { optimizer = sgd(lr: 0.05, weight_decay: 1e-3) batch = 16 }`,
  },
  {
    name: "policy",
    file: "browser-policy.cond",
    // Small sparsity / variance weights: after the one step the policy probabilities still
    // straddle 0.5 (p = 0.5 exactly at init), so threshold mode keeps some blocks and drops others.
    source: `
model BrowserPolicy {
  input  x: f32[100]
  target y: class[10]
  layer h   = dense(x, 64) tanh gate policy(blocks: 4, tau: 0.25)
  layer out = dense(h, 10)
  loss = softmax_cross_entropy(out, y)
}
train {
  optimizer = sgd(lr: 0.05)
  policy    = reinforce(lr: 0.1, lambda_s: 0.05, lambda_v: 0.05, l2: 0.005, baseline: batch_mean)
  batch     = 16
}`,
  },
];

