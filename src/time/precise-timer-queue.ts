/**
 * Timers at absolute instants, never early and late by tens of µs rather than up to a millisecond
 * (see wakers.ts for why Node's timers cannot do that). All of one thread's timers share one heap
 * and one waker armed for the earliest deadline, so a thousand pending timers cost one wait.
 *
 * Semantics kept from setTimeout: timers due at the same instant run in the order they were set;
 * a timer set from inside a timer callback never runs in the same turn (it waits for the next turn
 * of the event loop, so a catch-up loop that re-arms for a past instant still lets socket I/O in);
 * a pending timer keeps the process alive; an exception from a callback propagates like one from
 * a setTimeout callback (uncaught), and the remaining timers still run.
 */
import type { TimerHandle } from "./clock.js";
import { TimerHeap } from "./timer-heap.js";
import { ThreadWaker, type Waker } from "./wakers.js";

export interface PreciseTimerQueueOptions {
  /** The time scale of the deadlines (a Clock's nowNs). */
  nowNs: () => number;
  /** Default: a ThreadWaker (helper thread, Node timers until it is up). */
  createWaker?: (nowNs: () => number, onWake: () => void) => Waker;
}

export class PreciseTimerQueue {
  private readonly heap = new TimerHeap();
  private readonly waker: Waker;
  private readonly nowNs: () => number;
  /** The deadline the waker is armed for (it is one-shot: null again after each wake). */
  private armedNs: number | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private running = false;
  private closed = false;

  constructor(opts: PreciseTimerQueueOptions) {
    this.nowNs = opts.nowNs;
    const onWake = () => {
      this.armedNs = null;
      this.run();
    };
    this.waker = opts.createWaker ? opts.createWaker(opts.nowNs, onWake) : new ThreadWaker(opts.nowNs, onWake);
  }

  /** Live timers. */
  get size(): number {
    return this.heap.size;
  }

  /** Whether sub-millisecond waking is in effect (false while the helper thread starts or if it failed). */
  get precise(): boolean {
    return this.waker instanceof ThreadWaker && this.waker.precise;
  }

  at(atNs: number, fn: () => void): TimerHandle {
    const timer = this.heap.push(atNs, fn);
    if (!this.running) this.rearm();
    return {
      cancel: () => {
        if (timer.fn === null) return;
        this.heap.cancel(timer);
        // Nothing left: release the waker so a cancelled timer does not hold the process open.
        // (An earlier cancelled deadline otherwise just causes one wake that finds nothing due.)
        if (this.heap.size === 0 && !this.running) this.rearm();
      },
    };
  }

  /** Drop every timer and stop the waker. Safe twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    while (this.heap.take() !== undefined) {
      // drained
    }
    if (this.immediate !== null) clearImmediate(this.immediate);
    this.immediate = null;
    this.waker.close();
  }

  private readonly runImmediate = (): void => {
    this.immediate = null;
    this.run();
  };

  private run(): void {
    if (this.running || this.closed) return;
    this.running = true;
    // Timers added by callbacks from here on wait for the next turn.
    const mark = this.heap.seqMark;
    try {
      for (;;) {
        const next = this.heap.peek();
        if (next === undefined || next.seq >= mark || next.atNs > this.nowNs()) break;
        this.heap.take()!();
      }
    } finally {
      this.running = false;
      this.rearm();
    }
  }

  private rearm(): void {
    if (this.closed) return;
    const next = this.heap.peek();
    if (next === undefined) {
      // Also after a wake (armedNs already null): the waker may still hold the process open.
      this.armedNs = null;
      this.waker.arm(null);
      return;
    }
    if (next.atNs <= this.nowNs()) {
      // Already due: next turn of the loop, after pending I/O (setImmediate runs after the poll).
      this.immediate ??= setImmediate(this.runImmediate);
      return;
    }
    // An arm for an earlier instant stays: it wakes, finds nothing due and re-arms for this one.
    if (this.armedNs !== null && this.armedNs <= next.atNs) return;
    this.armedNs = next.atNs;
    this.waker.arm(next.atNs);
  }
}
