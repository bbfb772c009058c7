// Float64 TypeScript reference of the mixture-of-experts layer (docs/methods/moe.md): routing,
// noisy top-k gating, capacity, experts, combine, balance losses, and the backward pass.
import { philox4x32 } from "../kernels/philox-reference.js";

export type Activation = "linear" | "relu" | "tanh" | "sigmoid";
export const ACTIVATION_KIND: Record<Activation, number> = { linear: 0, relu: 1, tanh: 2, sigmoid: 3 };
export type Balance = { kind: "none" } | { kind: "switch"; alpha: number } | { kind: "cv"; importance: number; load: number };
export const BALANCE_KIND: Record<Balance["kind"], number> = { none: 0, switch: 1, cv: 2 };
export const MOE_RNG_KEY = 0x4d6f4500;

export interface MoeShape {
  inputs: number;
  units: number;
  /** 0: one-layer experts; > 0: FFN experts with this many hidden units. */
  hidden: number;
  experts: number;
  topK: number;
  act: Activation;
  /** Noisy top-k gating applied in this pass (training with gating: noisy). */
  noisy: boolean;
  balance: Balance;
  /** Tokens per expert; < 0: dropless. */
  capacity: number;
  /** Router z-loss coefficient (ST-MoE): z mean_x (ln Σ_j exp G_j)². */
  zLoss: number;
  /** The router reads x minus the batch's mean input (`router: centred` in training). */
  centred: boolean;
  seed: number;
  step: number;
  layer: number;
}

/** w1 [E, width, inputs], b1 [E, width] (width = hidden or units); w2 [E, units, hidden], b2 [E, units] (FFN). */
export interface MoeParams {
  wg: ArrayLike<number>;
  wn: ArrayLike<number> | null;
  w1: ArrayLike<number>;
  b1: ArrayLike<number>;
  w2: ArrayLike<number> | null;
  b2: ArrayLike<number> | null;
}

export interface MoeForward {
  logits: Float64Array;
  noiseLogits: Float64Array;
  noise: Float64Array;
  gateLogits: Float64Array;
  probs: Float64Array;
  topIdx: Int32Array;
  gates: Float64Array;
  counts: Int32Array;
  /** Per pair: kept (true) or dropped by the capacity. */
  kept: boolean[];
  dropped: number;
  entropy: number;
  balance: number;
  h: Float64Array;
  /** Expert forward MACs. */
  macs: number;
  /** Per kept pair: the expert's hidden activations (FFN) and output. */
  hiddenOut: (Float64Array | null)[];
  out: (Float64Array | null)[];
}

export interface MoeGrads { wg: Float64Array; wn: Float64Array; w1: Float64Array; b1: Float64Array; w2: Float64Array; b2: Float64Array; x: Float64Array }

const softplus = (v: number): number => (v > 0 ? v + Math.log1p(Math.exp(-v)) : Math.log1p(Math.exp(v)));
const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));

/** Numerical Recipes' erfc (relative error < 1.2e-7), as the kernel. */
function erfc(v: number): number {
  const z = Math.abs(v), t = 1 / (1 + 0.5 * z);
  const r = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
    t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return v >= 0 ? r : 2 - r;
}
const normalCdf = (u: number): number => 0.5 * erfc(-u / Math.SQRT2);
const normalPdf = (u: number): number => Math.exp(-0.5 * u * u) / Math.sqrt(2 * Math.PI);

function activation(act: Activation, v: number): number {
  switch (act) {
    case "linear": return v;
    case "relu": return v > 0 ? v : 0;
    case "tanh": return Math.tanh(v);
    case "sigmoid": return sigmoid(v);
  }
}

/** Derivative from the activation's output a. */
function activationDerivative(act: Activation, a: number): number {
  switch (act) {
    case "linear": return 1;
    case "relu": return a > 0 ? 1 : 0;
    case "tanh": return 1 - a * a;
    case "sigmoid": return a * (1 - a);
  }
}

/** The N(0, 1) sample of (example, expert): Philox (e, j >> 1, step, layer; seed, KEY ^ layer), Box-Muller, f32. */
export function gatingNoise(seed: number, step: number, layer: number, example: number, expert: number): number {
  const w = philox4x32(example, expert >> 1, step, layer, seed >>> 0, (MOE_RNG_KEY ^ layer) >>> 0);
  const u1 = ((w[0] >>> 8) + 0.5) / 16777216, u2 = ((w[1] >>> 8) + 0.5) / 16777216;
  const r = Math.sqrt(-2 * Math.log(u1)), theta = 2 * Math.PI * u2;
  return Math.fround(expert % 2 === 0 ? r * Math.cos(theta) : r * Math.sin(theta));
}

/** Expert j's indices sorted by G descending, ties to the lower index. */
function ranking(g: ArrayLike<number>, base: number, experts: number, exclude = -1): number[] {
  const order: number[] = [];
  for (let j = 0; j < experts; j++) if (j !== exclude) order.push(j);
  return order.sort((a, b) => g[base + b]! - g[base + a]! || a - b);
}

function expertForward(s: MoeShape, p: MoeParams, i: number, x: ArrayLike<number>, xo: number): { hidden: Float64Array | null; y: Float64Array } {
  const { inputs, units, hidden } = s;
  const width = hidden > 0 ? hidden : units;
  const a = new Float64Array(width);
  for (let r = 0; r < width; r++) {
    let z = p.b1[i * width + r]!;
    for (let c = 0; c < inputs; c++) z += p.w1[(i * width + r) * inputs + c]! * x[xo + c]!;
    a[r] = activation(s.act, z);
  }
  if (hidden === 0) return { hidden: null, y: a };
  const y = new Float64Array(units);
  for (let u = 0; u < units; u++) {
    let z = p.b2![i * units + u]!;
    for (let r = 0; r < hidden; r++) z += p.w2![(i * units + u) * hidden + r]! * a[r]!;
    y[u] = z;
  }
  return { hidden: a, y };
}

function cvSquared(v: number[]): { value: number; grad: number[] } {
  const E = v.length, mean = v.reduce((a, b) => a + b, 0) / E;
  const variance = v.reduce((a, b) => a + (b - mean) ** 2, 0) / E, denom = mean * mean + 1e-10;
  return { value: variance / denom, grad: v.map((vi) => ((2 / E) * (vi - mean)) / denom - (variance * (2 * mean) / E) / (denom * denom)) };
}

/** Smooth load P(x, i) = Φ((l_i - t) / softplus(nl_i)), t = k-th largest G excluding i (index m). */
function smoothLoad(f: MoeForward, s: MoeShape, e: number, i: number): { value: number; m: number; dl: number; dt: number; dnl: number } {
  const base = e * s.experts;
  const m = ranking(f.gateLogits, base, s.experts, i)[s.topK - 1]!;
  const sd = softplus(f.noiseLogits[base + i]!), u = (f.logits[base + i]! - f.gateLogits[base + m]!) / sd;
  const d = normalPdf(u) / sd;
  return { value: normalCdf(u), m, dl: d, dt: -d, dnl: -d * u * sigmoid(f.noiseLogits[base + i]!) };
}

function balanceTerms(s: MoeShape, f: MoeForward, n: number) {
  const E = s.experts, k = s.topK;
  const fraction = new Array<number>(E).fill(0), meanProb = new Array<number>(E).fill(0);
  const importance = new Array<number>(E).fill(0), load = new Array<number>(E).fill(0);
  const smooth = s.noisy && k < E;
  for (let e = 0; e < n; e++) {
    for (let t = 0; t < k; t++) {
      const i = f.topIdx[e * k + t]!;
      fraction[i]! += 1 / n;
      importance[i]! += f.gates[e * k + t]!;
      if (!smooth) load[i]! += 1;
    }
    for (let j = 0; j < E; j++) meanProb[j]! += f.probs[e * E + j]! / n;
    if (smooth) for (let i = 0; i < E; i++) load[i]! += smoothLoad(f, s, e, i).value;
  }
  return { fraction, meanProb, importance, load, smooth };
}

/** What the router reads: x, or x minus the batch mean when centred. */
function routerInput(s: MoeShape, x: ArrayLike<number>, n: number): Float64Array {
  const out = Float64Array.from({ length: n * s.inputs }, (_, q) => x[q]!);
  if (!s.centred || n === 0) return out;
  for (let c = 0; c < s.inputs; c++) {
    let mean = 0;
    for (let e = 0; e < n; e++) mean += x[e * s.inputs + c]! / n;
    for (let e = 0; e < n; e++) out[e * s.inputs + c]! -= mean;
  }
  return out;
}

/** ln Σ_j exp G_j of example e. */
function logSumExp(g: Float64Array, e: number, E: number): number {
  const max = Math.max(...g.subarray(e * E, e * E + E));
  let sum = 0;
  for (let j = 0; j < E; j++) sum += Math.exp(g[e * E + j]! - max);
  return max + Math.log(sum);
}

export function moeForward(s: MoeShape, p: MoeParams, x: ArrayLike<number>, n: number): MoeForward {
  const { inputs, experts: E, topK: k, units } = s;
  const logits = new Float64Array(n * E), noiseLogits = new Float64Array(n * E), noise = new Float64Array(n * E);
  const gateLogits = new Float64Array(n * E), probs = new Float64Array(n * E);
  const topIdx = new Int32Array(n * k), gates = new Float64Array(n * k);
  let entropy = 0;
  const rx = routerInput(s, x, n);
  for (let e = 0; e < n; e++) {
    for (let j = 0; j < E; j++) {
      let l = 0, nl = 0;
      for (let c = 0; c < inputs; c++) {
        l += p.wg[j * inputs + c]! * rx[e * inputs + c]!;
        if (s.noisy) nl += p.wn![j * inputs + c]! * rx[e * inputs + c]!;
      }
      logits[e * E + j] = l;
      noiseLogits[e * E + j] = nl;
      if (s.noisy) noise[e * E + j] = gatingNoise(s.seed, s.step, s.layer, e, j);
      gateLogits[e * E + j] = s.noisy ? l + noise[e * E + j]! * softplus(nl) : l;
    }
    const max = Math.max(...gateLogits.subarray(e * E, e * E + E));
    let sum = 0;
    for (let j = 0; j < E; j++) sum += Math.exp(gateLogits[e * E + j]! - max);
    for (let j = 0; j < E; j++) {
      const pj = Math.exp(gateLogits[e * E + j]! - max) / sum;
      probs[e * E + j] = pj;
      if (pj > 0) entropy -= pj * Math.log(pj) / n;
    }
    const top = ranking(gateLogits, e * E, E).slice(0, k);
    top.forEach((i, t) => (topIdx[e * k + t] = i));
    const sel = top.reduce((a, i) => a + Math.exp(gateLogits[e * E + i]! - max), 0);
    top.forEach((i, t) => (gates[e * k + t] = k === 1 ? probs[e * E + i]! : Math.exp(gateLogits[e * E + i]! - max) / sel));
  }
  // capacity: first come in (slot, example) order
  const counts = new Int32Array(E), kept = new Array<boolean>(n * k).fill(true);
  let dropped = 0;
  for (let t = 0; t < k; t++) {
    for (let e = 0; e < n; e++) {
      const i = topIdx[e * k + t]!;
      if (s.capacity >= 0 && counts[i]! >= s.capacity) { kept[e * k + t] = false; dropped++; }
      counts[i]!++;
    }
  }
  const h = new Float64Array(n * units), hiddenOut: (Float64Array | null)[] = [], out: (Float64Array | null)[] = [];
  const perExample = (s.hidden > 0 ? s.hidden * (inputs + units) : units * inputs);
  let macs = 0;
  for (let q = 0; q < n * k; q++) {
    const e = Math.floor(q / k);
    if (!kept[q]) { hiddenOut.push(null); out.push(null); continue; }
    const r = expertForward(s, p, topIdx[q]!, x, e * inputs);
    hiddenOut.push(r.hidden); out.push(r.y);
    for (let u = 0; u < units; u++) h[e * units + u]! += gates[q]! * r.y[u]!;
    macs += perExample;
  }
  const f: MoeForward = { logits, noiseLogits, noise, gateLogits, probs, topIdx, gates, counts, kept, dropped, entropy, balance: 0, h, macs, hiddenOut, out };
  f.balance = balanceValue(s, f, n);
  return f;
}

function balanceValue(s: MoeShape, f: MoeForward, n: number): number {
  let z = 0;
  if (s.zLoss !== 0 && s.experts > 1) for (let e = 0; e < n; e++) z += (s.zLoss * logSumExp(f.gateLogits, e, s.experts) ** 2) / n;
  return z + balanceOnly(s, f, n);
}

function balanceOnly(s: MoeShape, f: MoeForward, n: number): number {
  if (s.balance.kind === "none" || n === 0) return 0;
  const t = balanceTerms(s, f, n);
  if (s.balance.kind === "switch") return s.balance.alpha * s.experts * t.fraction.reduce((a, fi, i) => a + fi * t.meanProb[i]!, 0);
  return s.balance.importance * cvSquared(t.importance).value + s.balance.load * cvSquared(t.load).value;
}

/** Gradients of Σ dh ⊙ h + balance loss. */
export function moeBackward(s: MoeShape, p: MoeParams, x: ArrayLike<number>, n: number, f: MoeForward, dh: ArrayLike<number>): MoeGrads {
  const { inputs, units, hidden, experts: E, topK: k } = s;
  const width = hidden > 0 ? hidden : units;
  const g: MoeGrads = {
    wg: new Float64Array(E * inputs), wn: new Float64Array(E * inputs), w1: new Float64Array(E * width * inputs),
    b1: new Float64Array(E * width), w2: new Float64Array(E * units * hidden), b2: new Float64Array(E * units), x: new Float64Array(n * inputs),
  };
  const dgates = new Float64Array(n * k);
  for (let q = 0; q < n * k; q++) {
    if (!f.kept[q]) continue;
    const e = Math.floor(q / k), i = f.topIdx[q]!, y = f.out[q]!;
    const dy = new Float64Array(units);
    for (let u = 0; u < units; u++) { dgates[q]! += dh[e * units + u]! * y[u]!; dy[u] = f.gates[q]! * dh[e * units + u]!; }
    let dz: Float64Array, a: Float64Array;
    if (hidden > 0) {
      a = f.hiddenOut[q]!;
      dz = new Float64Array(hidden);
      for (let u = 0; u < units; u++) {
        g.b2[i * units + u]! += dy[u]!;
        for (let r = 0; r < hidden; r++) {
          g.w2[(i * units + u) * hidden + r]! += dy[u]! * a[r]!;
          dz[r]! += dy[u]! * p.w2![(i * units + u) * hidden + r]!;
        }
      }
    } else { a = y; dz = dy; }
    for (let r = 0; r < width; r++) {
      const d = dz[r]! * activationDerivative(s.act, a[r]!);
      g.b1[i * width + r]! += d;
      for (let c = 0; c < inputs; c++) {
        g.w1[(i * width + r) * inputs + c]! += d * x[e * inputs + c]!;
        g.x[e * inputs + c]! += d * p.w1[(i * width + r) * inputs + c]!;
      }
    }
  }
  if (E === 1 || n === 0) return g;
  // dL/dG, dL/dl (direct), dL/dnl (direct)
  const dG = new Float64Array(n * E), dl = new Float64Array(n * E), dnl = new Float64Array(n * E);
  const terms = s.balance.kind === "none" ? null : balanceTerms(s, f, n);
  if (s.balance.kind === "switch") {
    const c = s.balance.alpha * E / n;
    for (let e = 0; e < n; e++) {
      for (let j = 0; j < E; j++) {
        for (let i = 0; i < E; i++) {
          // dP_i / dG_j = P_i (δij - P_j)
          dG[e * E + j]! += c * terms!.fraction[i]! * f.probs[e * E + i]! * ((i === j ? 1 : 0) - f.probs[e * E + j]!);
        }
      }
    }
  }
  if (s.zLoss !== 0) {
    for (let e = 0; e < n; e++) {
      const lse = logSumExp(f.gateLogits, e, E);
      for (let j = 0; j < E; j++) dG[e * E + j]! += ((2 * s.zLoss * lse) / n) * Math.exp(f.gateLogits[e * E + j]! - lse);
    }
  }
  if (s.balance.kind === "cv") {
    const imp = cvSquared(terms!.importance).grad;
    for (let q = 0; q < n * k; q++) dgates[q]! += s.balance.importance * imp[f.topIdx[q]!]!;
    if (terms!.smooth) {
      const ld = cvSquared(terms!.load).grad;
      for (let e = 0; e < n; e++) {
        for (let i = 0; i < E; i++) {
          const c = s.balance.load * ld[i]!, sl = smoothLoad(f, s, e, i);
          dl[e * E + i]! += c * sl.dl;
          dG[e * E + sl.m]! += c * sl.dt;
          dnl[e * E + i]! += c * sl.dnl;
        }
      }
    }
  }
  for (let e = 0; e < n; e++) {
    for (let t = 0; t < k; t++) {
      const i = f.topIdx[e * k + t]!;
      for (let j = 0; j < E; j++) {
        // d gate_t / d G_j
        let d: number;
        if (k === 1) d = f.probs[e * E + i]! * ((i === j ? 1 : 0) - f.probs[e * E + j]!);
        else {
          const sj = Array.from(f.topIdx.subarray(e * k, e * k + k)).indexOf(j);
          d = sj < 0 ? 0 : f.gates[e * k + t]! * ((t === sj ? 1 : 0) - f.gates[e * k + sj]!);
        }
        dG[e * E + j]! += dgates[e * k + t]! * d;
      }
    }
  }
  const dL = new Float64Array(n * E), dNL = new Float64Array(n * E);
  for (let q = 0; q < n * E; q++) {
    dL[q] = dG[q]! + dl[q]!;
    dNL[q] = s.noisy ? dG[q]! * f.noise[q]! * sigmoid(f.noiseLogits[q]!) + dnl[q]! : 0;
  }
  // centred: l_e = W (x_e - x̄), so dW = Σ_e dL_e (x_e - x̄)ᵀ and dx_e = Σ_e' dL_e' W (δ_ee' - 1/n)
  const rx = routerInput(s, x, n);
  const meanDL = new Float64Array(E), meanDNL = new Float64Array(E);
  if (s.centred) for (let q = 0; q < n * E; q++) { meanDL[q % E]! += dL[q]! / n; meanDNL[q % E]! += dNL[q]! / n; }
  for (let e = 0; e < n; e++) {
    for (let j = 0; j < E; j++) {
      const q = e * E + j;
      for (let c = 0; c < inputs; c++) {
        g.wg[j * inputs + c]! += dL[q]! * rx[e * inputs + c]!;
        g.x[e * inputs + c]! += (dL[q]! - meanDL[j]!) * p.wg[j * inputs + c]!;
        if (s.noisy) {
          g.wn[j * inputs + c]! += dNL[q]! * rx[e * inputs + c]!;
          g.x[e * inputs + c]! += (dNL[q]! - meanDNL[j]!) * p.wn![j * inputs + c]!;
        }
      }
    }
  }
  return g;
}

/** The scalar the gradient tests differentiate: Σ r ⊙ h + balance loss. */
export function moeObjective(s: MoeShape, p: MoeParams, x: ArrayLike<number>, n: number, r: ArrayLike<number>): { value: number; forward: MoeForward } {
  const f = moeForward(s, p, x, n);
  let value = f.balance;
  for (let q = 0; q < f.h.length; q++) value += r[q]! * f.h[q]!;
  return { value, forward: f };
}
