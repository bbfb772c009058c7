// Cho & Bengio tree-structured gated weights, layout L1 "shared path" (methods.md 3):
// gater bits -> prefix codes -> examples bucketed by code (counting sort over the 2^k
// leaves; the examples of a prefix of length l are one contiguous range of the sorted
// order) -> one GEMM per non-empty (level, prefix) bucket (the GEMM's small-m path is the
// GEMV path for tiny buckets). Node (l, p) has heap index 2^l - 1 + p; its weights are the
// [units x inputs] slice `node` of the tree weight, its bias the [units] slice `node`.
// Lazy, time-aware weight decay (3.3): every node keeps, as an f64, the value of the
// decay log-product Lambda at which it is exact; catching up multiplies by
// exp(Lambda_now - Lambda_node).
import { scratchAt, SCRATCH_SMALL } from "./scratch";

import { gemmNN, gemmNT, gemmTN } from "./gemm";
import { philox4x32 } from "./rng";
import { addRow, axpySplit, dotSplit, scaleInPlace, uniformOpenF64 } from "./helpers";
import { TREE_BITS_DETERMINISTIC, TREE_BITS_REINFORCE, TREE_LEVEL_BUCKET, TREE_LEVEL_SCALED, TREE_LEVEL_UNIFORM } from "./codes/tree";


/**
 * Bits and prefix codes. gz [n x k] gater pre-activations; writes bits [n x k] (0/1 as f32)
 * and codes [n] (i32, bit 1 most significant). mode 0: b = 1[g > 0]; 1 (REINFORCE, training):
 * b ~ Bernoulli(sigm(g)); 2 (noisy rectifier, training): b = 1[g + sigma * N(0, 1) > 0].
 * Random numbers: Philox keyed (seed, layer), counter (row * k + i, step, layer, "tree").
 */
export function treeBits(gz: usize, n: i32, k: i32, bits: usize, codes: usize, mode: i32, sigma: f32, seed: u32, step: i32, layer: u32): void {
  treeBitsRows(gz, n, k, bits, codes, mode, sigma, seed, step, layer, 0, n);
}

/** treeBits for examples [e0, e1) (each example's bits and code depend on that example alone). */
export function treeBitsRows(gz: usize, n: i32, k: i32, bits: usize, codes: usize, mode: i32, sigma: f32, seed: u32, step: i32, layer: u32, e0: i32, e1: i32): void {
  for (let e = e0; e < e1; e++) {
    let code: i32 = 0;
    for (let i = 0; i < k; i++) {
      const o = (<usize>(e * k + i)) << 2;
      const g = load<f32>(gz + o);
      let b: i32 = 0;
      if (mode == TREE_BITS_DETERMINISTIC) {
        b = g > 0 ? 1 : 0;
      } else {
        philox4x32(<u32>(e * k + i), <u32>step, layer, 0x74726565, seed, 0x5452 ^ layer, scratchAt(SCRATCH_SMALL));
        const u1 = uniformOpenF64(load<u32>(scratchAt(SCRATCH_SMALL)));
        if (mode == TREE_BITS_REINFORCE) {
          const p = 1.0 / (1.0 + Math.exp(-<f64>g));
          b = u1 < p ? 1 : 0;
        } else {
          const u2 = uniformOpenF64(load<u32>(scratchAt(SCRATCH_SMALL), 4));
          const z = Math.sqrt(-2.0 * Math.log(u1)) * Math.cos(2.0 * Math.PI * u2);
          b = <f64>g + <f64>sigma * z > 0 ? 1 : 0;
        }
      }
      store<f32>(bits + o, <f32>b);
      code = (code << 1) | b;
    }
    store<i32>(codes + (<usize>e << 2), code);
  }
}

/**
 * Stable counting sort of the n examples by their full code: perm [n] lists example rows
 * in code order, leafStart [2^k + 1] the first sorted row of each leaf code.
 */
export function treeBucket(codes: usize, n: i32, k: i32, leafStart: usize, perm: usize): void {
  const leaves = 1 << k;
  memory.fill(leafStart, 0, (<usize>(leaves + 1)) << 2);
  for (let e = 0; e < n; e++) {
    const c = load<i32>(codes + (<usize>e << 2));
    const at = leafStart + (<usize>(c + 1) << 2);
    store<i32>(at, load<i32>(at) + 1);
  }
  for (let c = 1; c <= leaves; c++) {
    const at = leafStart + (<usize>c << 2);
    store<i32>(at, load<i32>(at) + load<i32>(at - 4));
  }
  // leafStart[c] = start of c; place, advancing leafStart[c] to the end of c ...
  for (let e = 0; e < n; e++) {
    const c = load<i32>(codes + (<usize>e << 2));
    const at = leafStart + (<usize>c << 2);
    const slot = load<i32>(at);
    store<i32>(perm + (<usize>slot << 2), e);
    store<i32>(at, slot + 1);
  }
  // ... then shift back so that leafStart[c] is again the start of c.
  for (let c = leaves; c >= 1; c--) {
    store<i32>(leafStart + (<usize>c << 2), load<i32>(leafStart + (<usize>(c - 1) << 2)));
  }
  store<i32>(leafStart, 0);
}

// @ts-ignore: decorator
@inline function bucketStart(leafStart: usize, k: i32, l: i32, p: i32): i32 {
  return load<i32>(leafStart + (<usize>(p << (k - l)) << 2));
}

/** dst[i] = src[perm[i]] for rows of `width` f32. */
export function treeGatherRows(src: usize, perm: usize, n: i32, width: i32, dst: usize): void {
  treeGatherRowsRange(src, perm, n, width, dst, 0, n);
}

/** treeGatherRows for sorted rows [i0, i1). */
export function treeGatherRowsRange(src: usize, perm: usize, n: i32, width: i32, dst: usize, i0: i32, i1: i32): void {
  const rowBytes = <usize>width << 2;
  for (let i = i0; i < i1; i++) {
    const e = load<i32>(perm + (<usize>i << 2));
    memory.copy(dst + <usize>i * rowBytes, src + <usize>e * rowBytes, rowBytes);
  }
}

/** dst[perm[i]] += src[i] for rows of `width` f32. */
export function treeScatterAddRows(src: usize, perm: usize, n: i32, width: i32, dst: usize): void {
  treeScatterAddRowsRange(src, perm, n, width, dst, 0, n);
}

/** treeScatterAddRows for sorted rows [i0, i1) (perm is a permutation: every dst row is written once). */
export function treeScatterAddRowsRange(src: usize, perm: usize, n: i32, width: i32, dst: usize, i0: i32, i1: i32): void {
  const rowBytes = <usize>width << 2;
  for (let i = i0; i < i1; i++) {
    const e = load<i32>(perm + (<usize>i << 2));
    addRow(dst + <usize>e * rowBytes, src + <usize>i * rowBytes, width);
  }
}

/** w = f w - lr g over `count` floats: the eager SGD step with its decay factor. */
// @ts-ignore: decorator
@inline function decayedStep(w: usize, g: usize, count: i32, f: f32, lr: f32): void {
  const vf = f32x4.splat(f), vlr = f32x4.splat(lr);
  let j = 0;
  for (; j + 4 <= count; j += 4) {
    const o = <usize>j << 2;
    v128.store(w + o, f32x4.sub(f32x4.mul(vf, v128.load(w + o)), f32x4.mul(vlr, v128.load(g + o))));
  }
  for (; j < count; j++) {
    const o = <usize>j << 2;
    store<f32>(w + o, f * load<f32>(w + o) - lr * load<f32>(g + o));
  }
}

/**
 * Lazy decay catch-up of the nodes the batch touches (buckets non-empty): weights times
 * exp(lambda - last[node]) (f64 product, applied as one f32 factor); last[node] = lambda.
 */
export function treeCatchUp(weight: usize, last: usize, k: i32, units: i32, inputs: i32, leafStart: usize, n: i32, lambda: f64): void {
  treeCatchUpRange(weight, last, k, units, inputs, leafStart, n, lambda, 0, units);
  treeCatchUpCommit(last, k, leafStart, n, lambda);
}

/**
 * The scaling of treeCatchUp on units [u0, u1) of every touched node (the rows u0..u1 of its
 * [units x inputs] slice); `last` is not changed: treeCatchUpCommit does it once all tiles ran.
 */
export function treeCatchUpRange(weight: usize, last: usize, k: i32, units: i32, inputs: i32, leafStart: usize, n: i32, lambda: f64, u0: i32, u1: i32): void {
  if (n <= 0) return;
  const slice = units * inputs;
  for (let l = 0; l <= k; l++) {
    for (let p = 0; p < (1 << l); p++) {
      if (bucketStart(leafStart, k, l, p) == bucketStart(leafStart, k, l, p + 1)) continue;
      const node = (1 << l) - 1 + p;
      scaleNodeRows(weight + (<usize>node * <usize>slice << 2), inputs, last + (<usize>node << 3), lambda, u0, u1);
    }
  }
}

/** Advances `last` of every touched node as treeCatchUp does (after treeCatchUpRange). */
export function treeCatchUpCommit(last: usize, k: i32, leafStart: usize, n: i32, lambda: f64): void {
  if (n <= 0) return;
  for (let l = 0; l <= k; l++) {
    for (let p = 0; p < (1 << l); p++) {
      if (bucketStart(leafStart, k, l, p) == bucketStart(leafStart, k, l, p + 1)) continue;
      commitNode(last + (<usize>((1 << l) - 1 + p) << 3), lambda);
    }
  }
}

/** Every node exact at `lambda` (before evaluation, export, or reading the weights). */
export function treeFlush(weight: usize, last: usize, nodes: i32, units: i32, inputs: i32, lambda: f64): void {
  treeFlushRange(weight, last, nodes, units, inputs, lambda, 0, units);
  treeFlushCommit(last, nodes, lambda);
}

/** The scaling of treeFlush on units [u0, u1) of every node; `last` unchanged (treeFlushCommit). */
export function treeFlushRange(weight: usize, last: usize, nodes: i32, units: i32, inputs: i32, lambda: f64, u0: i32, u1: i32): void {
  const slice = units * inputs;
  for (let node = 0; node < nodes; node++) {
    scaleNodeRows(weight + (<usize>node * <usize>slice << 2), inputs, last + (<usize>node << 3), lambda, u0, u1);
  }
}

/** Advances `last` of every node as treeFlush does (after treeFlushRange). */
export function treeFlushCommit(last: usize, nodes: i32, lambda: f64): void {
  for (let node = 0; node < nodes; node++) commitNode(last + (<usize>node << 3), lambda);
}

/**
 * The node's true value is its stored value times exp(lambda - last). Scale by the f32
 * factor F nearest exp(lambda - last) and advance last by log(F), not to lambda: the f32
 * rounding of F stays pending (below one ulp) instead of accumulating over catch-ups.
 */
// @ts-ignore: decorator
@inline function catchUpNode(w: usize, slice: i32, at: usize, lambda: f64): void {
  const old = load<f64>(at);
  const f = <f32>Math.exp(lambda - old);
  if (f == 1) return;
  scaleInPlace(w, slice, f);
  store<f64>(at, old + Math.log(<f64>f));
}

/** catchUpNode's scaling of rows [u0, u1) (of `inputs` floats) of one node, `at` unchanged. */
// @ts-ignore: decorator
@inline function scaleNodeRows(w: usize, inputs: i32, at: usize, lambda: f64, u0: i32, u1: i32): void {
  const f = <f32>Math.exp(lambda - load<f64>(at));
  if (f == 1) return;
  scaleInPlace(w + (<usize>u0 * <usize>inputs << 2), (u1 - u0) * inputs, f);
}

/** catchUpNode's advance of `at` (after the node's rows were scaled). */
// @ts-ignore: decorator
@inline function commitNode(at: usize, lambda: f64): void {
  const old = load<f64>(at);
  const f = <f32>Math.exp(lambda - old);
  if (f == 1) return;
  store<f64>(at, old + Math.log(<f64>f));
}

/**
 * Levels 1..k of the forward pass over the sorted rows xs [n x inputs]: zs [n x units] =
 * sum over l >= 1 of xs[S_p] . T_l[p]^T + c_l[p]. Returns the MACs performed.
 */
export function treeForwardLevels(xs: usize, n: i32, inputs: i32, units: i32, k: i32, leafStart: usize, weight: usize, bias: usize, zs: usize): f64 {
  return treeForwardLevelsColumns(xs, n, inputs, units, k, leafStart, weight, bias, zs, 0, units);
}

/**
 * treeForwardLevels for units (columns of zs) [j0, j1): j0 a multiple of 16 and j1 one too or
 * units, so that every bucket's GEMM groups the columns as in one call. Returns the MACs of the
 * whole call (every tile returns the same).
 */
export function treeForwardLevelsColumns(xs: usize, n: i32, inputs: i32, units: i32, k: i32, leafStart: usize, weight: usize, bias: usize, zs: usize, j0: i32, j1: i32): f64 {
  for (let r = 0; r < n; r++) memory.fill(zs + ((<usize>r * <usize>units + <usize>j0) << 2), 0, <usize>(j1 - j0) << 2);
  const slice = <usize>units * <usize>inputs;
  let macs: f64 = 0;
  for (let l = 1; l <= k; l++) {
    for (let p = 0; p < (1 << l); p++) {
      const s = bucketStart(leafStart, k, l, p);
      const e = bucketStart(leafStart, k, l, p + 1);
      if (s == e) continue;
      const node = (1 << l) - 1 + p;
      gemmNT(e - s, j1 - j0, inputs, xs + (<usize>s * <usize>inputs << 2), inputs, weight + ((<usize>node * slice + <usize>j0 * <usize>inputs) << 2), inputs, zs + ((<usize>s * <usize>units + <usize>j0) << 2), units, 1);
      const b = bias + ((<usize>node * <usize>units + <usize>j0) << 2);
      for (let r = s; r < e; r++) addRow(zs + ((<usize>r * <usize>units + <usize>j0) << 2), b, j1 - j0);
      macs += <f64>(e - s) * <f64>slice;
    }
  }
  return macs;
}

/**
 * Gradients of the touched nodes of levels 1..k (overwritten, beta 0): dT_l[p] =
 * ds[S_p]^T xs[S_p], dc_l[p] = colsum ds[S_p]. Untouched nodes' gradients are not written.
 */
export function treeBackwardLevels(xs: usize, ds: usize, n: i32, inputs: i32, units: i32, k: i32, leafStart: usize, gradWeight: usize, gradBias: usize): void {
  treeBackwardLevelsRange(xs, ds, n, inputs, units, k, leafStart, gradWeight, gradBias, 0, inputs, 0, units);
}

/**
 * treeBackwardLevels for the weight gradients' input columns [c0, c1) (c0 a multiple of 16, c1
 * one too or inputs: each bucket's GEMM groups them as in one call) and the bias gradients'
 * units [u0, u1).
 */
export function treeBackwardLevelsRange(xs: usize, ds: usize, n: i32, inputs: i32, units: i32, k: i32, leafStart: usize, gradWeight: usize, gradBias: usize, c0: i32, c1: i32, u0: i32, u1: i32): void {
  const slice = <usize>units * <usize>inputs;
  for (let l = 1; l <= k; l++) {
    for (let p = 0; p < (1 << l); p++) {
      const s = bucketStart(leafStart, k, l, p);
      const e = bucketStart(leafStart, k, l, p + 1);
      if (s == e) continue;
      const node = (1 << l) - 1 + p;
      const d = ds + (<usize>s * <usize>units << 2);
      if (c1 > c0) gemmTN(units, c1 - c0, e - s, d, units, xs + ((<usize>s * <usize>inputs + <usize>c0) << 2), inputs, gradWeight + ((<usize>node * slice + <usize>c0) << 2), inputs, 0);
      if (u1 > u0) {
        const gb = gradBias + ((<usize>node * <usize>units + <usize>u0) << 2);
        memory.fill(gb, 0, <usize>(u1 - u0) << 2);
        for (let r = 0; r < e - s; r++) addRow(gb, d + ((<usize>r * <usize>units + <usize>u0) << 2), u1 - u0);
      }
    }
  }
}

/** dxs [n x inputs] = sum over l >= 1 of ds[S_p] . T_l[p] (sorted rows). */
export function treeBackwardInput(ds: usize, n: i32, inputs: i32, units: i32, k: i32, leafStart: usize, weight: usize, dxs: usize): void {
  treeBackwardInputColumns(ds, n, inputs, units, k, leafStart, weight, dxs, 0, inputs);
}

/** treeBackwardInput for input columns [c0, c1) (c0 a multiple of 16, c1 one too or inputs). */
export function treeBackwardInputColumns(ds: usize, n: i32, inputs: i32, units: i32, k: i32, leafStart: usize, weight: usize, dxs: usize, c0: i32, c1: i32): void {
  for (let r = 0; r < n; r++) memory.fill(dxs + ((<usize>r * <usize>inputs + <usize>c0) << 2), 0, <usize>(c1 - c0) << 2);
  const slice = <usize>units * <usize>inputs;
  for (let l = 1; l <= k; l++) {
    for (let p = 0; p < (1 << l); p++) {
      const s = bucketStart(leafStart, k, l, p);
      const e = bucketStart(leafStart, k, l, p + 1);
      if (s == e) continue;
      const node = (1 << l) - 1 + p;
      gemmNN(e - s, c1 - c0, units, ds + (<usize>s * <usize>units << 2), units, weight + ((<usize>node * slice + <usize>c0) << 2), inputs, dxs + ((<usize>s * <usize>inputs + <usize>c0) << 2), inputs, 1);
    }
  }
}

/**
 * Learning-rate multiplier of a node of level l touched by `count` of the batch's n
 * examples (the `level_lr` option): 0 "uniform": 1; 1 "scaled": min(2^l, max); 2 "bucket":
 * min(n / count, max), i.e. the node steps on the mean gradient of its own examples. The
 * root (l = 0, count = n) always gets 1.
 */
// @ts-ignore: decorator
@inline function levelScale(mode: i32, max: f32, l: i32, n: i32, count: i32): f32 {
  if (mode == TREE_LEVEL_UNIFORM) return 1;
  const s: f32 = mode == TREE_LEVEL_SCALED ? <f32>(1 << l) : <f32>n / <f32>count;
  return s < max ? s : max;
}

/**
 * Plain SGD with L2 on the touched nodes after backward (the eager step of the exact lazy
 * scheme): T = F T - lr_node dT with F = f32(1 - lr * decay), c = c - lr_node dc, where
 * lr_node = lr * levelScale(...) scales the gradient step only: the decay factor uses the
 * base rate for every node, so the lazy catch-up stays exact. The nodes were
 * caught up to the previous step in the forward pass; last[node] += log(F), so that the
 * rounding of F stays pending (see catchUpNode) and last tracks Lambda, which the caller
 * advanced by log(1 - lr * decay) in f64.
 */
export function treeUpdate(weight: usize, bias: usize, gradWeight: usize, gradBias: usize, last: usize, k: i32, units: i32, inputs: i32, leafStart: usize, n: i32, baseLr: f32, decay: f64, levelMode: i32, levelMax: f32): void {
  treeUpdateRange(weight, bias, gradWeight, gradBias, k, units, inputs, leafStart, n, baseLr, decay, levelMode, levelMax, 0, units);
  treeUpdateCommit(last, k, leafStart, n, baseLr, decay);
}

/** treeUpdate's step on units [u0, u1) of every touched node (their weight rows and biases); `last` unchanged. */
export function treeUpdateRange(weight: usize, bias: usize, gradWeight: usize, gradBias: usize, k: i32, units: i32, inputs: i32, leafStart: usize, n: i32, baseLr: f32, decay: f64, levelMode: i32, levelMax: f32, u0: i32, u1: i32): void {
  if (n <= 0) return;
  const slice = units * inputs;
  const f: f32 = <f32>(1.0 - <f64>baseLr * decay);
  const rows = <usize>u0 * <usize>inputs;
  for (let l = 0; l <= k; l++) {
    for (let p = 0; p < (1 << l); p++) {
      const count = bucketStart(leafStart, k, l, p + 1) - bucketStart(leafStart, k, l, p);
      if (count == 0) continue;
      const node = (1 << l) - 1 + p;
      const lr = baseLr * levelScale(levelMode, levelMax, l, n, count);
      decayedStep(weight + ((<usize>node * <usize>slice + rows) << 2), gradWeight + ((<usize>node * <usize>slice + rows) << 2), (u1 - u0) * inputs, f, lr);
      const b = bias + (<usize>node * <usize>units << 2);
      const gb = gradBias + (<usize>node * <usize>units << 2);
      for (let u = u0; u < u1; u++) {
        const o = <usize>u << 2;
        store<f32>(b + o, load<f32>(b + o) - lr * load<f32>(gb + o));
      }
    }
  }
}

/** treeUpdate's advance of `last` of every touched node (after treeUpdateRange). */
export function treeUpdateCommit(last: usize, k: i32, leafStart: usize, n: i32, baseLr: f32, decay: f64): void {
  if (n <= 0) return;
  const f: f32 = <f32>(1.0 - <f64>baseLr * decay);
  const logF: f64 = Math.log(<f64>f);
  for (let l = 0; l <= k; l++) {
    for (let p = 0; p < (1 << l); p++) {
      if (bucketStart(leafStart, k, l, p + 1) == bucketStart(leafStart, k, l, p)) continue;
      const at = last + (<usize>((1 << l) - 1 + p) << 3);
      store<f64>(at, load<f64>(at) + logF);
    }
  }
}

/**
 * REINFORCE on the gaters (methods.md 3.4): per-example loss L_e = -log probs[e, label_e],
 * baseline = batch mean; a [n x k] = (L_e - baseline)(b - sigm(g)) / n, written over gz.
 */
export function treeReinforceSignal(gz: usize, bits: usize, n: i32, k: i32, probs: usize, labels: usize, classes: i32): void {
  let mean: f64 = 0;
  for (let e = 0; e < n; e++) mean += perExampleLoss(probs, labels, classes, e);
  mean /= <f64>n;
  for (let e = 0; e < n; e++) {
    const adv = (perExampleLoss(probs, labels, classes, e) - mean) / <f64>n;
    for (let i = 0; i < k; i++) {
      const o = (<usize>(e * k + i)) << 2;
      const s = 1.0 / (1.0 + Math.exp(-<f64>load<f32>(gz + o)));
      store<f32>(gz + o, <f32>(adv * (<f64>load<f32>(bits + o) - s)));
    }
  }
}

// @ts-ignore: decorator
@inline function perExampleLoss(probs: usize, labels: usize, classes: i32, e: i32): f64 {
  const label = load<i32>(labels + (<usize>e << 2));
  if (label < 0 || label >= classes) return 0;
  const p = <f64>load<f32>(probs + (<usize>(e * classes + label) << 2));
  return -Math.log(p > 1e-30 ? p : 1e-30);
}

// ---------------------------------------------------------------------------------------
// Layout L2 "per-unit path" (methods.md 3.1): unit j reads the k gater bits in its own
// fixed order order[j] (a permutation of 0..k-1), so each (example, unit) has its own path.
// The root (node 0, shared by every unit) runs as the dense GEMM; levels 1..k gather the
// unit's row T(node, j) [inputs] and dot it with x. Gradients, the lazy-decay timestamps
// (f64 per (node, unit) row) and the SGD step are per row; `mark` (i32 per row) dedups rows
// touched by several examples within a pass.
// ---------------------------------------------------------------------------------------

/** order [units x k]: unit j's gater order, a Fisher-Yates permutation from xorshift32(j). */
export function treeUnitOrders(order: usize, units: i32, k: i32): void {
  for (let j = 0; j < units; j++) {
    const row = order + (<usize>(j * k) << 2);
    for (let i = 0; i < k; i++) store<i32>(row + (<usize>i << 2), i);
    let s: u32 = <u32>j * 0x9E3779B9 + 0x7F4A7C15;
    for (let i = k - 1; i >= 1; i--) {
      s ^= s << 13; s ^= s >> 17; s ^= s << 5;
      const r = <i32>(s % <u32>(i + 1));
      const a = load<i32>(row + (<usize>i << 2));
      store<i32>(row + (<usize>i << 2), load<i32>(row + (<usize>r << 2)));
      store<i32>(row + (<usize>r << 2), a);
    }
  }
}

/** path [n x units x k]: the node of levels 1..k for each (example, unit). */
export function treeUnitPaths(bits: usize, n: i32, k: i32, units: i32, order: usize, path: usize): void {
  treeUnitPathsRows(bits, n, k, units, order, path, 0, n);
}

/** treeUnitPaths for examples [e0, e1). */
export function treeUnitPathsRows(bits: usize, n: i32, k: i32, units: i32, order: usize, path: usize, e0: i32, e1: i32): void {
  for (let e = e0; e < e1; e++) {
    const b = bits + (<usize>(e * k) << 2);
    for (let j = 0; j < units; j++) {
      const o = order + (<usize>(j * k) << 2);
      const out = path + (<usize>((e * units + j) * k) << 2);
      let p = 0;
      for (let l = 1; l <= k; l++) {
        p = (p << 1) | (load<f32>(b + (<usize>load<i32>(o + (<usize>(l - 1) << 2)) << 2)) > 0 ? 1 : 0);
        store<i32>(out + (<usize>(l - 1) << 2), (1 << l) - 1 + p);
      }
    }
  }
}

/** Lazy catch-up of every row (node, j) a path of the batch touches, levels 1..k (the root rows via treeCatchUpRoot). */
export function treeUnitCatchUp(weight: usize, last: usize, path: usize, n: i32, k: i32, units: i32, inputs: i32, lambda: f64): void {
  treeUnitCatchUpUnits(weight, last, path, n, k, units, inputs, lambda, 0, units);
}

/** treeUnitCatchUp for the rows of units [j0, j1) (a row (node, j) belongs to unit j alone). */
export function treeUnitCatchUpUnits(weight: usize, last: usize, path: usize, n: i32, k: i32, units: i32, inputs: i32, lambda: f64, j0: i32, j1: i32): void {
  for (let e = 0; e < n; e++) {
    for (let j = j0; j < j1; j++) {
      const pr = path + (<usize>((e * units + j) * k) << 2);
      for (let l = 0; l < k; l++) {
        const row = load<i32>(pr + (<usize>l << 2)) * units + j;
        catchUpNode(weight + (<usize>row * <usize>inputs << 2), inputs, last + (<usize>row << 3), lambda);
      }
    }
  }
}

/** Root rows (node 0, every unit): all touched when n > 0. */
export function treeUnitCatchUpRoot(weight: usize, last: usize, n: i32, units: i32, inputs: i32, lambda: f64): void {
  if (n <= 0) return;
  treeUnitFlushRows(weight, last, units, inputs, lambda, 0, units);
}

/** Every row exact at `lambda` (layout L2 flush). */
export function treeUnitFlush(weight: usize, last: usize, rows: i32, inputs: i32, lambda: f64): void {
  treeUnitFlushRows(weight, last, rows, inputs, lambda, 0, rows);
}

/** treeUnitFlush for rows [r0, r1) (each row has its own `last`). */
export function treeUnitFlushRows(weight: usize, last: usize, rows: i32, inputs: i32, lambda: f64, r0: i32, r1: i32): void {
  for (let r = r0; r < r1; r++) catchUpNode(weight + (<usize>r * <usize>inputs << 2), inputs, last + (<usize>r << 3), lambda);
}

/** z [n x units] += Σ_{l=1..k} x_e · T(node_l(e, j), j) + c(node_l(e, j), j). Returns the MACs performed. */
export function treeUnitForward(x: usize, n: i32, inputs: i32, units: i32, k: i32, path: usize, weight: usize, bias: usize, z: usize): f64 {
  return treeUnitForwardRows(x, n, inputs, units, k, path, weight, bias, z, 0, n);
}

/** treeUnitForward for examples [e0, e1); returns their MACs. */
export function treeUnitForwardRows(x: usize, n: i32, inputs: i32, units: i32, k: i32, path: usize, weight: usize, bias: usize, z: usize, e0: i32, e1: i32): f64 {
  for (let e = e0; e < e1; e++) {
    const xe = x + (<usize>(e * inputs) << 2);
    for (let j = 0; j < units; j++) {
      const pr = path + (<usize>((e * units + j) * k) << 2);
      let s: f32 = 0;
      for (let l = 0; l < k; l++) {
        const row = load<i32>(pr + (<usize>l << 2)) * units + j;
        s += dotSplit(weight + (<usize>row * <usize>inputs << 2), xe, inputs) + load<f32>(bias + (<usize>row << 2));
      }
      const at = z + (<usize>(e * units + j) << 2);
      store<f32>(at, load<f32>(at) + s);
    }
  }
  return <f64>(e1 - e0) * <f64>units * <f64>k * <f64>inputs;
}

/**
 * Gradients of the touched rows of levels 1..k: zeroed once (mark = gen), then
 * dT(node, j) += δ_ej x_e, dc(node, j) += δ_ej; and, when dx != 0, dx_e += Σ δ_ej T(node, j).
 */
export function treeUnitBackward(x: usize, delta: usize, n: i32, inputs: i32, units: i32, k: i32, path: usize, weight: usize, gradWeight: usize, gradBias: usize, mark: usize, gen: i32, dx: usize): void {
  treeUnitBackwardUnits(x, delta, n, inputs, units, k, path, gradWeight, gradBias, mark, gen, 0, units);
  if (dx != 0) treeUnitBackwardInput(delta, n, inputs, units, k, path, weight, dx, 0, n);
}

/**
 * The gradients of the rows of units [j0, j1) (a row (node, j) belongs to unit j): zeroed
 * once, then summed over the examples in order, as in one call.
 */
export function treeUnitBackwardUnits(x: usize, delta: usize, n: i32, inputs: i32, units: i32, k: i32, path: usize, gradWeight: usize, gradBias: usize, mark: usize, gen: i32, j0: i32, j1: i32): void {
  for (let e = 0; e < n; e++) {
    for (let j = j0; j < j1; j++) {
      const pr = path + (<usize>((e * units + j) * k) << 2);
      for (let l = 0; l < k; l++) {
        const row = load<i32>(pr + (<usize>l << 2)) * units + j;
        const m = mark + (<usize>row << 2);
        if (load<i32>(m) == gen) continue;
        store<i32>(m, gen);
        memory.fill(gradWeight + (<usize>row * <usize>inputs << 2), 0, <usize>inputs << 2);
        store<f32>(gradBias + (<usize>row << 2), 0);
      }
    }
  }
  for (let e = 0; e < n; e++) {
    const xe = x + (<usize>(e * inputs) << 2);
    for (let j = j0; j < j1; j++) {
      const d = load<f32>(delta + (<usize>(e * units + j) << 2));
      if (d == 0) continue;
      const pr = path + (<usize>((e * units + j) * k) << 2);
      for (let l = 0; l < k; l++) {
        const row = load<i32>(pr + (<usize>l << 2)) * units + j;
        axpySplit(gradWeight + (<usize>row * <usize>inputs << 2), d, xe, inputs);
        const gb = gradBias + (<usize>row << 2);
        store<f32>(gb, load<f32>(gb) + d);
      }
    }
  }
}

/** dx_e += Σ_j Σ_l δ_ej T(node_l(e, j), j) for examples [e0, e1), in the order of one call. */
export function treeUnitBackwardInput(delta: usize, n: i32, inputs: i32, units: i32, k: i32, path: usize, weight: usize, dx: usize, e0: i32, e1: i32): void {
  for (let e = e0; e < e1; e++) {
    for (let j = 0; j < units; j++) {
      const d = load<f32>(delta + (<usize>(e * units + j) << 2));
      if (d == 0) continue;
      const pr = path + (<usize>((e * units + j) * k) << 2);
      for (let l = 0; l < k; l++) {
        const row = load<i32>(pr + (<usize>l << 2)) * units + j;
        axpySplit(dx + (<usize>(e * inputs) << 2), d, weight + (<usize>row * <usize>inputs << 2), inputs);
      }
    }
  }
}

/**
 * Plain SGD + lazy L2 step on every touched row, once per row (mark = gen); root rows
 * included. levelMode/levelMax as in treeUpdate (levelScale): the row's level is that of
 * its node; for "bucket" (2) `count` [rows] (i32) first counts the batch's examples per
 * touched row (a pass marked -gen, gen > 0, so it never collides with earlier marks).
 */
export function treeUnitUpdate(weight: usize, bias: usize, gradWeight: usize, gradBias: usize, last: usize, path: usize, n: i32, k: i32, units: i32, inputs: i32, mark: usize, gen: i32, baseLr: f32, decay: f64, levelMode: i32, levelMax: f32, count: usize): void {
  treeUnitUpdateUnits(weight, bias, gradWeight, gradBias, last, path, n, k, units, inputs, mark, gen, baseLr, decay, levelMode, levelMax, count, 0, units);
}

/** treeUnitUpdate for the rows of units [j0, j1) (root rows included). */
export function treeUnitUpdateUnits(weight: usize, bias: usize, gradWeight: usize, gradBias: usize, last: usize, path: usize, n: i32, k: i32, units: i32, inputs: i32, mark: usize, gen: i32, baseLr: f32, decay: f64, levelMode: i32, levelMax: f32, count: usize, j0: i32, j1: i32): void {
  if (n <= 0) return;
  const f: f32 = <f32>(1.0 - <f64>baseLr * decay);
  const logF: f64 = Math.log(<f64>f);
  for (let j = j0; j < j1; j++) sgdRow(weight, bias, gradWeight, gradBias, last, j, inputs, f, baseLr, logF);
  if (levelMode == TREE_LEVEL_BUCKET) {
    for (let e = 0; e < n; e++) {
      for (let j = j0; j < j1; j++) {
        const pr = path + (<usize>((e * units + j) * k) << 2);
        for (let l = 0; l < k; l++) {
          const row = load<i32>(pr + (<usize>l << 2)) * units + j;
          const m = mark + (<usize>row << 2);
          const c = count + (<usize>row << 2);
          if (load<i32>(m) == -gen) {
            store<i32>(c, load<i32>(c) + 1);
          } else {
            store<i32>(m, -gen);
            store<i32>(c, 1);
          }
        }
      }
    }
  }
  for (let e = 0; e < n; e++) {
    for (let j = j0; j < j1; j++) {
      const pr = path + (<usize>((e * units + j) * k) << 2);
      for (let l = 0; l < k; l++) {
        const row = load<i32>(pr + (<usize>l << 2)) * units + j;
        const m = mark + (<usize>row << 2);
        if (load<i32>(m) == gen) continue;
        store<i32>(m, gen);
        const touched = levelMode == TREE_LEVEL_BUCKET ? load<i32>(count + (<usize>row << 2)) : n;
        const lr = baseLr * levelScale(levelMode, levelMax, l + 1, n, touched);
        sgdRow(weight, bias, gradWeight, gradBias, last, row, inputs, f, lr, logF);
      }
    }
  }
}

// @ts-ignore: decorator
@inline function sgdRow(weight: usize, bias: usize, gradWeight: usize, gradBias: usize, last: usize, row: i32, inputs: i32, f: f32, lr: f32, logF: f64): void {
  decayedStep(weight + (<usize>row * <usize>inputs << 2), gradWeight + (<usize>row * <usize>inputs << 2), inputs, f, lr);
  const b = bias + (<usize>row << 2);
  store<f32>(b, load<f32>(b) - lr * load<f32>(gradBias + (<usize>row << 2)));
  const at = last + (<usize>row << 3);
  store<f64>(at, load<f64>(at) + logF);
}
