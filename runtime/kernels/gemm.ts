// Dense f32 GEMM family (NN, NT, TN): packed panels, 4x8 register-blocked SIMD micro-kernel,
// cache blocking, and small-m (GEMV-like) paths. Sizes i32, pointers are byte addresses.
import { scratchAt, SCRATCH_PACK_A, SCRATCH_PACK_B, SCRATCH_EDGE_TILE } from "./scratch";
// maddSplit in the one-row GEMV even in the relaxed build: it is bound by the accumulator
// chains, and FMA's longer latency made it ~20% slower there.
import { hsum4Strided, hsumSerial, madd, maddSplit, minI } from "./helpers";

// ---------------------------------------------------------------------------------------
// Blocking parameters. MR x NR is the register tile (8 f32x4 accumulators); KC the depth of
// a packed block; MC rows of A and NC columns of B are packed per block.
// ---------------------------------------------------------------------------------------
export const GEMM_MR: i32 = 4;
export const GEMM_NR: i32 = 8;
export const GEMM_KC: i32 = 256;
export const GEMM_MC: i32 = 128;
export const GEMM_NC: i32 = 1024;
/** m at or below this uses the unpacked small-m kernels. */
export const GEMM_SMALL_M: i32 = 8;

// Pack buffers live in this instance's scratch block (scratch.ts: SCRATCH_PACK_A, _PACK_B,
// _EDGE_TILE): A block MC*KC f32 stored pre-splatted (each element as a full f32x4, 4x the
// floats; see packA), B block KC*NC f32, and the edge tile the micro-kernel writes when the
// tile sticks out of C.

// ---------------------------------------------------------------------------------------
// Micro-kernel: C[4x8] (+)= PA[kc x 4] . PB[kc x 8], panels k-major. c is a byte pointer,
// ldcB the row stride in bytes. accumulate=false overwrites C without reading it.
// The A panel holds each element pre-splatted (64 bytes per k step), so the four A operands are
// plain v128.load with an immediate offset: V8 (x64) emits v128.load32_splat at a nonzero offset
// as lea + vbroadcastss, and with plain mul + add the loop is bound by uops issued, not by the
// FP ports (31 -> 26 uops per k step; plain 40 -> 47 GFLOP/s). The loop runs on an end pointer
// (no counter).
// ---------------------------------------------------------------------------------------
function kernel4x8(kc: i32, pa: usize, pb: usize, c: usize, ldcB: usize, accumulate: bool): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  const pend = pb + <usize>kc * 32;
  while (pb < pend) {
    const b0 = v128.load(pb), b1 = v128.load(pb, 16);
    let a = v128.load(pa);
    c00 = madd(a, b0, c00); c01 = madd(a, b1, c01);
    a = v128.load(pa, 16);
    c10 = madd(a, b0, c10); c11 = madd(a, b1, c11);
    a = v128.load(pa, 32);
    c20 = madd(a, b0, c20); c21 = madd(a, b1, c21);
    a = v128.load(pa, 48);
    c30 = madd(a, b0, c30); c31 = madd(a, b1, c31);
    pa += 64; pb += 32;
  }
  if (accumulate) {
    c00 = f32x4.add(c00, v128.load(c)); c01 = f32x4.add(c01, v128.load(c, 16));
    c10 = f32x4.add(c10, v128.load(c + ldcB)); c11 = f32x4.add(c11, v128.load(c + ldcB, 16));
    c20 = f32x4.add(c20, v128.load(c + 2 * ldcB)); c21 = f32x4.add(c21, v128.load(c + 2 * ldcB, 16));
    c30 = f32x4.add(c30, v128.load(c + 3 * ldcB)); c31 = f32x4.add(c31, v128.load(c + 3 * ldcB, 16));
  }
  v128.store(c, c00); v128.store(c, c01, 16);
  v128.store(c + ldcB, c10); v128.store(c + ldcB, c11, 16);
  v128.store(c + 2 * ldcB, c20); v128.store(c + 2 * ldcB, c21, 16);
  v128.store(c + 3 * ldcB, c30); v128.store(c + 3 * ldcB, c31, 16);
}

// ---------------------------------------------------------------------------------------
// Packing. Element (i, p) of op(A) lives at a + (i*rsA + p*csA)*4; likewise (p, j) of op(B)
// at b + (p*rsB + j*csB)*4. The fast paths use the unit-stride direction with v128 loads.
// ---------------------------------------------------------------------------------------

// Transposes four row vectors r0..r3 and stores the columns at dst, dst+step, ...
@inline function transposeStore4(r0: v128, r1: v128, r2: v128, r3: v128, dst: usize, step: usize): void {
  const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5);
  const t1 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5);
  const t2 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
  const t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
  v128.store(dst, v128.shuffle<f32>(t0, t1, 0, 1, 4, 5));
  v128.store(dst + step, v128.shuffle<f32>(t0, t1, 2, 3, 6, 7));
  v128.store(dst + 2 * step, v128.shuffle<f32>(t2, t3, 0, 1, 4, 5));
  v128.store(dst + 3 * step, v128.shuffle<f32>(t2, t3, 2, 3, 6, 7));
}

// Stores the four lanes of v splatted: v[0] x4 at dst, v[1] x4 at dst + 16, ...
@inline function storeSplat4(dst: usize, v: v128): void {
  v128.store(dst, v128.shuffle<f32>(v, v, 0, 0, 0, 0));
  v128.store(dst, v128.shuffle<f32>(v, v, 1, 1, 1, 1), 16);
  v128.store(dst, v128.shuffle<f32>(v, v, 2, 2, 2, 2), 32);
  v128.store(dst, v128.shuffle<f32>(v, v, 3, 3, 3, 3), 48);
}

// Transposes rows r0..r3 (row i = 4 depth steps of A row i) and stores, per depth step, the
// four A elements splatted (64 bytes per step).
@inline function transposeSplat4(r0: v128, r1: v128, r2: v128, r3: v128, dst: usize): void {
  const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5);
  const t1 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5);
  const t2 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
  const t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
  storeSplat4(dst, v128.shuffle<f32>(t0, t1, 0, 1, 4, 5));
  storeSplat4(dst + 64, v128.shuffle<f32>(t0, t1, 2, 3, 6, 7));
  storeSplat4(dst + 128, v128.shuffle<f32>(t2, t3, 0, 1, 4, 5));
  storeSplat4(dst + 192, v128.shuffle<f32>(t2, t3, 2, 3, 6, 7));
}

// Packs rows [0, mc) x depth [0, kc) of op(A) (origin at a) into MR-row panels:
// panel r holds kc groups of MR f32x4 splats (64 bytes per depth step; zero-padded past mc).
function packA(a: usize, rowStride: usize, depthStride: usize, mc: i32, kc: i32, dst: usize): void {
  const panelBytes = <usize>kc * 64;
  let i = 0;
  if (rowStride == 1) {
    // depth-major storage (A^T): 4 consecutive rows are one v128. Walk 8 depth rows at a time
    // across all panels so that source rows are read sequentially (no 4 KiB-stride aliasing).
    const full = mc & ~3;
    const d = depthStride * 4;
    for (let p0 = 0; p0 < kc; p0 += 8) {
      const pEnd = minI(p0 + 8, kc);
      for (let ii = 0; ii < full; ii += 4) {
        const out = dst + <usize>(ii >> 2) * panelBytes;
        for (let p = p0; p < pEnd; p++) {
          storeSplat4(out + <usize>p * 64, v128.load(a + <usize>p * d + <usize>ii * 4));
        }
      }
    }
    i = full;
  }
  for (; i + 4 <= mc; i += 4) {
    const src = a + <usize>i * rowStride * 4;
    const out = dst + <usize>(i >> 2) * panelBytes;
    if (depthStride == 1) {
      // rows contiguous along depth: 4x4 transposes
      const r = rowStride * 4;
      let p = 0;
      for (; p + 4 <= kc; p += 4) {
        const s = src + <usize>p * 4;
        transposeSplat4(v128.load(s), v128.load(s + r), v128.load(s + 2 * r), v128.load(s + 3 * r), out + <usize>p * 64);
      }
      for (; p < kc; p++) {
        const s = src + <usize>p * 4;
        const o = out + <usize>p * 64;
        v128.store(o, v128.load32_splat(s)); v128.store(o, v128.load32_splat(s + r), 16);
        v128.store(o, v128.load32_splat(s + 2 * r), 32); v128.store(o, v128.load32_splat(s + 3 * r), 48);
      }
    } else if (rowStride == 1) {
      // handled below, a few depth rows at a time across all panels
      break;
    } else {
      for (let p = 0; p < kc; p++) {
        for (let ii = 0; ii < 4; ii++) {
          v128.store(out + <usize>p * 64 + <usize>ii * 16, v128.load32_splat(src + (<usize>ii * rowStride + <usize>p * depthStride) * 4));
        }
      }
    }
  }
  if (i < mc) {
    const rows = mc - i;
    const src = a + <usize>i * rowStride * 4;
    const out = dst + <usize>(i >> 2) * panelBytes;
    for (let p = 0; p < kc; p++) {
      for (let ii = 0; ii < 4; ii++) {
        const v: f32 = ii < rows ? load<f32>(src + (<usize>ii * rowStride + <usize>p * depthStride) * 4) : 0;
        v128.store(out + <usize>p * 64 + <usize>ii * 16, f32x4.splat(v));
      }
    }
  }
}

// Packs depth [0, kc) x columns [0, nc) of op(B) (origin at b) into NR-column panels:
// panel j holds kc groups of NR floats (zero-padded past nc).
function packB(b: usize, depthStride: usize, colStride: usize, kc: i32, nc: i32, dst: usize): void {
  const panelBytes = <usize>kc * 32;
  let j = 0;
  if (colStride == 1) {
    // row-major B: 8 depth rows at a time across all panels (sequential source rows)
    const full = nc & ~7;
    const d = depthStride * 4;
    for (let p0 = 0; p0 < kc; p0 += 8) {
      const pEnd = minI(p0 + 8, kc);
      for (let jj = 0; jj < full; jj += 8) {
        const out = dst + <usize>(jj >> 3) * panelBytes;
        for (let p = p0; p < pEnd; p++) {
          const s = b + <usize>p * d + <usize>jj * 4;
          const o = out + <usize>p * 32;
          v128.store(o, v128.load(s));
          v128.store(o, v128.load(s, 16), 16);
        }
      }
    }
    j = full;
  }
  for (; j + 8 <= nc; j += 8) {
    const src = b + <usize>j * colStride * 4;
    const out = dst + <usize>(j >> 3) * panelBytes;
    if (colStride == 1) {
      break; // handled above
    } else if (depthStride == 1) {
      // B^T storage: each column is a contiguous row of length k; 4x4 transposes
      const r = colStride * 4;
      let p = 0;
      for (; p + 4 <= kc; p += 4) {
        const s = src + <usize>p * 4;
        const o = out + <usize>p * 32;
        transposeStore4(v128.load(s), v128.load(s + r), v128.load(s + 2 * r), v128.load(s + 3 * r), o, 32);
        const s4 = s + 4 * r;
        transposeStore4(v128.load(s4), v128.load(s4 + r), v128.load(s4 + 2 * r), v128.load(s4 + 3 * r), o + 16, 32);
      }
      for (; p < kc; p++) {
        const o = out + <usize>p * 32;
        for (let jj = 0; jj < 8; jj++) store<f32>(o + <usize>jj * 4, load<f32>(src + <usize>p * 4 + <usize>jj * r));
      }
    } else {
      for (let p = 0; p < kc; p++) {
        for (let jj = 0; jj < 8; jj++) {
          store<f32>(out + <usize>p * 32 + <usize>jj * 4, load<f32>(src + (<usize>p * depthStride + <usize>jj * colStride) * 4));
        }
      }
    }
  }
  if (j < nc) {
    const cols = nc - j;
    const src = b + <usize>j * colStride * 4;
    const out = dst + <usize>(j >> 3) * panelBytes;
    for (let p = 0; p < kc; p++) {
      for (let jj = 0; jj < 8; jj++) {
        const v: f32 = jj < cols ? load<f32>(src + (<usize>p * depthStride + <usize>jj * colStride) * 4) : 0;
        store<f32>(out + <usize>p * 32 + <usize>jj * 4, v);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------
// Blocked driver over packed panels.
// ---------------------------------------------------------------------------------------

// C[m x n] = beta * C (beta 0 writes zeros without reading C).
function scaleC(m: i32, n: i32, c: usize, ldc: i32, beta: f32): void {
  if (beta == 1) return;
  for (let i = 0; i < m; i++) {
    const row = c + <usize>i * <usize>ldc * 4;
    if (beta == 0) memory.fill(row, 0, <usize>n * 4);
    else for (let j = 0; j < n; j++) store<f32>(row + <usize>j * 4, load<f32>(row + <usize>j * 4) * beta);
  }
}

function gemmPacked(
  m: i32, n: i32, k: i32,
  a: usize, aRow: usize, aDepth: usize,
  b: usize, bDepth: usize, bCol: usize,
  c: usize, ldc: i32, beta: f32,
): void {
  if (beta != 0 && beta != 1) { scaleC(m, n, c, ldc, beta); beta = 1; }
  const ldcB = <usize>ldc * 4;
  const kBlocks = (k + GEMM_KC - 1) / GEMM_KC;
  let kcNominal = (k + kBlocks - 1) / kBlocks;
  kcNominal = minI((kcNominal + 3) & ~3, GEMM_KC);
  for (let jc = 0; jc < n; jc += GEMM_NC) {
    const nc = minI(GEMM_NC, n - jc);
    for (let pc = 0; pc < k; pc += kcNominal) {
      const kc = minI(kcNominal, k - pc);
      packB(b + (<usize>pc * bDepth + <usize>jc * bCol) * 4, bDepth, bCol, kc, nc, scratchAt(SCRATCH_PACK_B));
      const accumulate = pc > 0 || beta != 0;
      for (let ic = 0; ic < m; ic += GEMM_MC) {
        const mc = minI(GEMM_MC, m - ic);
        packA(a + (<usize>ic * aRow + <usize>pc * aDepth) * 4, aRow, aDepth, mc, kc, scratchAt(SCRATCH_PACK_A));
        for (let jr = 0; jr < nc; jr += 8) {
          const pb = scratchAt(SCRATCH_PACK_B) + <usize>(jr >> 3) * <usize>kc * 32;
          const cols = minI(8, nc - jr);
          for (let ir = 0; ir < mc; ir += 4) {
            const pa = scratchAt(SCRATCH_PACK_A) + <usize>(ir >> 2) * <usize>kc * 64;
            const cTile = c + <usize>(ic + ir) * ldcB + <usize>(jc + jr) * 4;
            const rows = minI(4, mc - ir);
            if (rows == 4 && cols == 8) {
              kernel4x8(kc, pa, pb, cTile, ldcB, accumulate);
            } else {
              kernel4x8(kc, pa, pb, scratchAt(SCRATCH_EDGE_TILE), 32, false);
              for (let i = 0; i < rows; i++) {
                const dstRow = cTile + <usize>i * ldcB;
                const srcRow = scratchAt(SCRATCH_EDGE_TILE) + <usize>i * 32;
                for (let j = 0; j < cols; j++) {
                  let v = load<f32>(srcRow + <usize>j * 4);
                  if (accumulate) v += load<f32>(dstRow + <usize>j * 4);
                  store<f32>(dstRow + <usize>j * 4, v);
                }
              }
            }
          }
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------
// Small m: C rows computed directly, without packing.
// ---------------------------------------------------------------------------------------

@inline function storeResult4(dst: usize, v: v128, accumulate: bool): void {
  if (accumulate) v = f32x4.add(v, v128.load(dst));
  v128.store(dst, v);
}

@inline function storeResult1(dst: usize, v: f32, accumulate: bool): void {
  if (accumulate) v += load<f32>(dst);
  store<f32>(dst, v);
}

// One row x of length k against rows w[j] (stride ldw floats): y[j] (+)= x . w[j], j < n.
// Eight rows at a time: 8 independent accumulator chains, one x load shared by 8 FMAs.
function gemvRowsDot(n: i32, k: i32, x: usize, w: usize, ldw: i32, y: usize, accumulate: bool): void {
  const ldwB = <usize>ldw * 4;
  const k4 = k & ~3;
  let j = 0;
  for (; j + 8 <= n; j += 8) {
    const w0 = w + <usize>j * ldwB, w1 = w0 + ldwB, w2 = w1 + ldwB, w3 = w2 + ldwB;
    const w4 = w3 + ldwB, w5 = w4 + ldwB, w6 = w5 + ldwB, w7 = w6 + ldwB;
    let s0 = f32x4.splat(0), s1 = f32x4.splat(0), s2 = f32x4.splat(0), s3 = f32x4.splat(0);
    let s4 = f32x4.splat(0), s5 = f32x4.splat(0), s6 = f32x4.splat(0), s7 = f32x4.splat(0);
    let p = 0;
    for (; p < k4; p += 4) {
      const o = <usize>p * 4;
      const xv = v128.load(x + o);
      s0 = maddSplit(xv, v128.load(w0 + o), s0); s1 = maddSplit(xv, v128.load(w1 + o), s1);
      s2 = maddSplit(xv, v128.load(w2 + o), s2); s3 = maddSplit(xv, v128.load(w3 + o), s3);
      s4 = maddSplit(xv, v128.load(w4 + o), s4); s5 = maddSplit(xv, v128.load(w5 + o), s5);
      s6 = maddSplit(xv, v128.load(w6 + o), s6); s7 = maddSplit(xv, v128.load(w7 + o), s7);
    }
    let r0 = hsum4Strided(s0, s1, s2, s3);
    let r1 = hsum4Strided(s4, s5, s6, s7);
    for (; p < k; p++) {
      const o = <usize>p * 4;
      const xs = f32x4.splat(load<f32>(x + o));
      r0 = f32x4.add(r0, f32x4.mul(xs, f32x4(load<f32>(w0 + o), load<f32>(w1 + o), load<f32>(w2 + o), load<f32>(w3 + o))));
      r1 = f32x4.add(r1, f32x4.mul(xs, f32x4(load<f32>(w4 + o), load<f32>(w5 + o), load<f32>(w6 + o), load<f32>(w7 + o))));
    }
    storeResult4(y + <usize>j * 4, r0, accumulate);
    storeResult4(y + <usize>j * 4 + 16, r1, accumulate);
  }
  for (; j + 4 <= n; j += 4) {
    const w0 = w + <usize>j * ldwB, w1 = w0 + ldwB, w2 = w1 + ldwB, w3 = w2 + ldwB;
    let s0 = f32x4.splat(0), s1 = f32x4.splat(0), s2 = f32x4.splat(0), s3 = f32x4.splat(0);
    let p = 0;
    for (; p < k4; p += 4) {
      const o = <usize>p * 4;
      const xv = v128.load(x + o);
      s0 = maddSplit(xv, v128.load(w0 + o), s0); s1 = maddSplit(xv, v128.load(w1 + o), s1);
      s2 = maddSplit(xv, v128.load(w2 + o), s2); s3 = maddSplit(xv, v128.load(w3 + o), s3);
    }
    let r = hsum4Strided(s0, s1, s2, s3);
    for (; p < k; p++) {
      const o = <usize>p * 4;
      const xs = load<f32>(x + o);
      r = f32x4.add(r, f32x4(xs * load<f32>(w0 + o), xs * load<f32>(w1 + o), xs * load<f32>(w2 + o), xs * load<f32>(w3 + o)));
    }
    storeResult4(y + <usize>j * 4, r, accumulate);
  }
  for (; j < n; j++) {
    const wj = w + <usize>j * ldwB;
    let s = f32x4.splat(0);
    let p = 0;
    for (; p < k4; p += 4) s = maddSplit(v128.load(x + <usize>p * 4), v128.load(wj + <usize>p * 4), s);
    let r = hsumSerial(s);
    for (; p < k; p++) r += load<f32>(x + <usize>p * 4) * load<f32>(wj + <usize>p * 4);
    storeResult1(y + <usize>j * 4, r, accumulate);
  }
}

// Two rows x0, x1 against rows of w: y0[j], y1[j] (+)= x . w[j]. Reads w once for both.
function gemvRowsDot2(n: i32, k: i32, x0: usize, x1: usize, w: usize, ldw: i32, y0: usize, y1: usize, accumulate: bool): void {
  const ldwB = <usize>ldw * 4;
  const k4 = k & ~3;
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    const w0 = w + <usize>j * ldwB, w1 = w0 + ldwB, w2 = w1 + ldwB, w3 = w2 + ldwB;
    let s0 = f32x4.splat(0), s1 = f32x4.splat(0), s2 = f32x4.splat(0), s3 = f32x4.splat(0);
    let t0 = f32x4.splat(0), t1 = f32x4.splat(0), t2 = f32x4.splat(0), t3 = f32x4.splat(0);
    let p = 0;
    for (; p < k4; p += 4) {
      const o = <usize>p * 4;
      const xa = v128.load(x0 + o), xb = v128.load(x1 + o);
      let wv = v128.load(w0 + o); s0 = madd(xa, wv, s0); t0 = madd(xb, wv, t0);
      wv = v128.load(w1 + o); s1 = madd(xa, wv, s1); t1 = madd(xb, wv, t1);
      wv = v128.load(w2 + o); s2 = madd(xa, wv, s2); t2 = madd(xb, wv, t2);
      wv = v128.load(w3 + o); s3 = madd(xa, wv, s3); t3 = madd(xb, wv, t3);
    }
    let r0 = hsum4Strided(s0, s1, s2, s3);
    let r1 = hsum4Strided(t0, t1, t2, t3);
    for (; p < k; p++) {
      const o = <usize>p * 4;
      const wa = f32x4(load<f32>(w0 + o), load<f32>(w1 + o), load<f32>(w2 + o), load<f32>(w3 + o));
      r0 = f32x4.add(r0, f32x4.mul(f32x4.splat(load<f32>(x0 + o)), wa));
      r1 = f32x4.add(r1, f32x4.mul(f32x4.splat(load<f32>(x1 + o)), wa));
    }
    storeResult4(y0 + <usize>j * 4, r0, accumulate);
    storeResult4(y1 + <usize>j * 4, r1, accumulate);
  }
  if (j < n) {
    gemvRowsDot(n - j, k, x0, w + <usize>j * ldwB, ldw, y0 + <usize>j * 4, accumulate);
    gemvRowsDot(n - j, k, x1, w + <usize>j * ldwB, ldw, y1 + <usize>j * 4, accumulate);
  }
}

// Rows of C from splatted A elements times contiguous B rows (NN and TN with small m):
// y[j] (+)= sum_p a(p) * B[p, j]; a(p) at a + p*aStep floats, B rows ldb floats apart.
function gemvRowsAxpy(n: i32, k: i32, a: usize, aStep: usize, b: usize, ldb: i32, y: usize, accumulate: bool): void {
  const ldbB = <usize>ldb * 4;
  const aStepB = aStep * 4;
  let j = 0;
  for (; j + 16 <= n; j += 16) {
    let s0 = f32x4.splat(0), s1 = f32x4.splat(0), s2 = f32x4.splat(0), s3 = f32x4.splat(0);
    let bp = b + <usize>j * 4;
    let ap = a;
    for (let p = 0; p < k; p++) {
      const av = v128.load32_splat(ap);
      s0 = madd(av, v128.load(bp), s0); s1 = madd(av, v128.load(bp, 16), s1);
      s2 = madd(av, v128.load(bp, 32), s2); s3 = madd(av, v128.load(bp, 48), s3);
      bp += ldbB; ap += aStepB;
    }
    const o = y + <usize>j * 4;
    storeResult4(o, s0, accumulate); storeResult4(o + 16, s1, accumulate);
    storeResult4(o + 32, s2, accumulate); storeResult4(o + 48, s3, accumulate);
  }
  for (; j + 4 <= n; j += 4) {
    let s0 = f32x4.splat(0);
    let bp = b + <usize>j * 4;
    let ap = a;
    for (let p = 0; p < k; p++) {
      s0 = madd(v128.load32_splat(ap), v128.load(bp), s0);
      bp += ldbB; ap += aStepB;
    }
    storeResult4(y + <usize>j * 4, s0, accumulate);
  }
  for (; j < n; j++) {
    let s: f32 = 0;
    let bp = b + <usize>j * 4;
    let ap = a;
    for (let p = 0; p < k; p++) { s += load<f32>(ap) * load<f32>(bp); bp += ldbB; ap += aStepB; }
    storeResult1(y + <usize>j * 4, s, accumulate);
  }
}

// Two C rows at once (B rows read once): y0, y1 from a0(p), a1(p).
function gemvRowsAxpy2(n: i32, k: i32, a0: usize, a1: usize, aStep: usize, b: usize, ldb: i32, y0: usize, y1: usize, accumulate: bool): void {
  const ldbB = <usize>ldb * 4;
  const aStepB = aStep * 4;
  let j = 0;
  for (; j + 16 <= n; j += 16) {
    let s0 = f32x4.splat(0), s1 = f32x4.splat(0), s2 = f32x4.splat(0), s3 = f32x4.splat(0);
    let t0 = f32x4.splat(0), t1 = f32x4.splat(0), t2 = f32x4.splat(0), t3 = f32x4.splat(0);
    let bp = b + <usize>j * 4;
    let ap0 = a0, ap1 = a1;
    for (let p = 0; p < k; p++) {
      const u = v128.load32_splat(ap0), v = v128.load32_splat(ap1);
      let bv = v128.load(bp); s0 = madd(u, bv, s0); t0 = madd(v, bv, t0);
      bv = v128.load(bp, 16); s1 = madd(u, bv, s1); t1 = madd(v, bv, t1);
      bv = v128.load(bp, 32); s2 = madd(u, bv, s2); t2 = madd(v, bv, t2);
      bv = v128.load(bp, 48); s3 = madd(u, bv, s3); t3 = madd(v, bv, t3);
      bp += ldbB; ap0 += aStepB; ap1 += aStepB;
    }
    let o = y0 + <usize>j * 4;
    storeResult4(o, s0, accumulate); storeResult4(o + 16, s1, accumulate);
    storeResult4(o + 32, s2, accumulate); storeResult4(o + 48, s3, accumulate);
    o = y1 + <usize>j * 4;
    storeResult4(o, t0, accumulate); storeResult4(o + 16, t1, accumulate);
    storeResult4(o + 32, t2, accumulate); storeResult4(o + 48, t3, accumulate);
  }
  if (j < n) {
    const off = <usize>j * 4;
    gemvRowsAxpy(n - j, k, a0, aStep, b + off, ldb, y0 + off, accumulate);
    gemvRowsAxpy(n - j, k, a1, aStep, b + off, ldb, y1 + off, accumulate);
  }
}

function smallNT(m: i32, n: i32, k: i32, a: usize, lda: i32, b: usize, ldb: i32, c: usize, ldc: i32, accumulate: bool): void {
  const ldaB = <usize>lda * 4, ldcB = <usize>ldc * 4;
  let i = 0;
  for (; i + 2 <= m; i += 2) {
    const x = a + <usize>i * ldaB, y = c + <usize>i * ldcB;
    gemvRowsDot2(n, k, x, x + ldaB, b, ldb, y, y + ldcB, accumulate);
  }
  if (i < m) gemvRowsDot(n, k, a + <usize>i * ldaB, b, ldb, c + <usize>i * ldcB, accumulate);
}

// A(i, p) at a + (i*rowStep + p*depthStep) floats.
function smallAxpy(m: i32, n: i32, k: i32, a: usize, rowStep: usize, depthStep: usize, b: usize, ldb: i32, c: usize, ldc: i32, accumulate: bool): void {
  const ldcB = <usize>ldc * 4;
  let i = 0;
  for (; i + 2 <= m; i += 2) {
    const a0 = a + <usize>i * rowStep * 4;
    const y = c + <usize>i * ldcB;
    gemvRowsAxpy2(n, k, a0, a0 + rowStep * 4, depthStep, b, ldb, y, y + ldcB, accumulate);
  }
  if (i < m) gemvRowsAxpy(n, k, a + <usize>i * rowStep * 4, depthStep, b, ldb, c + <usize>i * ldcB, accumulate);
}

// ---------------------------------------------------------------------------------------
// Public API. Leading dimensions are in elements (f32), pointers in bytes. beta: 0 (C is
// write-only, never read) or 1 (accumulate); other values scale C first.
// ---------------------------------------------------------------------------------------

/** C[m x n] = A[m x k] . B[k x n] + beta * C. */
export function gemmNN(m: i32, n: i32, k: i32, a: usize, lda: i32, b: usize, ldb: i32, c: usize, ldc: i32, beta: f32): void {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) { scaleC(m, n, c, ldc, beta); return; }
  if (m <= GEMM_SMALL_M) {
    if (beta != 0 && beta != 1) { scaleC(m, n, c, ldc, beta); beta = 1; }
    smallAxpy(m, n, k, a, <usize>lda, 1, b, ldb, c, ldc, beta != 0);
    return;
  }
  gemmPacked(m, n, k, a, <usize>lda, 1, b, <usize>ldb, 1, c, ldc, beta);
}

/** C[m x n] = A[m x k] . B^T + beta * C, B stored n x k (forward: Z = X . W^T, W [units x in]). */
export function gemmNT(m: i32, n: i32, k: i32, a: usize, lda: i32, b: usize, ldb: i32, c: usize, ldc: i32, beta: f32): void {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) { scaleC(m, n, c, ldc, beta); return; }
  if (m <= GEMM_SMALL_M) {
    if (beta != 0 && beta != 1) { scaleC(m, n, c, ldc, beta); beta = 1; }
    smallNT(m, n, k, a, lda, b, ldb, c, ldc, beta != 0);
    return;
  }
  gemmPacked(m, n, k, a, <usize>lda, 1, b, 1, <usize>ldb, c, ldc, beta);
}

/** C[m x n] = A^T . B[k x n] + beta * C, A stored k x m (weight gradient: dW = dZ^T . X). */
export function gemmTN(m: i32, n: i32, k: i32, a: usize, lda: i32, b: usize, ldb: i32, c: usize, ldc: i32, beta: f32): void {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) { scaleC(m, n, c, ldc, beta); return; }
  if (m <= GEMM_SMALL_M) {
    if (beta != 0 && beta != 1) { scaleC(m, n, c, ldc, beta); beta = 1; }
    smallAxpy(m, n, k, a, 1, <usize>lda, b, ldb, c, ldc, beta != 0);
    return;
  }
  gemmPacked(m, n, k, a, 1, <usize>lda, b, <usize>ldb, 1, c, ldc, beta);
}

/** y[n] = W[n x k] . x[k] + beta * y (batch-1 forward, W row-major with row stride ldw). */
export function gemv(n: i32, k: i32, w: usize, ldw: i32, x: usize, y: usize, beta: f32): void {
  gemmNT(1, n, k, x, k, w, ldw, y, n, beta);
}
