/**
 * @fileoverview exp, tanh and sigmoid in WGSL, ported from the wasm kernels' mathf4.ts (Cephes
 * expf and tanhf, same constants and branches), so that the GPU's activations and softmax agree
 * with the wasm build to rounding instead of to the driver's own `exp`/`tanh`, whose accuracy
 * WGSL leaves loose (tanh near 0 in particular).
 */

export const MATH_WGSL = `
fn expCephes(input: f32) -> f32 {
  var x = clamp(input, -87.0, 88.0);
  let fx = round(x * 1.44269504088896341);
  x = x - fx * 0.693359375;
  x = x + fx * 2.12194440e-4;
  let z = x * x;
  var y = 1.9875691500e-4;
  y = y * x + 1.3981999507e-3;
  y = y * x + 8.3334519073e-3;
  y = y * x + 4.1665795894e-2;
  y = y * x + 1.6666665459e-1;
  y = y * x + 5.0000001201e-1;
  y = (y * z + x) + 1.0;
  return y * bitcast<f32>((i32(fx) + 127) << 23u);
}

fn tanhCephes(x: f32) -> f32 {
  let ax = min(abs(x), 9.0);
  if (ax < 0.625) {
    let z = x * x;
    var p = -5.70498872745e-3;
    p = p * z + 2.06390887954e-2;
    p = p * z - 5.37397155531e-2;
    p = p * z + 1.33314422036e-1;
    p = p * z - 3.33332819422e-1;
    return (p * z) * x + x;
  }
  let e = expCephes(ax + ax);
  let big = 1.0 - 2.0 / (e + 1.0);
  return select(big, -big, x < 0.0);
}

fn sigmoidCephes(x: f32) -> f32 {
  let e = expCephes(-abs(x));
  let r = 1.0 / (1.0 + e);
  return select(e * r, r, x >= 0.0);
}
`;

/**
 * log, sin and cos in f32 from Cephes (logf, sinf, cosf), for the samplers' Box-Muller and the
 * policy costs: WGSL lets `sin`/`cos` err by 2^-11 in absolute terms, far looser than the f64
 * the wasm kernels use; these stay within a few ulps of it.
 */
export const MATH_EXTRA_WGSL = `
fn logCephes(input: f32) -> f32 {
  let parts = frexp(input);
  var x = parts.fract;
  var e = f32(parts.exp);
  if (x < 0.707106781186547524) { e = e - 1.0; x = x + x - 1.0; } else { x = x - 1.0; }
  let z = x * x;
  var y = 7.0376836292e-2;
  y = y * x - 1.1514610310e-1;
  y = y * x + 1.1676998740e-1;
  y = y * x - 1.2420140846e-1;
  y = y * x + 1.4249322787e-1;
  y = y * x - 1.6668057665e-1;
  y = y * x + 2.0000714765e-1;
  y = y * x - 2.4999993993e-1;
  y = y * x + 3.3333331174e-1;
  y = y * x * z;
  y = y + -2.12194440e-4 * e;
  y = y + -0.5 * z;
  return (x + y) + 0.693359375 * e;
}

fn sinPoly(x: f32, z: f32) -> f32 {
  return ((-1.9515295891e-4 * z + 8.3321608736e-3) * z - 1.6666654611e-1) * z * x + x;
}

fn cosPoly(z: f32) -> f32 {
  return ((2.443315711809948e-5 * z - 1.388731625493765e-3) * z + 4.166664568298827e-2) * z * z - 0.5 * z + 1.0;
}

/** (sin x, cos x) for x >= 0 (Cephes' octant reduction in three parts of pi/4). */
fn sinCosCephes(input: f32) -> vec2<f32> {
  var j = u32(input * 1.27323954473516);
  var y = f32(j);
  if ((j & 1u) == 1u) { j = j + 1u; y = y + 1.0; }
  j = j & 7u;
  var sinSign = 1.0;
  var cosSign = 1.0;
  if (j > 3u) { j = j - 4u; sinSign = -1.0; cosSign = -1.0; }
  if (j > 1u) { cosSign = -cosSign; }
  let x = ((input - y * 0.78515625) - y * 2.4187564849853515625e-4) - y * 3.77489497744594108e-8;
  let z = x * x;
  let s = sinPoly(x, z);
  let c = cosPoly(z);
  if (j == 1u || j == 2u) { return vec2f(sinSign * c, cosSign * s); }
  return vec2f(sinSign * s, cosSign * c);
}
`;
