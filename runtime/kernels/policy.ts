// Block-dropout policies (condnet, docs/methods/policy.md §2-§5): Bernoulli sampling from the
// counter RNG, per-example costs, baselines, the REINFORCE + regularizer gradient E with
// respect to the policy logits Q, and the policy parameter step.
import { scratchAt, SCRATCH_SMALL } from "./scratch";
import { philox4x32 } from "./rng";
import { BASELINE_BATCH_MIN, BASELINE_MOVING_AVERAGE, BASELINE_NONE, POLICY_TEST_THRESHOLD } from "./codes/policy";
import { uniformF32 } from "./helpers";

/** RNG stream of (step, layer): step * 64 + layer (wraps after 2^26 steps). */
@inline export function policyStream(step: u32, layer: u32): u32 {
  return (step << 6) + (layer & 63);
}

/**
 * p = rate (uniform block dropout) when rate >= 0, else (1 - 2s) sigma + s (s = squash);
 * mode 0: u = 1[uniform(seed, stream, i nb + j) < p]; mode 1: u = 1[p > 0.5] (learned only).
 * Writes u (f32 0/1), the active lists (i32 [n, nb]) and counts (i32 [n]). When stats != 0,
 * adds Σ_i p_ij to stats[j], Σ_i p_ij² to stats[nb + j], n to stats[2nb], Σ u to stats[2nb+1].
 */
export function policySample(
  sigma: usize, u: usize, list: usize, count: usize, n: i32, nb: i32,
  squash: f32, rate: f32, mode: i32, seed: u32, stream: u32, stats: usize,
): void {
  policySampleRows(sigma, u, list, count, n, nb, squash, rate, mode, seed, stream, 0, n);
  if (stats != 0) policySampleStats(sigma, count, n, nb, squash, rate, stats);
}

/** policySample's mask, lists and counts of examples [i0, i1) (each depends on its example alone). */
export function policySampleRows(
  sigma: usize, u: usize, list: usize, count: usize, n: i32, nb: i32,
  squash: f32, rate: f32, mode: i32, seed: u32, stream: u32, i0: i32, i1: i32,
): void {
  const scale: f32 = 1 - 2 * squash;
  const random = !(mode == POLICY_TEST_THRESHOLD && rate < 0);
  for (let i = i0; i < i1; i++) {
    let c = 0;
    for (let j = 0; j < nb; j++) {
      const at = <usize>i * <usize>nb + <usize>j;
      const p: f32 = rate >= 0 ? rate : scale * load<f32>(sigma + (at << 2)) + squash;
      let on: bool;
      if (!random) on = p > <f32>0.5;
      else {
        // = uniform(seed, stream, at) of rng.ts: word at & 3 of Philox block at >>> 2
        if ((at & 3) == 0 || (i == i0 && j == 0)) philox4x32(<u32>(at >>> 2), 0, 0, 0, seed, stream, scratchAt(SCRATCH_SMALL));
        const bits = load<u32>(scratchAt(SCRATCH_SMALL) + ((at & 3) << 2));
        on = uniformF32(bits) < p;
      }
      store<f32>(u + (at << 2), on ? <f32>1 : <f32>0);
      if (on) {
        store<i32>(list + ((<usize>i * <usize>nb + <usize>c) << 2), j);
        c++;
      }
    }
    store<i32>(count + (<usize>i << 2), c);
  }
}

/**
 * policySample's statistics (after the rows): adds Σ_i p_ij to stats[j], Σ_i p_ij² to
 * stats[nb + j], n to stats[2nb] and Σ counts to stats[2nb + 1], summed over i in order.
 */
export function policySampleStats(sigma: usize, count: usize, n: i32, nb: i32, squash: f32, rate: f32, stats: usize): void {
  const scale: f32 = 1 - 2 * squash;
  let active: f32 = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < nb; j++) {
      const at = <usize>i * <usize>nb + <usize>j;
      const p: f32 = rate >= 0 ? rate : scale * load<f32>(sigma + (at << 2)) + squash;
      const sj = stats + (<usize>j << 2);
      store<f32>(sj, load<f32>(sj) + p);
      const qj = stats + (<usize>(nb + j) << 2);
      store<f32>(qj, load<f32>(qj) + p * p);
    }
    active += <f32>load<i32>(count + (<usize>i << 2));
  }
  const e = stats + (<usize>(2 * nb) << 2);
  store<f32>(e, load<f32>(e) + <f32>n);
  store<f32>(e, load<f32>(e, 4) + active, 4);
}

/** cost[i] = -log probs[i, label_i] (per-example cross-entropy from the softmax). */
export function policyCosts(probs: usize, labels: usize, n: i32, classes: i32, cost: usize): void {
  for (let i = 0; i < n; i++) {
    const label = load<i32>(labels + (<usize>i << 2));
    let c: f32 = 0;
    if (label >= 0 && label < classes) {
      const p = load<f32>(probs + ((<usize>i * <usize>classes + <usize>label) << 2));
      c = -<f32>Math.log(<f64>(p > <f32>1e-30 ? p : <f32>1e-30));
    }
    store<f32>(cost + (<usize>i << 2), c);
  }
}

/** Baseline: 0 none, 1 batch min, 2 batch mean, 3 moving average (returns `ema`, the caller updates it). */
export function policyBaseline(cost: usize, n: i32, kind: i32, ema: f32): f32 {
  if (kind == BASELINE_NONE || n == 0) return 0;
  if (kind == BASELINE_MOVING_AVERAGE) return ema;
  let lo = load<f32>(cost);
  let sum: f64 = 0;
  for (let i = 0; i < n; i++) {
    const c = load<f32>(cost + (<usize>i << 2));
    if (c < lo) lo = c;
    sum += <f64>c;
  }
  return kind == BASELINE_BATCH_MIN ? lo : <f32>(sum / <f64>n);
}

/** Mean of cost[0..n). */
export function policyMeanCost(cost: usize, n: i32): f32 {
  let sum: f64 = 0;
  for (let i = 0; i < n; i++) sum += <f64>load<f32>(cost + (<usize>i << 2));
  return n > 0 ? <f32>(sum / <f64>n) : 0;
}

@inline function sign(x: f32): f32 {
  return x > 0 ? <f32>1 : x < 0 ? <f32>-1 : <f32>0;
}

/**
 * E[i, j] = (1/n) (c_i - beta) ∂log π_i/∂Q_ij + regScale ∂R/∂Q_ij, R = λs (L_b + L_e) + λv L_v:
 *   unsquashed (squash 0): ∂log π/∂Q = u - σ;
 *   squashed: (1 - 2s) σ (1 - σ) (u/p - (1 - u)/(1 - p)), p = (1 - 2s) σ + s.
 * form 0 (paper, on σ): L_b = Σ_j |μ_j - τ|, L_e = (1/n) Σ_i |ν_i - τ|, L_v = -Σ_j (1/n) Σ_i (σ_ij - μ_j)²,
 *   chained to Q with σ(1 - σ).
 * form 1 (authors' code, on p): λs Σ_j (μ_j - τ)² + 0.001 λs Σ_i (ν_i - τ)²
 *   - λv Σ_j var_i p_ij - 0.1 λv Σ_i var_j p_ij, chained with (1 - 2s) σ(1 - σ).
 * mu: scratch of nb floats. E is the policy-logit gradient; dZ = Sᵀ E, dd = colsum E.
 */
export function policyGradient(
  sigma: usize, u: usize, cost: usize, beta: f32, n: i32, nb: i32, squash: f32, tau: f32,
  lambdaS: f32, lambdaV: f32, regScale: f32, form: i32, mu: usize, e: usize,
): void {
  if (n == 0) return;
  policyGradientMeans(sigma, n, nb, squash, form, mu);
  policyGradientRows(sigma, u, cost, beta, n, nb, squash, tau, lambdaS, lambdaV, regScale, form, mu, e, 0, n);
}

/** μ_j of policyGradient (on σ for the paper's form, on p for the code's), into mu. */
export function policyGradientMeans(sigma: usize, n: i32, nb: i32, squash: f32, form: i32, mu: usize): void {
  const scale: f32 = 1 - 2 * squash;
  const invN: f32 = 1 / <f32>n;
  const useP = form == 1;
  for (let j = 0; j < nb; j++) {
    let s: f32 = 0;
    for (let i = 0; i < n; i++) {
      const sg = load<f32>(sigma + ((<usize>i * <usize>nb + <usize>j) << 2));
      s += useP ? scale * sg + squash : sg;
    }
    store<f32>(mu + (<usize>j << 2), s * invN);
  }
}

/** policyGradient's E rows [i0, i1), after policyGradientMeans (each row depends on its example and μ). */
export function policyGradientRows(
  sigma: usize, u: usize, cost: usize, beta: f32, n: i32, nb: i32, squash: f32, tau: f32,
  lambdaS: f32, lambdaV: f32, regScale: f32, form: i32, mu: usize, e: usize, i0: i32, i1: i32,
): void {
  const scale: f32 = 1 - 2 * squash;
  const invN: f32 = 1 / <f32>n;
  const invNb: f32 = 1 / <f32>nb;
  const useP = form == 1;
  const regOn = regScale != 0 && (lambdaS != 0 || lambdaV != 0);
  for (let i = i0; i < i1; i++) {
    const row = <usize>i * <usize>nb;
    let nu: f32 = 0;
    if (regOn) {
      for (let j = 0; j < nb; j++) {
        const sg = load<f32>(sigma + ((row + <usize>j) << 2));
        nu += useP ? scale * sg + squash : sg;
      }
      nu *= invNb;
    }
    const adv = (load<f32>(cost + (<usize>i << 2)) - beta) * invN;
    for (let j = 0; j < nb; j++) {
      const at = (row + <usize>j) << 2;
      const sg = load<f32>(sigma + at);
      const uj = load<f32>(u + at);
      let dlog: f32;
      if (squash == 0) {
        dlog = uj - sg;
      } else {
        const p = scale * sg + squash;
        dlog = scale * sg * (1 - sg) * (uj != 0 ? 1 / p : -1 / (1 - p));
      }
      let g = adv * dlog;
      if (regOn) {
        const m = load<f32>(mu + (<usize>j << 2));
        let dr: f32;
        if (!useP) {
          dr = lambdaS * (sign(m - tau) * invN + sign(nu - tau) * invN * invNb) + lambdaV * (-2 * (sg - m) * invN);
          g += regScale * dr * sg * (1 - sg);
        } else {
          const p = scale * sg + squash;
          dr = lambdaS * (2 * (m - tau) * invN + <f32>0.001 * 2 * (nu - tau) * invNb)
            - lambdaV * (2 * (p - m) * invN + <f32>0.1 * 2 * (p - nu) * invNb);
          g += regScale * dr * scale * sg * (1 - sg);
        }
      }
      store<f32>(e + at, g);
    }
  }
}

/** param -= lr grad + decayLr 2 l2 param (policy parameters; L2 λ||θ||²). */
export function policyStep(param: usize, grad: usize, count: i32, lr: f32, decayLr: f32, l2: f32): void {
  const k: f32 = 2 * l2 * decayLr;
  for (let i = 0; i < count; i++) {
    const o = <usize>i << 2;
    const p = load<f32>(param + o);
    store<f32>(param + o, p - lr * load<f32>(grad + o) - k * p);
  }
}
