/**
 * The server never crashes on input and never hits an internal error on it: hundreds of mutated
 * requests (any header value replaced by arbitrary text, odd methods and URIs) over real UDP and
 * TCP, after which it still answers, with handlerErrors at 0 (a handler exception would mean a
 * code path that trusts its input).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { getHeader } from "../../src/protocol/sip/headers.js";
import type { CpmServer } from "../../src/server/index.js";
import { request, serverFixtures, TcpPeer, type UdpPeer } from "./peers.js";

const { server, udpPeer, tcpPeer } = serverFixtures();

const METHODS = ["REGISTER", "OPTIONS", "INVITE", "ACK", "CANCEL", "BYE", "MESSAGE", "X-ODD"];

/** A well-formed request with one header value (or the request line) replaced by arbitrary text. */
const mutatedRequest = fc
  .record({
    method: fc.constantFrom(...METHODS),
    auth: fc.boolean(),
    line: fc.nat(12),
    value: fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.constantFrom("", "*", "0", "-1", "99999999999999999999", "<>", "<sip:>", "sip:@", ";;;", "\"", "SIP/2.0/UDP", "Digest", "Digest realm=", "z9hG4bK"),
    ),
  })
  .map(({ method, auth, line, value }) => {
    const lines = request({
      method,
      contacts: method === "REGISTER" ? ["<sip:alice@h1>;expires=600;+sip.instance=\"<urn:uuid:1>\";reg-id=1"] : undefined,
      expires: method === "REGISTER" ? 300 : undefined,
      headers: auth ? ['Authorization: Digest username="alice", realm="cpm.test", nonce="1.x", uri="sip:cpm.test", response="00"'] : [],
    }).split("\r\n");
    const headerCount = lines.indexOf("") - 1;
    const index = line % (headerCount + 1);
    const clean = value.replace(/[\r\n]/g, " ");
    if (index === 0) lines[0] = `${method} ${clean} SIP/2.0`;
    else lines[index] = `${lines[index]!.slice(0, lines[index]!.indexOf(":"))}: ${clean}`;
    return lines.join("\r\n");
  });

async function stillServes(s: CpmServer, peer: UdpPeer): Promise<void> {
  peer.send(request({ method: "OPTIONS", callId: "final-check" }), s.sipAddress.port);
  for (;;) {
    const raw = (await peer.inbox.nextRaw()).toString();
    if (raw.includes("Call-ID: final-check")) {
      expect(raw).toMatch(/^SIP\/2\.0 200 OK\r\n/);
      return;
    }
  }
}

describe("robustness", () => {
  for (const withAuth of [false, true]) {
    it(`500 mutated requests over UDP${withAuth ? " with digest auth on" : ""}: no internal error, still serving`, async () => {
      const s = await server({ auth: withAuth ? { realm: "cpm.test", passwordTemplate: "{user}" } : null });
      const peer = await udpPeer();
      for (const text of fc.sample(mutatedRequest, { numRuns: 500, seed: withAuth ? 7 : 42 })) peer.send(text, s.sipAddress.port);
      await stillServes(s, peer);
      expect(s.stats().handlerErrors).toBe(0);
    });
  }

  it("mutated requests over one TCP connection: each framed one is answered or dropped, the connection lives", async () => {
    const s = await server();
    const peer = await tcpPeer(s.sipAddress.port);
    // Content-Length mutations would desynchronise the stream by design (that closes it): keep them out.
    const texts = fc.sample(mutatedRequest, { numRuns: 300, seed: 3 }).filter((t) => /\r\nContent-Length: 0\r\n\r\n$/.test(t));
    await peer.write(texts.join(""));
    await peer.write(request({ method: "OPTIONS", callId: "tcp-final", transport: "TCP" }));
    for (;;) {
      const raw = await peer.inbox.nextRaw();
      if (raw.toString().includes("Call-ID: tcp-final")) break;
    }
    expect(s.stats()).toMatchObject({ handlerErrors: 0, tcpConnections: 1 });
  });

  it("random bytes on TCP close only that connection", async () => {
    const s = await server();
    const bytes = fc.sample(fc.uint8Array({ minLength: 1, maxLength: 400 }), { numRuns: 20, seed: 5 });
    for (const b of bytes) {
      const peer = await TcpPeer.open(s.sipAddress.port);
      await peer.write(Buffer.concat([Buffer.from(b), Buffer.from("\r\n\r\n")])).catch(() => undefined);
      await peer.close();
    }
    const peer = await tcpPeer(s.sipAddress.port);
    const r = await peer.exchange(request({ method: "OPTIONS", transport: "TCP" }));
    expect([r.status, getHeader(r, "Server")]).toEqual([200, "CPM-serv/OMA1.0"]);
    expect(s.stats().handlerErrors).toBe(0);
  });
});
