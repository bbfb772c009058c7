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
