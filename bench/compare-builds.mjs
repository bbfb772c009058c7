#!/usr/bin/env node
// Model speed against another build of condc (issue 10: the direct-to-wasm modules must run as
// fast as the AssemblyScript-compiled ones): the same models, the same weights, trained and run
// by this checkout and by another one (e.g. a checkout of 035d5cd built in /tmp/old), timed
// interleaved in one process, medians. Usage:
//   node bench/compare-builds.mjs /tmp/old [--reps 15]
import v8 from "node:v8";
v8.setFlagsFromString("--experimental-wasm-relaxed-simd");
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { cpus, loadavg } from "node:os";
import { execFileSync } from "node:child_process";

const root = new URL("..", import.meta.url).pathname;
const other = resolve(process.argv[2] ?? "/tmp/old");
const reps = Number(process.argv[process.argv.indexOf("--reps") + 1] ?? 0) || 15;
const load = async (dir) => ({
  compiler: await import(join(dir, "dist/compiler/index.js")),
  runtime: await import(join(dir, "dist/runtime/index.js")),
});
const builds = { new: await load(root), old: await load(other) };

const MLP = `model Mlp { input x: f32[784] target y: class[10]
  layer h1 = dense(x, 1000) relu layer h2 = dense(h1, 1000) relu layer out = dense(h2, 10)
  loss = softmax_cross_entropy(out, y) }
train { optimizer = sgd(lr: 0.01, momentum: 0.9) }`;
const CASES = [
  { name: "MLP 784-1000-1000-10", text: MLP },
  { name: "fashion-lowrank", text: readFileSync(join(root, "examples/fashion-lowrank.cond"), "utf8") },
  { name: "fashion-policy", text: readFileSync(join(root, "examples/fashion-policy.cond"), "utf8") },
  { name: "mnist-tree", text: readFileSync(join(root, "examples/mnist-tree.cond"), "utf8") },
];

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
let seed = 7;
const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296);
const X = Float32Array.from({ length: 128 * 784 }, rand);
const Y = Int32Array.from({ length: 128 }, () => Math.floor(rand() * 10));

async function prepare(build, text, simd) {
  const r = await build.compiler.compile(text, { file: "m.cond", maxBatch: 128, simd });
  if (!r.ok) throw new Error(r.diagnostics.map((d) => d.message).join("\n"));
  // One thread on both sides (the old build has no threads; this one defaults to the cores).
  const model = await build.runtime.loadModel(simd === "plain" ? r.wasm : r.relaxedWasm, r.manifest, { threads: 1 });
  model.init(1);
  if (build.runtime.refreshEstimators && model.manifest.layers.some((l) => (l.gate?.kind ?? l.method) === "lowrank")) build.runtime.refreshEstimators(model);
  return model;
}

function time(fn, inner) {
  const t0 = performance.now();
  for (let i = 0; i < inner; i++) fn();
  return (performance.now() - t0) / inner;
}

const commit = (dir) => { try { return execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: dir, encoding: "utf8" }).trim(); } catch { return "?"; } };
console.log(`this build ${commit(root)} vs ${other} (${commit(other)}); ${cpus().length} x ${cpus()[0]?.model}, load ${loadavg().map((l) => l.toFixed(1)).join(" ")}; medians of ${reps} interleaved samples`);
console.log("| model | SIMD | what | old ms | new ms | new / old |");
console.log("|---|---|---|---|---|---|");
for (const c of CASES) {
  for (const simd of ["plain", "relaxed"]) {
    const models = { old: await prepare(builds.old, c.text, simd), new: await prepare(builds.new, c.text, simd) };
    // Same weights in both: the new build's parameters copied by name into the old one.
    for (const p of models.new.manifest.params) models.old.setParameter(p.name, models.new.parameter(p.name));
    const kinds = [
      ["predict b1", (m) => m.predict(X, 1), 200],
      ["predict b128", (m) => m.predict(X, 128), 3],
      ...(c.name.startsWith("MLP") ? [["trainStep b128 (lr 0)", (m) => m.trainStep(X, Y, 128, { lr: 0 }), 2]] : []),
    ];
    for (const [what, fn, inner] of kinds) {
      const samples = { old: [], new: [] };
      for (const k of ["old", "new"]) for (let w = 0; w < 2; w++) time(() => fn(models[k]), inner);
      for (let r = 0; r < reps; r++) {
        const order = r % 2 ? ["old", "new"] : ["new", "old"];
        for (const k of order) samples[k].push(time(() => fn(models[k]), inner));
      }
      const o = median(samples.old), n = median(samples.new);
      console.log(`| ${c.name} | ${simd} | ${what} | ${o.toFixed(3)} | ${n.toFixed(3)} | ${(n / o).toFixed(3)} |`);
    }
  }
}
