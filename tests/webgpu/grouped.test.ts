/**
 * @fileoverview The grouped (bucketed) WGSL products against float64 references: row ranges of a
 * sorted buffer (tree buckets, experts) and member lists (examples with a block active), NT and
 * NN with the per-group bias and activation, per-group weight gradients (TN) and column sums,
 * empty groups zeroed or left alone (or left out of a list of the non-empty ones), a short last
 * block; groups larger than one tile.
 */
import { afterAll, describe, expect, it } from "vitest";
import { groupedColumnSumsKernel, groupedProductKernel, groupedWeightGradKernel, groupListKernel } from "../../runtime/webgpu/kernels/grouped.js";
import { NARROW_TILE } from "../../runtime/webgpu/kernels/gemm.js";
import { probeGpu, runKernel, skipNote } from "./gpu.js";
import { closeness, randomArray } from "./reference.js";

const probe = await probeGpu();
afterAll(() => probe.device?.destroy());

const relu = (v: number) => Math.max(v, 0);

describe(`WGSL grouped products against float64 references${skipNote(probe)}`, () => {
  it.skipIf(!probe.device)("range NT with a per-group bias and relu (beta 0) and NN accumulating (beta 1): groups of 0, 1, 70 and 9 rows", async () => {
    const starts = Int32Array.from([0, 0, 1, 71, 80]);
    const rows = 80, k = 37, cols = 19, groups = 4;
    const a = randomArray(rows * k, 1);
    const w = randomArray(groups * cols * k, 2);
    const bias = randomArray(groups * cols, 3);
    const kernel = groupedProductKernel({
      shape: "NT", groups, rows: { kind: "range", stride: 1 }, maxRows: { dim: "n", times: 1 }, cols, k, lda: k, ldb: k, ldc: cols,
      bBase: 0, bStride: cols * k, cColStride: 0, beta: 0, epilogue: { biasBase: 0, biasStride: cols, activation: "relu" },
    });
    const out = await runKernel(probe.device!, kernel, { a, b: w, starts, bias }, rows, ["c"], { c: rows * cols });
    const want = new Float64Array(rows * cols);
    const scale = new Float64Array(rows * cols);
    for (let g = 0; g < groups; g++) {
      for (let r = starts[g]!; r < starts[g + 1]!; r++) {
        for (let j = 0; j < cols; j++) {
          let z = 0, s = 0;
          for (let p = 0; p < k; p++) { z += a[r * k + p]! * w[g * cols * k + j * k + p]!; s += Math.abs(a[r * k + p]! * w[g * cols * k + j * k + p]!); }
          want[r * cols + j] = relu(z + bias[g * cols + j]!);
          scale[r * cols + j] = s + Math.abs(bias[g * cols + j]!);
        }
      }
    }
    expect(closeness(out["c"]!, want, scale)).toBe("");

    // NN: C_g [rows x 23] += A [rows x cols] · B_g [cols x 23], B_g from a base offset.
    const n2 = 23;
    const b2 = randomArray(5 + groups * cols * n2, 4);
    const c0 = randomArray(rows * n2, 5);
    const nn = groupedProductKernel({
      shape: "NN", groups, rows: { kind: "range", stride: 1 }, maxRows: { dim: "n", times: 1 }, cols: n2, k: cols, lda: cols, ldb: n2, ldc: n2,
      bBase: 5, bStride: cols * n2, cColStride: 0, beta: 1,
    });
    const a2 = randomArray(rows * cols, 6);
    const out2 = await runKernel(probe.device!, nn, { a: a2, b: b2, c: c0, starts }, rows, ["c"]);
    const want2 = Float64Array.from(c0);
    const scale2 = Float64Array.from(c0, Math.abs);
    for (let g = 0; g < groups; g++) {
      for (let r = starts[g]!; r < starts[g + 1]!; r++) {
        for (let j = 0; j < n2; j++) {
          for (let p = 0; p < cols; p++) {
            const t = a2[r * cols + p]! * b2[5 + g * cols * n2 + p * n2 + j]!;
            want2[r * n2 + j] += t;
            scale2[r * n2 + j] += Math.abs(t);
          }
        }
      }
    }
    expect(closeness(out2["c"]!, want2, scale2)).toBe("");
  });

  it.skipIf(!probe.device)("member lists NT (blocks of 6 output units, the last one 4 wide): gathered rows, scattered columns, tanh; other outputs untouched", async () => {
    const n = 40, k = 13, units = 22, block = 6, groups = 4, capacity = n;
    const x = randomArray(n * k, 7);
    const w = randomArray(units * k, 8);
    const bias = randomArray(units, 9);
    const counts = new Int32Array(groups);
    const members = new Int32Array(groups * capacity);
    for (let i = 0; i < n; i++) for (let g = 0; g < groups; g++) if ((i * 7 + g * 3) % 5 < 2) members[g * capacity + counts[g]!++] = i;
    const sentinel = 1234.5;
    const c = new Float32Array(n * units).fill(sentinel);
    const kernel = groupedProductKernel({
      shape: "NT", groups, rows: { kind: "list", capacity }, maxRows: { dim: "n", times: 1 }, cols: block, totalCols: units, k, lda: k, ldb: k, ldc: units,
      bBase: 0, bStride: block * k, cColStride: block, beta: 0, epilogue: { biasBase: 0, biasStride: block, activation: "tanh" },
    }, NARROW_TILE);
    const out = await runKernel(probe.device!, kernel, { a: x, b: w, c, counts, members, bias }, n, ["c"]);
    const want = Float64Array.from(c);
    for (let g = 0; g < groups; g++) {
      for (let m = 0; m < counts[g]!; m++) {
        const i = members[g * capacity + m]!;
        for (let j = g * block; j < Math.min(units, (g + 1) * block); j++) {
          let z = bias[j]!;
          for (let p = 0; p < k; p++) z += x[i * k + p]! * w[j * k + p]!;
          want[i * units + j] = Math.tanh(z);
        }
      }
    }
    expect(closeness(out["c"]!, want, want.map(() => 1e-3))).toBe("");
  });

  it.skipIf(!probe.device)("per-group weight gradients (TN over each group's rows) and column sums; empty groups zeroed or skipped", async () => {
    const starts = Int32Array.from([0, 3, 3, 90, 95]);
    const rows = 95, m = 17, n = 70, groups = 4;
    const d = randomArray(rows * m, 10);
    const x = randomArray(rows * n, 11);
    for (const empty of ["zero", "skip"] as const) {
      const sentinel = new Float32Array(7 + groups * m * n).fill(9);
      const kernel = groupedWeightGradKernel({ groups, stride: 1, m, n, lda: m, ldb: n, cBase: 7, cStride: m * n, ldc: n, empty });
      const out = await runKernel(probe.device!, kernel, { a: d, b: x, c: sentinel, starts }, rows, ["c"]);
      const want = Float64Array.from(sentinel);
      const scale = new Float64Array(want.length);
      for (let g = 0; g < groups; g++) {
        const s = starts[g]!, e = starts[g + 1]!;
        if (s === e && empty === "skip") continue;
        for (let i = 0; i < m; i++) {
          for (let j = 0; j < n; j++) {
            let sum = 0, abs = 0;
            for (let r = s; r < e; r++) { sum += d[r * m + i]! * x[r * n + j]!; abs += Math.abs(d[r * m + i]! * x[r * n + j]!); }
            want[7 + g * m * n + i * n + j] = sum;
            scale[7 + g * m * n + i * n + j] = abs;
          }
        }
      }
      expect(closeness(out["c"]!, want, scale), empty).toBe("");

      const db = new Float32Array(2 + groups * m).fill(9);
      const sums = await runKernel(probe.device!, groupedColumnSumsKernel(groups, 1, m, m, 2, m, empty), { delta: d, db, starts }, rows, ["db"]);
      const wantDb = Float64Array.from(db);
      const scaleDb = new Float64Array(wantDb.length);
      for (let g = 0; g < groups; g++) {
        const s = starts[g]!, e = starts[g + 1]!;
        if (s === e && empty === "skip") continue;
        for (let j = 0; j < m; j++) {
          let sum = 0, abs = 0;
          for (let r = s; r < e; r++) { sum += d[r * m + j]!; abs += Math.abs(d[r * m + j]!); }
          wantDb[2 + g * m + j] = sum;
          scaleDb[2 + g * m + j] = abs;
        }
      }
      expect(closeness(sums["db"]!, wantDb, scaleDb), `column sums, ${empty}`).toBe("");
      if (empty !== "skip") continue;
      // Listed: only the non-empty groups, from the list groupListKernel makes (3 of the 4).
      const made = await runKernel(probe.device!, groupListKernel(groups, 1), { starts }, rows, ["tiles"], { tiles: 1 + 2 * groups });
      const groupList = new Uint32Array(made["tiles"]!.buffer);
      expect(Array.from(groupList.subarray(0, 7))).toEqual([3, 0, 0, 2, 0, 3, 0]);
      const listed = groupedWeightGradKernel({ groups, stride: 1, m, n, lda: m, ldb: n, cBase: 7, cStride: m * n, ldc: n, empty, listed: true });
      const outListed = await runKernel(probe.device!, listed, { a: d, b: x, c: sentinel, starts, groupList }, rows, ["c"]);
      expect(closeness(outListed["c"]!, want, scale), "listed").toBe("");
      const sumsListed = await runKernel(probe.device!, groupedColumnSumsKernel(groups, 1, m, m, 2, m, empty, true), { delta: d, db, starts, groupList }, rows, ["db"]);
      expect(closeness(sumsListed["db"]!, wantDb, scaleDb), "column sums, listed").toBe("");
    }
  });
});
