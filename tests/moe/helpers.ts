// Test driver of the MoE kernels: runs the forward (and backward) pipeline in the order a lowering
// would emit it, on buffers pre-filled with NaN so that a missed write shows.
import { randomArray, type KernelModule } from "../kernels/harness.js";
import { ACTIVATION_KIND, BALANCE_KIND, type MoeParams, type MoeShape } from "./reference.js";

export interface KernelParams { wg: Float32Array; wn: Float32Array | null; w1: Float32Array; b1: Float32Array; w2: Float32Array | null; b2: Float32Array | null }

export interface KernelGrads { wg: Float32Array; wn: Float32Array; w1: Float32Array; b1: Float32Array; w2: Float32Array; b2: Float32Array; x: Float32Array }

export interface KernelRun {
  h: Float32Array;
  logits: Float32Array;
  noise: Float32Array;
  gateLogits: Float32Array;
  probs: Float32Array;
  topIdx: Int32Array;
  gates: Float32Array;
  counts: Int32Array;
  expertStart: Int32Array;
  pairRow: Int32Array;
  dropped: number;
  entropy: number;
  balance: number;
  routerMacs: number;
  expertMacs: number;
  grads: KernelGrads | null;
  backwardMacs: number;
  balanceInBackward: number;
}

export function randomParams(s: MoeShape, seed: number, scale = 1): KernelParams {
  const { inputs, units, hidden, experts: E } = s;
  const width = hidden > 0 ? hidden : units;
  const a = (count: number, sd: number, sc: number) => randomArray(count, sd, -sc, sc);
  return {
    wg: a(E * inputs, seed, scale),
    wn: s.noisy ? a(E * inputs, seed + 1, scale) : null,
    w1: a(E * width * inputs, seed + 2, scale),
    b1: a(E * width, seed + 3, 0.5 * scale),
    w2: hidden > 0 ? a(E * units * hidden, seed + 4, scale) : null,
    b2: hidden > 0 ? a(E * units, seed + 5, 0.5 * scale) : null,
  };
}

export function asReferenceParams(p: KernelParams): MoeParams {
  return { wg: p.wg, wn: p.wn, w1: p.w1, b1: p.b1, w2: p.w2, b2: p.b2 };
}

const nanF32 = (mod: KernelModule, count: number): number => {
  const ptr = mod.alloc(Math.max(1, count) * 4);
  mod.f32(ptr, Math.max(1, count)).fill(NaN);
  return ptr;
};

/** Forward (and, with dh, backward) through the kernels; zeroUntouched as in moeExpertsBackward. */
export function runKernels(mod: KernelModule, s: MoeShape, p: KernelParams, x: Float32Array, n: number, dh: Float32Array | null, zeroUntouched = false): KernelRun {
  const k = mod.exports;
  const { inputs: D, units: U, hidden: H, experts: E, topK: K } = s;
  const width = H > 0 ? H : U;
  mod.reset();
  const px = mod.putF32(x), wg = mod.putF32(p.wg), wn = p.wn ? mod.putF32(p.wn) : 0;
  const w1 = mod.putF32(p.w1), b1 = mod.putF32(p.b1), w2 = p.w2 ? mod.putF32(p.w2) : 0, b2 = p.b2 ? mod.putF32(p.b2) : 0;
  const pairs = n * K;
  const logits = nanF32(mod, n * E), noiseLogits = nanF32(mod, n * E), noise = nanF32(mod, n * E);
  const gateLogits = nanF32(mod, n * E), probs = nanF32(mod, n * E), gates = nanF32(mod, pairs);
  const topIdx = mod.alloc(pairs * 4 + 4), counts = mod.alloc(E * 4), expertStart = mod.alloc((E + 1) * 4);
  const rowPair = mod.alloc(pairs * 4 + 4), pairRow = mod.alloc(pairs * 4 + 4);
  const work = mod.alloc(k.moeRouterWorkBytes(E));
  const xs = nanF32(mod, pairs * D), hs = nanF32(mod, pairs * H), ys = nanF32(mod, pairs * U), h = nanF32(mod, n * U);
  const noisy = s.noisy ? 1 : 0;
  const routerMacs = k.moeRouterLogits(px, n, D, E, wg, s.noisy ? wn : 0, logits, noiseLogits, nanF32(mod, E * n));
  if (s.centred) {
    k.moeCentreLogits(1, n, E, D, wg, 0, logits);
    if (s.noisy) k.moeCentreLogits(1, n, E, D, wn, 0, noiseLogits);
  }
  const entropy = k.moeRoute(logits, noiseLogits, n, E, K, noisy, s.seed, s.step, s.layer, work, noise, gateLogits, probs, topIdx, gates);
  const dropped = k.moeDispatch(topIdx, n, K, E, s.capacity, counts, expertStart, rowPair, pairRow);
  k.moeGather(px, D, K, rowPair, expertStart, E, xs);
  const expertMacs = k.moeExpertsForward(xs, expertStart, E, D, U, H, ACTIVATION_KIND[s.act], w1, b1, w2, b2, hs, ys);
  k.moeCombine(ys, U, n, K, pairRow, gates, h);
  const [c1, c2] = balanceCoefficients(s);
  const balance = k.moeBalanceLoss(BALANCE_KIND[s.balance.kind], c1, c2, s.zLoss, n, E, K, noisy, logits, noiseLogits, gateLogits, probs, topIdx, gates, work);
  const run: KernelRun = {
    h: mod.f32(h, n * U).slice(), logits: mod.f32(logits, n * E).slice(), noise: mod.f32(noise, n * E).slice(),
    gateLogits: mod.f32(gateLogits, n * E).slice(), probs: mod.f32(probs, n * E).slice(), topIdx: mod.i32(topIdx, pairs).slice(),
    gates: mod.f32(gates, pairs).slice(), counts: mod.i32(counts, E).slice(), expertStart: mod.i32(expertStart, E + 1).slice(),
    pairRow: mod.i32(pairRow, pairs).slice(), dropped, entropy, balance, routerMacs, expertMacs, grads: null, backwardMacs: 0, balanceInBackward: 0,
  };
  if (!dh) return run;
  const pdh = mod.putF32(dh), dys = nanF32(mod, pairs * U), dhs = nanF32(mod, pairs * H), dxs = nanF32(mod, pairs * D);
  const dgates = nanF32(mod, pairs), dLogits = nanF32(mod, n * E), dNoiseLogits = nanF32(mod, n * E);
  const gw1 = nanF32(mod, E * width * D), gb1 = nanF32(mod, E * width), gw2 = nanF32(mod, E * U * H), gb2 = nanF32(mod, E * U);
  const gwg = nanF32(mod, E * D), gwn = nanF32(mod, E * D), dx = nanF32(mod, n * D);
  k.moeCombineBackward(pdh, ys, U, n, K, pairRow, gates, dys, dgates);
  run.backwardMacs = k.moeExpertsBackward(xs, hs, ys, dys, dhs, expertStart, E, D, U, H, ACTIVATION_KIND[s.act], w1, w2, gw1, gb1, gw2, gb2, dxs, zeroUntouched ? 1 : 0);
  k.moeScatterInput(dxs, D, n, K, pairRow, dx, 0);
  run.balanceInBackward = k.moeRouterBackward(BALANCE_KIND[s.balance.kind], c1, c2, s.zLoss, s.centred ? 1 : 0, px, D, n, E, K, noisy, wg, s.noisy ? wn : 0,
    logits, noiseLogits, noise, gateLogits, probs, topIdx, gates, dgates, dLogits, dNoiseLogits, gwg, s.noisy ? gwn : 0, dx, work);
  run.grads = {
    wg: mod.f32(gwg, E * D).slice(), wn: mod.f32(gwn, E * D).slice(), w1: mod.f32(gw1, E * width * D).slice(), b1: mod.f32(gb1, E * width).slice(),
    w2: mod.f32(gw2, E * U * H).slice(), b2: mod.f32(gb2, E * U).slice(), x: mod.f32(dx, n * D).slice(),
  };
  return run;
}

export function balanceCoefficients(s: MoeShape): [number, number] {
  const b = s.balance;
  return b.kind === "switch" ? [b.alpha, 0] : b.kind === "cv" ? [b.importance, b.load] : [0, 0];
}

/** Default shape for a test; override fields as needed. */
export function shape(over: Partial<MoeShape>): MoeShape {
  return { inputs: 7, units: 5, hidden: 0, experts: 4, topK: 2, act: "tanh", noisy: false, balance: { kind: "none" }, capacity: -1, zLoss: 0, centred: false, seed: 7, step: 3, layer: 1, ...over };
}

/** Bitwise equality of two float arrays (NaN payloads and signed zeros included). */
export function sameBits(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}
