/**
 * @fileoverview The runtime side of `gate lowrank` (Davis & Arel): the truncated SVD that
 * computes each gated layer's estimator factors from its weights, switching the estimator
 * on and off, and the per-layer metrics (sign agreement, false negatives, fraction computed,
 * MACs). No Node-only imports.
 *
 * Factors: with W [units, inputs] stored row-major, A = Wᵀ [inputs, units] ≈ U_r Σ_r V_rᵀ;
 * `<layer>.lowrank_u` = U_r Σ_r [inputs, r], `<layer>.lowrank_v` = V_rᵀ [r, units], so the
 * estimate is Ẑ = (X U) V + b.
 */
import type { Model } from "./model.js";
import type { Dataset } from "./data/dataset.js";
import { findRegion, layerExportName, type ManifestLayer } from "./manifest.js";

export interface LowRankSettings {
  rank: number;
  threshold: number;
  refresh: "epoch" | "never";
  mode: "test_only" | "in_loop";
}

/** The gated layers of a model, with their settings. */
export function lowrankLayers(model: Model): { layer: ManifestLayer; gate: LowRankSettings }[] {
  return model.manifest.layers
    .filter((l) => l.gate?.kind === "lowrank")
    .map((layer) => ({ layer, gate: layer.gate as unknown as LowRankSettings }));
}

export function hasLowRank(model: Model): boolean {
  return lowrankLayers(model).length > 0;
}

// ---------------------------------------------------------------------------------------
// Truncated SVD (f64): randomized range finder + power iterations + one-sided Jacobi.
// ---------------------------------------------------------------------------------------

export interface TruncatedSvd {
  /** [rows, rank] row-major, columns scaled by the singular values (U_r Σ_r). */
  us: Float64Array;
  /** [rank, cols] row-major (V_rᵀ). */
  vt: Float64Array;
  sigma: Float64Array;
}

export interface SvdOptions {
  oversampling?: number;
  powerIterations?: number;
  seed?: number;
}

/**
 * ln(u) for u in (0, 1) with only +, -, *, / and exact scaling, so it gives the same bits in
 * every engine; Math.log is implementation-approximated, and V8 versions differ in the last
 * bit (Node 20 vs Chromium 156 on ~7% of these inputs, tests/browser). atanh series:
 * u = 2^k m, m in [√½, 1), ln m = 2s Σ s^2n / (2n + 1) with s = (m - 1) / (m + 1), |s| < 0.172.
 */
function portableLog(u: number): number {
  let m = u;
  let k = 0;
  while (m < Math.SQRT1_2) {
    m *= 2;
    k--;
  }
  const s = (m - 1) / (m + 1);
  const s2 = s * s;
  let sum = 0;
  for (let n = 13; n >= 0; n--) sum = sum * s2 + 1 / (2 * n + 1);
  return 2 * s * sum + k * Math.LN2;
}

/**
 * cos(2π b) for b in [0, 1], engine-independent like portableLog (Math.cos differs between
 * V8 versions in the last bit): b = q/4 + r exactly, |2π r| <= π/4, Taylor series in Horner form.
 */
function portableCos2Pi(b: number): number {
  const q = Math.round(4 * b);
  const x = 2 * Math.PI * (b - q / 4);
  const x2 = x * x;
  let c = 1;
  let s = 1;
  for (let n = 11; n >= 1; n--) {
    c = 1 - (x2 / ((2 * n) * (2 * n - 1))) * c;
    s = 1 - (x2 / ((2 * n) * (2 * n + 1))) * s;
  }
  switch (q & 3) {
    case 0: return c;
    case 1: return -x * s;
    case 2: return -c;
    default: return x * s;
  }
}

/**
 * A small deterministic PRNG (mulberry32) and Box-Muller normals, bit-identical in every
 * engine (portableLog / portableCos2Pi instead of Math.log / Math.cos).
 */
function gaussian(seed: number): () => number {
  let s = seed >>> 0;
  const uniform = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
  };
  return () => Math.sqrt(-2 * portableLog(uniform())) * portableCos2Pi(uniform());
}

/** C [m, k] = A [m, n] · B [n, k], all row-major. */
function matmul(a: Float64Array, b: Float64Array, m: number, n: number, k: number): Float64Array {
  const c = new Float64Array(m * k);
  for (let i = 0; i < m; i++) {
    const ci = i * k;
    for (let p = 0; p < n; p++) {
      const av = a[i * n + p]!;
      if (av === 0) continue;
      const bp = p * k;
      for (let j = 0; j < k; j++) c[ci + j]! += av * b[bp + j]!;
    }
  }
  return c;
}

/** C [n, k] = Aᵀ · B with A [m, n], B [m, k]. */
function matmulTN(a: Float64Array, b: Float64Array, m: number, n: number, k: number): Float64Array {
  const c = new Float64Array(n * k);
  for (let i = 0; i < m; i++) {
    const bi = i * k;
    for (let p = 0; p < n; p++) {
      const av = a[i * n + p]!;
      if (av === 0) continue;
      const cp = p * k;
      for (let j = 0; j < k; j++) c[cp + j]! += av * b[bi + j]!;
    }
  }
  return c;
}

/** Orthonormalizes the columns of Y [m, k] in place (modified Gram-Schmidt, twice). */
function orthonormalize(y: Float64Array, m: number, k: number): void {
  for (let j = 0; j < k; j++) {
    for (let pass = 0; pass < 2; pass++) {
      for (let q = 0; q < j; q++) {
        let dot = 0;
        for (let i = 0; i < m; i++) dot += y[i * k + q]! * y[i * k + j]!;
        for (let i = 0; i < m; i++) y[i * k + j]! -= dot * y[i * k + q]!;
      }
    }
    let norm = 0;
    for (let i = 0; i < m; i++) norm += y[i * k + j]! ** 2;
    norm = Math.sqrt(norm);
    const inv = norm > 1e-300 ? 1 / norm : 0;
    for (let i = 0; i < m; i++) y[i * k + j]! *= inv;
  }
}

/**
 * One-sided Jacobi SVD of M [p, k] (p >= k, row-major): returns the column-orthogonalized
 * matrix (columns = σ_j u_j) and the accumulated rotation J [k, k] with M J = Ũ S.
 */
export function jacobiSvd(mIn: Float64Array, p: number, k: number): { us: Float64Array; j: Float64Array; sigma: Float64Array } {
  const m = Float64Array.from(mIn);
  const j = new Float64Array(k * k);
  for (let i = 0; i < k; i++) j[i * k + i] = 1;
  for (let sweep = 0; sweep < 60; sweep++) {
    let off = 0;
    for (let a = 0; a < k - 1; a++) {
      for (let b = a + 1; b < k; b++) {
        let alpha = 0, beta = 0, gamma = 0;
        for (let i = 0; i < p; i++) {
          const x = m[i * k + a]!, y = m[i * k + b]!;
          alpha += x * x;
          beta += y * y;
          gamma += x * y;
        }
        if (gamma === 0 || Math.abs(gamma) <= 1e-15 * Math.sqrt(alpha * beta)) continue;
        off = Math.max(off, Math.abs(gamma) / Math.sqrt(alpha * beta));
        const zeta = (beta - alpha) / (2 * gamma);
        const t = Math.sign(zeta || 1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = c * t;
        for (let i = 0; i < p; i++) {
          const x = m[i * k + a]!, y = m[i * k + b]!;
          m[i * k + a] = c * x - s * y;
          m[i * k + b] = s * x + c * y;
        }
        for (let i = 0; i < k; i++) {
          const x = j[i * k + a]!, y = j[i * k + b]!;
          j[i * k + a] = c * x - s * y;
          j[i * k + b] = s * x + c * y;
        }
      }
    }
    if (off < 1e-13) break;
  }
  const sigma = new Float64Array(k);
  for (let c = 0; c < k; c++) {
    let s = 0;
    for (let i = 0; i < p; i++) s += m[i * k + c]! ** 2;
    sigma[c] = Math.sqrt(s);
  }
  return { us: m, j, sigma };
}

/**
 * Rank-r truncated SVD of A [rows, cols] (row-major): A ≈ us · vt. Randomized range finder
 * (Gaussian test matrix with `oversampling` extra columns, `powerIterations` power steps
 * with re-orthonormalization), then one-sided Jacobi on the small projected matrix.
 */
export function truncatedSvd(a: Float64Array, rows: number, cols: number, rank: number, options: SvdOptions = {}): TruncatedSvd {
  const l = Math.min(rank + (options.oversampling ?? 10), rows, cols);
  const normal = gaussian(options.seed ?? 0x5eed);
  const omega = new Float64Array(cols * l);
  for (let i = 0; i < omega.length; i++) omega[i] = normal();
  let q = matmul(a, omega, rows, cols, l); // [rows, l]
  orthonormalize(q, rows, l);
  for (let it = 0; it < (options.powerIterations ?? 2); it++) {
    const z = matmulTN(a, q, rows, cols, l); // Aᵀ Q [cols, l]
    orthonormalize(z, cols, l);
    q = matmul(a, z, rows, cols, l);
    orthonormalize(q, rows, l);
  }
  // Bᵀ = Aᵀ Q [cols, l]; Bᵀ J = Ũ S  =>  B = J S Ũᵀ, A ≈ Q J S Ũᵀ.
  const bt = matmulTN(a, q, rows, cols, l);
  const { us: ut, j, sigma } = jacobiSvd(bt, cols, l);
  const order = Array.from({ length: l }, (_, i) => i).sort((x, y) => sigma[y]! - sigma[x]!);
  const r = Math.min(rank, l);
  const qj = matmul(q, j, rows, l, l); // [rows, l]: left singular vectors (unsorted)
  const us = new Float64Array(rows * rank);
  const vt = new Float64Array(rank * cols);
  const sig = new Float64Array(rank);
  for (let c = 0; c < r; c++) {
    const src = order[c]!;
    const s = sigma[src]!;
    sig[c] = s;
    for (let i = 0; i < rows; i++) us[i * rank + c] = qj[i * l + src]! * s;
    const inv = s > 0 ? 1 / s : 0;
    for (let i = 0; i < cols; i++) vt[c * cols + i] = ut[i * l + src]! * inv;
  }
  return { us, vt, sigma: sig };
}

/** Recomputes every gated layer's factors from its current weights. */
export function refreshEstimators(model: Model, options: SvdOptions = {}): void {
  for (const { layer, gate } of lowrankLayers(model)) {
    const w = model.parameter(`${layer.name}.weight`); // [units, inputs]
    const at = new Float64Array(layer.inputs * layer.units); // Wᵀ [inputs, units]
    for (let j = 0; j < layer.units; j++) {
      for (let k = 0; k < layer.inputs; k++) at[k * layer.units + j] = w[j * layer.inputs + k]!;
    }
    const svd = truncatedSvd(at, layer.inputs, layer.units, gate.rank, options);
    model.setParameter(`${layer.name}.lowrank_u`, Float32Array.from(svd.us));
    model.setParameter(`${layer.name}.lowrank_v`, Float32Array.from(svd.vt));
  }
}

/** Switches the estimator of every gated layer on (default) or off (the dense layer). */
export function setEstimatorsEnabled(model: Model, on: boolean): void {
  for (const { layer } of lowrankLayers(model)) {
    (model.wasmExports[layerExportName(layer.name, "lowrankEnable")] as (on: number) => void)(on ? 1 : 0);
  }
}

// ---------------------------------------------------------------------------------------
// Metrics.
// ---------------------------------------------------------------------------------------

export interface LowRankLayerMetrics {
  name: string;
  rank: number;
  inputs: number;
  units: number;
  /** Share of (example, unit) pairs where 1[ẑ > θ] equals 1[z > 0]. */
  signAgreement: number;
  /** Share of truly positive units the estimator zeroed. */
  falseNegativeRate: number;
  /** Share of units computed (estimated positive). */
  alpha: number;
  /** Share of units truly positive (on the conditional input). */
  trueDensity: number;
  /** Multiply-accumulates performed per example (estimator + exact part), as counted. */
  macsPerExample: number;
  /** r · (n_in + n_out) + α · n_in · n_out: the cost model with a dense input. */
  macsPerExampleModel: number;
}

export interface LowRankMetrics {
  /** Accuracy with the estimators on. */
  accuracy: number;
  /** Accuracy of the same weights with every gated layer dense. */
  accuracyDense: number;
  layers: LowRankLayerMetrics[];
  /** Dense MACs per example of the whole model, and conditional MACs as counted. */
  denseMacsPerExample: number;
  conditionalMacsPerExample: number;
}

const STAT_COUNT = 8;

function stats(model: Model, layer: string): Float64Array {
  const region = findRegion(model.manifest, `${layer}.lowrank_stats`);
  return new Float64Array(model.wasmExports.memory.buffer, region.offset, STAT_COUNT);
}

/** Zeroes every gated layer's counters. */
export function resetCounters(model: Model): void {
  for (const { layer } of lowrankLayers(model)) stats(model, layer.name).fill(0);
}

/** The counters (examples, computed, macs, agree, positive, falseNeg, measured, estimated). */
export function readCounters(model: Model, layer: string): number[] {
  return Array.from(stats(model, layer));
}

/**
 * Runs the test set through the estimators (chained: each gated layer sees the conditional
 * output of the layers before it), measuring per layer the estimator's sign statistics
 * against the exact pre-activation on that same input, then the accuracy without them.
 */
export function measureLowRank(model: Model, data: Dataset): LowRankMetrics {
  const gated = lowrankLayers(model);
  setEstimatorsEnabled(model, true);
  resetCounters(model);
  const width = model.manifest.input.width;
  const classes = model.manifest.classes;
  const inputRegion = findRegion(model.manifest, "input");
  const probsRegion = findRegion(model.manifest, "probs");
  const exports = model.wasmExports as unknown as Record<string, (n: number) => void>;
  let correct = 0;
  for (let start = 0; start < data.count; start += model.maxBatch) {
    const rows = Math.min(model.maxBatch, data.count - start);
    new Float32Array(model.wasmExports.memory.buffer, inputRegion.offset, rows * width).set(data.images.subarray(start * width, (start + rows) * width));
    exports["predict"]!(rows);
    for (const { layer } of gated) exports[layerExportName(layer.name, "lowrankStats")]!(rows);
    const probs = new Float32Array(model.wasmExports.memory.buffer, probsRegion.offset, rows * classes);
    for (let r = 0; r < rows; r++) {
      let best = 0;
      for (let c = 1; c < classes; c++) if (probs[r * classes + c]! > probs[r * classes + best]!) best = c;
      if (best === data.labels[start + r]) correct++;
    }
  }
  const layers = gated.map(({ layer, gate }) => {
    const [examples, computed, macs, agree, positive, falseNeg, measured] = readCounters(model, layer.name) as [number, number, number, number, number, number, number, number];
    const alpha = computed / Math.max(examples * layer.units, 1);
    return {
      name: layer.name,
      rank: gate.rank,
      inputs: layer.inputs,
      units: layer.units,
      signAgreement: agree / Math.max(measured, 1),
      falseNegativeRate: falseNeg / Math.max(positive, 1),
      alpha,
      trueDensity: positive / Math.max(measured, 1),
      macsPerExample: macs / Math.max(examples, 1),
      macsPerExampleModel: gate.rank * (layer.inputs + layer.units) + alpha * layer.inputs * layer.units,
    };
  });
  setEstimatorsEnabled(model, false);
  const dense = model.evaluate(data);
  setEstimatorsEnabled(model, true);
  const denseMacs = model.manifest.layers.reduce((s, l) => s + l.macs, 0);
  const gatedNames = new Set(layers.map((l) => l.name));
  const conditionalMacs = model.manifest.layers.reduce((s, l) => s + (gatedNames.has(l.name) ? 0 : l.macs), 0) + layers.reduce((s, l) => s + l.macsPerExampleModel, 0);
  return {
    accuracy: correct / Math.max(data.count, 1),
    accuracyDense: dense.accuracy,
    layers,
    denseMacsPerExample: denseMacs,
    conditionalMacsPerExample: conditionalMacs,
  };
}

/** The `--json` shape of the metrics (snake_case, as `condc eval --json` prints them). */
export function metricsJson(m: LowRankMetrics): Record<string, unknown> {
  return {
    accuracy: m.accuracy,
    accuracy_dense: m.accuracyDense,
    macs_per_example_dense: m.denseMacsPerExample,
    macs_per_example_conditional: m.conditionalMacsPerExample,
    layers: m.layers.map((l) => ({
      name: l.name,
      rank: l.rank,
      sign_agreement: l.signAgreement,
      false_negative_rate: l.falseNegativeRate,
      alpha: l.alpha,
      true_density: l.trueDensity,
      macs_per_example: l.macsPerExample,
      macs_per_example_model: l.macsPerExampleModel,
    })),
  };
}
