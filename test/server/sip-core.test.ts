/**
 * What the server answers besides REGISTER, and how it treats bad input, over real sockets.
 */
import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { UserError } from "../../src/errors.js";
import { getHeader, getHeaderValues } from "../../src/protocol/sip/headers.js";
import { createCpmServer } from "../../src/server/index.js";
import { request, serverFixtures, TcpPeer } from "./peers.js";

const { server, udpPeer, tcpPeer, defer } = serverFixtures();

describe("methods", () => {
  it("OPTIONS → 200 with Allow, Accept and Supported", async () => {
    const s = await server();
    const peer = await udpPeer();
    const r = await peer.exchange(request({ method: "OPTIONS" }), s.sipAddress.port);
    expect(r.status).toBe(200);
    expect(getHeaderValues(r, "Allow").sort()).toEqual(["ACK", "BYE", "CANCEL", "INVITE", "OPTIONS", "REGISTER"]);
    expect(getHeader(r, "Accept")).toBe("application/sdp");
    expect(getHeader(r, "Supported")).toBe("path, timer");
  });

  it("INVITE to a user who never registered → 404 Not Found; its ACK is absorbed", async () => {
    const s = await server();
    const peer = await udpPeer();
    const invite = request({ method: "INVITE", uri: "sip:bob@cpm.test", branch: "z9hG4bK-inv-1" });
    const r = await peer.exchange(invite, s.sipAddress.port);
    expect([r.status, r.reason]).toEqual([404, "Not Found"]);
    peer.send(invite.replace("INVITE sip:bob@cpm.test", "ACK sip:bob@cpm.test").replace("1 INVITE", "1 ACK"), s.sipAddress.port);
    // The next answer is for the OPTIONS, so the ACK got none.
    const next = await peer.exchange(request({ method: "OPTIONS" }), s.sipAddress.port);
    expect(getHeader(next, "CSeq")).toBe("1 OPTIONS");
  });

  it("MESSAGE, SUBSCRIBE → 405; an unknown method → 501 Not Implemented", async () => {
    const s = await server();
    const peer = await udpPeer();
    for (const method of ["MESSAGE", "SUBSCRIBE"]) {
      expect((await peer.exchange(request({ method }), s.sipAddress.port)).status).toBe(405);
    }
    const r = await peer.exchange(request({ method: "FROBNICATE" }), s.sipAddress.port);
    expect([r.status, r.reason]).toEqual([501, "Not Implemented"]);
    expect(getHeader(r, "Allow")).toBeDefined();
  });

  it("BYE outside any dialog → 481; CANCEL without its INVITE → 481", async () => {
    const s = await server();
    const peer = await udpPeer();
    expect((await peer.exchange(request({ method: "BYE" }), s.sipAddress.port)).status).toBe(481);
    expect((await peer.exchange(request({ method: "CANCEL" }), s.sipAddress.port)).status).toBe(481);
  });

  it("a request inside an unknown dialog (To-tag) → 481; a REGISTER with a To-tag is still served", async () => {
    const s = await server();
    const peer = await udpPeer();
    const inDialog = (method: string) => request({ method }).replace(/^To: (.*)$/m, "To: $1;tag=remote-1");
    expect((await peer.exchange(inDialog("OPTIONS"), s.sipAddress.port)).status).toBe(481);
    expect((await peer.exchange(inDialog("BYE"), s.sipAddress.port)).status).toBe(481);
    expect((await peer.exchange(inDialog("REGISTER"), s.sipAddress.port)).status).toBe(200);
  });

  it("CANCEL of an INVITE still waiting for its answer → 200 for the CANCEL and 487 for the INVITE", async () => {
    const s = await server({ delay: { kind: "fixed", ms: 300 } });
    const peer = await udpPeer();
    const invite = request({ method: "INVITE", uri: "sip:bob@cpm.test", branch: "z9hG4bK-inv-cancel", callId: "inv-c" });
    peer.send(invite, s.sipAddress.port);
    const cancel = request({ method: "CANCEL", uri: "sip:bob@cpm.test", branch: "z9hG4bK-inv-cancel", callId: "inv-c" });
    peer.send(cancel, s.sipAddress.port);
    const answers = [await peer.inbox.next(), await peer.inbox.next()];
    expect(answers.map((a) => `${a.status} ${getHeader(a, "CSeq")}`).sort()).toEqual(["200 1 CANCEL", "487 1 INVITE"]);
    expect(s.stats().responses["405"]).toBeUndefined();
  });

  it("Max-Forwards: 0 → 483 Too Many Hops (OPTIONS is still answered)", async () => {
    const s = await server();
    const peer = await udpPeer();
    const r = await peer.exchange(request({ maxForwards: 0 }), s.sipAddress.port);
    expect([r.status, r.reason]).toEqual([483, "Too Many Hops"]);
    expect((await peer.exchange(request({ method: "OPTIONS", maxForwards: 0 }), s.sipAddress.port)).status).toBe(200);
  });

  it("Require of an unsupported extension → 420 Bad Extension listing it in Unsupported", async () => {
    const s = await server();
    const peer = await udpPeer();
    const r = await peer.exchange(request({ headers: ["Require: path, foo", "Require: bar"] }), s.sipAddress.port);
    expect([r.status, r.reason, getHeader(r, "Unsupported")]).toEqual([420, "Bad Extension", "foo, bar"]);
    expect((await peer.exchange(request({ headers: ["Require: path"] }), s.sipAddress.port)).status).toBe(200);
  });
});

describe("bad input", () => {
  it("a malformed request with a Via → 400 Bad Request (UDP), and the server keeps serving", async () => {
    const s = await server();
    const peer = await udpPeer();
    peer.send(request({ branch: "z9hG4bK-bad-cseq" }).replace(/CSeq: 1 REGISTER/, "CSeq: one REGISTER"), s.sipAddress.port);
    // The 400 copies what it could recover, the bad CSeq included, so it is read as text.
    const text = (await peer.inbox.nextRaw()).toString();
    expect(text).toMatch(/^SIP\/2\.0 400 Bad Request\r\n/);
    expect(text).toContain("Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK-bad-cseq\r\n");
    expect(text).toMatch(/\r\nWarning: 399 cpm-serv "[^"]*CSeq[^"]*"\r\n/);
    expect((await peer.exchange(request(), s.sipAddress.port)).status).toBe(200);
    expect(s.stats().parseErrors).toBe(1);
  });

  it("a malformed request without a Via gets no answer; garbage datagrams are counted", async () => {
    const s = await server();
    const peer = await udpPeer();
    peer.send(request().replace(/^Via: .*\r\n/m, ""), s.sipAddress.port);
    peer.send(Buffer.from([0, 1, 2, 255, 254, 13, 10, 13, 10]), s.sipAddress.port);
    expect((await peer.exchange(request({ method: "OPTIONS" }), s.sipAddress.port)).status).toBe(200);
    expect(peer.raw).toHaveLength(1);
    expect(s.stats().parseErrors).toBe(2);
  });

  it("a malformed but framed request on TCP → 400 on the same connection, which stays open", async () => {
    const s = await server();
    const peer = await tcpPeer(s.sipAddress.port);
    await peer.write(request({ transport: "TCP" }).replace(/^From: .*\r\n/m, ""));
    expect((await peer.inbox.nextRaw()).toString()).toMatch(/^SIP\/2\.0 400 Bad Request\r\n/);
    expect((await peer.exchange(request({ transport: "TCP" }))).status).toBe(200);
  });

  it("garbage on TCP closes that connection only; another connection keeps working", async () => {
    const s = await server();
    const good = await tcpPeer(s.sipAddress.port);
    const bad = await tcpPeer(s.sipAddress.port);
    expect((await good.exchange(request({ transport: "TCP", user: "good" }))).status).toBe(200);
    await bad.write("this is not SIP at all\r\n\r\n");
    await bad.closed;
    expect((await good.exchange(request({ transport: "TCP", user: "good", cseq: 2, callId: "x" }))).status).toBe(200);
    expect(s.stats()).toMatchObject({ tcpConnections: 1, tcpConnectionsAccepted: 2 });
    expect(s.stats().parseErrors).toBeGreaterThanOrEqual(1);
  });

  it("a request split into single bytes over TCP is framed and answered", async () => {
    const s = await server();
    const peer = await tcpPeer(s.sipAddress.port);
    const bytes = Buffer.from(request({ transport: "TCP" }));
    for (let i = 0; i < bytes.length; i++) await peer.write(bytes.subarray(i, i + 1));
    expect((await peer.inbox.next()).status).toBe(200);
  });

  it("two requests in one TCP write are both answered, in order", async () => {
    const s = await server();
    const peer = await tcpPeer(s.sipAddress.port);
    await peer.write(request({ transport: "TCP", user: "a" }) + request({ transport: "TCP", user: "b", method: "OPTIONS" }));
    const first = await peer.inbox.next();
    const second = await peer.inbox.next();
    expect([first.status, getHeader(first, "CSeq"), second.status, getHeader(second, "CSeq")]).toEqual([200, "1 REGISTER", 200, "1 OPTIONS"]);
  });

  it("a CRLF CRLF keep-alive ping on TCP is answered with a CRLF pong", async () => {
    const s = await server();
    const peer = await tcpPeer(s.sipAddress.port);
    const pong = new Promise<string>((resolve) => peer.socket.once("data", (d) => resolve(d.toString())));
    await peer.write("\r\n\r\n");
    expect(await pong).toBe("\r\n");
  });
});

describe("lifecycle", () => {
  it("a fixed injected delay of 50 ms holds each final response at least that long", async () => {
    const s = await server({ delay: { kind: "fixed", ms: 50 } });
    const peer = await udpPeer();
    const started = performance.now();
    const r = await peer.exchange(request(), s.sipAddress.port);
    expect(r.status).toBe(200);
    // Node timers may fire up to 1 ms early (rounding of the timer clock).
    expect(performance.now() - started).toBeGreaterThanOrEqual(48);
  });

  it("a retransmission is answered from the cache without the injected delay", async () => {
    const s = await server({ delay: { kind: "fixed", ms: 200 } });
    const peer = await udpPeer();
    const text = request({ branch: "z9hG4bK-delay-retrans" });
    await peer.exchange(text, s.sipAddress.port);
    peer.send(text, s.sipAddress.port);
    // The cached answer must win against a fresh request sent at the same time (which waits 200 ms).
    peer.send(request({ method: "OPTIONS" }), s.sipAddress.port);
    const next = await peer.inbox.next();
    expect(getHeader(next, "CSeq")).toBe("1 REGISTER");
    await peer.inbox.next();
    expect(s.stats()).toMatchObject({ retransmissions: 1, requests: { REGISTER: 1, OPTIONS: 1 } });
  });

  it("TCP and UDP listen on the same ephemeral port", async () => {
    const s = await server();
    expect(s.sipAddress).toMatchObject({ host: "127.0.0.1", transports: ["tcp", "udp"] });
    expect(s.sipAddress.port).toBeGreaterThan(0);
    const udp = await udpPeer();
    const tcp = await tcpPeer(s.sipAddress.port);
    expect((await udp.exchange(request({ method: "OPTIONS" }), s.sipAddress.port)).status).toBe(200);
    expect((await tcp.exchange(request({ method: "OPTIONS", transport: "TCP" }))).status).toBe(200);
  });

  it("a port in use is a UserError naming the port and the fix", async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    defer(() => new Promise((resolve) => blocker.close(() => resolve())));
    const port = (blocker.address() as { port: number }).port;
    const err = await createCpmServer({ port }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toBe(`Port ${port} on 127.0.0.1 is already in use: stop the other process or choose another port with --port.`);
  });

  it("a UDP-only port clash is reported the same way and leaves no TCP listener behind", async () => {
    const s = await server();
    const err = await createCpmServer({ port: s.sipAddress.port, transports: ["udp"] }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/^Port \d+ on 127\.0\.0\.1 is already in use/);
  });

  it("close() closes connections and is safe twice", async () => {
    const s = await createCpmServer({ port: 0 });
    const peer = await TcpPeer.open(s.sipAddress.port);
    expect((await peer.exchange(request({ transport: "TCP" }))).status).toBe(200);
    await s.close();
    await peer.closed;
    await s.close();
    const err = await TcpPeer.open(s.sipAddress.port).catch((e: unknown) => e);
    expect((err as NodeJS.ErrnoException).code).toBe("ECONNREFUSED");
  });
});
