/**
 * "Did you mean …?" suggestions for unknown keys, metric names, flags and environment variables:
 * a typo one or two edits away from a known name is far more likely than a new name.
 */

/** Levenshtein distance with an early cap: names longer apart than `max` are not interesting. */
export function editDistance(a: string, b: string, max = Number.POSITIVE_INFINITY): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const value = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
      current.push(value);
      rowMin = Math.min(rowMin, value);
    }
    if (rowMin > max) return max + 1;
    previous = current;
  }
  return previous[b.length]!;
}

/** The closest candidate within a length-dependent distance (case-insensitive), or undefined. */
export function suggest(input: string, candidates: Iterable<string>): string | undefined {
  const needle = input.toLowerCase();
  // Short names tolerate one edit, longer ones two: "rat" → "rate" yes, "a" → "n" no.
  const limit = needle.length <= 4 ? 1 : 2;
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const candidate of candidates) {
    const distance = editDistance(needle, candidate.toLowerCase(), limit);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** " — did you mean 'x'?" or "" (for appending to a sentence). */
export function didYouMean(input: string, candidates: Iterable<string>, quote = "'"): string {
  const match = suggest(input, candidates);
  return match === undefined ? "" : ` — did you mean ${quote}${match}${quote}?`;
}
