/**
 * @fileoverview "Did you mean": the closest candidate by edit distance (with adjacent
 * transpositions), for names, layer kinds, activations, gates, options, settings, datasets.
 */

/** Optimal-string-alignment distance: insertions, deletions, substitutions, transpositions. */
export function editDistance(a: string, b: string): number {
  return boundedEditDistance(a, b, Infinity);
}

/**
 * `editDistance`, but stops as soon as the distance must exceed `limit` (returning
 * `limit + 1`). Three rolling rows, no allocation per cell: a checker suggesting among
 * thousands of layer names calls this millions of times.
 */
function boundedEditDistance(a: string, b: string, limit: number): number {
  const cols = b.length + 1;
  let before = new Uint32Array(cols);
  let previous = new Uint32Array(cols);
  let current = new Uint32Array(cols);
  for (let j = 0; j < cols; j++) previous[j] = j;
  for (let i = 1; i <= a.length; i++) {
    current[0] = i;
    let rowMin = i;
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, before[j - 2] + 1);
      current[j] = best;
      if (best < rowMin) rowMin = best;
    }
    // A row's minimum never decreases further down (up to one transposition step back).
    if (rowMin > limit + 1) return limit + 1;
    [before, previous, current] = [previous, current, before];
  }
  return Math.min(previous[cols - 1], limit + 1);
}

/** The largest distance still worth suggesting: about a third of the word, at least 1. */
function maxDistanceFor(word: string): number {
  return Math.max(1, Math.floor(word.length / 3));
}

/**
 * The candidate closest to `word`, or undefined when none is close enough. A case-only
 * difference always counts as close; ties go to the earlier candidate.
 */
export function suggest(word: string, candidates: Iterable<string>): string | undefined {
  if (word.length === 0 || word.length > 64) return undefined;
  let best: string | undefined;
  const limit = maxDistanceFor(word);
  let bestDistance = limit + 1;
  const lower = word.toLowerCase();
  for (const candidate of candidates) {
    if (candidate === word) continue;
    if (Math.abs(candidate.length - word.length) > limit) continue;
    const candidateLower = candidate.toLowerCase();
    if (candidateLower === lower) return candidate;
    const distance = boundedEditDistance(lower, candidateLower, bestDistance - 1);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}
