/**
 * Many deadlines of ONE fixed delay with one timer: entries are pushed in time order, so their
 * deadlines are in order too, and a single timer waits for the head. Used where every session or
 * transaction needs "give up after N ms" (MSRP connect timeout, linger of completed UDP client
 * transactions): at thousands of sessions per second a setTimeout per entry costs more than the
 * work it guards, and most entries are settled long before their deadline.
 *
 * Entries stay queued until their deadline; `cancel` marks one as settled and drops its reference
 * to the item at once, so a settled entry pins nothing (a finished session must not stay in memory
 * for the whole delay).
 */
import type { Clock, TimerHandle } from "../../time/clock.js";

const NS_PER_MS = 1_000_000;

export interface DeadlineHandle {
  cancelled: boolean;
}

interface Entry<T> extends DeadlineHandle {
  atNs: number;
  item: T | undefined;
}

export class DeadlineQueue<T> {
  private queue: Array<Entry<T> | undefined> = [];
  private head = 0;
  private timer: TimerHandle | null = null;
  /** Callbacks that threw (counted, never rethrown). */
  errors = 0;

  constructor(
    private readonly clock: Clock,
    readonly delayMs: number,
    private readonly onExpire: (item: T) => void,
    /** Expiries are batched: the timer never fires more often than this (ms). */
    private readonly granularityMs = Math.min(100, Math.max(1, delayMs / 4)),
  ) {}

  /** Number of entries still queued (settled ones included until the sweep passes them). */
  get size(): number {
    return this.queue.length - this.head;
  }

  push(item: T): DeadlineHandle {
    const entry: Entry<T> = { atNs: this.clock.nowNs() + this.delayMs * NS_PER_MS, item, cancelled: false };
    this.queue.push(entry);
    this.arm();
    return entry;
  }

  /** Fire every due entry now (the timer calls this; tests with a FakeClock may too). */
  sweep(): void {
    const now = this.clock.nowNs();
    while (this.head < this.queue.length) {
      const entry = this.queue[this.head]!;
      if (entry.atNs > now) break;
      this.queue[this.head++] = undefined;
      if (!entry.cancelled) {
        entry.cancelled = true;
        const item = entry.item as T;
        entry.item = undefined;
        // A timer callback must never throw into the event loop (it would end the server).
        try {
          this.onExpire(item);
        } catch {
          this.errors++;
        }
      }
    }
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
  }

  /** Settle an entry: it will not fire, and the queue forgets its item now. */
  cancel(handle: DeadlineHandle): void {
    handle.cancelled = true;
    (handle as Entry<T>).item = undefined;
  }

  close(): void {
    this.timer?.cancel();
    this.timer = null;
    this.queue = [];
    this.head = 0;
  }

  private arm(): void {
    if (this.timer !== null || this.head >= this.queue.length) return;
    const head = this.queue[this.head]!;
    const waitMs = Math.max(this.granularityMs, (head.atNs - this.clock.nowNs()) / NS_PER_MS);
    this.timer = this.clock.after(waitMs, () => {
      this.timer = null;
      this.sweep();
      this.arm();
    });
  }
}
