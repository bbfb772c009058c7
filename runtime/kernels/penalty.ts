// Activation penalties: the L1 term of Davis & Arel's loss, lambda * mean_batch(sum |h|).
// Adds its gradient (lambda / m) * sign(h) to the upstream gradient in place.
import { hsumSerial } from "./helpers";

/** Returns scale * sum|h| and adds scale * sign(h) to dh; scale = lambda / m. */
export function l1Penalty(h: usize, dh: usize, count: i32, scale: f32): f32 {
  const vscale = f32x4.splat(scale);
  const vzero = f32x4.splat(0);
  let sum = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= count; i += 4) {
    const offset = <usize>i << 2;
    const v = v128.load(h + offset);
    sum = f32x4.add(sum, f32x4.abs(v));
    // sign(v) * scale: +scale where v > 0, -scale where v < 0, 0 at 0.
    const pos = v128.and(f32x4.gt(v, vzero), vscale);
    const neg = v128.and(f32x4.lt(v, vzero), vscale);
    v128.store(dh + offset, f32x4.sub(f32x4.add(v128.load(dh + offset), pos), neg));
  }
  let total = hsumSerial(sum);
  for (; i < count; i++) {
    const offset = <usize>i << 2;
    const v = load<f32>(h + offset);
    total += Mathf.abs(v);
    const g = v > 0 ? scale : v < 0 ? -scale : <f32>0;
    store<f32>(dh + offset, load<f32>(dh + offset) + g);
  }
  return total * scale;
}
