/**
 * @fileoverview `gate lowrank` end to end on small models: the estimator with an exact
 * factor equals the dense forward (sign flips only at |z| < 1e-5), an all-ones mask is the
 * dense layer bit for bit, the MAC counter follows r·(n_in + n_out) + #active·n_in, the
 * in-loop masked backward passes finite differences, the truncated SVD reaches the best
 * rank-r error, and factors survive a checkpoint round trip. Sizes are not multiples of 4.
 */
import v8 from "node:v8";
v8.setFlagsFromString("--experimental-wasm-relaxed-simd");

import { beforeAll, describe, expect, it } from "vitest";
import { compile, type CompileSuccess } from "../../compiler/compile.js";
import { loadModel, type Model } from "../../runtime/model.js";
import { refreshEstimators, setEstimatorsEnabled } from "../../methods/lowrank/runtime.js";
import { jacobiSvd, truncatedSvd } from "../../runtime/linalg/svd.js";
import { resetCounters } from "../../runtime/report.js";

/** The layer's counters (examples, computed, macs, ...), by the region the manifest names. */
function readCounters(model: Model, layer: string): number[] {
  const l = model.manifest.layers.find((x) => x.name === layer)!;
  return Array.from(model.regionViewF64(l.regions["lowrank_stats"]!));
}

const MAX_BATCH = 17;
const NIN = 37, H1 = 29, H2 = 23, R1 = 8, R2 = 6;

function source(gate1: string, gate2: string): string {
  return `
model LowRankSmall {
  input  x: f32[${NIN}]
  target y: class[5]
  layer h1  = dense(x, ${H1}) relu gate lowrank(${gate1})
  layer h2  = dense(h1, ${H2}) relu gate lowrank(${gate2})
  layer out = dense(h2, 5)
  loss = softmax_cross_entropy(out, y)
}
train { optimizer = sgd(lr: 0.1, momentum: 0) batch = 17 }`;
}

const MODELS = {
  exact: source(`rank: ${R1}`, `rank: ${R2}`),
  allOnes: source(`rank: ${R1}, threshold: -1e30`, `rank: ${R2}, threshold: -1e30`),
  inLoop: source(`rank: ${R1}, mode: in_loop`, `rank: ${R2}, mode: in_loop`),
  // Ranks over 16 (two column chunks in the sparse projection) and not a multiple of 4.
  wide: source(`rank: 20`, `rank: 13`),
} as const;
type Name = keyof typeof MODELS;
const built = new Map<Name, CompileSuccess>();

beforeAll(async () => {
  for (const [name, text] of Object.entries(MODELS) as [Name, string][]) {
    const result = await compile(text, { file: `${name}.cond`, maxBatch: MAX_BATCH, simd: "both" });
    if (!result.ok) throw new Error(`${name}: ${result.diagnostics.map((d) => d.message).join("; ")}`);
    built.set(name, result);
  }
});

async function instantiate(name: Name, simd: "plain" | "relaxed" = "plain"): Promise<Model> {
  const r = built.get(name)!;
  return loadModel(simd === "plain" ? r.wasm : r.relaxedWasm!, r.manifest);
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x9e3779b9) >>> 0;
    s ^= s >>> 13;
    return (s >>> 0) / 4294967296;
  };
}

function normals(count: number, seed: number, scale = 1): Float32Array {
  const u = rng(seed);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = scale * Math.sqrt(-2 * Math.log(u() + 1e-12)) * Math.cos(2 * Math.PI * u());
  return out;
}

/** W [units, inputs] of rank <= r: a product of Gaussian factors. */
function lowRankWeights(units: number, inputs: number, r: number, seed: number): Float32Array {
  const a = normals(units * r, seed, 1 / Math.sqrt(r));
  const b = normals(r * inputs, seed + 1, 1 / Math.sqrt(inputs));
  const w = new Float32Array(units * inputs);
  for (let j = 0; j < units; j++) for (let k = 0; k < inputs; k++) {
    let s = 0;
    for (let p = 0; p < r; p++) s += a[j * r + p]! * b[p * inputs + k]!;
    w[j * inputs + k] = s;
  }
  return w;
}

/** Exact-rank weights and, when `sparse`, biases that switch most units off. */
function setUp(model: Model, sparse: boolean): void {
  model.init(3);
  model.setParameter("h1.weight", lowRankWeights(H1, NIN, R1, 11));
  model.setParameter("h2.weight", lowRankWeights(H2, H1, R2, 21));
  if (sparse) {
    for (const [layer, units] of [["h1", H1], ["h2", H2]] as const) {
      const b = new Float32Array(units);
      for (let j = 0; j < units; j++) b[j] = j % 5 === 0 ? 0.1 : -3;
      model.setParameter(`${layer}.bias`, b);
    }
  }
  refreshEstimators(model);
}

function runLayers(model: Model, x: Float32Array, n: number, estimator: boolean): { h1: Float32Array; h2: Float32Array; probs: Float32Array } {
  setEstimatorsEnabled(model, estimator);
  const probs = model.predict(x, n);
  return { h1: model.regionView("h1.output").slice(0, n * H1), h2: model.regionView("h2.output").slice(0, n * H2), probs };
}

describe("lowrank forward", () => {
  for (const sparse of [false, true]) {
    for (const simd of ["plain", "relaxed"] as const) {
      it(`exact factor, theta 0: equals dense except sign flips at |z| < 1e-5 (${sparse ? "few" : "many"} active, ${simd})`, async () => {
        const model = await instantiate("exact", simd);
        setUp(model, sparse);
        for (const n of [1, 3, 17]) {
          const x = normals(n * NIN, 100 + n);
          const dense = runLayers(model, x, n, false);
          const cond = runLayers(model, x, n, true);
          const zhat = model.regionView("h1.lowrank_zhat").slice(0, n * H1);
          for (let k = 0; k < n * H1; k++) {
            const d = dense.h1[k]!, c = cond.h1[k]!;
            if (d !== 0 && c !== 0) expect(Math.abs(d - c)).toBeLessThan(1e-5 * Math.max(1, Math.abs(d)));
            else expect(Math.max(d, c)).toBeLessThan(1e-5); // a sign flip: only at |z| < 1e-5
            expect(Math.abs(zhat[k]! - (cond.h1[k]! > 0 ? cond.h1[k]! : zhat[k]!))).toBeLessThan(1e-4);
          }
          // h2 reads the conditional h1: compare with the dense layer on the same input.
          for (let k = 0; k < n * H2; k++) expect(Math.abs(cond.h2[k]! - dense.h2[k]!)).toBeLessThan(1e-4);
          for (let k = 0; k < n * 5; k++) expect(Math.abs(cond.probs[k]! - dense.probs[k]!)).toBeLessThan(1e-4);
        }
      });
    }
  }

  for (const simd of ["plain", "relaxed"] as const) {
    it(`an all-ones mask (theta -1e30) is the dense layer exactly (${simd})`, async () => {
      const model = await instantiate("allOnes", simd);
      model.init(5);
      refreshEstimators(model);
      for (const n of [1, 4, 17]) {
        const x = normals(n * NIN, 7 + n);
        const dense = runLayers(model, x, n, false);
        const cond = runLayers(model, x, n, true);
        expect(Array.from(cond.h1)).toEqual(Array.from(dense.h1));
        expect(Array.from(cond.h2)).toEqual(Array.from(dense.h2));
        expect(Array.from(cond.probs)).toEqual(Array.from(dense.probs));
      }
    });
  }

  for (const simd of ["plain", "relaxed"] as const) {
    it(`estimate and exact part against a float64 reference: ranks 20 / 13, sparse and dense inputs (${simd})`, async () => {
      const model = await instantiate("wide", simd);
      model.init(4);
      const b1 = new Float32Array(H1).map((_, j) => (j % 3 === 0 ? 0.2 : -0.4));
      model.setParameter("h1.bias", b1);
      refreshEstimators(model);
      const layers = [["h1", NIN, H1, 20], ["h2", H1, H2, 13]] as const;
      const p = (name: string): Float32Array => model.parameter(name);
      // Zero fractions: dense, about half (the projection GEMM / sparse switch at n >= 8), mostly zero.
      for (const zeros of [0, 0.55, 0.9]) {
        for (const n of [1, 3, 5, 17]) {
          const u = rng(1000 * n + Math.round(zeros * 100));
          const x = normals(n * NIN, 500 + n).map((v) => (u() < zeros ? 0 : v));
          setEstimatorsEnabled(model, true);
          model.predict(x, n);
          let input = x;
          for (const [layer, nin, nout, r] of layers) {
            const [w, b, uf, vf] = [p(`${layer}.weight`), p(`${layer}.bias`), p(`${layer}.lowrank_u`), p(`${layer}.lowrank_v`)];
            const zhat = model.regionView(`${layer}.lowrank_zhat`).slice(0, n * nout);
            const h = model.regionView(`${layer}.output`).slice(0, n * nout);
            for (let i = 0; i < n; i++) {
              const t = new Float64Array(r);
              for (let k = 0; k < nin; k++) for (let c = 0; c < r; c++) t[c]! += input[i * nin + k]! * uf[k * r + c]!;
              for (let j = 0; j < nout; j++) {
                let e = b[j]!, z = b[j]!, scale = 1;
                for (let c = 0; c < r; c++) e += t[c]! * vf[c * nout + j]!;
                for (let k = 0; k < nin; k++) { z += input[i * nin + k]! * w[j * nin + k]!; scale += Math.abs(input[i * nin + k]! * w[j * nin + k]!); }
                const at = i * nout + j;
                expect(Math.abs(zhat[at]! - e), `${layer} zhat[${i},${j}] zeros ${zeros} n ${n}`).toBeLessThan(1e-4 * (1 + Math.abs(e)));
                const want = zhat[at]! > 0 ? Math.max(z, 0) : 0;
                expect(Math.abs(h[at]! - want), `${layer} h[${i},${j}] zeros ${zeros} n ${n}`).toBeLessThan(1e-5 * scale);
              }
            }
            input = h;
          }
        }
      }
    });
  }

  it("MAC counter: r·(n_in + n_out) + #active·n_in per example (dense input)", async () => {
    const model = await instantiate("exact");
    setUp(model, true);
    for (const n of [1, 5, 17]) {
      const x = normals(n * NIN, 300 + n); // no zeros: a dense input
      resetCounters(model, "eval");
      runLayers(model, x, n, true);
      const zhat = model.regionView("h1.lowrank_zhat").slice(0, n * H1);
      const active = zhat.filter((z) => z > 0).length;
      const [examples, computed, macs] = readCounters(model, "h1");
      expect(examples).toBe(n);
      expect(computed).toBe(active);
      expect(macs).toBe(n * R1 * (NIN + H1) + active * NIN);
      // h2's input is h1's sparse output: r·(nnz + n_out) + #active·(nnz or n_in).
      const h1 = model.regionView("h1.output").slice(0, n * H1);
      const zhat2 = model.regionView("h2.lowrank_zhat").slice(0, n * H2);
      let expected = 0;
      let active2 = 0;
      let nnzTotal = 0;
      for (let i = 0; i < n; i++) {
        const nnz = h1.subarray(i * H1, (i + 1) * H1).filter((v) => v !== 0).length;
        const a = zhat2.subarray(i * H2, (i + 1) * H2).filter((z) => z > 0).length;
        active2 += a;
        nnzTotal += nnz;
        expected += R2 * H2 + a * (nnz * 8 > H1 ? H1 : nnz);
      }
      // The exact part: unit-major over the whole batch (n >= 4, input density > 1/8) at
      // n_in per pair, else per example at nnz (sparse) or n_in (dense) per pair.
      if (n >= 4 && nnzTotal * 8 > n * H1) expected = n * R2 * H2 + active2 * H1;
      // The projection X·U: one GEMM when the batch (n >= 8) is mostly nonzero, else sparse.
      expected += n >= 8 && nnzTotal > 0.5 * n * H1 ? n * H1 * R2 : nnzTotal * R2;
      const c2 = readCounters(model, "h2");
      expect(c2[1]).toBe(active2);
      expect(c2[2]).toBe(expected);
    }
  });
});

describe("lowrank in_loop backward", () => {
  it("masked gradients match finite differences of the conditional loss (mask held fixed)", async () => {
    const model = await instantiate("inLoop");
    model.init(9);
    refreshEstimators(model);
    const n = 13;
    const x = normals(n * NIN, 77);
    const labels = new Int32Array(n).map((_, i) => i % 5);
    // The loss, and the masks S of both layers: the gradient holds S fixed (S, U, V get no
    // gradient), so a coordinate whose perturbation flips a mask bit is skipped.
    const run = (): { loss: number; mask: string } => {
      const loss = model.trainStep(x, labels, n, { lr: 0 }).loss;
      const mask = ["h1", "h2"].map((l) => Array.from(model.regionView(`${l}.lowrank_zhat`).slice(0, n * (l === "h1" ? H1 : H2)), (z) => (z > 0 ? 1 : 0)).join("")).join("|");
      return { loss, mask };
    };
    const base = run();
    const grads = new Map<string, Float32Array>();
    for (const p of ["h1.weight", "h1.bias", "h2.weight", "h2.bias", "out.weight"]) grads.set(p, model.regionView(`${p}.grad`).slice());
    const u = rng(5);
    let checked = 0, good = 0;
    const bad: string[] = [];
    for (const [name, grad] of grads) {
      const w = model.parameter(name);
      for (let t = 0; t < 16; t++) {
        const k = Math.floor(u() * w.length);
        const eps = 1e-3;
        const saved = w[k]!;
        w[k] = saved + eps; model.setParameter(name, w);
        const plus = run();
        w[k] = saved - eps; model.setParameter(name, w);
        const minus = run();
        w[k] = saved; model.setParameter(name, w);
        if (plus.mask !== base.mask || minus.mask !== base.mask) continue;
        const fd = (plus.loss - minus.loss) / (2 * eps);
        checked++;
        if (Math.abs(fd - grad[k]!) <= 5e-4 + 0.03 * Math.abs(fd)) good++;
        else bad.push(`${name}[${k}]: fd ${fd}, grad ${grad[k]}`);
      }
    }
    expect(checked).toBeGreaterThanOrEqual(40);
    expect(good / checked, bad.join("; ")).toBeGreaterThanOrEqual(0.95);
    // Some units were skipped and some computed: the test exercises the mask.
    expect(base.mask).toMatch(/0/);
    expect(base.mask).toMatch(/1/);
  });

  it("units the estimator skips get no weight gradient", async () => {
    const model = await instantiate("inLoop");
    model.init(9);
    // Estimator factors zero (init computes them from the weights: zero them by hand):
    // Zhat = b = 0, nothing computed, no gradient into h1/h2.
    for (const name of ["h1.lowrank_u", "h1.lowrank_v", "h2.lowrank_u", "h2.lowrank_v"]) model.setParameter(name, new Float32Array(model.parameter(name).length));
    const n = 6;
    const x = normals(n * NIN, 78);
    model.trainStep(x, new Int32Array(n), n, { lr: 0 });
    expect(model.regionView("h1.weight.grad").every((g) => g === 0)).toBe(true);
    expect(model.regionView("h1.output").slice(0, n * H1).every((g) => g === 0)).toBe(true);
  });
});

describe("init leaves the estimators ready (issue 16, class 15)", () => {
  it("init computes the factors from the new weights: an in_loop step computes units and trains", async () => {
    const model = await instantiate("inLoop");
    model.init(9);
    const u = model.parameter("h1.lowrank_u");
    expect(u.some((v) => v !== 0)).toBe(true);
    const fresh = await instantiate("inLoop");
    fresh.init(9);
    refreshEstimators(fresh);
    expect(Buffer.from(u.buffer).equals(Buffer.from(fresh.parameter("h1.lowrank_u").buffer))).toBe(true);
    const n = 6;
    model.trainStep(normals(n * NIN, 78), new Int32Array(n), n, { lr: 0 });
    expect(model.regionView("h1.weight.grad").some((g) => g !== 0)).toBe(true);
    expect(model.regionView("h1.output").slice(0, n * H1).some((h) => h !== 0)).toBe(true);
  });

  it("loading a checkpoint without the factors recomputes them; with them keeps them", async () => {
    const source = await instantiate("inLoop");
    source.init(3);
    const full = source.save();
    const { decodeSafetensors, encodeSafetensors } = await import("../../runtime/checkpoint/safetensors.js");
    const decoded = decodeSafetensors(full, "full");
    const stripped = encodeSafetensors([...decoded.tensors].filter(([name]) => !name.includes("lowrank_")).map(([name, t]) => ({ name, shape: t.shape, data: t.data })));
    const target = await instantiate("inLoop");
    target.init(99);
    target.load(stripped, "stripped");
    expect(Buffer.from(target.save()).equals(Buffer.from(full))).toBe(true);
    // A checkpoint's own factors win over recomputation.
    const edited = source.parameter("h2.lowrank_v").map((v) => v * 2);
    source.setParameter("h2.lowrank_v", edited);
    target.load(source.save(), "edited");
    expect(Array.from(target.parameter("h2.lowrank_v"))).toEqual(Array.from(edited));
  });
});

describe("truncated SVD", () => {
  it("reaches the best rank-r reconstruction error (Eckart-Young, Jacobi reference)", () => {
    const rows = 60, cols = 45;
    const a = new Float64Array(rows * cols);
    // A = Σ_i s_i x_i y_iᵀ with decaying s_i plus noise.
    const g = normals(rows * cols + 4000, 42);
    for (let i = 0; i < 20; i++) {
      const s = Math.pow(0.7, i) * 10;
      for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) a[r * cols + c]! += s * g[r + i * 60]! * g[2000 + c + i * 45]! / Math.sqrt(rows * cols);
    }
    for (let k = 0; k < a.length; k++) a[k]! += 0.01 * g[k]!;
    // Reference: all singular values of Aᵀ [cols, rows] by one-sided Jacobi on A.
    const full = jacobiSvd(a, rows, cols);
    const sigma = Array.from(full.sigma).sort((p, q) => q - p);
    for (const r of [1, 5, 10, 20]) {
      const svd = truncatedSvd(a, rows, cols, r);
      let err = 0;
      for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) {
        let s = 0;
        for (let p = 0; p < r; p++) s += svd.us[i * r + p]! * svd.vt[p * cols + j]!;
        err += (a[i * cols + j]! - s) ** 2;
      }
      const best = sigma.slice(r).reduce((s, v) => s + v * v, 0);
      expect(Math.sqrt(err)).toBeLessThanOrEqual(Math.sqrt(best) * 1.02 + 1e-12);
      // The leading half to 1% (the tail of a randomized SVD is less exact; the error bound above covers it).
      for (let p = 0; p < Math.ceil(r / 2); p++) expect(Math.abs(svd.sigma[p]! - sigma[p]!)).toBeLessThanOrEqual(0.01 * sigma[p]!);
    }
  });
});

describe("checkpoint", () => {
  it("round-trips the factors: a fresh instance predicts identically", async () => {
    const a = await instantiate("exact");
    setUp(a, true);
    const bytes = a.save();
    const b = await instantiate("exact");
    b.load(bytes);
    for (const p of ["h1.lowrank_u", "h1.lowrank_v", "h2.lowrank_u", "h2.lowrank_v"]) {
      expect(Array.from(b.parameter(p))).toEqual(Array.from(a.parameter(p)));
      expect(b.parameter(p).some((v) => v !== 0)).toBe(true);
    }
    const x = normals(17 * NIN, 999);
    expect(Array.from(b.predict(x, 17))).toEqual(Array.from(a.predict(x, 17)));
  });
});
