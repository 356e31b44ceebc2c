/**
 * One worker's metric store: HDR histograms, counters and gauges per 1-second period since t0,
 * handed to the coordinator as PeriodSnapshots. Clients and the execution engine see only the
 * MetricsSink side; the worker loop calls `flushUpTo(now)` once per period and `flushAll()` at stop.
 */
import type { Clock } from "../time/clock.js";
import { createHistogram, encodeHistogram, ensureWasmHistograms, type Histogram } from "./histogram.js";
import { Counter, serviceTimeName } from "./names.js";
import type { MetricsSink } from "./sink.js";
import type { PeriodSnapshot } from "./snapshot.js";

export { EventLoopLagMonitor, type EventLoopLagMonitorOptions } from "./event-loop-lag.js";

export const PERIOD_NS = 1_000_000_000;

/**
 * Something sampled once per flushed period into gauges of that period (e.g. event-loop lag).
 * Sampled at flush time so the values land in the period just ended, not the one now running.
 */
export interface PeriodProbe {
  sample(): Record<string, number>;
}

export interface MetricsRecorderOptions {
  workerId: number;
  clock: Clock;
  /** Start of period 0; can be set later with setStart (samples before it go to period 0). */
  t0Ns?: number;
  /** Record into WebAssembly histograms when available (default true). */
  wasm?: boolean;
  probes?: PeriodProbe[];
}

interface PeriodData {
  histograms: Map<string, Histogram>;
  counters: Map<string, number>;
  gauges: Map<string, number>;
}

/** Histograms kept for reuse between periods; more than this are destroyed. */
const POOL_LIMIT = 64;

export class MetricsRecorder implements MetricsSink {
  readonly workerId: number;
  private readonly clock: Clock;
  private readonly wasm: boolean;
  private readonly probes: PeriodProbe[];
  private t0Ns: number | null;
  private readonly pending = new Map<number, PeriodData>();
  /** Lowest period not yet taken: samples never go below it, so a snapshot is final once sent. */
  private nextPeriod = 0;
  private readonly carriedGauges = new Map<string, number>();
  private carriedPeriod = -1;
  private readonly pool: Histogram[] = [];
  /** Periods taken out of `pending` whose histograms are still being encoded (see flushSteps). */
  private readonly detached = new Set<PeriodData>();
  private disposed = false;

  constructor(opts: MetricsRecorderOptions) {
    this.workerId = opts.workerId;
    this.clock = opts.clock;
    this.wasm = opts.wasm !== false && ensureWasmHistograms();
    this.probes = [...(opts.probes ?? [])];
    this.t0Ns = opts.t0Ns ?? null;
  }

  /** Whether histograms are recorded with the WebAssembly backend. */
  get usesWasm(): boolean {
    return this.wasm;
  }

  setStart(t0Ns: number): void {
    this.t0Ns = t0Ns;
  }

  addProbe(probe: PeriodProbe): void {
    this.probes.push(probe);
  }

  /** Period index of an instant (0 before t0 or while t0 is unknown). */
  periodAt(nowNs: number): number {
    if (this.t0Ns === null || nowNs < this.t0Ns) return 0;
    return Math.floor((nowNs - this.t0Ns) / PERIOD_NS);
  }

  /** When the period that the next `flushUpTo` will complete ends (for scheduling the flush). */
  nextFlushAtNs(): number {
    const t0 = this.t0Ns ?? this.clock.nowNs();
    return t0 + (this.nextPeriod + 1) * PERIOD_NS;
  }

  latency(metric: string, latencyUs: number, serviceUs?: number): void {
    if (this.disposed) return;
    const data = this.current();
    if (!Number.isFinite(latencyUs) || (serviceUs !== undefined && !Number.isFinite(serviceUs))) {
      // A NaN latency is a bug upstream; count it visibly instead of throwing inside a client.
      data.counters.set(Counter.invalidSamples, (data.counters.get(Counter.invalidSamples) ?? 0) + 1);
      return;
    }
    this.record(data, metric, latencyUs);
    // Service time always exists, so reports can show both columns for every latency metric.
    this.record(data, serviceTimeName(metric), serviceUs ?? latencyUs);
  }

  count(counter: string, by = 1): void {
    if (!Number.isFinite(by)) return;
    const counters = this.current().counters;
    counters.set(counter, (counters.get(counter) ?? 0) + by);
  }

  gauge(name: string, value: number): void {
    if (!Number.isFinite(value)) return;
    this.current().gauges.set(name, value);
  }

  /**
   * The snapshot of one period, removing its data. Periods are normally taken in order; taking a
   * later one first makes the skipped ones "late" (still sent by the next flush, never lost).
   */
  takeSnapshot(period: number): PeriodSnapshot {
    const probes = this.sampleProbes();
    const data = this.detach(period);
    const histograms: Record<string, string> = {};
    if (data) {
      for (const [name, h] of data.histograms) {
        if (h.totalCount > 0) histograms[name] = encodeHistogram(h);
        this.release(h);
      }
      data.histograms.clear();
      this.detached.delete(data);
    }
    return this.snapshotOf(period, data, histograms, probes);
  }

  /** Snapshots of every completed period not yet taken (empty ones included), in order. */
  flushUpTo(nowNs: number = this.clock.nowNs()): PeriodSnapshot[] {
    return drain(this.flushSteps(this.periodAt(nowNs)));
  }

  /**
   * `flushUpTo` in small pieces, for a worker's event loop. The completed periods are taken out at
   * this call; then each `next()` does one piece of work — sampling the probes (with the first
   * piece) or encoding one histogram — and yields the snapshot it completed, or null.
   * Encoding runs cold once a second (~0.1–0.3 ms per histogram), so done in one go it held the
   * loop for ~1–2 ms at every period boundary, and answers read in that window read late.
   */
  flushStepsUpTo(nowNs: number = this.clock.nowNs()): Generator<PeriodSnapshot | null, void, void> {
    return this.flushSteps(this.periodAt(nowNs));
  }

  /** At stop: every period not yet taken, including the one running now. */
  flushAll(nowNs: number = this.clock.nowNs()): PeriodSnapshot[] {
    let last = Math.max(this.periodAt(nowNs), this.nextPeriod);
    for (const p of this.pending.keys()) last = Math.max(last, p);
    return drain(this.flushSteps(last + 1));
  }

  /** Frees WebAssembly memory. Safe to call twice; the recorder drops samples afterwards. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const data of [...this.pending.values(), ...this.detached]) for (const h of data.histograms.values()) h.destroy();
    this.pending.clear();
    this.detached.clear();
    for (const h of this.pool) h.destroy();
    this.pool.length = 0;
  }

  /**
   * Takes the periods before `endPeriod` out now (eagerly: from here on samples go to later
   * periods, and nextFlushAtNs moves on), then encodes them step by step.
   */
  private flushSteps(endPeriod: number): Generator<PeriodSnapshot | null, void, void> {
    const late = [...this.pending.keys()].filter((p) => p < this.nextPeriod).sort((a, b) => a - b);
    const periods: Array<{ period: number; data: PeriodData | undefined }> = [];
    for (const period of late) periods.push({ period, data: this.detach(period) });
    while (this.nextPeriod < endPeriod) {
      const period = this.nextPeriod;
      periods.push({ period, data: this.detach(period) });
    }
    return this.encodeSteps(periods);
  }

  private *encodeSteps(periods: Array<{ period: number; data: PeriodData | undefined }>): Generator<PeriodSnapshot | null, void, void> {
    if (periods.length === 0) return;
    const probes = this.sampleProbes();
    for (const { period, data } of periods) {
      const histograms: Record<string, string> = {};
      if (data) {
        for (const [name, h] of data.histograms) {
          // Disposed in between: dispose() has destroyed this period's histograms.
          if (this.disposed) break;
          if (h.totalCount > 0) {
            yield null;
            if (this.disposed) break;
            histograms[name] = encodeHistogram(h);
          }
          data.histograms.delete(name);
          this.release(h);
        }
        this.detached.delete(data);
      }
      yield this.snapshotOf(period, data, histograms, probes);
    }
  }

  /** Take one period's data out of the recorder; samples never go below nextPeriod after this. */
  private detach(period: number): PeriodData | undefined {
    const data = this.pending.get(period);
    this.pending.delete(period);
    if (period >= this.nextPeriod) this.nextPeriod = period + 1;
    if (data) this.detached.add(data);
    return data;
  }

  private sampleProbes(): Map<string, number> {
    const values = new Map<string, number>();
    for (const probe of this.probes) for (const [k, v] of Object.entries(probe.sample())) values.set(k, v);
    return values;
  }

  private snapshotOf(period: number, data: PeriodData | undefined, histograms: Record<string, string>, probes: Map<string, number>): PeriodSnapshot {
    const counters: Record<string, number> = {};
    const gauges: Record<string, number> = {};
    if (data) for (const [name, v] of data.counters) counters[name] = v;
    // Gauges carry forward: a worker that set "clients.registered" once still has them next second.
    // A late period must not roll the carried values back, hence carriedPeriod.
    const isNewest = period > this.carriedPeriod;
    for (const [name, v] of this.carriedGauges) gauges[name] = v;
    if (data) for (const [name, v] of data.gauges) gauges[name] = v;
    for (const [name, v] of probes) gauges[name] = v;
    if (isNewest) {
      this.carriedPeriod = period;
      for (const [name, v] of Object.entries(gauges)) this.carriedGauges.set(name, v);
    }
    return { workerId: this.workerId, period, histograms, counters, gauges };
  }

  private current(): PeriodData {
    const period = Math.max(this.periodAt(this.clock.nowNs()), this.nextPeriod);
    let data = this.pending.get(period);
    if (!data) {
      data = { histograms: new Map(), counters: new Map(), gauges: new Map() };
      this.pending.set(period, data);
    }
    return data;
  }

  private record(data: PeriodData, metric: string, valueUs: number): void {
    let h = data.histograms.get(metric);
    if (!h) {
      h = this.acquire();
      data.histograms.set(metric, h);
    }
    // Negative values (clock steps between threads) are recorded as 0 rather than rejected.
    h.recordValue(valueUs > 0 ? Math.round(valueUs) : 0);
  }

  private acquire(): Histogram {
    return this.pool.pop() ?? createHistogram({ wasm: this.wasm });
  }

  private release(h: Histogram): void {
    if (this.disposed || this.pool.length >= POOL_LIMIT) {
      h.destroy();
      return;
    }
    h.reset();
    this.pool.push(h);
  }
}

function drain(steps: Generator<PeriodSnapshot | null, void, void>): PeriodSnapshot[] {
  const out: PeriodSnapshot[] = [];
  for (const snapshot of steps) if (snapshot !== null) out.push(snapshot);
  return out;
}
