// Optimizer steps over flat parameter arrays: SGD with momentum (docs/methods/index.md §3)
// and Adam with bias correction; weight decay is L2 added to the gradient.

/** v = momentum * v - lr * (g + wd * w); w = w + v. */
export function sgdStep(param: usize, grad: usize, velocity: usize, count: i32, lr: f32, momentum: f32, weightDecay: f32): void {
  const vlr = f32x4.splat(lr), vmom = f32x4.splat(momentum), vwd = f32x4.splat(weightDecay);
  let i = 0;
  for (; i + 4 <= count; i += 4) {
    const o = <usize>i * 4;
    const w = v128.load(param + o);
    const g = f32x4.add(v128.load(grad + o), f32x4.mul(vwd, w));
    const v = f32x4.sub(f32x4.mul(vmom, v128.load(velocity + o)), f32x4.mul(vlr, g));
    v128.store(velocity + o, v);
    v128.store(param + o, f32x4.add(w, v));
  }
  for (; i < count; i++) {
    const o = <usize>i * 4;
    const w = load<f32>(param + o);
    const g = load<f32>(grad + o) + weightDecay * w;
    const v = momentum * load<f32>(velocity + o) - lr * g;
    store<f32>(velocity + o, v);
    store<f32>(param + o, w + v);
  }
}

/**
 * Adam, step t >= 1: g' = g + wd * w; m1 = b1 m1 + (1 - b1) g'; m2 = b2 m2 + (1 - b2) g'^2;
 * w -= lr * (m1 / (1 - b1^t)) / (sqrt(m2 / (1 - b2^t)) + eps).
 */
export function adamStep(param: usize, grad: usize, m1: usize, m2: usize, count: i32, lr: f32, beta1: f32, beta2: f32, eps: f32, weightDecay: f32, t: i32): void {
  const step: f64 = t < 1 ? 1 : <f64>t;
  const c1: f32 = <f32>(1 / (1 - Math.pow(<f64>beta1, step)));
  const c2: f32 = <f32>(1 / (1 - Math.pow(<f64>beta2, step)));
  const vb1 = f32x4.splat(beta1), vb2 = f32x4.splat(beta2);
  const va1 = f32x4.splat(1 - beta1), va2 = f32x4.splat(1 - beta2);
  const vc1 = f32x4.splat(c1), vc2 = f32x4.splat(c2);
  const vlr = f32x4.splat(lr), veps = f32x4.splat(eps), vwd = f32x4.splat(weightDecay);
  let i = 0;
  for (; i + 4 <= count; i += 4) {
    const o = <usize>i * 4;
    const w = v128.load(param + o);
    const g = f32x4.add(v128.load(grad + o), f32x4.mul(vwd, w));
    const a = f32x4.add(f32x4.mul(vb1, v128.load(m1 + o)), f32x4.mul(va1, g));
    const b = f32x4.add(f32x4.mul(vb2, v128.load(m2 + o)), f32x4.mul(va2, f32x4.mul(g, g)));
    v128.store(m1 + o, a);
    v128.store(m2 + o, b);
    const den = f32x4.add(f32x4.sqrt(f32x4.mul(b, vc2)), veps);
    v128.store(param + o, f32x4.sub(w, f32x4.div(f32x4.mul(vlr, f32x4.mul(a, vc1)), den)));
  }
  for (; i < count; i++) {
    const o = <usize>i * 4;
    const w = load<f32>(param + o);
    const g = load<f32>(grad + o) + weightDecay * w;
    const a = beta1 * load<f32>(m1 + o) + (1 - beta1) * g;
    const b = beta2 * load<f32>(m2 + o) + (1 - beta2) * (g * g);
    store<f32>(m1 + o, a);
    store<f32>(m2 + o, b);
    store<f32>(param + o, w - (lr * (a * c1)) / (Mathf.sqrt(b * c2) + eps));
  }
}
