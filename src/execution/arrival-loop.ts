/**
 * Drives a sequence of arrivals at absolute times. It sets ONE timer, for the absolute time of the
 * next arrival (clock.at(t0 + offset)); when it fires, every arrival already due is delivered with
 * its own intended time, then the timer is set for the next one. A late timer therefore never
 * shifts later arrivals (no drift), and a stalled event loop is caught up in bounded batches so
 * socket I/O still gets turns between them.
 */
import type { Clock, TimerHandle } from "../time/clock.js";

const NS_PER_MS = 1_000_000;

export interface ArrivalLoopOptions {
  clock: Clock;
  t0Ns: number;
  /** Offset in ms after t0 of local arrival k (non-decreasing in k), or null when there is none. */
  offsetMsOf: (k: number) => number | null;
  /** Called once per arrival, in order, with the absolute intended time. */
  onArrival: (k: number, intendedNs: number) => void;
  /** At most this many due arrivals per timer turn before yielding (default 1000). */
  maxBatch?: number;
}

export class ArrivalLoop {
  private next = 0;
  private nextAtNs: number | null = null;
  private timer: TimerHandle | null = null;
  private cancelled = false;
  private readonly maxBatch: number;

  constructor(private readonly opts: ArrivalLoopOptions) {
    this.maxBatch = Math.max(1, opts.maxBatch ?? 1000);
  }

  /** Arrivals delivered so far. */
  get delivered(): number {
    return this.next;
  }

  /** Whether no arrival is left to deliver (schedule exhausted or cancelled). */
  get finished(): boolean {
    return this.cancelled || this.nextAtNs === null;
  }

  start(): void {
    this.nextAtNs = this.absoluteTime(0);
    this.arm();
  }

  cancel(): void {
    this.cancelled = true;
    this.timer?.cancel();
    this.timer = null;
  }

  private absoluteTime(k: number): number | null {
    const offset = this.opts.offsetMsOf(k);
    return offset === null ? null : this.opts.t0Ns + offset * NS_PER_MS;
  }

  private arm(): void {
    if (this.cancelled || this.nextAtNs === null) return;
    this.timer = this.opts.clock.at(this.nextAtNs, () => this.fire());
  }

  private fire(): void {
    this.timer = null;
    const nowNs = this.opts.clock.nowNs();
    let batch = 0;
    while (!this.cancelled && this.nextAtNs !== null && this.nextAtNs <= nowNs && batch < this.maxBatch) {
      const k = this.next++;
      const at = this.nextAtNs;
      this.nextAtNs = this.absoluteTime(this.next);
      batch++;
      this.opts.onArrival(k, at);
    }
    this.arm();
  }
}
