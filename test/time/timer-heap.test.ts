import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { TimerHeap } from "../../src/time/timer-heap.js";

describe("timer heap", () => {
  it("takes timers in deadline order, equal deadlines in insertion order", () => {
    const heap = new TimerHeap();
    const order: string[] = [];
    for (const [at, name] of [[30, "c"], [10, "a1"], [20, "b"], [10, "a2"], [10, "a3"]] as const) heap.push(at, () => order.push(name));
    for (let fn = heap.take(); fn !== undefined; fn = heap.take()) fn();
    expect(order).toEqual(["a1", "a2", "a3", "b", "c"]);
    expect(heap.size).toBe(0);
  });

  it("a cancelled timer is skipped and drops its callback at once (nothing it captured stays reachable)", () => {
    const heap = new TimerHeap();
    const keep = heap.push(5, () => undefined);
    const gone = heap.push(1, () => undefined);
    heap.cancel(gone);
    heap.cancel(gone); // twice is harmless
    expect(gone.fn).toBeNull();
    expect(heap.size).toBe(1);
    expect(heap.peek()).toBe(keep);
  });

  it("rebuilds without cancelled entries once they outnumber live ones (memory follows live timers)", () => {
    const heap = new TimerHeap();
    const timers = Array.from({ length: 5000 }, (_, i) => heap.push(i, () => undefined));
    // Cancel the latest ones: they never reach the top, so only a rebuild can drop them.
    for (const t of timers.slice(1000)) heap.cancel(t);
    expect(heap.size).toBe(1000);
    const internal = (heap as unknown as { items: unknown[] }).items;
    expect(internal.length).toBeLessThan(3000);
    const seen: number[] = [];
    for (let t = heap.peek(); t !== undefined; t = heap.peek()) {
      seen.push(t.atNs);
      heap.take();
    }
    expect(seen).toEqual(Array.from({ length: 1000 }, (_, i) => i));
  });

  it("agrees with a sorted list under any mix of push, cancel and take (property)", () => {
    type Op = { kind: "push"; at: number } | { kind: "cancel"; pick: number } | { kind: "take" };
    const op = fc.oneof(
      fc.record({ kind: fc.constant("push" as const), at: fc.integer({ min: 0, max: 50 }) }),
      fc.record({ kind: fc.constant("cancel" as const), pick: fc.nat() }),
      fc.record({ kind: fc.constant("take" as const) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops: Op[]) => {
        const heap = new TimerHeap();
        const model: Array<{ at: number; seq: number; id: number; handle: ReturnType<TimerHeap["push"]> }> = [];
        let id = 0;
        let seq = 0;
        const taken: number[] = [];
        const expected: number[] = [];
        for (const o of ops) {
          if (o.kind === "push") {
            const myId = id++;
            const handle = heap.push(o.at, () => taken.push(myId));
            model.push({ at: o.at, seq: seq++, id: myId, handle });
          } else if (o.kind === "cancel") {
            if (model.length === 0) continue;
            const [victim] = model.splice(o.pick % model.length, 1);
            heap.cancel(victim!.handle);
          } else {
            model.sort((a, b) => a.at - b.at || a.seq - b.seq);
            const first = model.shift();
            if (first !== undefined) expected.push(first.id);
            heap.take()?.();
          }
          if (heap.size !== model.length) return false;
        }
        return JSON.stringify(taken) === JSON.stringify(expected);
      }),
    );
  });
});
