/**
 * @fileoverview The WGSL counter RNG against the wasm kernels' (bit for bit: Philox-4x32-10 words,
 * and the uniforms made from them) and the f32 log / sin / cos the samplers use against Math.
 */
import v8 from "node:v8";
v8.setFlagsFromString("--experimental-wasm-relaxed-simd");

import { afterAll, describe, expect, it } from "vitest";
import { compile } from "../../compiler/index.js";
import { loadModel } from "../../runtime/model.js";
import { MATH_EXTRA_WGSL } from "../../runtime/webgpu/kernels/math.js";
import { PHILOX_WGSL } from "../../runtime/webgpu/kernels/random.js";
import { CALL_UNIFORM_WGSL, linearGrid, type Kernel } from "../../runtime/webgpu/kernels/wgsl.js";
import { probeGpu, runKernel, skipNote } from "./gpu.js";

const probe = await probeGpu();
afterAll(() => probe.device?.destroy());

function kernel(label: string, body: string, extra: string, count: number): Kernel {
  return {
    label,
    bindings: [
      { name: "input", access: "read" },
      { name: "out", access: "read_write" },
    ],
    code: `${CALL_UNIFORM_WGSL}
@group(0) @binding(1) var<storage, read> input: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;
${extra}
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3u) {
  let i = id.x;
  if (i >= ${count}u) { return; }
${body}
}`,
    grid: () => linearGrid(count),
  };
}

describe(`WGSL counter RNG and sampler math${skipNote(probe)}`, () => {
  it.skipIf(!probe.device)("randomBits(seed, stream, index) and uniform() equal the wasm kernels' for 4,000 triples, seeds and streams near 2^32", async () => {
    const result = await compile("model R {\n input x: f32[2]\n target y: class[2]\n layer out = dense(x, 2)\n loss = softmax_cross_entropy(out, y)\n}", { file: "r.cond", maxBatch: 1 });
    if (!result.ok) throw new Error("did not compile");
    const model = await loadModel(result.wasm, result.manifest);
    const kernels = model.kernels.exports as unknown as { randomBits(seed: number, stream: number, index: number): number; uniform(seed: number, stream: number, index: number): number };
    const count = 4000;
    const triples = new Uint32Array(3 * count);
    let s = 12345;
    const next = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0);
    for (let i = 0; i < count; i++) {
      triples[3 * i] = i % 7 === 0 ? 0xffffffff - i : next();
      triples[3 * i + 1] = i % 5 === 0 ? 0xfffffffe : next() >>> (i % 32);
      triples[3 * i + 2] = i < 100 ? i : next();
    }
    const k = kernel("philox", `  let bits = randomBits(input[3u * i], input[3u * i + 1u], input[3u * i + 2u]);
  out[2u * i] = bits;
  out[2u * i + 1u] = bitcast<u32>(uniformBits(bits));`, PHILOX_WGSL, count);
    const out = await runKernel(probe.device!, k, { input: triples }, 1, ["out"], { out: 2 * count });
    const words = new Uint32Array(out["out"]!.buffer);
    const uniforms = new Float32Array(out["out"]!.buffer);
    for (let i = 0; i < count; i++) {
      const [seed, stream, index] = [triples[3 * i]!, triples[3 * i + 1]!, triples[3 * i + 2]!];
      expect(words[2 * i], `randomBits(${seed}, ${stream}, ${index})`).toBe(kernels.randomBits(seed, stream, index) >>> 0);
      expect(uniforms[2 * i + 1], `uniform(${seed}, ${stream}, ${index})`).toBe(kernels.uniform(seed, stream, index));
    }
  });

  it.skipIf(!probe.device)("log, sin and cos in f32 within a few ulps of Math's over the samplers' ranges", async () => {
    const count = 3000;
    const values = new Float32Array(count).map((_, i) => (i < 1500 ? ((i + 0.5) / 1500) : ((i - 1500) / 1500) * 2 * Math.PI));
    const k = kernel("math", `  let x = bitcast<f32>(input[i]);
  let sc = sinCosCephes(x);
  out[3u * i] = bitcast<u32>(logCephes(x));
  out[3u * i + 1u] = bitcast<u32>(sc.x);
  out[3u * i + 2u] = bitcast<u32>(sc.y);`, MATH_EXTRA_WGSL, count);
    const out = await runKernel(probe.device!, k, { input: new Uint32Array(values.buffer) }, 1, ["out"], { out: 3 * count });
    const got = out["out"]!;
    for (let i = 0; i < count; i++) {
      const x = values[i]!;
      if (x > 0) expect(Math.abs(got[3 * i]! - Math.log(x)), `log(${x})`).toBeLessThanOrEqual(4e-7 * Math.max(1, Math.abs(Math.log(x))));
      expect(Math.abs(got[3 * i + 1]! - Math.sin(x)), `sin(${x})`).toBeLessThanOrEqual(5e-7);
      expect(Math.abs(got[3 * i + 2]! - Math.cos(x)), `cos(${x})`).toBeLessThanOrEqual(5e-7);
    }
  });
});
