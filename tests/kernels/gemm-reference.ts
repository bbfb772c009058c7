// Plain TypeScript GEMM references with f64 accumulation, for the kernel tests.

/** op(A)(i, p) and op(B)(p, j) accessors given storage and the transpose flags. */
export function referenceGemm(
  transA: boolean, transB: boolean,
  m: number, n: number, k: number,
  a: ArrayLike<number>, lda: number, b: ArrayLike<number>, ldb: number,
  c: ArrayLike<number>, ldc: number, beta: number,
): Float64Array {
  const out = new Float64Array(m * ldc);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) {
        const av = transA ? a[p * lda + i]! : a[i * lda + p]!;
        const bv = transB ? b[j * ldb + p]! : b[p * ldb + j]!;
        s += av * bv;
      }
      out[i * ldc + j] = beta === 0 ? s : s + beta * c[i * ldc + j]!;
    }
  }
  return out;
}
