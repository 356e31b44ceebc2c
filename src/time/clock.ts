/**
 * The one place that owns time. Everything that schedules or measures takes a Clock so tests can
 * drive timing logic with a FakeClock instead of sleeping.
 *
 * `nowNs()` is monotonic and comparable across worker threads of one process: it is derived from
 * `performance.timeOrigin + performance.now()` (each thread has its own performance.now() origin,
 * timeOrigin corrects for it), expressed in nanoseconds as a JS number (safe up to ~104 days).
 *
 * Two kinds of timer, on purpose:
 * - `at(ns)` is for instants that are measured (arrivals, injected response delays, period
 *   boundaries): RealClock runs it from a precise timer queue (precise-timer-queue.ts), never
 *   before the instant and typically within ~0.1 ms after it.
 * - `after(ms)` is for timeouts and intervals where a millisecond does not matter: plain
 *   setTimeout (whole-millisecond loop time: it may run up to ~1 ms early or late).
 */
import { PreciseTimerQueue } from "./precise-timer-queue.js";

export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** Absolute monotonic-ish time in ns (epoch-based, comparable across threads). */
  nowNs(): number;
  /** Absolute time in ms since the Unix epoch (for reports). */
  nowMs(): number;
  /**
   * Run `fn` at absolute time `atNs`, never before it (in a later turn of the event loop if it is
   * already past). Precise: use it for instants that are measured.
   */
  at(atNs: number, fn: () => void): TimerHandle;
  /** Run `fn` after about `delayMs` (millisecond granularity): for timeouts. */
  after(delayMs: number, fn: () => void): TimerHandle;
}

const NS_PER_MS = 1_000_000;

/** One precise queue (and helper thread) per JS thread, made on the first `at()`. */
let sharedQueue: PreciseTimerQueue | undefined;
const threadOriginNs = performance.timeOrigin * NS_PER_MS;
const threadNowNs = (): number => threadOriginNs + performance.now() * NS_PER_MS;

export class RealClock implements Clock {
  private readonly originNs = performance.timeOrigin * NS_PER_MS;

  nowNs(): number {
    return this.originNs + performance.now() * NS_PER_MS;
  }

  nowMs(): number {
    return performance.timeOrigin + performance.now();
  }

  at(atNs: number, fn: () => void): TimerHandle {
    sharedQueue ??= new PreciseTimerQueue({ nowNs: threadNowNs });
    return sharedQueue.at(atNs, fn);
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
