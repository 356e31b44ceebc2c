import { describe, expect, it } from "vitest";
import { BindingStore, type ContactUpdate } from "../../src/server/registrar/binding-store.js";
import type { Flow } from "../../src/server/transport/flow.js";
import { FakeClock } from "../../src/time/clock.js";

const flow: Flow = { transport: "udp", remote: { address: "127.0.0.1", port: 5070 }, isOpen: true, send: () => true };
const otherFlow: Flow = { transport: "tcp", remote: { address: "127.0.0.1", port: 40000 }, isOpen: true, send: () => true };

function contact(uri: string, expires: number, extra: Partial<ContactUpdate> = {}): ContactUpdate {
  return { uri, params: {}, instanceId: null, regId: null, expires, ...extra };
}

function setup() {
  const clock = new FakeClock();
  const store = new BindingStore(clock, 1000);
  const changes: string[] = [];
  store.onChange((aor, b, change) => changes.push(`${aor} ${b.uri} ${change}`));
  return { clock, store, changes };
}

describe("BindingStore", () => {
  it("a new contact is created with its expiry and reported as remaining seconds", () => {
    const { clock, store, changes } = setup();
    const r = store.apply("sip:alice@cpm.test", [contact("sip:alice@10.0.0.1:5070", 3600)], { callId: "c1", cseq: 1, flow, path: [] });
    expect(r.ok).toBe(true);
    const [b] = store.lookup("sip:alice@cpm.test");
    expect(b!.uri).toBe("sip:alice@10.0.0.1:5070");
    expect(store.remainingSeconds(b!)).toBe(3600);
    clock.advanceMs(100_500);
    expect(store.remainingSeconds(b!)).toBe(3500);
    expect(changes).toEqual(["sip:alice@cpm.test sip:alice@10.0.0.1:5070 created"]);
    expect([store.aorCount, store.bindingCount]).toEqual([1, 1]);
  });

  it("a refresh with a higher CSeq moves the expiry and the flow", () => {
    const { clock, store, changes } = setup();
    store.apply("sip:a@d", [contact("sip:a@h", 60)], { callId: "c1", cseq: 1, flow, path: [] });
    clock.advanceMs(30_000);
    const r = store.apply("sip:a@d", [contact("sip:a@h", 60)], { callId: "c1", cseq: 2, flow: otherFlow, path: [] });
    expect(r.ok && r.bindings.map((b) => [store.remainingSeconds(b), b.flow.transport])).toEqual([[60, "tcp"]]);
    expect(changes.at(-1)).toBe("sip:a@d sip:a@h refreshed");
  });

  it("the same Call-ID with a lower CSeq fails; the same CSeq (a late retransmission) changes nothing", () => {
    const { store } = setup();
    store.apply("sip:a@d", [contact("sip:a@h", 60)], { callId: "c1", cseq: 5, flow, path: [] });
    const r = store.apply("sip:a@d", [contact("sip:a@h", 0), contact("sip:a@other", 60)], { callId: "c1", cseq: 4, flow, path: [] });
    expect(r).toEqual({ ok: false, reason: "out-of-order" });
    const again = store.apply("sip:a@d", [contact("sip:a@h", 0), contact("sip:a@other", 60)], { callId: "c1", cseq: 5, flow, path: [] });
    expect(again.ok && again.bindings.map((b) => b.uri)).toEqual(["sip:a@h"]);
    expect(store.lookup("sip:a@d").map((b) => b.uri)).toEqual(["sip:a@h"]);
    // A different Call-ID (another device or a restarted client) is not ordered against it.
    expect(store.apply("sip:a@d", [contact("sip:a@h", 120)], { callId: "c2", cseq: 1, flow, path: [] }).ok).toBe(true);
  });

  it("several contacts per AOR; expires 0 removes one; removeAll removes the rest", () => {
    const { store, changes } = setup();
    store.apply("sip:a@d", [contact("sip:a@h1", 60), contact("sip:a@h2", 120)], { callId: "c1", cseq: 1, flow, path: [] });
    expect(store.lookup("sip:a@d").map((b) => b.uri)).toEqual(["sip:a@h1", "sip:a@h2"]);
    store.apply("sip:a@d", [contact("sip:a@h1", 0)], { callId: "c1", cseq: 2, flow, path: [] });
    expect(store.lookup("sip:a@d").map((b) => b.uri)).toEqual(["sip:a@h2"]);
    expect(store.bindingCount).toBe(1);
    store.removeAll("sip:a@d");
    expect(store.lookup("sip:a@d")).toEqual([]);
    expect([store.aorCount, store.bindingCount]).toEqual([0, 0]);
    expect(changes.filter((c) => c.endsWith("unregistered"))).toEqual(["sip:a@d sip:a@h1 unregistered", "sip:a@d sip:a@h2 unregistered"]);
  });

  it("contacts with +sip.instance and reg-id are keyed by them: a new address replaces the old binding", () => {
    const { store } = setup();
    const instance = '"<urn:uuid:00000000-0000-0000-0000-000000000001>"';
    store.apply("sip:a@d", [contact("sip:a@10.0.0.1", 60, { instanceId: instance, regId: "1", params: { "+sip.instance": instance, "reg-id": "1" } })], { callId: "c1", cseq: 1, flow, path: [] });
    store.apply("sip:a@d", [contact("sip:a@10.0.0.2", 60, { instanceId: instance, regId: "1", params: { "+sip.instance": instance, "reg-id": "1" } })], { callId: "c2", cseq: 1, flow, path: [] });
    const bindings = store.lookup("sip:a@d");
    expect(bindings.map((b) => [b.uri, b.instanceId, b.regId])).toEqual([["sip:a@10.0.0.2", instance, "1"]]);
  });

  it("bindings vanish from lookups at expiry and the sweep removes them with an expired change", () => {
    const { clock, store, changes } = setup();
    store.apply("sip:a@d", [contact("sip:a@h1", 60), contact("sip:a@h2", 3600)], { callId: "c1", cseq: 1, flow, path: [] });
    clock.advanceMs(59_000);
    expect(store.lookup("sip:a@d")).toHaveLength(2);
    clock.advanceMs(1_000);
    // Exactly at expiry it is gone for readers even before the sweep runs.
    expect(store.lookup("sip:a@d").map((b) => b.uri)).toEqual(["sip:a@h2"]);
    clock.advanceMs(1_000);
    expect(store.bindingCount).toBe(1);
    expect(changes).toContain("sip:a@d sip:a@h1 expired");
    clock.advanceMs(3600_000);
    expect([store.aorCount, store.bindingCount]).toEqual([0, 0]);
  });

  it("the sweep timer stops when nothing is left and clear() forgets everything", () => {
    const { clock, store } = setup();
    store.apply("sip:a@d", [contact("sip:a@h1", 1)], { callId: "c1", cseq: 1, flow, path: [] });
    clock.advanceMs(5_000);
    expect(store.bindingCount).toBe(0);
    store.apply("sip:a@d", [contact("sip:a@h1", 10)], { callId: "c1", cseq: 2, flow, path: [] });
    store.clear();
    clock.advanceMs(20_000);
    expect([store.aorCount, store.bindingCount]).toEqual([0, 0]);
  });
});
