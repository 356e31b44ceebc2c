/**
 * A binary min-heap of timers ordered by (deadline, insertion order), so timers due at the same
 * instant run in the order they were set, as with setTimeout.
 *
 * Cancelling is lazy (the entry stays in the heap until it reaches the top) because the common
 * pattern is "arm a timeout, cancel it almost always" and an O(log n) removal for each would be
 * wasted. A cancelled entry drops its callback at once, so whatever the callback captured (a
 * transaction, a whole session graph) is not kept alive until the deadline; when cancelled entries
 * outnumber live ones the heap is rebuilt without them, so memory stays proportional to live timers.
 */
export interface HeapTimer {
  readonly atNs: number;
  readonly seq: number;
  /** null once cancelled or taken. */
  fn: (() => void) | null;
}

/** Below this many dead entries a rebuild is not worth it. */
const COMPACT_MIN_DEAD = 1024;

export class TimerHeap {
  private items: HeapTimer[] = [];
  private nextSeq = 0;
  private dead = 0;

  /** Live (not cancelled, not taken) timers. */
  get size(): number {
    return this.items.length - this.dead;
  }

  /** Sequence number the next pushed timer gets (timers pushed from now on have seq ≥ this). */
  get seqMark(): number {
    return this.nextSeq;
  }

  push(atNs: number, fn: () => void): HeapTimer {
    const timer: HeapTimer = { atNs, seq: this.nextSeq++, fn };
    this.items.push(timer);
    this.siftUp(this.items.length - 1);
    return timer;
  }

  /** Safe on a timer already cancelled or taken. */
  cancel(timer: HeapTimer): void {
    if (timer.fn === null) return;
    timer.fn = null;
    this.dead++;
    if (this.dead >= COMPACT_MIN_DEAD && this.dead > this.items.length / 2) this.compact();
  }

  /** The earliest live timer, or undefined. */
  peek(): HeapTimer | undefined {
    this.dropDeadTop();
    return this.items[0];
  }

  /** Removes and returns the earliest live timer (its fn is returned separately: the entry is dead). */
  take(): (() => void) | undefined {
    this.dropDeadTop();
    const top = this.items[0];
    if (top === undefined) return undefined;
    const fn = top.fn!;
    top.fn = null;
    this.removeTop();
    return fn;
  }

  private dropDeadTop(): void {
    while (this.items.length > 0 && this.items[0]!.fn === null) {
      this.removeTop();
      this.dead--;
    }
  }

  private removeTop(): void {
    const last = this.items.pop()!;
    if (this.items.length === 0) return;
    this.items[0] = last;
    this.siftDown(0);
  }

  private compact(): void {
    this.items = this.items.filter((t) => t.fn !== null);
    this.dead = 0;
    for (let i = (this.items.length >> 1) - 1; i >= 0; i--) this.siftDown(i);
  }

  private less(a: HeapTimer, b: HeapTimer): boolean {
    return a.atNs < b.atNs || (a.atNs === b.atNs && a.seq < b.seq);
  }

  private siftUp(i: number): void {
    const items = this.items;
    const item = items[i]!;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(item, items[parent]!)) break;
      items[i] = items[parent]!;
      i = parent;
    }
    items[i] = item;
  }

  private siftDown(i: number): void {
    const items = this.items;
    const n = items.length;
    const item = items[i]!;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && this.less(items[child + 1]!, items[child]!)) child++;
      if (!this.less(items[child]!, item)) break;
      items[i] = items[child]!;
      i = child;
    }
    items[i] = item;
  }
}
