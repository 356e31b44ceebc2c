/**
 * The registrar over real sockets: raw REGISTERs from UDP and TCP peers on 127.0.0.1, answers
 * parsed from the wire.
 */
import { describe, expect, it } from "vitest";
import { getHeader, getHeaderValues, parseNameAddr } from "../../src/protocol/sip/headers.js";
import { FakeClock } from "../../src/time/clock.js";
import { request, serverFixtures } from "./peers.js";

const { server, udpPeer, tcpPeer } = serverFixtures();

/** Contact URI → expires, from a 200's Contact lines. */
function contactsOf(m: { headers: Array<[string, string]> }): Record<string, string | null | undefined> {
  const out: Record<string, string | null | undefined> = {};
  for (const v of getHeaderValues(m, "Contact")) {
    const na = parseNameAddr(v)!;
    out[na.uri] = na.params.expires;
  }
  return out;
}

describe("registrar", () => {
  it("REGISTER → 200 with the contact, its expires, a To-tag, Date and Server", async () => {
    const s = await server();
    const peer = await udpPeer();
    const r = await peer.exchange(request({ via: peer.address, contacts: ["<sip:alice@10.0.0.1:5070>"], expires: 600 }), s.sipAddress.port);
    expect([r.status, r.reason]).toEqual([200, "OK"]);
    expect(contactsOf(r)).toEqual({ "sip:alice@10.0.0.1:5070": "600" });
    expect(getHeader(r, "To")).toMatch(/^<sip:alice@cpm\.test>;tag=\w+$/);
    expect(getHeader(r, "Server")).toBe("CPM-serv/OMA1.0");
    expect(Number.isNaN(Date.parse(getHeader(r, "Date")!))).toBe(false);
    expect(s.stats()).toMatchObject({ registeredAors: 1, contacts: 1, requests: { REGISTER: 1 }, responses: { "200": 1 } });
  });

  it("no Expires anywhere gives the default; above the maximum is lowered to it", async () => {
    const s = await server({ defaultExpires: 1800, maxExpires: 3600 });
    const peer = await udpPeer();
    const a = await peer.exchange(request({ user: "a", contacts: ["<sip:a@h1>"] }), s.sipAddress.port);
    expect(contactsOf(a)).toEqual({ "sip:a@h1": "1800" });
    const b = await peer.exchange(request({ user: "b", contacts: ["<sip:b@h1>;expires=99999"] }), s.sipAddress.port);
    expect(contactsOf(b)).toEqual({ "sip:b@h1": "3600" });
  });

  it("a refresh keeps one binding; a second contact is listed beside it; unregistering one leaves the other", async () => {
    const s = await server();
    const peer = await udpPeer();
    const port = s.sipAddress.port;
    const callId = "reg-call-1";
    await peer.exchange(request({ callId, cseq: 1, contacts: ["<sip:alice@h1>"], expires: 300 }), port);
    const refreshed = await peer.exchange(request({ callId, cseq: 2, contacts: ["<sip:alice@h1>"], expires: 900 }), port);
    expect(contactsOf(refreshed)).toEqual({ "sip:alice@h1": "900" });
    const two = await peer.exchange(request({ callId, cseq: 3, contacts: ["<sip:alice@h2>;expires=120"], expires: 900 }), port);
    expect(contactsOf(two)).toEqual({ "sip:alice@h1": "900", "sip:alice@h2": "120" });
    expect(s.stats()).toMatchObject({ registeredAors: 1, contacts: 2 });
    const one = await peer.exchange(request({ callId, cseq: 4, contacts: ["<sip:alice@h1>;expires=0"] }), port);
    expect([one.status, contactsOf(one)]).toEqual([200, { "sip:alice@h2": "120" }]);
    // A query (no Contact) lists what is left without changing it.
    const query = await peer.exchange(request({ callId, cseq: 5, contacts: [] }), port);
    expect(contactsOf(query)).toEqual({ "sip:alice@h2": "120" });
  });

  it("two contacts in one REGISTER, comma-joined, with +sip.instance and reg-id kept in the answer", async () => {
    const s = await server();
    const peer = await udpPeer();
    const instance = '"<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>"';
    const r = await peer.exchange(
      request({ contacts: [`<sip:alice@h1;transport=udp>;+sip.instance=${instance};reg-id=1, <sip:alice@h2>;expires=60`], expires: 300 }),
      s.sipAddress.port,
    );
    expect(r.status).toBe(200);
    const contacts = getHeaderValues(r, "Contact").map((v) => parseNameAddr(v)!);
    expect(contacts.map((c) => [c.uri, c.params["+sip.instance"], c.params["reg-id"], c.params.expires])).toEqual([
      ["sip:alice@h1;transport=udp", instance, "1", "300"],
      ["sip:alice@h2", undefined, undefined, "60"],
    ]);
  });

  it("Contact: * with Expires: 0 removes every binding; * with anything else is 400", async () => {
    const s = await server();
    const peer = await udpPeer();
    const port = s.sipAddress.port;
    await peer.exchange(request({ callId: "c", cseq: 1, contacts: ["<sip:alice@h1>", "<sip:alice@h2>"], expires: 300 }), port);
    const bad = await peer.exchange(request({ callId: "c", cseq: 2, contacts: ["*"], expires: 300 }), port);
    expect(bad.status).toBe(400);
    const r = await peer.exchange(request({ callId: "c", cseq: 3, contacts: ["*"], expires: 0 }), port);
    expect([r.status, getHeaderValues(r, "Contact")]).toEqual([200, []]);
    expect(s.stats()).toMatchObject({ registeredAors: 0, contacts: 0 });
  });

  it("below Min-Expires is 423 Interval Too Brief with Min-Expires, and nothing is stored", async () => {
    const s = await server({ minExpires: 60 });
    const peer = await udpPeer();
    const r = await peer.exchange(request({ contacts: ["<sip:alice@h1>"], expires: 30 }), s.sipAddress.port);
    expect([r.status, r.reason, getHeader(r, "Min-Expires")]).toEqual([423, "Interval Too Brief", "60"]);
    expect(s.stats().contacts).toBe(0);
  });

  it("a REGISTER with the same Call-ID and a lower CSeq is refused and changes nothing", async () => {
    const s = await server();
    const peer = await udpPeer();
    const port = s.sipAddress.port;
    await peer.exchange(request({ callId: "c", cseq: 5, contacts: ["<sip:alice@h1>"], expires: 300 }), port);
    const r = await peer.exchange(request({ callId: "c", cseq: 4, contacts: ["<sip:alice@h1>"], expires: 0 }), port);
    expect(r.status).toBe(500);
    expect(s.stats().contacts).toBe(1);
  });

  it("bindings expire when their time passes (FakeClock)", async () => {
    const clock = new FakeClock();
    const s = await server({ clock });
    const peer = await udpPeer();
    const port = s.sipAddress.port;
    await peer.exchange(request({ callId: "c", cseq: 1, contacts: ["<sip:alice@h1>;expires=60", "<sip:alice@h2>;expires=120"] }), port);
    clock.advanceMs(30_000);
    const mid = await peer.exchange(request({ callId: "c", cseq: 2, contacts: [] }), port);
    expect(contactsOf(mid)).toEqual({ "sip:alice@h1": "30", "sip:alice@h2": "90" });
    clock.advanceMs(31_000);
    expect(s.stats()).toMatchObject({ registeredAors: 1, contacts: 1 });
    clock.advanceMs(60_000);
    expect(s.stats()).toMatchObject({ registeredAors: 0, contacts: 0 });
    const after = await peer.exchange(request({ callId: "c", cseq: 3, contacts: [] }), port);
    expect([after.status, getHeaderValues(after, "Contact")]).toEqual([200, []]);
  });

  it("a UDP retransmission gets the identical cached response and registers once", async () => {
    const s = await server();
    const peer = await udpPeer();
    const port = s.sipAddress.port;
    const text = request({ via: peer.address, branch: "z9hG4bK-retrans-1", contacts: ["<sip:alice@h1>"], expires: 300 });
    await peer.exchange(text, port);
    await peer.exchange(text, port);
    await peer.exchange(text, port);
    expect(peer.raw).toHaveLength(3);
    expect(peer.raw[1]!.equals(peer.raw[0]!)).toBe(true);
    expect(peer.raw[2]!.equals(peer.raw[0]!)).toBe(true);
    expect(s.stats()).toMatchObject({ requests: { REGISTER: 1 }, responses: { "200": 1 }, retransmissions: 2, contacts: 1 });
  });

  it("without a transaction cache (lifetime 0) a late retransmission is answered 200 and changes nothing", async () => {
    const clock = new FakeClock();
    const s = await server({ clock, udpTransactionLifetimeMs: 0 });
    const peer = await udpPeer();
    const text = request({ branch: "z9hG4bK-late", callId: "late", cseq: 7, contacts: ["<sip:alice@h1>"], expires: 300 });
    await peer.exchange(text, s.sipAddress.port);
    clock.advanceMs(100_000);
    const again = await peer.exchange(text, s.sipAddress.port);
    expect([again.status, contactsOf(again)]).toEqual([200, { "sip:alice@h1": "200" }]);
    expect(s.stats()).toMatchObject({ requests: { REGISTER: 2 }, retransmissions: 0, contacts: 1 });
  });

  it("Path is echoed in the 200 to a client that supports path (RFC 3327), and not otherwise", async () => {
    const s = await server();
    const peer = await udpPeer();
    const path = ["Path: <sip:edge1.cpm.test;lr>", "Path: <sip:edge2.cpm.test;lr>"];
    const withSupport = await peer.exchange(request({ user: "p1", headers: [...path, "Supported: path, gruu"] }), s.sipAddress.port);
    expect(getHeaderValues(withSupport, "Path")).toEqual(["<sip:edge1.cpm.test;lr>", "<sip:edge2.cpm.test;lr>"]);
    const without = await peer.exchange(request({ user: "p2", headers: path }), s.sipAddress.port);
    expect(getHeaderValues(without, "Path")).toEqual([]);
  });

  it("TCP: the binding remembers the connection; responses come back on it", async () => {
    const s = await server();
    const peer = await tcpPeer(s.sipAddress.port);
    const r = await peer.exchange(request({ transport: "TCP", via: peer.address, expires: 300 }));
    expect(r.status).toBe(200);
    expect(s.stats()).toMatchObject({ tcpConnections: 1, contacts: 1 });
  });

  it("rport asked in Via is filled in with the source port and address", async () => {
    const s = await server();
    const peer = await udpPeer();
    const r = await peer.exchange(
      request({ via: "client.invalid", branch: "z9hG4bK-rport;rport", contacts: ["<sip:alice@client.invalid>"], expires: 300 }),
      s.sipAddress.port,
    );
    const port = peer.address.split(":")[1];
    expect(getHeader(r, "Via")).toBe(`SIP/2.0/UDP client.invalid;branch=z9hG4bK-rport;rport=${port};received=127.0.0.1`);
  });
});
