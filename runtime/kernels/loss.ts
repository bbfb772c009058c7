// Output losses: softmax (inference) and softmax cross-entropy with its gradient
// (p - onehot) / m; rows are max-subtracted for stability.
import { expf4 } from "./mathf4";
import { hsumSerial, scaleInPlace } from "./helpers";

// probs[row] = exp(x - max) (unnormalized); returns the sum. Reads all of x before writing.
function expShifted(x: usize, out: usize, classes: i32, max: f32): f32 {
  const vmax = f32x4.splat(max);
  let acc = f32x4.splat(0);
  let j = 0;
  for (; j + 4 <= classes; j += 4) {
    const o = <usize>j * 4;
    const e = expf4(f32x4.sub(v128.load(x + o), vmax));
    v128.store(out + o, e);
    acc = f32x4.add(acc, e);
  }
  let sum = hsumSerial(acc);
  for (; j < classes; j++) {
    const o = <usize>j * 4;
    const e = f32x4.extract_lane(expf4(f32x4.splat(load<f32>(x + o) - max)), 0);
    store<f32>(out + o, e);
    sum += e;
  }
  return sum;
}

function rowMax(x: usize, classes: i32): f32 {
  let best = load<f32>(x);
  for (let j = 1; j < classes; j++) {
    const v = load<f32>(x + <usize>j * 4);
    if (v > best) best = v;
  }
  return best;
}

/** probs[m x classes] = softmax of each row of logits (probs may alias logits). */
export function softmax(logits: usize, probs: usize, m: i32, classes: i32): void {
  const rowBytes = <usize>classes * 4;
  for (let i = 0; i < m; i++) {
    const x = logits + <usize>i * rowBytes;
    const p = probs + <usize>i * rowBytes;
    const sum = expShifted(x, p, classes, rowMax(x, classes));
    scaleInPlace(p, classes, 1 / sum);
  }
}

/**
 * Mean over rows of -log softmax(logits)[label]; writes probs and dlogits = (probs - onehot) / m.
 * labels: i32 per row; a label outside [0, classes) contributes no loss and no onehot term.
 */
export function softmaxCrossEntropy(logits: usize, labels: usize, m: i32, classes: i32, probs: usize, dlogits: usize): f32 {
  const rowBytes = <usize>classes * 4;
  const invM: f32 = 1 / <f32>m;
  let total: f64 = 0;
  for (let i = 0; i < m; i++) {
    const x = logits + <usize>i * rowBytes;
    const p = probs + <usize>i * rowBytes;
    const d = dlogits + <usize>i * rowBytes;
    const label = load<i32>(labels + <usize>i * 4);
    const valid = label >= 0 && label < classes;
    const max = rowMax(x, classes);
    const target: f32 = valid ? load<f32>(x + <usize>label * 4) - max : 0;
    const sum = expShifted(x, p, classes, max);
    if (valid) total += Math.log(<f64>sum) - <f64>target;
    const inv: f32 = 1 / sum;
    const vinv = f32x4.splat(inv), vm = f32x4.splat(invM);
    let j = 0;
    for (; j + 4 <= classes; j += 4) {
      const o = <usize>j * 4;
      const pv = f32x4.mul(v128.load(p + o), vinv);
      v128.store(p + o, pv);
      v128.store(d + o, f32x4.mul(pv, vm));
    }
    for (; j < classes; j++) {
      const o = <usize>j * 4;
      const pv = load<f32>(p + o) * inv;
      store<f32>(p + o, pv);
      store<f32>(d + o, pv * invM);
    }
    if (valid) {
      const o = <usize>label * 4;
      store<f32>(d + o, (load<f32>(p + o) - 1) * invM);
    }
  }
  return <f32>(total / <f64>m);
}
