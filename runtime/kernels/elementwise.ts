// Element-wise kernels of the dense spine: bias broadcast, activations (forward from the
// pre-activation, backward from the activation's OUTPUT h) and bias-gradient column sums.
// All work in place when input and output pointers coincide.

import { sigmoidf4, tanhf4 } from "./mathf4";

// @ts-ignore: decorator
@inline function scalarApply(x: f32, kind: i32): f32 {
  const v = f32x4.splat(x);
  const r = kind == 0 ? tanhf4(v) : sigmoidf4(v);
  return f32x4.extract_lane(r, 0);
}

/** z[m x n] += bias[n] broadcast over rows (row stride n). */
export function addBias(z: usize, bias: usize, m: i32, n: i32): void {
  const rowBytes = <usize>n * 4;
  for (let i = 0; i < m; i++) {
    const row = z + <usize>i * rowBytes;
    let j = 0;
    for (; j + 4 <= n; j += 4) {
      const o = <usize>j * 4;
      v128.store(row + o, f32x4.add(v128.load(row + o), v128.load(bias + o)));
    }
    for (; j < n; j++) {
      const o = <usize>j * 4;
      store<f32>(row + o, load<f32>(row + o) + load<f32>(bias + o));
    }
  }
}

/** h = max(z, 0). */
export function reluForward(z: usize, h: usize, count: i32): void {
  const zero = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= count; i += 4) {
    const o = <usize>i * 4;
    const v = v128.load(z + o);
    v128.store(h + o, v128.and(v, f32x4.gt(v, zero)));
  }
  for (; i < count; i++) {
    const o = <usize>i * 4;
    const v = load<f32>(z + o);
    store<f32>(h + o, v > 0 ? v : <f32>0);
  }
}

/** dz = dh * 1[h > 0] (h is the ReLU output). */
export function reluBackward(dh: usize, h: usize, dz: usize, count: i32): void {
  const zero = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= count; i += 4) {
    const o = <usize>i * 4;
    v128.store(dz + o, v128.and(v128.load(dh + o), f32x4.gt(v128.load(h + o), zero)));
  }
  for (; i < count; i++) {
    const o = <usize>i * 4;
    store<f32>(dz + o, load<f32>(h + o) > 0 ? load<f32>(dh + o) : <f32>0);
  }
}

/** h = tanh(z). */
export function tanhForward(z: usize, h: usize, count: i32): void {
  let i = 0;
  for (; i + 4 <= count; i += 4) {
    const o = <usize>i * 4;
    v128.store(h + o, tanhf4(v128.load(z + o)));
  }
  for (; i < count; i++) {
    const o = <usize>i * 4;
    store<f32>(h + o, scalarApply(load<f32>(z + o), 0));
  }
}

/** dz = dh * (1 - h^2) (h = tanh(z)). */
export function tanhBackward(dh: usize, h: usize, dz: usize, count: i32): void {
  const one = f32x4.splat(1);
  let i = 0;
  for (; i + 4 <= count; i += 4) {
    const o = <usize>i * 4;
    const hv = v128.load(h + o);
    v128.store(dz + o, f32x4.mul(v128.load(dh + o), f32x4.sub(one, f32x4.mul(hv, hv))));
  }
  for (; i < count; i++) {
    const o = <usize>i * 4;
    const hv = load<f32>(h + o);
    store<f32>(dz + o, load<f32>(dh + o) * (1 - hv * hv));
  }
}

/** h = 1 / (1 + exp(-z)). */
export function sigmoidForward(z: usize, h: usize, count: i32): void {
  let i = 0;
  for (; i + 4 <= count; i += 4) {
    const o = <usize>i * 4;
    v128.store(h + o, sigmoidf4(v128.load(z + o)));
  }
  for (; i < count; i++) {
    const o = <usize>i * 4;
    store<f32>(h + o, scalarApply(load<f32>(z + o), 1));
  }
}

/** dz = dh * h * (1 - h) (h = sigmoid(z)). */
export function sigmoidBackward(dh: usize, h: usize, dz: usize, count: i32): void {
  const one = f32x4.splat(1);
  let i = 0;
  for (; i + 4 <= count; i += 4) {
    const o = <usize>i * 4;
    const hv = v128.load(h + o);
    v128.store(dz + o, f32x4.mul(v128.load(dh + o), f32x4.mul(hv, f32x4.sub(one, hv))));
  }
  for (; i < count; i++) {
    const o = <usize>i * 4;
    const hv = load<f32>(h + o);
    store<f32>(dz + o, load<f32>(dh + o) * (hv * (1 - hv)));
  }
}

/** db[n] = sum over rows of dz[m x n] (bias gradient; overwrites db). Fixed row order. */
export function columnSums(dz: usize, m: i32, n: i32, db: usize): void {
  columnSumsRange(dz, m, n, db, 0, n);
}

/**
 * columnSums over columns [j0, j1) only (one thread's tile): j0 a multiple of 16 and j1 one
 * too or n, so that every column is summed by the same code as in the whole call.
 */
export function columnSumsRange(dz: usize, m: i32, n: i32, db: usize, j0: i32, j1: i32): void {
  const rowBytes = <usize>n * 4;
  let j = j0;
  for (; j + 16 <= j1; j += 16) {
    let s0 = f32x4.splat(0), s1 = f32x4.splat(0), s2 = f32x4.splat(0), s3 = f32x4.splat(0);
    let p = dz + <usize>j * 4;
    for (let i = 0; i < m; i++) {
      s0 = f32x4.add(s0, v128.load(p)); s1 = f32x4.add(s1, v128.load(p, 16));
      s2 = f32x4.add(s2, v128.load(p, 32)); s3 = f32x4.add(s3, v128.load(p, 48));
      p += rowBytes;
    }
    const o = db + <usize>j * 4;
    v128.store(o, s0); v128.store(o, s1, 16); v128.store(o, s2, 32); v128.store(o, s3, 48);
  }
  for (; j + 4 <= j1; j += 4) {
    let s0 = f32x4.splat(0);
    let p = dz + <usize>j * 4;
    for (let i = 0; i < m; i++) { s0 = f32x4.add(s0, v128.load(p)); p += rowBytes; }
    v128.store(db + <usize>j * 4, s0);
  }
  for (; j < j1; j++) {
    let s: f32 = 0;
    let p = dz + <usize>j * 4;
    for (let i = 0; i < m; i++) { s += load<f32>(p); p += rowBytes; }
    store<f32>(db + <usize>j * 4, s);
  }
}
