/**
 * Coordinator side of the metrics: merges the workers' PeriodSnapshots exactly (HDR `add()`),
 * releases a period once every live worker has reported it, and keeps run totals.
 *
 * Memory: a period's histograms live only until it is handed out (outputs consume it right away);
 * the totals keep one merged histogram per metric plus a few numbers per worker per period.
 */
import { createHistogram, decodeHistogram, type Histogram } from "./histogram.js";
import { Gauge, MAX_MERGED_GAUGES } from "./names.js";
import type { PeriodSnapshot } from "./snapshot.js";

export const PERIOD_MS = 1000;

/** The periods a warm-up of `warmupMs` covers: whole periods from t0, rounded up. */
export function warmupPeriods(warmupMs: number): number {
  return warmupMs > 0 ? Math.ceil(warmupMs / PERIOD_MS) : 0;
}

/** One second of the whole run, merged across workers. */
export interface MergedPeriod {
  period: number;
  /** Wall-clock start of the period, ms since the epoch (t0Ms + period·1000; t0Ms 0 if unknown). */
  startMs: number;
  /** Metric → merged JS histogram of µs values; only metrics with samples. Treat as read-only. */
  histograms: Record<string, Histogram>;
  /** Counter → increment in this period, summed over workers. */
  counters: Record<string, number>;
  /** Gauge → value at the end of the period: sum over workers, max for MAX_MERGED_GAUGES. */
  gauges: Record<string, number>;
  /** How many workers' snapshots were merged into this period. */
  workers: number;
}

/** Event-loop lag of one worker over the run (from its lag gauges). */
export interface WorkerLag {
  workerId: number;
  /** Lag p99 of each reported period, in report order (µs). */
  p99Us: number[];
  /** Highest lag p99 of any period (µs). */
  maxP99Us: number;
  /** Highest single lag observed (µs). */
  maxUs: number;
}

export interface MergedTotals {
  /**
   * Metric → histogram merged over the measured part of the run (µs): every period from the end
   * of the warm-up on (the whole run when there is none).
   */
  histograms: Record<string, Histogram>;
  /** With a warm-up: metric → histogram of the whole run, warm-up included (µs). */
  wholeRunHistograms?: Record<string, Histogram>;
  /** Periods from t0 whose latencies are left out of `histograms` (0: none). */
  warmupPeriods: number;
  /** Counter → total. */
  counters: Record<string, number>;
  /** Gauge → peak of the per-period merged values. */
  gauges: Record<string, number>;
  /** Periods handed out so far (by takeCompleted / finish). */
  periods: number;
  lag: WorkerLag[];
  /** Snapshots that arrived after their period was handed out: in the totals, not in a period. */
  lateSnapshots: number;
  /** Snapshots with a histogram that could not be decoded (a bug; should stay 0). */
  decodeErrors: number;
}

interface PendingPeriod {
  histograms: Map<string, Histogram>;
  counters: Map<string, number>;
  /** Per worker, so a worker that re-sends a period cannot be counted twice. */
  gauges: Map<number, Record<string, number>>;
  workers: Set<number>;
}

export interface AggregatorOptions {
  workerIds: readonly number[];
  /** Wall time of t0 in ms since the epoch (can be set later with setT0). */
  t0Ms?: number;
  /** Latencies of periods before this one are left out of the run totals (kept in the whole-run ones). */
  warmupPeriods?: number;
}

export class Aggregator {
  private readonly live: Set<number>;
  /**
   * Highest period each worker has reported. Workers send in order over one port, so a snapshot
   * for period k also says "nothing more for periods before k" (a recorder may skip empty ones).
   */
  private readonly maxReported = new Map<number, number>();
  private readonly pending = new Map<number, PendingPeriod>();
  private nextPeriod = 0;
  private t0Ms: number;
  private readonly totalHistograms = new Map<string, Histogram>();
  private readonly warmupPeriods: number;
  /** Only with a warm-up (else totalHistograms is the whole run). */
  private readonly wholeRunHistograms: Map<string, Histogram> | undefined;
  private readonly totalCounters = new Map<string, number>();
  private readonly gaugePeaks = new Map<string, number>();
  private readonly lag = new Map<number, WorkerLag>();
  private emitted = 0;
  private late = 0;
  private decodeErrors = 0;

  constructor(opts: AggregatorOptions) {
    this.live = new Set(opts.workerIds);
    for (const id of opts.workerIds) this.maxReported.set(id, -1);
    this.t0Ms = opts.t0Ms ?? 0;
    this.warmupPeriods = Math.max(0, Math.floor(opts.warmupPeriods ?? 0));
    this.wholeRunHistograms = this.warmupPeriods > 0 ? new Map() : undefined;
  }

  setT0(t0Ms: number): void {
    this.t0Ms = t0Ms;
  }

  /** Workers still awaited for period completion. */
  get liveWorkers(): number[] {
    return [...this.live];
  }

  add(s: PeriodSnapshot): void {
    const decoded: Array<[string, Histogram]> = [];
    for (const [name, b64] of Object.entries(s.histograms)) {
      try {
        decoded.push([name, decodeHistogram(b64)]);
      } catch {
        this.decodeErrors++;
      }
    }
    if (this.wholeRunHistograms) for (const [name, h] of decoded) mergeInto(this.wholeRunHistograms, name, h);
    if (s.period >= this.warmupPeriods) for (const [name, h] of decoded) mergeInto(this.totalHistograms, name, h);
    for (const [name, v] of Object.entries(s.counters)) this.totalCounters.set(name, (this.totalCounters.get(name) ?? 0) + v);
    this.noteLag(s);
    const reported = this.maxReported.get(s.workerId);
    if (reported !== undefined && s.period > reported) this.maxReported.set(s.workerId, s.period);

    if (s.period < this.nextPeriod) {
      this.late++;
      return;
    }
    let p = this.pending.get(s.period);
    if (!p) {
      p = { histograms: new Map(), counters: new Map(), gauges: new Map(), workers: new Set() };
      this.pending.set(s.period, p);
    }
    for (const [name, h] of decoded) {
      // The period adopts the first decoded histogram instead of copying it (the totals above
      // have already read it); autoResize lets later workers' larger values fit.
      if (p.histograms.has(name)) p.histograms.get(name)!.add(h);
      else {
        h.autoResize = true;
        p.histograms.set(name, h);
      }
    }
    for (const [name, v] of Object.entries(s.counters)) p.counters.set(name, (p.counters.get(name) ?? 0) + v);
    p.gauges.set(s.workerId, { ...p.gauges.get(s.workerId), ...s.gauges });
    p.workers.add(s.workerId);
  }

  /** A crashed or finished-early worker: stop waiting for it. Its data so far stays merged. */
  workerGone(workerId: number): void {
    this.live.delete(workerId);
  }

  /** Periods every live worker has reported, in order, each handed out once. */
  takeCompleted(): MergedPeriod[] {
    const out: MergedPeriod[] = [];
    while (this.isComplete(this.nextPeriod)) out.push(this.emit(this.nextPeriod));
    return out;
  }

  /** At the end of the run: every period not yet handed out, gaps filled with empty periods. */
  finish(): MergedPeriod[] {
    const out = this.takeCompleted();
    const last = Math.max(-1, ...this.pending.keys());
    while (this.nextPeriod <= last) out.push(this.emit(this.nextPeriod));
    return out;
  }

  /**
   * Run totals so far. Gauge peaks include periods still pending; histograms are the live merged
   * ones (read-only for callers).
   */
  totals(): MergedTotals {
    const gauges = new Map(this.gaugePeaks);
    for (const p of this.pending.values()) notePeaks(gauges, mergeGauges(p.gauges.values()));
    return {
      histograms: Object.fromEntries(this.totalHistograms),
      ...(this.wholeRunHistograms ? { wholeRunHistograms: Object.fromEntries(this.wholeRunHistograms) } : {}),
      warmupPeriods: this.warmupPeriods,
      counters: Object.fromEntries(this.totalCounters),
      gauges: Object.fromEntries(gauges),
      periods: this.emitted,
      lag: [...this.lag.values()].sort((a, b) => a.workerId - b.workerId),
      lateSnapshots: this.late,
      decodeErrors: this.decodeErrors,
    };
  }

  private isComplete(period: number): boolean {
    if (this.live.size === 0) return period <= Math.max(-1, ...this.pending.keys());
    for (const id of this.live) if ((this.maxReported.get(id) ?? -1) < period) return false;
    return true;
  }

  private emit(period: number): MergedPeriod {
    const p = this.pending.get(period);
    this.pending.delete(period);
    this.nextPeriod = period + 1;
    this.emitted++;
    const gauges = p ? mergeGauges(p.gauges.values()) : {};
    notePeaks(this.gaugePeaks, gauges);
    return {
      period,
      startMs: this.t0Ms + period * PERIOD_MS,
      histograms: p ? Object.fromEntries(p.histograms) : {},
      counters: p ? Object.fromEntries(p.counters) : {},
      gauges,
      workers: p ? p.workers.size : 0,
    };
  }

  private noteLag(s: PeriodSnapshot): void {
    const p99 = s.gauges[Gauge.eventLoopLagP99];
    const max = s.gauges[Gauge.eventLoopLagMax];
    if (p99 === undefined && max === undefined) return;
    let lag = this.lag.get(s.workerId);
    if (!lag) {
      lag = { workerId: s.workerId, p99Us: [], maxP99Us: 0, maxUs: 0 };
      this.lag.set(s.workerId, lag);
    }
    if (p99 !== undefined) {
      lag.p99Us.push(p99);
      lag.maxP99Us = Math.max(lag.maxP99Us, p99);
    }
    if (max !== undefined) lag.maxUs = Math.max(lag.maxUs, max);
  }
}

function mergeInto(target: Map<string, Histogram>, name: string, h: Histogram): void {
  let acc = target.get(name);
  if (!acc) {
    acc = createHistogram();
    target.set(name, acc);
  }
  acc.add(h);
}

function mergeGauges(perWorker: Iterable<Record<string, number>>): Record<string, number> {
  const merged: Record<string, number> = {};
  for (const gauges of perWorker) {
    for (const [name, v] of Object.entries(gauges)) {
      const prev = merged[name];
      if (prev === undefined) merged[name] = v;
      else merged[name] = MAX_MERGED_GAUGES.has(name) ? Math.max(prev, v) : prev + v;
    }
  }
  return merged;
}

function notePeaks(peaks: Map<string, number>, gauges: Record<string, number>): void {
  for (const [name, v] of Object.entries(gauges)) peaks.set(name, Math.max(peaks.get(name) ?? v, v));
}
