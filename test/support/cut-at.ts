/** `data` cut into reads at `points` (taken modulo its length + 1, deduplicated, in order): for split-anywhere codec tests. */
export function cutAt(data: Buffer, points: number[]): Buffer[] {
  const sorted = [...new Set(points.map((p) => p % (data.length + 1)))].sort((a, b) => a - b);
  const pieces: Buffer[] = [];
  let prev = 0;
  for (const p of sorted) {
    pieces.push(data.subarray(prev, p));
    prev = p;
  }
  pieces.push(data.subarray(prev));
  return pieces;
}
