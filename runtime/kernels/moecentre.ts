// Router input centring of the mixture of experts (`router: centred`, docs/methods/moe.md): the
// logits of x minus the batch mean (training) or minus the running centre (evaluation).

// @ts-ignore: decorator
@inline function f32At(p: usize, i: i32): f64 { return <f64>load<f32>(p + (<usize>i << 2)); }

/** Least weight of a new batch in the running router centre (moeUpdateCentre). */
const CENTRE_MOMENTUM: f64 = 0.1;

/**
 * Router input centring (`router: centred`): the router reads x - c instead of x. Training
 * (c = the batch's mean input): each expert's column of logits [n x E] loses its mean over
 * the batch. Evaluation (c = centre [inputs], the running mean): logits_j -= (W centre)_j.
 * W is the router (or noise) weight matrix [E x inputs] of these logits.
 */
export function moeCentreLogits(training: bool, n: i32, experts: i32, inputs: i32, w: usize, centre: usize, logits: usize): void {
  if (n <= 0) return;
  for (let j = 0; j < experts; j++) {
    let shift: f64 = 0;
    if (training) {
      for (let e = 0; e < n; e++) shift += f32At(logits, e * experts + j);
      shift /= <f64>n;
    } else {
      const row = w + (<usize>(j * inputs) << 2);
      for (let d = 0; d < inputs; d++) shift += f32At(row, d) * f32At(centre, d);
    }
    for (let e = 0; e < n; e++) {
      const at = logits + (<usize>(e * experts + j) << 2);
      store<f32>(at, <f32>(<f64>load<f32>(at) - shift));
    }
  }
}

/**
 * The running router centre after a training batch x [n x inputs]: centre += m (x̄ - centre),
 * m = max(CENTRE_MOMENTUM, 1 / (step + 1)) (the first steps average, later ones decay as
 * batch normalisation's running mean). The mean is summed in f64 in example order.
 */
export function moeUpdateCentre(x: usize, n: i32, inputs: i32, centre: usize, step: u32): void {
  if (n <= 0) return;
  const m = Math.max(CENTRE_MOMENTUM, 1.0 / (<f64>step + 1.0));
  for (let d = 0; d < inputs; d++) {
    let sum: f64 = 0;
    for (let e = 0; e < n; e++) sum += f32At(x, e * inputs + d);
    const c = f32At(centre, d);
    store<f32>(centre + (<usize>d << 2), <f32>(c + m * (sum / <f64>n - c)));
  }
}

/** Subtracts from each column of v [n x E] its mean over the n rows (f64 sums, row order). */
export function centreColumns(v: usize, n: i32, experts: i32): void {
  for (let j = 0; j < experts; j++) {
    let mean: f64 = 0;
    for (let e = 0; e < n; e++) mean += f32At(v, e * experts + j);
    mean /= <f64>n;
    for (let e = 0; e < n; e++) {
      const at = v + (<usize>(e * experts + j) << 2);
      store<f32>(at, <f32>(<f64>load<f32>(at) - mean));
    }
  }
}
