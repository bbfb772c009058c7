/**
 * @fileoverview The low-rank forward on several threads guesses, from a layer's last call,
 * whether to compute the exact part per example inside its row tiles before the active count
 * is known (methods/lowrank/parallel.ts). A wrong guess must cost time only: calls whose mode
 * flips between the dense part and the per-example part, both ways, give one thread's bits.
 */
import v8 from "node:v8";
v8.setFlagsFromString("--experimental-wasm-relaxed-simd");
import { describe, expect, it } from "vitest";
import "../../runtime/node/thread-host.js";
import { compile } from "../../compiler/index.js";
import { loadModel, type Model } from "../../runtime/index.js";

const WIDTH = 200;
const UNITS = 64;
const BATCH = 40;
const SOURCE = `model Guess {
  input  x: f32[${WIDTH}]
  target y: class[10]
  layer h   = dense(x, ${UNITS}) relu  gate lowrank(rank: 4)
  layer out = dense(h, 10)
  loss = softmax_cross_entropy(out, y)
}`;

/** Inputs with 5% nonzeros (sparse enough for the per-example exact part). */
function sparseInputs(seed: number): Float32Array {
  const x = new Float32Array(BATCH * WIDTH);
  let s = seed >>> 0;
  for (let i = 0; i < x.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    if (s % 20 === 0) x[i] = ((s >>> 8) % 1000) / 250 - 2;
  }
  return x;
}

/**
 * Biases that make every unit active (the dense part), or only units 0-2 (3 of 64: the
 * per-example part); the estimate reads the bias, so it sets the active count.
 */
const ALL_ACTIVE = new Float32Array(UNITS).fill(100);
const FEW_ACTIVE = Float32Array.from({ length: UNITS }, (_, j) => (j < 3 ? 100 : -100));

async function outputsOf(threads: number, biases: readonly Float32Array[]): Promise<Float32Array[]> {
  const built = await compile(SOURCE, { file: "guess.cond", maxBatch: BATCH });
  if (!built.ok) throw new Error(built.diagnostics.map((d) => d.message).join("; "));
  const model: Model = await loadModel(built.wasm, built.manifest, { threads, split: "always" });
  try {
    model.init(3);
    const out: Float32Array[] = [];
    biases.forEach((bias, call) => {
      model.setParameter("h.bias", bias);
      out.push(model.predict(sparseInputs(call + 1), BATCH));
    });
    return out;
  } finally {
    model.dispose();
  }
}

describe("the low-rank forward's per-example guess on threads", () => {
  it("gives one thread's bits when the exact part's mode flips between calls, both ways", async () => {
    // dense, per example (guessed dense: runs after the tiles), per example (guessed right),
    // dense (guessed per example: the dense part overwrites), per example again.
    const biases = [ALL_ACTIVE, FEW_ACTIVE, FEW_ACTIVE, ALL_ACTIVE, FEW_ACTIVE];
    const one = await outputsOf(1, biases);
    for (const threads of [2, 3]) {
      const many = await outputsOf(threads, biases);
      many.forEach((out, call) => expect(Buffer.from(out.buffer).equals(Buffer.from(one[call]!.buffer)), `${threads} threads, call ${call}`).toBe(true));
    }
    // The calls differ (the few-active outputs are not the all-active ones): the test can tell a stale h.
    expect(Buffer.from(one[1]!.buffer).equals(Buffer.from(one[0]!.buffer))).toBe(false);
  });
});
