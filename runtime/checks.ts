/**
 * @fileoverview What both back ends' models share at their API boundary: argument checks that
 * throw a TypeError/RangeError naming the argument (before any work, so a bad call changes
 * nothing; the wasm model checks input values once copied into its input region, which only
 * the call itself reads), describing a bad value in a message, argmax over a row, and the clock.
 */

/** The index of the largest of `count` values from `offset` (the first on ties). */
export function argmax(values: Float32Array, offset: number, count: number): number {
  let best = 0;
  for (let c = 1; c < count; c++) if (values[offset + c]! > values[offset + best]!) best = c;
  return best;
}

/** A bad argument in a few characters: a number or short string as is, else its kind. */
export function describe(value: unknown): string {
  if (typeof value === "number") return String(value);
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? value.slice(0, 40) + "..." : value);
  if (value === null) return "null";
  if (typeof value === "object") return (value as object).constructor?.name ?? "an object";
  return typeof value;
}

/** n must be an integer in [min, max]. */
export function checkCount(method: string, n: number, max: number, min = 0): void {
  if (typeof n !== "number" || !Number.isInteger(n) || n < min || n > max) {
    throw new RangeError(`${method}: n must be an integer in [${min}, ${max}], got ${describe(n)}`);
  }
}

/** x must be a Float32Array of at least n rows, every value finite. */
export function checkRows(method: string, x: Float32Array, n: number, width: number): void {
  checkRowsShape(method, x, n, width);
  for (let i = 0; i < n * width; i++) {
    const v = x[i]!;
    if (v - v !== 0) throw nonFiniteInput(method, x, i, width);
  }
}

/** x must be a Float32Array of at least n rows (the values are checked once copied in: nonFiniteInput). */
export function checkRowsShape(method: string, x: Float32Array, n: number, width: number): void {
  if (!(x instanceof Float32Array)) throw new TypeError(`${method}: x must be a Float32Array, got ${describe(x)}`);
  if (x.length < n * width) throw new RangeError(`${method}: x holds ${x.length} values, ${n} examples of width ${width} need ${n * width}`);
}

/** The error for x[i], which is not finite. */
export function nonFiniteInput(method: string, x: Float32Array, i: number, width: number): RangeError {
  return new RangeError(`${method}: x[${i}] (example ${Math.floor(i / width)}, feature ${i % width}) is ${x[i]}, not a finite number`);
}

/** Running totals of an evaluation (scoreRows adds each batch). */
export interface Score {
  correct: number;
  lossSum: number;
}

/** Adds `rows` examples' predictions (probabilities, `classes` per row) against labels[start..] to `score`. */
export function scoreRows(score: Score, probs: Float32Array, classes: number, labels: Uint8Array, start: number, rows: number): void {
  for (let r = 0; r < rows; r++) {
    const label = labels[start + r]!;
    if (argmax(probs, r * classes, classes) === label) score.correct++;
    score.lossSum -= Math.log(Math.max(probs[r * classes + label]!, 1e-30));
  }
}

/** The evaluation of `count` examples scored in `seconds`. */
export function evaluationOf(score: Score, count: number, seconds: number): { accuracy: number; loss: number; count: number; examplesPerSecond: number } {
  const n = Math.max(count, 1);
  return { accuracy: score.correct / n, loss: score.lossSum / n, count, examplesPerSecond: count / Math.max(seconds, 1e-9) };
}

/** Milliseconds from a monotonic clock where there is one. */
export function now(): number {
  return typeof performance !== "undefined" ? performance.now() : Date.now();
}
