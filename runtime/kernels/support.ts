// Small functions a model module calls besides the kernels: AssemblyScript's own Math.log (so
// that every engine rounds alike), memory zeroing, and where the library's static data ends.

/** Math.log of AssemblyScript's library. */
export function logF64(x: f64): f64 {
  return Math.log(x);
}

/** Zero-fills [ptr, ptr + bytes). */
export function zeroBytes(ptr: usize, bytes: usize): void {
  memory.fill(ptr, 0, bytes);
}

/** First byte above the library's static data: a model's memory plan starts above it. */
export function staticDataEnd(): usize {
  return __heap_base;
}

/**
 * The index of the first of x[0 .. count) that is not finite (NaN or ±Inf), or -1: the runtime's
 * check of a call's input rows once copied in (a JavaScript loop over them took ~10% of a
 * predict of 128 rows on 2 threads). v * 0 is 0 for finite v and NaN otherwise; blocks of 64
 * sum that, and the block where a NaN shows is scanned again for the first.
 */
export function firstNonFinite(x: usize, count: i32): i32 {
  const zero = f32x4.splat(0);
  let k = 0;
  for (; k + 64 <= count; k += 64) {
    const p = x + (<usize>k << 2);
    let a = zero, b = zero, c = zero, d = zero;
    for (let o: usize = 0; o < 256; o += 64) {
      a = f32x4.add(a, f32x4.mul(v128.load(p + o), zero));
      b = f32x4.add(b, f32x4.mul(v128.load(p + o, 16), zero));
      c = f32x4.add(c, f32x4.mul(v128.load(p + o, 32), zero));
      d = f32x4.add(d, f32x4.mul(v128.load(p + o, 48), zero));
    }
    const s = f32x4.add(f32x4.add(a, b), f32x4.add(c, d));
    if (v128.any_true(f32x4.ne(s, s))) break;
  }
  for (; k < count; k++) {
    const v = load<f32>(x + (<usize>k << 2));
    if (v - v != 0) return k;
  }
  return -1;
}
