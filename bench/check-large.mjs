// @fileoverview Times the front end (lex, parse, AST, check) on a generated 2,000-layer model
// and prints the median of several runs. Build first: `npx tsc && node bench/check-large.mjs`.
import { checkSource } from "../dist/compiler/frontend/frontend.js";

/** A chain of `layers` dense layers, every tenth one low-rank gated, then a 10-way output. */
export function generateLargeModel(layers) {
  const lines = ["model Large {", "  input x: f32[784]", "  target y: class[10]"];
  let source = "x";
  for (let i = 1; i < layers; i++) {
    const gate = i % 10 === 0 ? " gate lowrank(rank: 8)" : "";
    lines.push(`  layer h${i} = dense(${source}, 64) relu${gate}`);
    source = `h${i}`;
  }
  lines.push(`  layer out = dense(${source}, 10)`, "  loss = softmax_cross_entropy(out, y)", "}");
  lines.push("train { data = mnist optimizer = sgd(lr: 0.05, momentum: 0.9) batch = 128 epochs = 2 }");
  return lines.join("\n");
}

const LAYERS = 2000;
const RUNS = 15;
const text = generateLargeModel(LAYERS);
checkSource(text, "large.cond"); // warm-up: builds the parser and JIT-compiles the front end
const times = [];
for (let run = 0; run < RUNS; run++) {
  const start = process.hrtime.bigint();
  const result = checkSource(text, "large.cond");
  times.push(Number(process.hrtime.bigint() - start) / 1e6);
  if (!result.model || result.model.layers.length !== LAYERS) {
    console.error("check-large: the generated model did not check clean");
    process.exit(1);
  }
}
times.sort((a, b) => a - b);
const median = times[Math.floor(times.length / 2)];
console.log(`check of a ${LAYERS}-layer model (${text.length} chars): median ${median.toFixed(1)} ms over ${RUNS} runs (min ${times[0].toFixed(1)} ms)`);
