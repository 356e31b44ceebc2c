import { afterEach, describe, expect, it } from "vitest";
import { Counter } from "../../../src/metrics/names.js";
import type { MetricsSink } from "../../../src/metrics/sink.js";
import {
  createBindSend,
  createMsrpResponse,
  type MsrpRequest,
  MsrpSessionError,
  getMsrpHeader,
  type MsrpSessionCloseInfo,
} from "../../../src/protocol/msrp/index.js";
import { collectMessages, connectedPair, EndpointSet, nextMessage, randomBytes, rawServer } from "./support/msrp-peers.js";

const endpoints = new EndpointSet();
afterEach(() => endpoints.closeAll());

describe("MSRP sessions: set-up and exchange", () => {
  it("Failure-Report partial: the receiver answers only its error, and the sender stops with that status", async () => {
    const server = await endpoints.create();
    const client = await endpoints.create();
    const { active } = await connectedPair(client, server, { passive: { maxMessageBytes: 256 * 1024 } });
    const started = Date.now();
    const r = await active.send(Buffer.alloc(20 * 1024 * 1024, 1), { contentType: "application/octet-stream", chunkSize: 64 * 1024, failureReport: "partial", successReport: true });
    expect(r).toMatchObject({ ok: false, status: 413 });
    expect(r.error?.code).toBe("msrp-status");
    expect(r.chunks).toBeLessThan(320);
    // Long before the success REPORT would have been given up on (30 s by default).
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("a message sent with Failure-Report partial to a peer that stops reading fails with msrp-transaction-timeout instead of hanging", async () => {
    const server = await endpoints.create();
    const client = await endpoints.create();
    const { active, passive } = await connectedPair(client, server, { active: { transactionTimeoutMs: 300 }, passive: { keepBodies: false } });
    passive.holdReading(); // the connection stays open; nothing is read any more
    const started = Date.now();
    const r = await active.send(Buffer.alloc(50_000_000, 1), { contentType: "application/octet-stream", chunkSize: 65_536, failureReport: "partial" });
    expect(r.ok).toBe(false);
    expect(r.error?.code).toBe("msrp-transaction-timeout");
    expect(r.status).toBe(408);
    expect(r.bytes).toBeLessThan(50_000_000);
    expect(Date.now() - started).toBeLessThan(5_000);
    passive.releaseReading();
  });

  it("an active and a passive session exchange text messages both ways", async () => {
    const server = await endpoints.create();
    const client = await endpoints.create();
    const { active, passive } = await connectedPair(client, server);
    expect(active.state).toBe("bound");
    expect(passive.state).toBe("bound");
    expect(passive.localPath[0]).toMatch(new RegExp(`^msrp://127\\.0\\.0\\.1:${server.address.port}/[A-Za-z0-9]{20};tcp$`));

    const got = nextMessage(passive);
    const r1 = await active.send("hello from the active side", { contentType: "text/plain", messageId: "m-1" });
    expect(r1).toMatchObject({ ok: true, status: 200, messageId: "m-1", chunks: 1, bytes: 26 });
    expect(r1.chunkLatencyUs).toHaveLength(1);
    expect(r1.chunkLatencyUs[0]).toBeGreaterThan(0);
    const m1 = await got;
    expect(m1).toMatchObject({ messageId: "m-1", contentType: "text/plain", chunks: 1 });
    expect(m1.body.toString()).toBe("hello from the active side");

    const back = nextMessage(active);
    const r2 = await passive.send(Buffer.from("and back"), { contentType: "text/plain" });
    expect(r2.ok).toBe(true);
    expect((await back).body.toString()).toBe("and back");
    expect(active.messagesSent).toBe(1);
    expect(passive.messagesReceived).toBe(1);
  });

  it("the empty binding SEND is answered but is not a message", async () => {
    const server = await endpoints.create();
    const client = await endpoints.create();
    const messages: unknown[] = [];
    const passive = server.createSession({ setup: "passive" });
    passive.on("message", (m) => messages.push(m));
    const active = client.createSession({ setup: "active" });
    await active.connect(passive.localPath);
    await passive.connect();
    expect(messages).toHaveLength(0);
    // An empty message that does carry a Content-Type is a message (RFC 4975 allows empty bodies).
    const got = nextMessage(passive);
    await active.send(Buffer.alloc(0), { contentType: "text/plain" });
    expect((await got).body.length).toBe(0);
  });

  it("a 5 MB binary message in 64 KB chunks arrives byte-identical", async () => {
    const server = await endpoints.create();
    const client = await endpoints.create();
    const { active, passive } = await connectedPair(client, server);
    const body = randomBytes(5 * 1024 * 1024, 7);
    const got = nextMessage(passive);
    const r = await active.send(body, { contentType: "application/octet-stream", chunkSize: 64 * 1024 });
    expect(r).toMatchObject({ ok: true, chunks: 80, bytes: body.length });
    expect(r.chunkLatencyUs).toHaveLength(80);
    const m = await got;
    expect(m.chunks).toBe(80);
    expect(m.body.equals(body)).toBe(true);
  });

  it("a receiver that discards bodies still learns that the whole message arrived", async () => {
    const server = await endpoints.create();
    const client = await endpoints.create();
    const { active, passive } = await connectedPair(client, server, { passive: { keepBodies: false } });
    const got = nextMessage(passive);
    const r = await active.send(randomBytes(1_000_000), { contentType: "application/octet-stream", chunkSize: 64 * 1024, successReport: true });
    expect(r).toMatchObject({ ok: true, reportStatus: 200 });
    const m = await got;
    expect(m).toMatchObject({ size: 1_000_000, chunks: 16 });
    expect(m.body.length).toBe(0);
  });

  it("a receiver that discards bodies counts later chunks as they arrive; first chunks still come whole", async () => {
    const server = await endpoints.create();
    const client = await endpoints.create();
    const { active, passive } = await connectedPair(client, server, { passive: { keepBodies: false } });
    // Whoever peeks at the start of a message (the client's stamp reader wraps handleRequest).
    const seen: Array<[start: string, bytes: number]> = [];
    const handle = passive.handleRequest.bind(passive);
    passive.handleRequest = (req, conn) => {
      if (req.method === "SEND") seen.push([getMsrpHeader(req, "Byte-Range")!.split("-")[0]!, req.body.length]);
      handle(req, conn);
    };
    const got = nextMessage(passive);
    const body = randomBytes(10_000_000, 5);
    const r = await active.send(body, { contentType: "application/octet-stream", chunkSize: 2_500_000 });
    expect(r).toMatchObject({ ok: true, chunks: 4 });
    expect(await got).toMatchObject({ size: body.length, chunks: 4, body: Buffer.alloc(0) });
    // Chunks of 2.5 MB span several reads (1 MiB at most each): only the first came through as a
    // request with its bytes.
    expect(seen).toEqual([["1", 2_500_000]]);
    expect(passive.bytesReceived).toBe(body.length);
  });

  it("streams a source of unknown size (ranges say * until the last chunk)", async () => {
    const server = await endpoints.create();
    const client = await endpoints.create();
    const { active, passive } = await connectedPair(client, server);
    const body = randomBytes(300_000, 3);
    async function* pieces(): AsyncGenerator<Buffer> {
      for (let i = 0; i < body.length; i += 7000) yield body.subarray(i, i + 7000);
    }
    const got = nextMessage(passive);
    const r = await active.send(pieces(), { contentType: "application/octet-stream", chunkSize: 32 * 1024 });
    expect(r).toMatchObject({ ok: true, bytes: body.length, chunks: Math.ceil(body.length / (32 * 1024)) });
    expect((await got).body.equals(body)).toBe(true);
  });

  it("sends a synchronous source of declared size, paced by the connection, and a broken one fails alone", async () => {
    const server = await endpoints.create();
    const client = await endpoints.create();
    const { active, passive } = await connectedPair(client, server, { passive: { keepBodies: false } });
    // 40 MB in 64 KiB pieces while the receiver does not read: a sender that drained a synchronous
    // source into memory would take all of it at once; a paced one stops at its 1 MiB budget (plus
    // what the kernel's socket buffers hold) until the receiver reads again.
    const piece = randomBytes(64 * 1024, 9);
    const count = 640;
    const total = count * piece.length;
    let yielded = 0;
    function* pieces(): Generator<Buffer> {
      for (let i = 0; i < count; i++) {
        yielded++;
        yield piece;
      }
    }
    passive.holdReading();
    const got = nextMessage(passive);
    const sending = active.send(pieces(), { contentType: "application/octet-stream", chunkSize: 64 * 1024, totalBytes: total, successReport: true });
    let seen = -1;
    while (seen !== yielded) {
      seen = yielded;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(yielded).toBeGreaterThan(0);
    expect(yielded).toBeLessThan(count / 2);
    expect(active.connection!.socket.writableLength).toBeLessThanOrEqual(1024 * 1024 + piece.length * 2);
    passive.releaseReading();
    expect(await sending).toMatchObject({ ok: true, bytes: total, chunks: count, reportStatus: 200 });
    expect(await got).toMatchObject({ size: total, chunks: count });
    function* broken(): Generator<Buffer> {
      yield Buffer.alloc(10);
      throw new Error("pattern on fire");
    }
    const bad = await active.send(broken(), { contentType: "application/octet-stream" });
    expect(bad).toMatchObject({ ok: false, error: { code: "msrp-source-error" } });
    expect(bad.error?.message).toContain("pattern on fire");
    const short = await active.send([Buffer.alloc(5)], { contentType: "application/octet-stream", totalBytes: 9 });
    expect(short).toMatchObject({ ok: false, error: { code: "msrp-source-error" } });
    const next = nextMessage(passive);
    expect((await active.send("still here!", { contentType: "text/plain" })).ok).toBe(true);
    expect(await next).toMatchObject({ size: 11 });
  });

  it("a source that fails gives msrp-source-error, and the session goes on", async () => {
    const server = await endpoints.create();
    const client = await endpoints.create();
    const { active, passive } = await connectedPair(client, server);
    async function* broken(): AsyncGenerator<Buffer> {
      yield Buffer.alloc(10);
      throw new Error("disk on fire");
    }
    const r = await active.send(broken(), { contentType: "application/octet-stream" });
    expect(r.ok).toBe(false);
    expect(r.error?.code).toBe("msrp-source-error");
    expect(r.error?.message).toContain("disk on fire");
    const got = nextMessage(passive);
    expect((await active.send("still here", { contentType: "text/plain" })).ok).toBe(true);
    expect((await got).body.toString()).toBe("still here");
  });

  it("a success REPORT is sent by the receiver and settles the send", async () => {
    const server = await endpoints.create();
    const client = await endpoints.create();
    const { active, passive } = await connectedPair(client, server);
    const reports: number[] = [];
    active.on("report", (rep) => reports.push(rep.status));
    const body = randomBytes(200_000, 5);
    const r = await active.send(body, { contentType: "application/octet-stream", chunkSize: 50_000, successReport: true });
    expect(r).toMatchObject({ ok: true, reportStatus: 200, chunks: 4 });
    expect(r.reportUs).toBeGreaterThanOrEqual(r.answeredUs!);
    expect(reports).toEqual([200]);
    expect(passive.messagesReceived).toBe(1);
  });

  it("415 for a content type the session does not accept", async () => {
    const server = await endpoints.create();
    const client = await endpoints.create();
    const { active } = await connectedPair(client, server, { passive: { acceptTypes: ["message/cpim", "text/*"] } });
    expect((await active.send("x", { contentType: "text/plain; charset=utf-8" })).ok).toBe(true);
    expect((await active.send("x", { contentType: "message/cpim" })).ok).toBe(true);
    const r = await active.send("x", { contentType: "image/png" });
    expect(r).toMatchObject({ ok: false, status: 415 });
    expect(r.error?.code).toBe("msrp-status");
  });

  it("413 from the receiver stops the sender: no further chunks of that message", async () => {
    const server = await endpoints.create();
    const client = await endpoints.create();
    const { active, passive } = await connectedPair(client, server, { passive: { maxMessageBytes: 1024 * 1024 } });
    const r = await active.send(randomBytes(8 * 1024 * 1024), { contentType: "application/octet-stream", chunkSize: 64 * 1024 });
    expect(r).toMatchObject({ ok: false, status: 413 });
    expect(r.error?.code).toBe("msrp-status");
    // The first chunk already declares the total (8 MiB > 1 MiB): refused at once, and the loop
    // stopped long before the 128 chunks of the message (socket backpressure bounds what was in flight).
    expect(r.chunks).toBeLessThan(128);
    // The session is fine for the next message.
    const got = nextMessage(passive);
    expect((await active.send("small", { contentType: "text/plain" })).ok).toBe(true);
    expect((await got).body.toString()).toBe("small");
  });

  it("Failure-Report: no sends without waiting for answers", async () => {
    const server = await endpoints.create();
    const client = await endpoints.create();
    const { active, passive } = await connectedPair(client, server);
    const got = nextMessage(passive);
    const r = await active.send("fire and forget", { contentType: "text/plain", failureReport: "no" });
    expect(r).toMatchObject({ ok: true, status: 200, chunks: 1 });
    expect(r.chunkLatencyUs).toHaveLength(0);
    expect((await got).body.toString()).toBe("fire and forget");
  });

  it("counts bytes into the metrics sink", async () => {
    const counts = new Map<string, number>();
    const metrics: MetricsSink = {
      latency() {},
      gauge() {},
      count(name, by = 1) {
        counts.set(name, (counts.get(name) ?? 0) + by);
      },
    };
    const server = await endpoints.create({ metrics });
    const client = await endpoints.create();
    const { active } = await connectedPair(client, server);
    await active.send(randomBytes(10_000), { contentType: "application/octet-stream" });
    const sent = client.stats().bytesSent;
    expect(sent).toBeGreaterThan(10_000);
    expect(counts.get(Counter.msrpBytesReceived)).toBe(server.stats().bytesReceived);
    expect(server.stats().bytesReceived).toBe(sent);
    expect(counts.get(Counter.msrpBytesSent)).toBe(server.stats().bytesSent);
  });
});

describe("MSRP sessions: timeouts and failures", () => {
  it("a chunk the peer never answers fails with a transaction timeout (408)", async () => {
    // A passive peer that answers the binding SEND and then nothing.
    const peer = await rawServer((p) => {
      void p.waitFrames(1).then((frames) => {
        const f = frames[0];
        if (f?.ok && f.message.kind === "request") p.send(createMsrpResponse(f.message, 200));
      });
    });
    endpoints.onClose(() => peer.close());
    const client = await endpoints.create();
    const active = client.createSession({ setup: "active", transactionTimeoutMs: 150 });
    await active.connect([`msrp://127.0.0.1:${peer.port}/silentpeer;tcp`]);
    const r = await active.send("anyone?", { contentType: "text/plain" });
    expect(r).toMatchObject({ ok: false, status: 408 });
    expect(r.error?.code).toBe("msrp-transaction-timeout");
    expect(r.chunks).toBe(1);
    expect(active.state).toBe("bound");
  });

  it("a peer that stops reading cannot hold send() past the transaction timeout", async () => {
    const peer = await rawServer((p) => {
      void p.waitFrames(1).then((frames) => {
        const f = frames[0];
        if (f?.ok && f.message.kind === "request") p.send(createMsrpResponse(f.message, 200));
        p.socket.pause(); // from now on the kernel buffers fill and the sender's socket never drains
      });
    });
    endpoints.onClose(() => peer.close());
    const client = await endpoints.create();
    const active = client.createSession({ setup: "active", transactionTimeoutMs: 200 });
    await active.connect([`msrp://127.0.0.1:${peer.port}/stuckpeer;tcp`]);
    const r = await active.send(Buffer.alloc(64 * 1024 * 1024), { contentType: "application/octet-stream", chunkSize: 64 * 1024 });
    expect(r).toMatchObject({ ok: false, status: 408 });
    expect(r.chunks).toBeLessThan(1024);
  });

  it("a missing success REPORT fails the send with msrp-report-timeout", async () => {
    const peer = await rawServer((p) => {
      p.socket.on("data", () => {
        for (const f of p.frames.splice(0)) if (f.ok && f.message.kind === "request") p.send(createMsrpResponse(f.message, 200));
      });
    });
    endpoints.onClose(() => peer.close());
    const client = await endpoints.create();
    const active = client.createSession({ setup: "active", reportTimeoutMs: 100 });
    await active.connect([`msrp://127.0.0.1:${peer.port}/noreports;tcp`]);
    const r = await active.send("report please", { contentType: "text/plain", successReport: true });
    expect(r.ok).toBe(false);
    expect(r.error?.code).toBe("msrp-report-timeout");
    expect(r.chunkLatencyUs).toHaveLength(1);
  });

  it("a passive session whose peer never connects fails with msrp-connect-timeout, then answers 481", async () => {
    const server = await endpoints.create();
    const passive = server.createSession({ setup: "passive", connectTimeoutMs: 100 });
    const closed = new Promise<MsrpSessionCloseInfo>((r) => passive.once("close", r));
    const err = await passive.connect().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MsrpSessionError);
    expect((err as MsrpSessionError).code).toBe("msrp-connect-timeout");
    expect((await closed).reason).toBe("connect-timeout");
    expect(passive.state).toBe("closed");
    expect(server.getSession(passive.localSessionId)).toBeUndefined();
    // A late peer finds no such session.
    const client = await endpoints.create();
    const late = client.createSession({ setup: "active" });
    const lateErr = (await late.connect(passive.localPath).catch((e: unknown) => e)) as MsrpSessionError;
    expect(lateErr.code).toBe("msrp-status");
    expect(lateErr.status).toBe(481);
  });

  it("an active connect whose binding SEND is never answered fails with msrp-connect-timeout", async () => {
    const peer = await rawServer(() => {});
    endpoints.onClose(() => peer.close());
    const client = await endpoints.create();
    const active = client.createSession({ setup: "active", connectTimeoutMs: 150 });
    const err = (await active.connect([`msrp://127.0.0.1:${peer.port}/mute;tcp`]).catch((e: unknown) => e)) as MsrpSessionError;
    expect(err.code).toBe("msrp-connect-timeout");
    expect(active.state).toBe("closed");
    // The connection carried nothing else, so it was released.
    expect(client.stats().outboundConnections).toBe(0);
  });

  it("a refused TCP connect fails with msrp-connect-failed", async () => {
    const peer = await rawServer(() => {});
    const port = peer.port;
    await peer.close();
    const client = await endpoints.create();
    const active = client.createSession({ setup: "active" });
    const err = (await active.connect([`msrp://127.0.0.1:${port}/gone;tcp`]).catch((e: unknown) => e)) as MsrpSessionError;
    expect(err.code).toBe("msrp-connect-failed");
    expect(err.message).toContain("ECONNREFUSED");
  });

  it("send() before connect() on an active session is msrp-not-bound", async () => {
    const client = await endpoints.create();
    const active = client.createSession({ setup: "active" });
    const r = await active.send("early", { contentType: "text/plain" });
    expect(r.error?.code).toBe("msrp-not-bound");
  });

  it("the peer going away fails pending sends with msrp-connection-lost and closes the session", async () => {
    const server = await endpoints.create();
    const client = await endpoints.create();
    // The receiver holds its answers: every chunk stays pending until the connection dies.
    const { active, passive } = await connectedPair(client, server);
    passive.setChunkHandler(() => {});
    const closed = new Promise<MsrpSessionCloseInfo>((r) => active.once("close", r));
    const sending = active.send(randomBytes(100_000), { contentType: "application/octet-stream", chunkSize: 10_000 });
    await new Promise((r) => setTimeout(r, 50));
    await server.close();
    const r = await sending;
    expect(r.ok).toBe(false);
    expect(r.error?.code).toBe("msrp-connection-lost");
    const info = await closed;
    expect(info.reason).toBe("connection-lost");
    expect(info.error?.code).toBe("msrp-connection-lost");
  });

  it("close() while sending fails the send; close() and endpoint.close() are safe twice", async () => {
    const server = await endpoints.create();
    const client = await endpoints.create();
    const { active, passive } = await connectedPair(client, server);
    passive.setChunkHandler(() => {});
    const sending = active.send("never answered", { contentType: "text/plain" });
    await new Promise((r) => setTimeout(r, 20));
    await active.close();
    await active.close();
    const r = await sending;
    expect(r.error?.code).toBe("msrp-session-closed");
    // The outgoing connection had no other session: it is kept idle for reuse, until close().
    expect(client.stats()).toMatchObject({ outboundConnections: 1, idleOutboundConnections: 1 });
    await client.close();
    await client.close();
    await server.close();
    await server.close();
    expect(server.stats()).toMatchObject({ sessions: 0, inboundConnections: 0, outboundConnections: 0 });
    expect(() => server.createSession({ setup: "passive" })).toThrow(MsrpSessionError);
  });

  it("a session closed locally answers its peer 481", async () => {
    const server = await endpoints.create();
    const client = await endpoints.create();
    const { active, passive } = await connectedPair(client, server);
    await passive.close();
    const r = await active.send("hello?", { contentType: "text/plain" });
    expect(r).toMatchObject({ ok: false, status: 481 });
  });
});

describe("MSRP sessions: what goes on the wire", () => {
  it("the binding SEND and a message chunk carry the negotiated paths", async () => {
    let seen: MsrpRequest[] = [];
    const peer = await rawServer((p) => {
      p.socket.on("data", () => {
        for (const f of p.frames.splice(0)) {
          if (f.ok && f.message.kind === "request") {
            seen.push(f.message);
            p.send(createMsrpResponse(f.message, 200));
          }
        }
      });
    });
    endpoints.onClose(() => peer.close());
    const client = await endpoints.create();
    const active = client.createSession({ setup: "active" });
    const remote = [`msrp://127.0.0.1:${peer.port}/wirepeer;tcp`];
    await active.connect(remote);
    await active.send("hi", { contentType: "text/plain", messageId: "wire-1", successReport: false });
    const [bind, msg] = seen;
    const expected = createBindSend({ toPath: remote, fromPath: active.localPath, messageId: "x" });
    expect(bind!.headers.map(([n]) => n)).toEqual(expected.headers.map(([n]) => n));
    expect(getMsrpHeader(bind!, "Byte-Range")).toBe("1-0/0");
    expect(getMsrpHeader(bind!, "To-Path")).toBe(remote[0]);
    expect(getMsrpHeader(bind!, "From-Path")).toBe(active.localUri);
    expect(getMsrpHeader(msg!, "Message-ID")).toBe("wire-1");
    expect(getMsrpHeader(msg!, "Byte-Range")).toBe("1-2/2");
    expect(msg!.flag).toBe("$");
    seen = [];
  });

  it("tolerates several messages in flight with interleaved answers", async () => {
    const server = await endpoints.create();
    const client = await endpoints.create();
    const { active, passive } = await connectedPair(client, server);
    const got = collectMessages(passive);
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        active.send(i % 5 === 0 ? randomBytes(150_000, i + 1) : `message ${i}`, { contentType: "text/plain", chunkSize: 16_384 }),
      ),
    );
    expect(results.every((r) => r.ok)).toBe(true);
    // Each message is emitted before its last 200 is written, so all are here by now.
    expect(got).toHaveLength(50);
    expect(new Set(got.map((m) => m.messageId)).size).toBe(50);
  });
});

describe("MSRP sessions: resources", () => {
  function ours(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const r of process.getActiveResourcesInfo()) counts[r] = (counts[r] ?? 0) + 1;
    return counts;
  }

  it("closing the endpoints leaves no sockets, servers or timers behind", async () => {
    const before = ours();
    const set = new EndpointSet();
    const server = await set.create();
    const client = await set.create();
    const { active, passive } = await connectedPair(client, server, { active: { transactionTimeoutMs: 60_000 } });
    await connectedPair(client, server, { active: { connectionGroup: "other" } });
    passive.setChunkHandler(() => {}); // leaves a transaction (and its timer) pending
    const pending = active.send("never answered", { contentType: "text/plain" });
    server.createSession({ setup: "passive", connectTimeoutMs: 60_000 }); // a connect timer
    await new Promise((r) => setTimeout(r, 20));
    await set.closeAll();
    expect((await pending).error?.code).toBe("msrp-session-closed");
    await new Promise((r) => setImmediate(r));
    const after = ours();
    for (const kind of ["TCPSocketWrap", "TCPServerWrap", "Timeout"]) expect({ kind, n: after[kind] ?? 0 }).toEqual({ kind, n: Math.min(after[kind] ?? 0, before[kind] ?? 0) });
  });
});
