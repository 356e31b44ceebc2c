import { afterEach, describe, expect, it } from "vitest";
import {
  bridgeMsrpSessions,
  createBindSend,
  getMsrpHeader,
  type MsrpBridgeOptions,
  type MsrpEndpoint,
  type MsrpEndpointOptions,
  type MsrpSession,
  type MsrpSessionOptions,
} from "../../../src/protocol/msrp/index.js";
import { limitRelayReadBytes, relayReadBufferCounts } from "../../../src/protocol/msrp/socket-reads.js";
import { collectMessages, EndpointSet, nextMessage, randomBytes, RawPeer } from "./support/msrp-peers.js";

const endpoints = new EndpointSet();
afterEach(() => endpoints.closeAll());

/**
 * The PF's shape: the sender connects (active) to the relay's passive leg A; the relay's leg B
 * connects (active) to the receiver's passive session; the bridge relays between A and B.
 */
async function relayChain(
  opts: { bridge?: MsrpBridgeOptions; receiver?: Partial<MsrpSessionOptions>; relay?: MsrpEndpointOptions; everyEndpoint?: MsrpEndpointOptions } = {},
): Promise<{ sender: MsrpSession; receiver: MsrpSession; legA: MsrpSession; legB: MsrpSession; relay: MsrpEndpoint; bridge: ReturnType<typeof bridgeMsrpSessions> }> {
  const senderEp = await endpoints.create(opts.everyEndpoint);
  const relay = await endpoints.create({ ...opts.everyEndpoint, ...opts.relay });
  const receiverEp = await endpoints.create(opts.everyEndpoint);
  const receiver = receiverEp.createSession({ ...opts.receiver, setup: "passive" });
  const legA = relay.createSession({ setup: "passive" });
  const legB = relay.createSession({ setup: "active" });
  const sender = senderEp.createSession({ setup: "active" });
  const bridge = bridgeMsrpSessions(legA, legB, opts.bridge);
  legA.setRemotePath(sender.localPath);
  receiver.setRemotePath(legB.localPath);
  await Promise.all([legB.connect(receiver.localPath), receiver.connect()]);
  await Promise.all([sender.connect(legA.localPath), legA.connect()]);
  return { sender, receiver, legA, legB, relay, bridge };
}

describe("MSRP relay between two sessions (chunk by chunk)", () => {
  it("relays a 5 MB message from passive leg A to active leg B byte-identical, and replies back", async () => {
    const { sender, receiver, bridge } = await relayChain();
    const body = randomBytes(5 * 1024 * 1024, 11);
    const got = nextMessage(receiver);
    const r = await sender.send(body, { contentType: "application/octet-stream", chunkSize: 64 * 1024, messageId: "big-1" });
    expect(r).toMatchObject({ ok: true, chunks: 80 });
    const m = await got;
    expect(m.messageId).toBe("big-1");
    expect(m.chunks).toBe(80);
    expect(m.body.equals(body)).toBe(true);
    expect(bridge.aToB).toMatchObject({ chunks: 80, bytes: body.length, failedChunks: 0 });

    const back = nextMessage(sender);
    expect((await receiver.send("thanks", { contentType: "text/plain" })).ok).toBe(true);
    expect((await back).body.toString()).toBe("thanks");
    expect(bridge.bToA.chunks).toBe(1);
  });

  it("relays a 50 MB message in 64 KB chunks without reassembling it in the relay", async () => {
    // A 16 KiB send buffer at the relay: every chunk passed on congests the far connection.
    const { sender, receiver, bridge, legA } = await relayChain({ relay: { sendBufferBytes: 16 * 1024 } });
    const body = randomBytes(50 * 1024 * 1024, 13);
    const got = nextMessage(receiver);
    const relayed = collectMessages(legA);
    const r = await sender.send(body, { contentType: "application/octet-stream", chunkSize: 64 * 1024 });
    expect(r).toMatchObject({ ok: true, chunks: 800, bytes: body.length });
    expect((await got).body.equals(body)).toBe(true);
    expect(bridge.aToB.chunks).toBe(800);
    expect(relayed).toHaveLength(0); // the relay leg never assembled a message
    // Each 64 KB chunk outgrows the far socket's high-water mark: reading the near leg paused.
    expect(bridge.aToB.pauses).toBeGreaterThan(0);
    expect(legA.connection?.socket.isPaused()).toBe(false);
  });

  it("relays byte-identical with Node's default socket reads too (reuseReadBuffer: false), the far leg congested", async () => {
    const { sender, receiver, bridge, legA } = await relayChain({ everyEndpoint: { reuseReadBuffer: false }, relay: { sendBufferBytes: 16 * 1024 } });
    const body = randomBytes(8 * 1024 * 1024, 17);
    const got = nextMessage(receiver);
    const r = await sender.send(body, { contentType: "application/octet-stream", chunkSize: 64 * 1024 });
    expect(r).toMatchObject({ ok: true, chunks: 128 });
    expect((await got).body.equals(body)).toBe(true);
    expect(bridge.aToB).toMatchObject({ chunks: 128, bytes: body.length, failedChunks: 0 });
    expect(bridge.aToB.pauses).toBeGreaterThan(0);
    for (const conn of [legA.connection!, receiver.connection!]) expect(conn.borrowedReads).toBe(0);
  });

  it("every connection reads into the reused buffer by default: the relay's accepted one, its outgoing one, and the receiver's", async () => {
    const { sender, receiver, legA, legB } = await relayChain();
    const body = randomBytes(4 * 1024 * 1024, 23);
    const got = nextMessage(receiver);
    expect((await sender.send(body, { contentType: "application/octet-stream", chunkSize: 64 * 1024 })).ok).toBe(true);
    expect((await got).body.equals(body)).toBe(true);
    // legA's connection was accepted by the relay (re-made with onread); legB's and the sender's are outgoing.
    expect(legA.connection!.direction).toBe("inbound");
    for (const conn of [legA.connection!, legB.connection!, receiver.connection!, sender.connection!]) {
      expect(conn.borrowedReads).toBeGreaterThan(0);
    }
  });

  for (const relayBuffers of [true, false]) {
    it(`relays byte-identical while the receiver does not read for a while: what the far socket holds is ${relayBuffers ? "in relay read buffers the writes hold" : "a copy (relay read buffers capped at 0)"}, never a buffer read into again`, async () => {
      const previous = relayBuffers ? undefined : limitRelayReadBytes(0);
      // Buffers lent before this test (other tests of this worker) may come back meanwhile, never more go out.
      const inUseBefore = relayReadBufferCounts().inUse;
      try {
        // A far connection that takes 4 MiB before it counts as congested: several reads are relayed
        // (and held) before the relay stops reading its sender.
        const { sender, receiver, bridge } = await relayChain({ relay: { sendBufferBytes: 4 * 1024 * 1024 } });
        const receiving = receiver.connection!;
        receiving.holdReading();
        const body = randomBytes(12 * 1024 * 1024, 19);
        const got = nextMessage(receiver);
        const sending = sender.send(body, { contentType: "application/octet-stream", chunkSize: 256 * 1024 });
        // Meanwhile the relay keeps reading the sender until the far leg congests.
        await new Promise((r) => setTimeout(r, 200));
        expect(bridge.aToB.pauses).toBeGreaterThan(0);
        if (relayBuffers) expect(relayReadBufferCounts().inUse).toBeGreaterThan(0);
        else expect(relayReadBufferCounts().inUse).toBeLessThanOrEqual(inUseBefore);
        receiving.releaseReading();
        expect(await sending).toMatchObject({ ok: true, chunks: 48 });
        expect((await got).body.equals(body)).toBe(true);
      } finally {
        if (previous !== undefined) limitRelayReadBytes(previous);
      }
    });
  }

  it("keeps interleaved messages apart", async () => {
    const { sender, receiver } = await relayChain();
    const got = collectMessages(receiver);
    const bodies = Array.from({ length: 6 }, (_, i) => randomBytes(100_000 + i * 1000, 20 + i));
    const results = await Promise.all(bodies.map((b, i) => sender.send(b, { contentType: "application/octet-stream", chunkSize: 8192, messageId: `il-${i}` })));
    expect(results.every((r) => r.ok)).toBe(true);
    await waitFor(() => got.length === 6);
    for (let i = 0; i < 6; i++) expect(got.find((m) => m.messageId === `il-${i}`)!.body.equals(bodies[i]!)).toBe(true);
  });

  it("passes the receiver's success REPORT back to the sender", async () => {
    const { sender, bridge } = await relayChain();
    const r = await sender.send(randomBytes(300_000), { contentType: "application/octet-stream", chunkSize: 64 * 1024, successReport: true });
    expect(r).toMatchObject({ ok: true, reportStatus: 200 });
    expect(bridge.bToA.reports).toBe(0);
    expect(bridge.aToB.reports).toBe(1);
  });

  it("with per-leg reports the relay strips Success-Report and confirms the message itself", async () => {
    const { sender, receiver, bridge } = await relayChain({ bridge: { passReports: false } });
    const receiverReports: unknown[] = [];
    receiver.on("report", (rep) => receiverReports.push(rep));
    const got = nextMessage(receiver);
    const r = await sender.send(randomBytes(200_000), { contentType: "application/octet-stream", chunkSize: 64 * 1024, successReport: true });
    expect(r).toMatchObject({ ok: true, reportStatus: 200 });
    const m = await got;
    expect(m.headers.some(([n]) => n === "Success-Report")).toBe(false);
    expect(bridge.aToB.reports).toBe(0);
  });

  it("hop-by-hop: the receiver's 413 reaches the sender as a failure REPORT and stops it", async () => {
    const { sender, bridge } = await relayChain({ receiver: { maxMessageBytes: 512 * 1024 } });
    // The relay answers 200 at once, so the sender learns of the 413 a round trip late; with 640
    // chunks to send, it still stops long before the end.
    const r = await sender.send(Buffer.alloc(40 * 1024 * 1024, 1), { contentType: "application/octet-stream", chunkSize: 64 * 1024 });
    expect(r).toMatchObject({ ok: false, status: 413 });
    expect(r.chunks).toBeLessThan(640);
    expect(bridge.aToB.failedChunks).toBeGreaterThan(0);
  });

  it("Failure-Report partial through the relay: no 200s, and the receiver's 413 still reaches the sender as a failure REPORT and stops it", async () => {
    const { sender, bridge } = await relayChain({ receiver: { maxMessageBytes: 512 * 1024 } });
    const r = await sender.send(Buffer.alloc(40 * 1024 * 1024, 1), {
      contentType: "application/octet-stream",
      chunkSize: 64 * 1024,
      failureReport: "partial",
    });
    expect(r).toMatchObject({ ok: false, status: 413 });
    expect(r.chunks).toBeLessThan(640);
    expect(bridge.aToB.failedChunks).toBeGreaterThan(0);
    // Nothing was answered 200 on the way: no chunk latency was measured.
    expect(r.chunkLatencyUs).toHaveLength(0);
  });

  it("Failure-Report partial through the relay: a message the receiver takes is confirmed by its success REPORT alone", async () => {
    const { sender, receiver } = await relayChain();
    const body = randomBytes(3 * 1024 * 1024, 31);
    const got = nextMessage(receiver);
    const r = await sender.send(body, { contentType: "application/octet-stream", chunkSize: 64 * 1024, failureReport: "partial", successReport: true });
    expect(r).toMatchObject({ ok: true, status: 200, chunks: 48, reportStatus: 200 });
    expect(r.chunkLatencyUs).toHaveLength(0);
    expect((await got).body.equals(body)).toBe(true);
  });

  it("end-to-end: each chunk is answered with the far leg's status", async () => {
    const { sender } = await relayChain({ bridge: { responses: "end-to-end" }, receiver: { acceptTypes: ["text/plain"] } });
    expect((await sender.send("fine", { contentType: "text/plain" })).ok).toBe(true);
    const r = await sender.send("nope", { contentType: "image/gif" });
    expect(r).toMatchObject({ ok: false, status: 415 });
    expect(r.error?.code).toBe("msrp-status");
  });

  it("end-to-end: a far leg that is gone answers 481 upstream", async () => {
    const { sender, legB } = await relayChain({ bridge: { responses: "end-to-end" } });
    await legB.close();
    const r = await sender.send("into the void", { contentType: "text/plain" });
    expect(r).toMatchObject({ ok: false, status: 481 });
  });

  it("waits for the far leg to be bound before forwarding", async () => {
    const senderEp = await endpoints.create();
    const relay = await endpoints.create();
    const receiverEp = await endpoints.create();
    const legA = relay.createSession({ setup: "passive" });
    const legB = relay.createSession({ setup: "passive" }); // the callee connects to the relay later
    bridgeMsrpSessions(legA, legB);
    const sender = senderEp.createSession({ setup: "active" });
    await sender.connect(legA.localPath);
    const sending = sender.send("early bird", { contentType: "text/plain" });
    const callee = receiverEp.createSession({ setup: "active" });
    const got = nextMessage(callee);
    await callee.connect(legB.localPath);
    expect((await sending).ok).toBe(true);
    expect((await got).body.toString()).toBe("early bird");
  });

  it("close() detaches the bridge: the legs reassemble on their own again", async () => {
    const { sender, legA, bridge } = await relayChain();
    bridge.close();
    bridge.close();
    const got = nextMessage(legA);
    expect((await sender.send("to the relay itself", { contentType: "text/plain" })).ok).toBe(true);
    expect((await got).body.toString()).toBe("to the relay itself");
  });
});

const RAW_FROM = "msrp://127.0.0.1:9/rawsender1;tcp";

/**
 * A hand-driven sender bound to the relay's leg A (so it can stop mid-chunk or vanish), the relay
 * leg B connected to a passive receiver on `receiverEp` (shared between chains: their leg Bs then
 * share one connection), and the bridge.
 */
async function rawChain(relay: MsrpEndpoint, receiverEp: MsrpEndpoint, n: number) {
  const receiver = receiverEp.createSession({ setup: "passive", maxMessageBytes: 16 * 1024 * 1024 });
  const from = RAW_FROM.replace("rawsender1", `rawsender${n}`);
  const legA = relay.createSession({ setup: "passive", remotePath: [from] });
  const legB = relay.createSession({ setup: "active" });
  const bridge = bridgeMsrpSessions(legA, legB);
  receiver.setRemotePath(legB.localPath);
  await Promise.all([legB.connect(receiver.localPath), receiver.connect()]);
  const raw = await RawPeer.connect(relay.address.port);
  endpoints.onClose(() => raw.destroy());
  raw.send(createBindSend({ toPath: legA.localPath, fromPath: from, messageId: `bind${n}`, tid: `bindtid${n}x` }));
  await raw.waitFrames(1);
  /** The wire of one SEND chunk of `body` from this sender. */
  const chunk = (tid: string, body: Buffer, messageId: string, extraHeaders = "") =>
    Buffer.concat([
      Buffer.from(
        `MSRP ${tid} SEND\r\nTo-Path: ${legA.localUri}\r\nFrom-Path: ${from}\r\nMessage-ID: ${messageId}\r\n` +
          `Byte-Range: 1-${body.length}/${body.length}\r\n${extraHeaders}Content-Type: application/octet-stream\r\n\r\n`,
      ),
      body,
      Buffer.from(`\r\n-------${tid}$\r\n`),
    ]);
  return { raw, legA, legB, receiver, bridge, chunk };
}

/** Two raw senders relayed to two receivers of one endpoint: the relay's far legs share one connection. */
async function twoChainsOnOneConnection(a: number, b: number) {
  const relay = await endpoints.create();
  const receiverEp = await endpoints.create();
  const one = await rawChain(relay, receiverEp, a);
  const two = await rawChain(relay, receiverEp, b);
  expect(one.legB.connection).toBe(two.legB.connection);
  return [one, two] as const;
}

/** Sends the first 300 KB of `wire`, closes the far end once the relay passes bytes on, then sends the rest. */
async function farLegGoesAwayMidChunk(raw: RawPeer, legB: MsrpSession, receiverEp: MsrpEndpoint, wire: Buffer): Promise<void> {
  raw.sendRaw(wire.subarray(0, 300_000));
  // Cut-through: most of it went on before its end-line exists.
  await waitFor(() => legB.bytesSent >= 200_000);
  await receiverEp.close();
  await waitFor(() => legB.closed);
  raw.sendRaw(wire.subarray(300_000));
}

/** Frame `index` the raw sender received is a failure REPORT for `messageId` with `status`. */
async function expectFailureReport(raw: RawPeer, index: number, messageId: string, status: number): Promise<void> {
  const frames = await raw.waitFrames(index + 1);
  const report = frames[index]!.ok ? frames[index]!.message : undefined;
  expect(report).toMatchObject({ kind: "request", method: "REPORT" });
  expect(getMsrpHeader(report!, "Message-ID")).toBe(messageId);
  expect(getMsrpHeader(report!, "Status")).toMatch(new RegExp(`^000 ${status}`));
}

describe("MSRP relay cut-through", () => {
  it("passes a chunk on while it is still arriving, and answers the sender once its end-line came", async () => {
    const relay = await endpoints.create();
    const { raw, legB, receiver, bridge, chunk } = await rawChain(relay, await endpoints.create(), 1);
    const body = randomBytes(1_000_000, 21);
    const wire = chunk("cutThrough1", body, "ct-1");
    const got = nextMessage(receiver);
    // The tid the relay's cut-through chunk went out under: not the sender's (too short to be
    // reused, REUSABLE_TID_LENGTH) but a fresh one, the longest RFC 4975 allows, so every hop's
    // end-line scan of this large body skips further (LONG_TID_LENGTH).
    const forwardedTids = recordForwardedTids(receiver);
    raw.sendRaw(wire.subarray(0, 600_000));
    // Most of the first 600 KB went on before the chunk's end-line even exists.
    await waitFor(() => legB.bytesSent >= 500_000);
    expect(raw.frames).toHaveLength(1); // only the binding 200: the chunk is not answered yet
    raw.sendRaw(wire.subarray(600_000));
    const m = await got;
    expect(m.messageId).toBe("ct-1");
    expect(m.body.equals(body)).toBe(true);
    const [, ok] = await raw.waitFrames(2);
    expect(ok!.ok && ok!.message).toMatchObject({ kind: "response", tid: "cutThrough1", status: 200 });
    expect(bridge.aToB).toMatchObject({ chunks: 1, bytes: body.length, failedChunks: 0 });
    expect(forwardedTids).toHaveLength(1);
    expect(forwardedTids[0]).toHaveLength(32);
  });

  it("passes a chunk on under the sender's own tid when that is a long random one, in one piece, look-alikes and all", async () => {
    const relay = await endpoints.create();
    const { raw, receiver, bridge, chunk } = await rawChain(relay, await endpoints.create(), 8);
    const tid = "keepTid0123456789AB";
    // `CRLF -------<tid>` without a flag after it is no end-line: a sender may send it, the relay's
    // framer reads past it, and the forwarded chunk (same tid, not scanned again) must carry it whole.
    const body = Buffer.concat([randomBytes(400_000, 28), Buffer.from(`\r\n-------${tid}X`), randomBytes(400_000, 29)]);
    const forwardedTids = recordForwardedTids(receiver);
    const got = nextMessage(receiver);
    raw.sendRaw(chunk(tid, body, "ct-8"));
    const m = await got;
    expect(m.body.equals(body)).toBe(true);
    expect(m.chunks).toBe(1);
    expect(forwardedTids).toEqual([tid]);
    const [, ok] = await raw.waitFrames(2);
    expect(ok!.ok && ok!.message).toMatchObject({ kind: "response", tid, status: 200 });
    expect(bridge.aToB).toMatchObject({ chunks: 1, bytes: body.length, failedChunks: 0 });
  });

  it("does not pass on a long tid that is not all alphanumerics (a strict receiver on the far leg would refuse it)", async () => {
    const relay = await endpoints.create();
    const { raw, receiver, chunk } = await rawChain(relay, await endpoints.create(), 11);
    const tid = "-lenientTid012345";
    const forwardedTids = recordForwardedTids(receiver);
    const got = nextMessage(receiver);
    const body = randomBytes(300_000, 32);
    raw.sendRaw(chunk(tid, body, "ct-11"));
    expect((await got).body.equals(body)).toBe(true);
    expect(forwardedTids).toHaveLength(1);
    expect(forwardedTids[0]).toMatch(/^[A-Za-z0-9]{32}$/);
  });

  it("does not reuse a sender's tid that a chunk still waiting for its answer on the far connection has", async () => {
    const [one, two] = await twoChainsOnOneConnection(9, 10);
    const tid = "sameTid0123456789XY";
    // The first receiver never answers: the relay's chunk under `tid` stays pending on the connection.
    const unanswered: string[] = [];
    one.receiver.setChunkHandler((c) => unanswered.push(c.request.tid));
    const forwardedTids = recordForwardedTids(two.receiver);
    one.raw.sendRaw(one.chunk(tid, randomBytes(300_000, 30), "ct-9"));
    await waitFor(() => unanswered.length === 1);
    expect(unanswered).toEqual([tid]);
    const got = nextMessage(two.receiver);
    const body = randomBytes(300_000, 31);
    two.raw.sendRaw(two.chunk(tid, body, "ct-10"));
    expect((await got).body.equals(body)).toBe(true);
    expect(forwardedTids).toHaveLength(1);
    expect(forwardedTids[0]).not.toBe(tid);
    expect(forwardedTids[0]).toHaveLength(32);
  });

  it("a sender that vanishes mid-chunk: the forwarded chunk ends aborted (#) and the far connection carries on", async () => {
    const relay = await endpoints.create();
    const { raw, legA, legB, receiver, chunk } = await rawChain(relay, await endpoints.create(), 2);
    const wire = chunk("cutThrough2", randomBytes(500_000, 22), "ct-2");
    const messages = collectMessages(receiver);
    raw.sendRaw(wire.subarray(0, 300_000));
    await waitFor(() => legB.bytesSent >= 200_000);
    raw.destroy();
    await waitFor(() => legA.closed);
    // The receiver dropped the aborted message; the next one on the same connection frames fine.
    const got = nextMessage(receiver);
    expect((await legB.send("after the abort", { contentType: "text/plain" })).ok).toBe(true);
    expect((await got).body.toString()).toBe("after the abort");
    expect(messages.map((m) => m.messageId)).toHaveLength(1);
    expect(legB.connection?.streaming).toBe(false);
  });

  it("a far leg that goes away mid-chunk: the sender still gets its 200, then a failure REPORT (481)", async () => {
    const relay = await endpoints.create();
    const receiverEp = await endpoints.create();
    const { raw, legB, bridge, chunk } = await rawChain(relay, receiverEp, 5);
    await farLegGoesAwayMidChunk(raw, legB, receiverEp, chunk("cutThrough5", randomBytes(500_000, 25), "ct-5"));
    await expectFailureReport(raw, 2, "ct-5", 481);
    const ok = raw.frames[1]!;
    expect(ok.ok && ok.message).toMatchObject({ kind: "response", tid: "cutThrough5", status: 200 });
    expect(bridge.aToB.failedChunks).toBe(1);
  });

  it("Failure-Report partial: passed on cut-through, the sender gets no 200, and a far leg that goes away mid-chunk reaches it as a failure REPORT (481)", async () => {
    const relay = await endpoints.create();
    const receiverEp = await endpoints.create();
    const { raw, legB, bridge, chunk } = await rawChain(relay, receiverEp, 6);
    await farLegGoesAwayMidChunk(raw, legB, receiverEp, chunk("partial6", randomBytes(500_000, 26), "ct-6", "Failure-Report: partial\r\n"));
    await expectFailureReport(raw, 1, "ct-6", 481);
    // Only the binding 200 and the REPORT: no response to the partial chunk itself.
    await new Promise((r) => setTimeout(r, 50));
    expect(raw.frames).toHaveLength(2);
    expect(bridge.aToB.failedChunks).toBe(1);
  });

  it("Failure-Report partial, cut-through: the receiver's error response to the chunk comes back to the sender as a failure REPORT", async () => {
    const relay = await endpoints.create();
    const receiverEp = await endpoints.create();
    const { raw, receiver, bridge, chunk } = await rawChain(relay, receiverEp, 7);
    // The receiver refuses the message (415): with partial, an error is the only answer it gives.
    receiver.setChunkHandler((c) => c.respond(415));
    const wire = chunk("partial7", randomBytes(400_000, 27), "ct-7", "Failure-Report: partial\r\n");
    raw.sendRaw(wire.subarray(0, 200_000));
    raw.sendRaw(wire.subarray(200_000));
    await expectFailureReport(raw, 1, "ct-7", 415);
    expect(bridge.aToB.failedChunks).toBe(1);
  });

  it("while one chunk streams on a connection, others relayed onto it go out around it: the open chunk is interrupted and continues", async () => {
    const [one, two] = await twoChainsOnOneConnection(3, 4);
    const bodyOne = randomBytes(800_000, 23);
    const bodyTwo = randomBytes(300_000, 24);
    const wireOne = one.chunk("cutThrough3", bodyOne, "ct-3");
    const wireTwo = two.chunk("cutThrough4", bodyTwo, "ct-4");
    const gotOne = nextMessage(one.receiver);
    const gotTwo = nextMessage(two.receiver);

    one.raw.sendRaw(wireOne.subarray(0, 400_000));
    await waitFor(() => one.legB.bytesSent >= 300_000);
    // Chunk two arrives in two reads, but the shared connection carries chunk one: it is collected
    // and goes out whole at the end of the turn, in between two pieces of chunk one.
    two.raw.sendRaw(wireTwo.subarray(0, 100_000));
    two.raw.sendRaw(wireTwo.subarray(100_000));
    const m2 = await gotTwo;
    expect(m2.body.equals(bodyTwo)).toBe(true);
    expect(m2.chunks).toBe(1);
    expect(one.legB.connection?.streaming).toBe(true);

    one.raw.sendRaw(wireOne.subarray(400_000));
    const m1 = await gotOne;
    expect(m1.body.equals(bodyOne)).toBe(true);
    expect(m1.chunks).toBeGreaterThanOrEqual(2);
    expect(one.legB.connection?.streaming).toBe(false);
    expect(one.bridge.aToB).toMatchObject({ chunks: 1, bytes: bodyOne.length, failedChunks: 0 });
    // The sender's chunk was answered once, whatever the pieces it became.
    await one.raw.waitFrames(2);
    expect(one.raw.frames.map((f) => f.ok && f.message.kind === "response" && f.message.status)).toEqual([200, 200]);
  });
});

/** The tids of the chunk heads `receiver` gets, in order. */
function recordForwardedTids(receiver: MsrpSession): string[] {
  const tids: string[] = [];
  const onHead = receiver.handleRequestHead.bind(receiver);
  receiver.handleRequestHead = (head, conn) => {
    tids.push(head.tid);
    return onHead(head, conn);
  };
  return tids;
}

async function waitFor(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(cond()).toBe(true);
}
