/**
 * @fileoverview Truncated SVD in float64, engine-independent: randomized range finder with power
 * iterations and re-orthonormalization, then one-sided Jacobi on the small projected matrix.
 * Every operation is +, -, *, /, sqrt or exact scaling (no Math.log/cos, which differ between
 * engines in the last bit), so Node and browsers produce the same bits (tests/browser).
 */

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
