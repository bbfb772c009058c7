/**
 * @fileoverview Every WGSL kernel against a float64 TypeScript reference (tests/webgpu/
 * reference.ts), within 1e-4 relative, at sizes that are and are not multiples of the tiles
 * (1, 3, 17, 128, 1000), with the batch dimension both a baked constant and the call's n.
 * Skips, with the reason in the test names and the log, when no WebGPU adapter exists.
 */
import { afterAll, describe, expect, it } from "vitest";
import { activationBackwardKernel, columnSumsKernel, type Activation } from "../../runtime/webgpu/kernels/elementwise.js";
import { gemmKernel, SMALL_ROWS, smallRowsNtKernel, type GemmShape } from "../../runtime/webgpu/kernels/gemm.js";
import { lossTotalKernel, reduceKernel, softmaxCrossEntropyKernel, softmaxKernel } from "../../runtime/webgpu/kernels/loss.js";
import { adamCorrections, adamKernel, sgdKernel } from "../../runtime/webgpu/kernels/optim.js";
import { l1Groups, l1PenaltyKernel } from "../../runtime/webgpu/kernels/penalty.js";
import { probeGpu, runKernel, skipNote } from "./gpu.js";
import {
  activate,
  activationBackward,
  closeness,
  gemmReference,
  randomArray,
  softmaxCrossEntropy,
  type GemmCase,
} from "./reference.js";

const probe = await probeGpu();
const device = probe.device!;
afterAll(() => probe.device?.destroy());

/**
 * [m, n, k, beta]: degenerate, small odd, one tile plus one, the model's widths; beta
 * alternates (each case is its own pipeline, about 3 s to build on a software adapter).
 */
const GEMM_SIZES: Array<[number, number, number, 0 | 1]> = [
  [1, 1, 1, 0],
  [3, 17, 5, 1],
  [17, 3, 128, 0],
  [65, 1000, 17, 1],
  [128, 17, 1000, 0],
  [1000, 128, 3, 1],
];

/** The batch dimension is the call's n (as in the model); other dimensions are constants. */
function batchDims(shape: GemmShape, size: [number, number, number]) {
  const [m, n, k] = size;
  return shape === "TN" ? { m, n, k: "n" as const, call: k } : { m: "n" as const, n, k, call: m };
}

function layout(shape: GemmShape, m: number, n: number, k: number, pad = 0): GemmCase {
  return { shape, m, n, k, lda: (shape === "TN" ? m : k) + pad, ldb: (shape === "NT" ? k : n) + pad, ldc: n + pad };
}

async function checkGemm(c: GemmCase, beta: 0 | 1, dims: { m: number | "n"; n: number | "n"; k: number | "n"; call: number }, seed: number) {
  const aRows = c.shape === "TN" ? c.k : c.m;
  const bRows = c.shape === "NT" ? c.n : c.k;
  const a = randomArray(aRows * c.lda, seed);
  const b = randomArray(bRows * c.ldb, seed + 1);
  // Two spare rows of C past m: a kernel that writes past the call's rows shows there.
  const cIn = randomArray((c.m + 2) * c.ldc, seed + 2);
  const kernel = gemmKernel({ shape: c.shape, m: dims.m, n: dims.n, k: dims.k, lda: c.lda, ldb: c.ldb, ldc: c.ldc, beta });
  const { c: got } = await runKernel(device, kernel, { a, b, c: cIn }, dims.call, ["c"]);
  const { out, scale } = gemmReference(c, a, b, cIn, beta);
  // Padding columns (ldc > n) and the spare rows keep their values: the reference copies cIn there.
  expect(closeness(got!, out, scale), `${kernel.label}`).toBe("");
}

describe(`WGSL tiled GEMM against a float64 reference${skipNote(probe)}`, () => {
  for (const shape of ["NT", "TN", "NN"] as const) {
    it.skipIf(!probe.device)(`${shape}, sizes ${GEMM_SIZES.map(([m, n, k, beta]) => `${m}x${n}x${k} beta ${beta}`).join(", ")}`, async () => {
      let seed = 1;
      for (const [m, n, k, beta] of GEMM_SIZES) {
        await checkGemm(layout(shape, m, n, k), beta, batchDims(shape, [m, n, k]), seed++ * 10);
      }
    });
  }

  it.skipIf(!probe.device)("leading dimensions wider than the matrices (strided rows), all dimensions constant", async () => {
    for (const shape of ["NT", "TN", "NN"] as const) {
      const c = layout(shape, 19, 23, 70, 5);
      await checkGemm(c, 1, { m: 19, n: 23, k: 70, call: 1 }, 99);
    }
  });

  it.skipIf(!probe.device)(`small-rows NT (m <= ${SMALL_ROWS}, batch-1 inference): m 1..${SMALL_ROWS}, beta 0 and 1, with and without the epilogue`, async () => {
    for (const [n, k] of [[1, 1], [17, 5], [1000, 784], [9, 33]] as const) {
      for (let m = 1; m <= SMALL_ROWS; m++) {
        const c = layout("NT", m, n, k);
        const a = randomArray(m * k, m + n);
        const b = randomArray(n * k, k);
        const cIn = randomArray((m + 2) * n, 3);
        for (const beta of [0, 1] as const) {
          const kernel = smallRowsNtKernel({ shape: "NT", m: "n", n, k, lda: k, ldb: k, ldc: n, beta });
          const { c: got } = await runKernel(device, kernel, { a, b, c: cIn }, m, ["c"]);
          const { out, scale } = gemmReference(c, a, b, cIn, beta);
          expect(closeness(got!, out, scale), `${kernel.label} m=${m}`).toBe("");
        }
        const bias = randomArray(n, 8);
        const kernel = smallRowsNtKernel({ shape: "NT", m: "n", n, k, lda: k, ldb: k, ldc: n, beta: 0, epilogue: { bias: true, activation: "tanh" } });
        const { c: got } = await runKernel(device, kernel, { a, b, bias }, m, ["c"], { c: m * n });
        const { out, scale } = gemmReference(c, a, b, new Float32Array(m * n), 0);
        expect(closeness(got!, out.map((z, i) => Math.tanh(z + bias[i % n]!)), scale.map((s, i) => s + Math.abs(bias[i % n]!))), `${kernel.label} m=${m}`).toBe("");
      }
    }
  });

  it.skipIf(!probe.device)("NT epilogue: + bias, then relu / tanh / sigmoid / linear (the forward layer in one pass)", async () => {
    for (const activation of ["relu", "tanh", "sigmoid", "linear"] as const) {
      for (const [m, n, k] of [[3, 17, 5], [130, 70, 33]] as const) {
        const c = layout("NT", m, n, k);
        const x = randomArray(m * k, 5);
        const w = randomArray(n * k, 6);
        const bias = randomArray(n, 7);
        const kernel = gemmKernel({ shape: "NT", m: "n", n, k, lda: k, ldb: k, ldc: n, beta: 0, epilogue: { bias: true, activation } });
        const { c: got } = await runKernel(device, kernel, { a: x, b: w, bias }, m, ["c"], { c: m * n });
        const { out, scale } = gemmReference(c, x, w, new Float32Array(m * n), 0);
        const want = out.map((z, i) => activate(activation, z + bias[i % n]!));
        // The derivative bounds how the pre-activation's error carries through (<= 1 for all four).
        const zScale = scale.map((s, i) => s + Math.abs(bias[i % n]!));
        expect(closeness(got!, want, zScale), kernel.label).toBe("");
      }
    }
  });
});

describe(`WGSL element-wise kernels against float64 references${skipNote(probe)}`, () => {
  const SHAPES: Array<[number, number]> = [[1, 1], [3, 17], [17, 3], [128, 1000]];

  it.skipIf(!probe.device)("activation backward from the output h: relu, tanh, sigmoid, in place on the delta", async () => {
    for (const activation of ["relu", "tanh", "sigmoid"] as const) {
      for (const [rows, units] of SHAPES) {
        const z = randomArray(rows * units, rows + units, true);
        const h = z.map((v) => activate(activation, v));
        const delta = randomArray(rows * units, 3);
        const kernel = activationBackwardKernel(activation, "n", units);
        const { delta: got } = await runKernel(device, kernel, { delta, h }, rows, ["delta"]);
        const want = Array.from(delta, (d, i) => activationBackward(activation, d, h[i]!));
        expect(closeness(got!, want), kernel.label).toBe("");
      }
    }
  });

  it.skipIf(!probe.device)("column sums (bias gradient), rows from the call, no atomics", async () => {
    for (const [rows, units] of [...SHAPES, [1000, 128] as [number, number]]) {
      const delta = randomArray(rows * units, rows * 7 + units);
      const kernel = columnSumsKernel("n", units);
      const { db: got } = await runKernel(device, kernel, { delta }, rows, ["db"], { db: units });
      const want = new Float64Array(units);
      const scale = new Float64Array(units);
      for (let i = 0; i < rows; i++) {
        for (let j = 0; j < units; j++) {
          want[j] += delta[i * units + j]!;
          scale[j] += Math.abs(delta[i * units + j]!);
        }
      }
      expect(closeness(got!, want, scale), kernel.label).toBe("");
    }
  });

  it.skipIf(!probe.device)("L1 penalty: dh += (λ/n)·sign(h) (sign 0 at 0) and the partial Σ|h|, reduced to λ/n·Σ|h|", async () => {
    for (const [rows, units] of SHAPES) {
      const count = rows * units;
      const h = randomArray(count, count, true);
      const delta = randomArray(count, 11);
      const lambda = 2e-3;
      const groups = l1Groups(count);
      const kernel = l1PenaltyKernel("n", units, lambda, groups);
      const got = await runKernel(device, kernel, { h, delta }, rows, ["delta", "partials"], { partials: groups });
      const scale = Math.fround(lambda) / rows;
      const want = Array.from(delta, (d, i) => d + (h[i]! > 0 ? scale : h[i]! < 0 ? -scale : 0));
      expect(closeness(got["delta"]!, want, want.map(() => scale)), kernel.label).toBe("");
      const reduce = reduceKernel(groups, lambda, 1);
      const { slots } = await runKernel(device, reduce, { values: got["partials"]! }, rows, ["slots"], { slots: 2 });
      const absSum = h.reduce((s, v) => s + Math.abs(v), 0);
      expect(closeness([slots![1]!], [absSum * scale]), reduce.label).toBe("");
    }
  });
});

describe(`WGSL loss kernels against float64 references${skipNote(probe)}`, () => {
  const SHAPES: Array<[number, number]> = [[1, 1], [3, 17], [128, 10], [17, 1000], [1000, 3]];

  it.skipIf(!probe.device)("softmax of each row", async () => {
    for (const [rows, classes] of SHAPES) {
      const logits = randomArray(rows * classes, rows + classes).map((v) => 8 * v);
      const kernel = softmaxKernel(classes);
      const { probs: got } = await runKernel(device, kernel, { logits }, rows, ["probs"], { probs: rows * classes });
      const { probs } = softmaxCrossEntropy(logits, new Int32Array(rows), rows, classes);
      expect(closeness(got!, probs), kernel.label).toBe("");
    }
  });

  it.skipIf(!probe.device)("softmax cross-entropy: probs, dlogits = (p - onehot)/n, per-row loss, mean by a fixed-order reduction; a label outside the classes adds nothing", async () => {
    for (const [rows, classes] of SHAPES) {
      const logits = randomArray(rows * classes, rows * 3 + classes).map((v) => 8 * v);
      const labels = new Int32Array(rows).map((_, i) => (i * 7919) % classes);
      if (rows > 2) labels[1] = classes; // invalid: no loss, no onehot
      const kernel = softmaxCrossEntropyKernel(classes);
      const got = await runKernel(device, kernel, { logits, labels }, rows, ["probs", "dlogits", "rowLoss"], {
        probs: rows * classes,
        dlogits: rows * classes,
        rowLoss: rows,
      });
      const want = softmaxCrossEntropy(logits, labels, rows, classes);
      expect(closeness(got["probs"]!, want.probs), `${kernel.label} probs`).toBe("");
      expect(closeness(got["dlogits"]!, want.dlogits, want.dlogits.map(() => 1 / rows)), `${kernel.label} dlogits`).toBe("");
      // log(Σ exp) of an f32 sum >= 1 carries ~1e-7 absolute rounding however small the loss:
      // the scale has a floor of 1e-2 (an allowed error of 1e-6).
      expect(closeness(got["rowLoss"]!, want.rowLoss, want.rowLoss.map(() => 1e-2)), `${kernel.label} row losses`).toBe("");
      const reduce = reduceKernel("n", 1, 1);
      const { slots } = await runKernel(device, reduce, { values: got["rowLoss"]! }, rows, ["slots"], { slots: 2 });
      expect(closeness([slots![1]!], [want.loss]), reduce.label).toBe("");
    }
  });

  it.skipIf(!probe.device)("reduce over 1 .. 100,000 values and the loss total in term order", async () => {
    for (const count of [1, 3, 17, 128, 1000, 100_000]) {
      const values = randomArray(count, count);
      const kernel = reduceKernel("n", 3, 2);
      const { slots } = await runKernel(device, kernel, { values }, count, ["slots"], { slots: 3 });
      let sum = 0;
      let abs = 0;
      for (const v of values) {
        sum += v;
        abs += Math.abs(v);
      }
      expect(closeness([slots![2]!], [(sum * 3) / count], [(abs * 3) / count]), kernel.label).toBe("");
    }
    const slots = new Float32Array([0, 1.5, -0.25, 2e-3]);
    const { slots: got } = await runKernel(device, lossTotalKernel(3), { slots }, 1, ["slots"]);
    expect(got![0]).toBe(Math.fround(Math.fround(1.5 - 0.25) + Math.fround(2e-3)));
  });
});

describe(`WGSL optimizers against float64 references${skipNote(probe)}`, () => {
  const COUNTS = [1, 3, 17, 128, 1000, 100_003];

  it.skipIf(!probe.device)("SGD with momentum and weight decay", async () => {
    for (const count of COUNTS) {
      const param = randomArray(count, 1);
      const grad = randomArray(count, 2);
      const velocity = randomArray(count, 3);
      const [lr, momentum, wd] = [0.05, 0.9, 0.01];
      const kernel = sgdKernel(count, momentum, wd);
      const got = await runKernel(device, kernel, { param, grad, velocity }, 1, ["param", "velocity"], {}, { lr });
      const v = Array.from(velocity, (v0, i) => momentum * v0 - lr * (grad[i]! + wd * param[i]!));
      const w = Array.from(param, (w0, i) => w0 + v[i]!);
      const vScale = Array.from(velocity, (v0, i) => Math.abs(momentum * v0) + Math.abs(lr * grad[i]!) + Math.abs(lr * wd * param[i]!));
      expect(closeness(got["velocity"]!, v, vScale), `${kernel.label} velocity`).toBe("");
      expect(closeness(got["param"]!, w, Array.from(param, (w0, i) => Math.abs(w0) + vScale[i]!)), `${kernel.label} param`).toBe("");
    }
  });

  it.skipIf(!probe.device)("Adam with bias correction (steps 1 and 7) and weight decay", async () => {
    for (const count of COUNTS) {
      for (const t of [1, 7]) {
        const param = randomArray(count, 4);
        const grad = randomArray(count, 5);
        const m1 = randomArray(count, 6).map((v) => v * 0.1);
        const m2 = randomArray(count, 7).map((v) => v * v * 0.01);
        const [lr, b1, b2, eps, wd] = [2e-3, 0.8, 0.999, 1e-8, 0.01];
        const kernel = adamKernel(count, b1, b2, eps, wd);
        const corrections = adamCorrections(b1, b2, t);
        const got = await runKernel(device, kernel, { param, grad, m1, m2 }, 1, ["param", "m1", "m2"], {}, { lr, t, ...corrections });
        const c1 = 1 / (1 - Math.pow(b1, t));
        const c2 = 1 / (1 - Math.pow(b2, t));
        const g = Array.from(grad, (g0, i) => g0 + wd * param[i]!);
        const a = g.map((gi, i) => b1 * m1[i]! + (1 - b1) * gi);
        const b = g.map((gi, i) => b2 * m2[i]! + (1 - b2) * gi * gi);
        const w = Array.from(param, (w0, i) => w0 - (lr * a[i]! * c1) / (Math.sqrt(b[i]! * c2) + eps));
        const aScale = g.map((gi, i) => Math.abs(b1 * m1[i]!) + Math.abs((1 - b1) * gi));
        expect(closeness(got["m1"]!, a, aScale), `${kernel.label} t=${t} m1`).toBe("");
        expect(closeness(got["m2"]!, b), `${kernel.label} t=${t} m2`).toBe("");
        // The step's own relative error is ~1e-4 of the step, which is lr-sized: scale by |w| + lr.
        expect(closeness(got["param"]!, w, Array.from(param, (w0) => Math.abs(w0) + lr)), `${kernel.label} t=${t} param`).toBe("");
      }
    }
  });
});
