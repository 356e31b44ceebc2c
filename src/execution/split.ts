/**
 * Exact split of a global index space (clients, iterations) across W workers, k6-segment style but
 * interleaved: global index i belongs to worker i mod W. Interleaving (rather than contiguous
 * ranges) keeps every worker's arrivals spread evenly over time, makes each share floor or ceil of
 * total/W, and makes the union of the per-worker schedules exactly the global schedule, so nothing
 * is lost to floor division (autocannon's mistake) and nothing is doubled.
 */

/** How many of the indices 0..total-1 worker `workerId` owns. Shares add up to `total`. */
export function shareCount(total: number, workerId: number, workerCount: number): number {
  assertWorker(workerId, workerCount);
  if (total <= workerId) return 0;
  return Math.floor((total - 1 - workerId) / workerCount) + 1;
}

/** The global index of a worker's `local`-th item. */
export function globalIndex(local: number, workerId: number, workerCount: number): number {
  return local * workerCount + workerId;
}

/** Whether global index `index` belongs to worker `workerId`. */
export function ownsIndex(index: number, workerId: number, workerCount: number): boolean {
  return index % workerCount === workerId;
}

/** The global indices worker `workerId` owns among 0..total-1, ascending. */
export function ownedIndices(total: number, workerId: number, workerCount: number): number[] {
  const n = shareCount(total, workerId, workerCount);
  const out = new Array<number>(n);
  for (let k = 0; k < n; k++) out[k] = globalIndex(k, workerId, workerCount);
  return out;
}

function assertWorker(workerId: number, workerCount: number): void {
  if (!Number.isInteger(workerCount) || workerCount < 1) throw new RangeError(`workerCount must be a positive integer, got ${workerCount}`);
  if (!Number.isInteger(workerId) || workerId < 0 || workerId >= workerCount) {
    throw new RangeError(`workerId must be in 0..${workerCount - 1}, got ${workerId}`);
  }
}
