#!/usr/bin/env node
// The dense reproductions of issue 3: the default example on the bundled digits (2 epochs)
// and 784-1000-600-10 on Fashion-MNIST (6 epochs, SGD momentum 0.9, lr 0.05, batch 128).
// Prints one table row per run; run with `npm run experiment:dense` (builds dist first).
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const runs = [
  { file: "examples/mnist-dense.cond", target: 0.95 },
  { file: "examples/fashion-dense.cond", target: 0.86 },
];
console.log("| model | data | epochs | test accuracy | target | train examples/s | seconds |");
console.log("|---|---|---|---|---|---|---|");
for (const run of runs) {
  const child = spawnSync(process.execPath, [join(root, "bin/condc.js"), "train", run.file, "--json"], { cwd: root, encoding: "utf8" });
  if (child.status !== 0) {
    console.log(`| ${run.file} | failed: ${(child.stderr || child.stdout).trim().split("\n")[0]} |`);
    continue;
  }
  const r = JSON.parse(child.stdout.trim().split("\n").pop());
  console.log(`| ${r.model} | ${r.data} | ${r.epochs.length} | ${r.test_accuracy.toFixed(4)} | ${run.target} | ${Math.round(r.examples_per_second)} | ${r.seconds.toFixed(1)} |`);
}
