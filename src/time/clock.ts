/**
 * The one place that owns time. Everything that schedules or measures takes a Clock so tests can
 * drive timing logic with a FakeClock instead of sleeping.
 *
 * `nowNs()` is monotonic and comparable across worker threads of one process: it is derived from
 * `performance.timeOrigin + performance.now()` (each thread has its own performance.now() origin,
 * timeOrigin corrects for it), expressed in nanoseconds as a JS number (safe up to ~104 days).
 */
export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** Absolute monotonic-ish time in ns (epoch-based, comparable across threads). */
  nowNs(): number;
  /** Absolute time in ms since the Unix epoch (for reports). */
  nowMs(): number;
  /** Run `fn` at absolute time `atNs` (or as soon as possible if it is in the past). */
  at(atNs: number, fn: () => void): TimerHandle;
  /** Run `fn` after `delayMs`. */
  after(delayMs: number, fn: () => void): TimerHandle;
}

const NS_PER_MS = 1_000_000;

export class RealClock implements Clock {
  private readonly originNs = performance.timeOrigin * NS_PER_MS;

  nowNs(): number {
    return this.originNs + performance.now() * NS_PER_MS;
  }

  nowMs(): number {
    return performance.timeOrigin + performance.now();
  }

  at(atNs: number, fn: () => void): TimerHandle {
    return this.after(Math.max(0, (atNs - this.nowNs()) / NS_PER_MS), fn);
  }

  after(delayMs: number, fn: () => void): TimerHandle {
    const timer = setTimeout(fn, Math.max(0, delayMs));
    return { cancel: () => clearTimeout(timer) };
  }
}

/** Deterministic clock for tests: time only moves when `advanceMs` is called. */
export class FakeClock implements Clock {
  private currentNs: number;
  private readonly timers: Array<{ atNs: number; seq: number; fn: () => void; cancelled: boolean }> = [];
  private seq = 0;

  constructor(startMs = 1_700_000_000_000) {
    this.currentNs = startMs * NS_PER_MS;
  }

  nowNs(): number {
    return this.currentNs;
  }

  nowMs(): number {
    return this.currentNs / NS_PER_MS;
  }

  at(atNs: number, fn: () => void): TimerHandle {
    const timer = { atNs: Math.max(atNs, this.currentNs), seq: this.seq++, fn, cancelled: false };
    this.timers.push(timer);
    return { cancel: () => { timer.cancelled = true; } };
  }

  after(delayMs: number, fn: () => void): TimerHandle {
    return this.at(this.currentNs + Math.max(0, delayMs) * NS_PER_MS, fn);
  }

  /** Move time forward, firing due timers in time order (timers they add fire too if due). */
  advanceMs(ms: number): void {
    const endNs = this.currentNs + ms * NS_PER_MS;
    for (;;) {
      const due = this.timers
        .filter((t) => !t.cancelled && t.atNs <= endNs)
        .sort((a, b) => a.atNs - b.atNs || a.seq - b.seq)[0];
      if (!due) break;
      due.cancelled = true;
      this.currentNs = due.atNs;
      due.fn();
    }
    this.currentNs = endNs;
    for (let i = this.timers.length - 1; i >= 0; i--) if (this.timers[i]!.cancelled) this.timers.splice(i, 1);
  }
}

export const realClock: Clock = new RealClock();
