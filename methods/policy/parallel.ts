/**
 * @fileoverview How a policy-gated layer's kernels split over threads (runtime/pool/): the
 * block-sparse products, activations and the sampling by examples (each output row depends on
 * its example alone; a tile's sampling starts its own Philox block), the grouped forward by
 * output units after its groups are built (rows by 4 from each block's first, as in one call;
 * tiles balanced by the examples each row computes, so one busy block splits too), the gradient E by examples after the means, the policy step by
 * elements. The sampling's statistics are summed over the examples in order afterwards. Every
 * value is computed by the same code as in one call.
 */
import type { DispatcherFactory, Dispatchers } from "../../runtime/pool/parallel.js";
import { MAX_TILES, tileLength, tilesOf } from "../../runtime/pool/parallel.js";
import { SPLIT_THRESHOLDS } from "../../runtime/pool/thresholds.js";
import { ACTIVATION_SIGMOID, ACTIVATION_TANH } from "../../runtime/kernels/codes/activation.js";

/**
 * Least work per tile: multiply-adds for the block-sparse products (dot products over weight
 * rows, GEMV-like), elements for the activations (by their kind) and the gradient, examples x
 * blocks for the sampling (a Philox call per 4; measured by bench/thread-thresholds.mjs:
 * break-even at 512 per tile).
 */
export const POLICY_SPLIT = {
  macs: SPLIT_THRESHOLDS.gemv,
  elements: SPLIT_THRESHOLDS.elementwise,
  samples: 512,
};

/** An activation's threshold: tanh and sigmoid cost a transcendental per element. */
const activationWork = (kind: number): number => (kind === ACTIVATION_TANH || kind === ACTIVATION_SIGMOID ? SPLIT_THRESHOLDS.transcendental : SPLIT_THRESHOLDS.elementwise);

/** Multiply-adds of a block-sparse product: the active output blocks' units times K. */
function activeMacs(i32: Int32Array, outList: number, outCount: number, n: number, N: number, K: number, B: number): number {
  if (outList === 0) return n * N * K;
  let blocks = 0;
  for (let i = 0, at = outCount >>> 2; i < n; i++) blocks += i32[at + i]!;
  return blocks * Math.min(B, N) * K;
}

const forward: DispatcherFactory = (ctx) => {
  const whole = ctx.local["bsForward"]!;
  const op = ctx.op("bsForwardRows");
  return (n, N, K, x, w, bias, out, B, outList, outCount, nbOut, inList, inCount, nbIn, bIn) => {
    const tiles = ctx.tiles(POLICY_SPLIT.macs, activeMacs(ctx.i32, outList, outCount, n, N, K, B), n);
    if (tiles <= 1) return whole(n, N, K, x, w, bias, out, B, outList, outCount, nbOut, inList, inCount, nbIn, bIn);
    const len = tileLength(n, tiles, 1);
    for (let t = tilesOf(n, len) - 1; t >= 0; t--) ctx.run(t, op, n, N, K, x, w, bias, out, B, outList, outCount, nbOut, inList, inCount, nbIn, bIn, t * len, Math.min(n, (t + 1) * len));
    ctx.join();
  };
};

const backwardInput: DispatcherFactory = (ctx) => {
  const whole = ctx.local["bsBackwardInput"]!;
  const op = ctx.op("bsBackwardInputRows");
  return (n, N, K, g, w, dx, B, outList, outCount, nbOut, inList, inCount, nbIn, bIn, beta) => {
    const tiles = ctx.tiles(POLICY_SPLIT.macs, activeMacs(ctx.i32, outList, outCount, n, N, K, B), n);
    if (tiles <= 1) return whole(n, N, K, g, w, dx, B, outList, outCount, nbOut, inList, inCount, nbIn, bIn, beta);
    const len = tileLength(n, tiles, 1);
    for (let t = tilesOf(n, len) - 1; t >= 0; t--) ctx.run(t, op, n, N, K, g, w, dx, B, outList, outCount, nbOut, inList, inCount, nbIn, bIn, beta, t * len, Math.min(n, (t + 1) * len));
    ctx.join();
  };
};

const forwardGrouped: DispatcherFactory = (ctx) => {
  const whole = ctx.local["bsForwardGrouped"]!;
  const groupsOf = ctx.local["bsGroups"]!;
  const op = ctx.op("bsForwardGroupedUnits");
  const memory = ctx.i32;
  /** Each tile's units [bounds[2t], bounds[2t + 1]). */
  const bounds = new Int32Array(2 * MAX_TILES);
  return (n, N, K, x, w, bias, out, B, outList, outCount, nbOut, groups) => {
    let pairs = 0;
    for (let i = 0, counts = outCount >>> 2; i < n; i++) pairs += memory[counts + i]!;
    const tiles = ctx.tiles(POLICY_SPLIT.macs, pairs * Math.min(B, N) * K, Math.ceil(N / 4));
    if (tiles <= 1) return whole(n, N, K, x, w, bias, out, B, outList, outCount, nbOut, groups);
    groupsOf(n, outList, outCount, nbOut, groups);
    // Cut points: a block's first row plus multiples of 4 (its rows go by 4 from there), and its
    // end. A tile ends at the first cut where the work so far (examples x rows) reaches its share.
    const total = pairs * Math.min(B, N);
    const examplesOf = groups >>> 2;
    let count = 0;
    let from = 0;
    let done = 0;
    for (let start = 0, xb = 0; start < N; start += B, xb++) {
      const end = Math.min(N, start + B);
      const examples = memory[examplesOf + xb]!;
      for (let lo = start; lo < end; lo += 4) {
        const hi = Math.min(lo + 4, end);
        done += examples * (hi - lo);
        if (count < tiles - 1 && hi < N && done * tiles >= total * (count + 1)) {
          bounds[2 * count] = from;
          bounds[2 * count + 1] = hi;
          count++;
          from = hi;
        }
      }
    }
    bounds[2 * count] = from;
    bounds[2 * count + 1] = N;
    count++;
    for (let t = count - 1; t >= 0; t--) ctx.run(t, op, n, N, K, x, w, bias, out, B, nbOut, groups, bounds[2 * t]!, bounds[2 * t + 1]!);
    ctx.join();
  };
};

const activate: DispatcherFactory = (ctx) => {
  const whole = ctx.local["bsActivate"]!;
  const op = ctx.op("bsActivateRows");
  return (h, n, N, B, outList, outCount, nbOut, kind) => {
    const tiles = ctx.tiles(activationWork(kind), n * N, n);
    if (tiles <= 1) return whole(h, n, N, B, outList, outCount, nbOut, kind);
    const len = tileLength(n, tiles, 1);
    for (let t = tilesOf(n, len) - 1; t >= 0; t--) ctx.run(t, op, h, n, N, B, outList, outCount, nbOut, kind, t * len, Math.min(n, (t + 1) * len));
    ctx.join();
  };
};

const activationBackward: DispatcherFactory = (ctx) => {
  const whole = ctx.local["bsActivationBackward"]!;
  const op = ctx.op("bsActivationBackwardRows");
  return (delta, h, n, N, B, u, nbOut, kind) => {
    const tiles = ctx.tiles(POLICY_SPLIT.elements, n * N, n);
    if (tiles <= 1) return whole(delta, h, n, N, B, u, nbOut, kind);
    const len = tileLength(n, tiles, 1);
    for (let t = tilesOf(n, len) - 1; t >= 0; t--) ctx.run(t, op, delta, h, n, N, B, u, nbOut, kind, t * len, Math.min(n, (t + 1) * len));
    ctx.join();
  };
};

const sample: DispatcherFactory = (ctx) => {
  const whole = ctx.local["policySample"]!;
  const statsOf = ctx.local["policySampleStats"]!;
  const op = ctx.op("policySampleRows");
  return (sigma, u, list, counts, n, nb, squash, rate, mode, seed, stream, stats) => {
    const tiles = ctx.tiles(POLICY_SPLIT.samples, n * nb, n);
    if (tiles <= 1) return whole(sigma, u, list, counts, n, nb, squash, rate, mode, seed, stream, stats);
    const len = tileLength(n, tiles, 1);
    for (let t = tilesOf(n, len) - 1; t >= 0; t--) ctx.run(t, op, sigma, u, list, counts, n, nb, squash, rate, mode, seed, stream, t * len, Math.min(n, (t + 1) * len));
    ctx.join();
    if (stats !== 0) statsOf(sigma, counts, n, nb, squash, rate, stats);
  };
};

const gradient: DispatcherFactory = (ctx) => {
  const whole = ctx.local["policyGradient"]!;
  const means = ctx.local["policyGradientMeans"]!;
  const op = ctx.op("policyGradientRows");
  return (sigma, u, cost, beta, n, nb, squash, tau, lambdaS, lambdaV, regScale, form, mu, e) => {
    const tiles = ctx.tiles(POLICY_SPLIT.elements, n * nb, n);
    if (tiles <= 1 || n === 0) return whole(sigma, u, cost, beta, n, nb, squash, tau, lambdaS, lambdaV, regScale, form, mu, e);
    means(sigma, n, nb, squash, form, mu);
    const len = tileLength(n, tiles, 1);
    for (let t = tilesOf(n, len) - 1; t >= 0; t--) ctx.run(t, op, sigma, u, cost, beta, n, nb, squash, tau, lambdaS, lambdaV, regScale, form, mu, e, t * len, Math.min(n, (t + 1) * len));
    ctx.join();
  };
};

const step: DispatcherFactory = (ctx) => {
  const whole = ctx.local["policyStep"]!;
  const op = ctx.op("policyStep");
  return (param, grad, count, lr, decayLr, l2) => {
    const tiles = ctx.tiles(SPLIT_THRESHOLDS.optimizer, count, count);
    if (tiles <= 1) return whole(param, grad, count, lr, decayLr, l2);
    const len = tileLength(count, tiles, 1);
    for (let t = tilesOf(count, len) - 1; t >= 0; t--) ctx.run(t, op, param + t * len * 4, grad + t * len * 4, Math.min(len, count - t * len), lr, decayLr, l2);
    ctx.join();
  };
};

export const POLICY_DISPATCHERS: Dispatchers = {
  bsForward: forward,
  bsForwardGrouped: forwardGrouped,
  bsBackwardInput: backwardInput,
  bsActivate: activate,
  bsActivationBackward: activationBackward,
  policySample: sample,
  policyGradient: gradient,
  policyStep: step,
};
