import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { realClock } from "../../src/time/clock.js";
import { PreciseTimerQueue } from "../../src/time/precise-timer-queue.js";
import { TimeoutWaker, type Waker } from "../../src/time/wakers.js";

const MS = 1_000_000;
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A waker the test fires by hand, on a clock the test moves by hand. */
function manual() {
  let now = 1_000 * MS;
  const arms: Array<number | null> = [];
  let wake: () => void = () => undefined;
  let closed = false;
  const queue = new PreciseTimerQueue({
    nowNs: () => now,
    createWaker: (_nowNs, onWake): Waker => {
      wake = onWake;
      return { arm: (at) => arms.push(at), close: () => (closed = true) };
    },
  });
  return {
    queue,
    arms,
    get closed() {
      return closed;
    },
    set: (ns: number) => (now = ns),
    now: () => now,
    wake: () => wake(),
  };
}

describe("precise timer queue (hand-driven waker and clock)", () => {
  it("arms the waker for the earliest deadline only, and runs nothing before its instant", () => {
    const m = manual();
    const ran: string[] = [];
    m.queue.at(m.now() + 20 * MS, () => ran.push("b"));
    m.queue.at(m.now() + 10 * MS, () => ran.push("a"));
    m.queue.at(m.now() + 30 * MS, () => ran.push("c"));
    expect(m.arms).toEqual([1_020 * MS, 1_010 * MS]);
    // A wake a hair early (the helper thread's clock is read separately) runs nothing and re-arms.
    m.set(1_010 * MS - 1);
    m.wake();
    expect(ran).toEqual([]);
    expect(m.arms.at(-1)).toBe(1_010 * MS);
    m.set(1_020 * MS);
    m.wake();
    expect(ran).toEqual(["a", "b"]);
    expect(m.arms.at(-1)).toBe(1_030 * MS);
    expect(m.queue.size).toBe(1);
  });

  it("runs timers due at the same instant in the order they were set", () => {
    const m = manual();
    const ran: number[] = [];
    for (let i = 0; i < 5; i++) m.queue.at(m.now() + MS, () => ran.push(i));
    m.set(m.now() + MS);
    m.wake();
    expect(ran).toEqual([0, 1, 2, 3, 4]);
  });

  it("a timer set from a callback for an instant already past runs in a later turn, not the same one", async () => {
    const m = manual();
    const ran: string[] = [];
    m.queue.at(m.now() + MS, () => {
      ran.push("first");
      m.queue.at(m.now() - MS, () => ran.push("catch-up"));
    });
    m.set(m.now() + MS);
    m.wake();
    expect(ran).toEqual(["first"]);
    await nextTurn();
    expect(ran).toEqual(["first", "catch-up"]);
  });

  it("cancelling the last pending timer disarms the waker (so it no longer holds the process open)", () => {
    const m = manual();
    const a = m.queue.at(m.now() + 5 * MS, () => undefined);
    const b = m.queue.at(m.now() + 9 * MS, () => undefined);
    a.cancel();
    expect(m.arms.at(-1)).toBe(1_005 * MS); // b still pending: the early wake just re-arms
    b.cancel();
    expect(m.arms.at(-1)).toBeNull();
    expect(m.queue.size).toBe(0);
  });

  it("a cancelled timer never runs, even when its wake already came", () => {
    const m = manual();
    let ran = false;
    const h = m.queue.at(m.now() + MS, () => (ran = true));
    m.set(m.now() + 2 * MS);
    h.cancel();
    m.wake();
    expect(ran).toBe(false);
  });

  it("an exception from a callback propagates, and the other timers still run on the next wake", () => {
    const m = manual();
    const ran: string[] = [];
    m.queue.at(m.now() + MS, () => {
      throw new Error("boom");
    });
    m.queue.at(m.now() + 2 * MS, () => ran.push("later"));
    m.set(m.now() + 3 * MS);
    expect(() => m.wake()).toThrow("boom");
    // Re-armed despite the throw; the remaining due timer runs on the next wake.
    expect(m.arms.at(-1)).not.toBeNull();
    m.wake();
    expect(ran).toEqual(["later"]);
  });

  it("close drops pending timers and closes the waker", () => {
    const m = manual();
    let ran = false;
    m.queue.at(m.now() + MS, () => (ran = true));
    m.queue.close();
    m.queue.close();
    m.set(m.now() + 2 * MS);
    m.wake();
    expect(ran).toBe(false);
    expect(m.closed).toBe(true);
  });
});

describe("precise timer queue (real clock, helper thread)", () => {
  it("never runs a timer before its instant, across many timers set at random offsets", async () => {
    const queue = new PreciseTimerQueue({ nowNs: () => realClock.nowNs() });
    try {
      const early: number[] = [];
      const done: Promise<void>[] = [];
      for (let i = 0; i < 200; i++) {
        const at = realClock.nowNs() + Math.random() * 30 * MS;
        done.push(
          new Promise((resolve) =>
            queue.at(at, () => {
              const now = realClock.nowNs();
              if (now < at) early.push(at - now);
              resolve();
            }),
          ),
        );
      }
      await Promise.all(done);
      expect(early).toEqual([]);
    } finally {
      queue.close();
    }
  });

  it("dense timers beyond the wake budget all run, in deadline order, none early", async () => {
    const queue = new PreciseTimerQueue({ nowNs: () => realClock.nowNs() });
    try {
      // Let the helper thread come up so the budgeted path is the one under test.
      for (let i = 0; i < 200 && !queue.precise; i++) await new Promise((resolve) => setTimeout(resolve, 10));
      const start = realClock.nowNs() + 5 * MS;
      const order: number[] = [];
      let early = 0;
      await new Promise<void>((resolve) => {
        const n = 2000;
        // 2,000 distinct instants within 20 ms: 100 per ms, far above the ~1,000 wakes/s budget.
        for (let i = n - 1; i >= 0; i--) {
          const at = start + i * 10_000;
          queue.at(at, () => {
            if (realClock.nowNs() < at) early++;
            order.push(i);
            if (order.length === n) resolve();
          });
        }
      });
      expect(early).toBe(0);
      expect(order).toEqual([...order].sort((a, b) => a - b));
    } finally {
      queue.close();
    }
  });

  it("with Node timers only (the fallback when the helper thread cannot run), timers still never run early", async () => {
    const queue = new PreciseTimerQueue({ nowNs: () => realClock.nowNs(), createWaker: (nowNs, onWake) => new TimeoutWaker(nowNs, onWake) });
    try {
      const early: number[] = [];
      await Promise.all(
        Array.from({ length: 50 }, () => {
          const at = realClock.nowNs() + Math.random() * 10 * MS;
          return new Promise<void>((resolve) =>
            queue.at(at, () => {
              if (realClock.nowNs() < at) early.push(at);
              resolve();
            }),
          );
        }),
      );
      expect(early).toEqual([]);
      expect(queue.precise).toBe(false);
    } finally {
      queue.close();
    }
  });

  it("switches to the helper thread once it is up", async () => {
    const queue = new PreciseTimerQueue({ nowNs: () => realClock.nowNs() });
    try {
      for (let i = 0; i < 200 && !queue.precise; i++) await new Promise((resolve) => setTimeout(resolve, 10));
      expect(queue.precise).toBe(true);
    } finally {
      queue.close();
    }
  });

  it("RealClock.at: a pending timer keeps a process alive until it runs; a cancelled one does not", () => {
    const clockModule = fileURLToPath(new URL("../../src/time/clock.ts", import.meta.url));
    const run = (body: string) =>
      spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", `import { realClock } from ${JSON.stringify(clockModule)};\n${body}`], {
        encoding: "utf8",
        timeout: 20_000,
      });
    // Cancelled: a 60 s timer must not hold the process open (spawnSync's timeout would kill it).
    const cancelled = run("const h = realClock.at(realClock.nowNs() + 60e9, () => {}); setTimeout(() => h.cancel(), 50);");
    expect(cancelled.signal).toBeNull();
    expect(cancelled.status).toBe(0);
    // Pending: the process waits for it and it runs.
    const pending = run("realClock.at(realClock.nowNs() + 300e6, () => console.log('ran'));");
    expect(pending.status).toBe(0);
    expect(pending.stdout.trim()).toBe("ran");
  });
});
