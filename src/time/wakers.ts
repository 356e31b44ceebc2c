/**
 * Wakers: "call me back at (or after) this absolute instant" for the PreciseTimerQueue.
 *
 * Why a thread: Node timers cannot wait for less than a whole millisecond. libuv keeps the loop
 * time in whole milliseconds, cached at the start of each loop turn, and epoll_wait takes a
 * millisecond timeout, so setTimeout(fn, 20) runs anywhere from ~19 ms (the cached time was stale
 * when the timer was set) to ~21 ms later (measured here: min 19.06, p50 20.2, p99 21.0 ms). For a
 * load generator that is both an early send/answer and up to a millisecond of error on every
 * measured instant. `Atomics.wait` takes a fractional timeout and wakes within tens of µs, and a
 * message from a thread wakes the owner's event loop at once (uv_async), so a tiny helper thread
 * that sleeps until (just before) the deadline and then posts one message gives sub-millisecond
 * timers at about the CPU cost of setTimeout (a setImmediate spin over the last millisecond was as
 * precise but cost ~45% of a core at 500 timers/s). Measured with 20 ms timers set every 30 ms on
 * an idle machine, lateness p50/p90: setTimeout -0.2/+0.3 ms (and as early as -0.9 ms); this
 * waker without the lead +0.2–0.4/+0.5 ms; with the lead (below) +0.02–0.07/+0.2–0.3 ms; never
 * early.
 *
 * Time base: the owner passes deadlines on its Clock's `nowNs()` scale; the helper thread compares
 * with `process.hrtime`, which is the same monotonic clock in every thread of the process, so the
 * offset between the two scales is measured once, here.
 */
import { Worker } from "node:worker_threads";

export interface Waker {
  /** Call the owner's wake function once at or after `atNs` (replacing any earlier arm); null disarms. */
  arm(atNs: number | null): void;
  /** Stop for good (the helper thread, if any, ends). Safe twice. */
  close(): void;
}

/**
 * setTimeout rounded up to whole milliseconds: late by up to ~1 ms, and the queue re-checks so an
 * early Node timer never runs anything early. Used until the helper thread is up, and if it fails.
 */
export class TimeoutWaker implements Waker {
  private timer: NodeJS.Timeout | null = null;
  private armedNs: number | null = null;

  constructor(
    private readonly nowNs: () => number,
    private readonly onWake: () => void,
  ) {}

  arm(atNs: number | null): void {
    if (atNs === this.armedNs && this.timer !== null) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.armedNs = atNs;
    if (atNs === null) return;
    const waitMs = Math.max(1, Math.ceil((atNs - this.nowNs()) / 1_000_000));
    this.timer = setTimeout(() => {
      this.timer = null;
      this.armedNs = null;
      this.onWake();
    }, waitMs);
  }

  close(): void {
    this.arm(null);
  }
}

/**
 * How often the helper thread may wake the owner: a token bucket of WAKE_BURST wakes refilled at
 * WAKE_RATE per second. Measured on this 2-core VM, one wake through the helper thread costs
 * ~25–40 µs of CPU across the two threads (a setTimeout wake ~5–10 µs), and at 6,000 arrivals/s
 * waking for every one cost +60% CPU for the whole run (+22% with a 0.5 ms spacing, +7% with
 * 1 ms). So timers run precisely while they are at most ~1,000 distinct instants per second (with
 * short bursts closer together, e.g. two workers' interleaved arrivals); denser timers are
 * delivered in groups about a millisecond apart — never early, and no later than setTimeout.
 */
export const WAKE_RATE = 1000;
export const WAKE_BURST = 8;

/**
 * Lead and spin. The hop itself — the helper thread waking from its timed wait, then the owner's
 * event loop waking for the message — takes ~0.1 ms when the threads are busy and ~0.3–0.4 ms
 * when the machine is idle (measured at 20 answers/s on this VM), which would make every precise
 * timer that much late. So the thread posts `lead` before the deadline, the owner learns the hop
 * from each wake (a low estimate: it follows decreases fast, increases slowly) and uses it as the
 * lead, and when a wake does arrive early the owner busy-waits the rest (never running a timer
 * before its instant). Spinning is bounded per wake (MAX_LEAD + SPIN_MARGIN) and in total
 * (SPIN_BUDGET_NS per second, 2% of a core): when the budget runs out the lead drops to 0.
 */
const MAX_LEAD_NS = 400_000;
const SPIN_MARGIN_NS = 100_000;
const SPIN_BUDGET_NS = 20_000_000;
/** Hop samples above this (the owner was busy) say nothing about the wake-up latency. */
const MAX_HOP_SAMPLE_NS = 2_000_000;

/** "Not before an arm" in the thread's own-wake slot. */
const MAX_HR_NS = 2n ** 62n;

/**
 * The helper thread. Shared memory: ctl[0] is a sequence number the owner bumps on every arm,
 * ctl[1] is 1 once closed, ctl[2] the lead (ns); times[0] is the hrtime (ns) of the deadline, or -1
 * for none, times[1] when the thread will next wake up by itself (MAX: not before an arm), and
 * target[0] the instant (hrtime ns) the thread waited for before its last post (NaN if it did not
 * wait for it), from which the owner measures the hop (a plain write before postMessage, read
 * after the message arrives).
 *
 * The thread posts once per arm (the sequence number it woke for), `lead` before the deadline and
 * within the wake budget. After a post it sleeps one budget interval before waiting for an arm, so
 * an owner that re-arms within it (dense timers) needs no Atomics.notify: the owner notifies only
 * when the thread's own next wake-up (times[1]) is later than it should post. The order of the
 * writes (deadline, then seq; the thread stores times[1] before waiting on seq) makes that check
 * race-free: a wait that starts after the bump returns at once, and one that started before it
 * published its wake-up time first.
 */
const TICKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const ctl = new Int32Array(workerData.shared, 0, 4);
const times = new BigInt64Array(workerData.shared, 16, 2);
const target = new Float64Array(workerData.shared, 32, 1);
const rate = workerData.wakeRate;
const burst = workerData.wakeBurst;
const interval = BigInt(Math.round(1e9 / rate));
const MAX = ${MAX_HR_NS}n;
let tokens = burst;
let refilled = process.hrtime.bigint();
let quietUntil = 0n;
let postedSeq = -1;
let waitedSeq = -1;
let waitedUntil = -1n;
for (;;) {
  const seq = Atomics.load(ctl, 0);
  if (Atomics.load(ctl, 1) !== 0) break;
  const at = Atomics.load(times, 0);
  const lead = BigInt(Atomics.load(ctl, 2));
  const now = process.hrtime.bigint();
  tokens = Math.min(burst, tokens + (Number(now - refilled) * rate) / 1e9);
  refilled = now;
  let until = MAX;
  if (at >= 0n && seq !== postedSeq) {
    until = at - lead;
    if (tokens < 1) {
      const refill = now + BigInt(Math.ceil(((1 - tokens) * 1e9) / rate));
      if (refill > until) until = refill;
    }
  } else if (now < quietUntil) {
    until = quietUntil;
  }
  if (until <= now) {
    target[0] = waitedSeq === seq && waitedUntil === until ? Number(until) : NaN;
    tokens -= 1;
    postedSeq = seq;
    quietUntil = now + interval;
    waitedSeq = -1;
    parentPort.postMessage(seq);
    continue;
  }
  waitedSeq = seq;
  waitedUntil = until;
  Atomics.store(times, 1, until);
  Atomics.wait(ctl, 0, seq, until === MAX ? Infinity : Number(until - now) / 1e6);
}
`;

type ThreadState = "starting" | "online" | "failed" | "closed";

export class ThreadWaker implements Waker {
  private readonly ctl: Int32Array;
  private readonly times: BigInt64Array;
  private readonly target: Float64Array;
  private readonly worker: Worker | null;
  private readonly fallback: TimeoutWaker;
  /** Owner clock ns minus hrtime ns (constant: both are the process's monotonic clock). */
  private readonly offsetNs: number;
  private state: ThreadState = "starting";
  private seq = 0;
  private armedNs: number | null = null;
  private referenced = false;
  /** Low estimate of the hop (ns), and the lead published to the thread. */
  private hopNs = 0;
  private hopSamples = 0;
  private leadNs = 0;
  private spinBudgetNs = SPIN_BUDGET_NS;
  private spinRefilledNs = 0;

  constructor(
    private readonly nowNs: () => number,
    private readonly onWake: () => void,
    budget: { wakeRate: number; wakeBurst: number } = { wakeRate: WAKE_RATE, wakeBurst: WAKE_BURST },
  ) {
    this.offsetNs = measureOffsetNs(nowNs);
    this.fallback = new TimeoutWaker(nowNs, onWake);
    const shared = new SharedArrayBuffer(40);
    this.ctl = new Int32Array(shared, 0, 4);
    this.times = new BigInt64Array(shared, 16, 2);
    this.target = new Float64Array(shared, 32, 1);
    this.times[0] = -1n;
    this.times[1] = MAX_HR_NS;
    this.target[0] = Number.NaN;
    this.spinRefilledNs = nowNs();
    let worker: Worker | null = null;
    try {
      worker = new Worker(TICKER_SOURCE, {
        eval: true,
        workerData: { shared, wakeRate: budget.wakeRate, wakeBurst: budget.wakeBurst },
        // A loop around Atomics.wait needs next to nothing; Node's own start-up needs ~5 MB of old space.
        resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 2, stackSizeMb: 1 },
      });
    } catch {
      this.state = "failed";
    }
    this.worker = worker;
    if (worker === null) return;
    // Never keeps the process alive by itself; arm() refs it while a deadline is pending.
    worker.unref();
    worker.on("online", () => {
      if (this.state !== "starting") return;
      this.state = "online";
      this.fallback.arm(null);
    });
    worker.on("message", (seq: number) => {
      // A wake for an arm that has since been replaced: the thread is already on the new one.
      if (seq === this.seq && this.state !== "closed") this.woken();
    });
    const failed = () => {
      if (this.state === "closed") return;
      this.state = "failed";
      this.fallback.arm(this.armedNs);
    };
    worker.on("error", failed);
    worker.on("exit", failed);
  }

  /** Whether the helper thread is running (false while starting, after a failure or close). */
  get precise(): boolean {
    return this.state === "online";
  }

  arm(atNs: number | null): void {
    if (this.state === "closed") return;
    if (atNs === null && this.armedNs === null && !this.referenced) return;
    this.armedNs = atNs;
    if (this.worker !== null && this.state !== "failed") {
      const ref = atNs !== null;
      if (ref !== this.referenced) {
        this.referenced = ref;
        if (ref) this.worker.ref();
        else this.worker.unref();
      }
      const hrNs = atNs === null ? -1n : BigInt(Math.max(0, Math.ceil(atNs - this.offsetNs)));
      Atomics.store(this.times, 0, hrNs);
      this.seq = (this.seq + 1) | 0;
      Atomics.store(this.ctl, 0, this.seq);
      // The thread wakes by itself before it must post (or is running): no wake-up call needed.
      if (hrNs >= 0n && Atomics.load(this.times, 1) > hrNs - BigInt(this.leadNs)) Atomics.notify(this.ctl, 0);
    }
    // Until the thread is up (it takes some tens of ms to start), or if it failed, Node's timers
    // stand in; the queue never runs a timer early whichever wakes it.
    if (this.state !== "online") this.fallback.arm(atNs);
  }

  private woken(): void {
    const now = this.nowNs();
    this.spinBudgetNs = Math.min(SPIN_BUDGET_NS, this.spinBudgetNs + ((now - this.spinRefilledNs) * SPIN_BUDGET_NS) / 1e9);
    this.spinRefilledNs = now;
    const target = this.target[0]!;
    if (!Number.isNaN(target)) this.learnHop(now - this.offsetNs - target);
    const earlyNs = this.armedNs === null ? 0 : this.armedNs - now;
    if (earlyNs > 0) this.spin(this.armedNs!, earlyNs);
    this.onWake();
  }

  /** Busy-wait for an early wake's last few µs, within the budget; without budget, stop leading. */
  private spin(untilNs: number, earlyNs: number): void {
    if (earlyNs > MAX_LEAD_NS + SPIN_MARGIN_NS || earlyNs > this.spinBudgetNs) {
      // The queue finds nothing due and re-arms; with no lead the thread then waits for the instant.
      this.publishLead(0);
      return;
    }
    while (this.nowNs() < untilNs) {
      // bounded above: at most MAX_LEAD_NS + SPIN_MARGIN_NS
    }
    this.spinBudgetNs -= earlyNs;
  }

  private learnHop(sampleNs: number): void {
    if (!(sampleNs >= 0) || sampleNs > MAX_HOP_SAMPLE_NS) return;
    this.hopNs = this.hopSamples++ === 0 ? sampleNs : this.hopNs + (sampleNs - this.hopNs) / (sampleNs < this.hopNs ? 4 : 32);
    this.publishLead(this.spinBudgetNs >= MAX_LEAD_NS + SPIN_MARGIN_NS ? Math.min(MAX_LEAD_NS, this.hopNs) : 0);
  }

  private publishLead(leadNs: number): void {
    const lead = Math.round(leadNs);
    if (Math.abs(lead - this.leadNs) < 5_000 && !(lead === 0 && this.leadNs !== 0)) return;
    this.leadNs = lead;
    Atomics.store(this.ctl, 2, lead);
  }

  close(): void {
    if (this.state === "closed") return;
    this.state = "closed";
    this.fallback.close();
    if (this.worker === null) return;
    Atomics.store(this.ctl, 1, 1);
    Atomics.notify(this.ctl, 0);
    this.worker.unref();
    void this.worker.terminate().catch(() => undefined);
  }
}

/** Offset between the owner's clock and hrtime, from the closest pair of reads out of a few. */
function measureOffsetNs(nowNs: () => number): number {
  let best = Number.POSITIVE_INFINITY;
  let offset = 0;
  for (let i = 0; i < 5; i++) {
    const a = process.hrtime.bigint();
    const now = nowNs();
    const b = process.hrtime.bigint();
    const span = Number(b - a);
    if (span < best) {
      best = span;
      offset = now - Number(a + (b - a) / 2n);
    }
  }
  return offset;
}
