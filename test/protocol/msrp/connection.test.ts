import { afterEach, describe, expect, it } from "vitest";
import {
  createBindSend,
  createSendChunk,
  type MsrpFrame,
  type MsrpResponse,
  type MsrpSession,
  serializeMsrp,
} from "../../../src/protocol/msrp/index.js";
import { connectedPair, EndpointSet, nextMessage, RawPeer } from "./support/msrp-peers.js";

const endpoints = new EndpointSet();
afterEach(() => endpoints.closeAll());

function response(frame: MsrpFrame | undefined): MsrpResponse {
  if (!frame?.ok || frame.message.kind !== "response") throw new Error(`expected a response, got ${JSON.stringify(frame)}`);
  return frame.message;
}

async function rawPeer(port: number): Promise<RawPeer> {
  const p = await RawPeer.connect(port);
  endpoints.onClose(() => p.destroy());
  return p;
}

const RAW_FROM = "msrp://127.0.0.1:9/rawpeer01;tcp";

describe("MSRP connections: reuse and demultiplexing", () => {
  it("two sessions to the same host:port share one connection, each message reaches its own session", async () => {
    const server = await endpoints.create();
    const client = await endpoints.create();
    const one = await connectedPair(client, server);
    const two = await connectedPair(client, server);
    expect(server.stats().inboundConnections).toBe(1);
    expect(client.stats().outboundConnections).toBe(1);
    expect(one.active.connection).toBe(two.active.connection);
    expect(one.passive.connection).toBe(two.passive.connection);

    const got1 = nextMessage(one.passive);
    const got2 = nextMessage(two.passive);
    const back1 = nextMessage(one.active);
    const back2 = nextMessage(two.active);
    await Promise.all([
      one.active.send("for session one", { contentType: "text/plain" }),
      two.active.send("for session two", { contentType: "text/plain" }),
      two.passive.send("back to two", { contentType: "text/plain" }),
      one.passive.send("back to one", { contentType: "text/plain" }),
    ]);
    expect((await got1).body.toString()).toBe("for session one");
    expect((await got2).body.toString()).toBe("for session two");
    expect((await back1).body.toString()).toBe("back to one");
    expect((await back2).body.toString()).toBe("back to two");

    // Closing one session keeps the shared connection for the other; closing both leaves it idle
    // (open, for later sessions to reuse: see connection-reuse.test.ts).
    await one.active.close();
    expect(client.stats().outboundConnections).toBe(1);
    const got3 = nextMessage(two.passive);
    expect((await two.active.send("still shared", { contentType: "text/plain" })).ok).toBe(true);
    expect((await got3).body.toString()).toBe("still shared");
    await two.active.close();
    expect(client.stats()).toMatchObject({ outboundConnections: 1, idleOutboundConnections: 1, outboundConnectionsOpened: 1 });
  });

  it("sessions in different connection groups get connections of their own", async () => {
    const server = await endpoints.create();
    const client = await endpoints.create();
    await connectedPair(client, server, { active: { connectionGroup: "client-1" } });
    await connectedPair(client, server, { active: { connectionGroup: "client-2" } });
    await connectedPair(client, server, { active: { connectionGroup: "client-1" } });
    expect(client.stats().outboundConnections).toBe(2);
    expect(server.stats().inboundConnections).toBe(2);
  });

  it("sessions connecting at the same moment share the one connection being opened", async () => {
    const server = await endpoints.create();
    const client = await endpoints.create();
    const pairs = await Promise.all(Array.from({ length: 20 }, () => connectedPair(client, server)));
    expect(client.stats().outboundConnections).toBe(1);
    expect(server.stats().inboundConnections).toBe(1);
    const results = await Promise.all(pairs.map((p, i) => p.active.send(`n${i}`, { contentType: "text/plain" })));
    expect(results.every((r) => r.ok)).toBe(true);
  });
});

describe("MSRP connections: binding rules", () => {
  it("a request for an unknown session gets 481 and the connection stays open for others", async () => {
    const server = await endpoints.create();
    const passive = server.createSession({ setup: "passive" });
    const peer = await rawPeer(server.address.port);
    const unknown = `msrp://127.0.0.1:${server.address.port}/nosuchsession;tcp`;
    peer.send(createBindSend({ toPath: unknown, fromPath: RAW_FROM, messageId: "b1", tid: "tid481aa" }));
    const r1 = response((await peer.waitFrames(1))[0]);
    expect(r1).toMatchObject({ tid: "tid481aa", status: 481 });
    expect(server.stats().rejected481).toBe(1);

    peer.send(createBindSend({ toPath: passive.localPath, fromPath: RAW_FROM, messageId: "b2", tid: "tid200aa" }));
    const r2 = response((await peer.waitFrames(2))[1]);
    expect(r2).toMatchObject({ tid: "tid200aa", status: 200 });
    expect(passive.state).toBe("bound");
  });

  it("a second connection binding an already bound session gets 506", async () => {
    const server = await endpoints.create();
    const client = await endpoints.create();
    const { passive } = await connectedPair(client, server);
    const intruder = await rawPeer(server.address.port);
    intruder.send(createBindSend({ toPath: passive.localPath, fromPath: RAW_FROM, messageId: "b", tid: "tid506aa" }));
    expect(response((await intruder.waitFrames(1))[0])).toMatchObject({ tid: "tid506aa", status: 506 });
    expect(server.stats().rejected506).toBe(1);
    expect(passive.connection?.remoteAddress).not.toBe(`127.0.0.1:${intruder.socket.localPort}`);
  });

  it("a binding request from another peer than the negotiated one gets 403", async () => {
    const server = await endpoints.create();
    const passive = server.createSession({ setup: "passive", remotePath: ["msrp://127.0.0.1:7000/expectedpeer;tcp"] });
    const peer = await rawPeer(server.address.port);
    peer.send(createBindSend({ toPath: passive.localPath, fromPath: "msrp://127.0.0.1:7000/someoneelse;tcp", messageId: "b", tid: "tid403aa" }));
    expect(response((await peer.waitFrames(1))[0])).toMatchObject({ tid: "tid403aa", status: 403 });
    expect(passive.state).toBe("idle");
    peer.send(createBindSend({ toPath: passive.localPath, fromPath: "msrp://127.0.0.1:7000/expectedpeer;tcp", messageId: "c", tid: "tid200bb" }));
    expect(response((await peer.waitFrames(2))[1])).toMatchObject({ tid: "tid200bb", status: 200 });
    expect(passive.state).toBe("bound");
  });

  it("Failure-Report: no suppresses the 481", async () => {
    const server = await endpoints.create();
    const passive = server.createSession({ setup: "passive" });
    const peer = await rawPeer(server.address.port);
    const quiet = createSendChunk({
      toPath: `msrp://127.0.0.1:${server.address.port}/nosuchsession;tcp`,
      fromPath: RAW_FROM,
      messageId: "q",
      contentType: "text/plain",
      failureReport: "no",
      start: 1,
      body: Buffer.from("x"),
      total: 1,
    });
    peer.send(quiet);
    peer.send(createBindSend({ toPath: passive.localPath, fromPath: RAW_FROM, messageId: "b", tid: "tidafterq" }));
    const frames = await peer.waitFrames(1);
    expect(frames).toHaveLength(1);
    expect(response(frames[0])).toMatchObject({ tid: "tidafterq", status: 200 });
  });
});

describe("MSRP connections: malformed input", () => {
  async function boundRawPeer(): Promise<{ peer: RawPeer; passive: MsrpSession; port: number }> {
    const server = await endpoints.create();
    const passive = server.createSession({ setup: "passive" });
    const peer = await rawPeer(server.address.port);
    peer.send(createBindSend({ toPath: passive.localPath, fromPath: RAW_FROM, messageId: "b", tid: "bindtid1" }));
    await peer.waitFrames(1);
    return { peer, passive, port: server.address.port };
  }

  it("a message with a readable tid but a bad header gets 400 with that tid; the connection goes on", async () => {
    const { peer, passive } = await boundRawPeer();
    peer.sendRaw(
      `MSRP badrange1 SEND\r\nTo-Path: ${passive.localUri}\r\nFrom-Path: ${RAW_FROM}\r\nMessage-ID: m\r\n` +
        `Byte-Range: 9-1/x\r\nContent-Type: text/plain\r\n\r\nhello\r\n-------badrange1$\r\n`,
    );
    const r = response((await peer.waitFrames(2))[1]);
    expect(r).toMatchObject({ tid: "badrange1", status: 400 });
    expect(r.comment).toContain("Byte-Range");
    const got = nextMessage(passive);
    peer.send(
      createSendChunk({ toPath: passive.localPath, fromPath: RAW_FROM, messageId: "ok", contentType: "text/plain", start: 1, body: Buffer.from("fine"), total: 4, nextTid: () => "goodtid1" }),
    );
    expect(response((await peer.waitFrames(3))[2])).toMatchObject({ tid: "goodtid1", status: 200 });
    expect((await got).body.toString()).toBe("fine");
    expect(peer.closed).toBe(false);
  });

  it("garbage closes that connection only; a session on another connection carries on", async () => {
    const server = await endpoints.create();
    const client = await endpoints.create();
    const { active, passive } = await connectedPair(client, server);
    const garbage = await rawPeer(server.address.port);
    garbage.sendRaw("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    await garbage.waitClosed();
    expect(garbage.frames).toHaveLength(0);
    expect(server.stats().badFrames).toBe(1);
    const got = nextMessage(passive);
    expect((await active.send("unaffected", { contentType: "text/plain" })).ok).toBe(true);
    expect((await got).body.toString()).toBe("unaffected");
  });

  it("an unknown method gets 501, and binary bodies survive the framing", async () => {
    const { peer, passive } = await boundRawPeer();
    peer.sendRaw(`MSRP nomethod1 FROB\r\nTo-Path: ${passive.localUri}\r\nFrom-Path: ${RAW_FROM}\r\n-------nomethod1$\r\n`);
    expect(response((await peer.waitFrames(2))[1])).toMatchObject({ tid: "nomethod1", status: 501 });
    const body = Buffer.from([0, 13, 10, 45, 45, 45, 45, 45, 45, 45, 0xff, 13, 10]);
    const got = nextMessage(passive);
    peer.sendRaw(
      serializeMsrp(
        createSendChunk({ toPath: passive.localPath, fromPath: RAW_FROM, messageId: "bin", contentType: "application/octet-stream", start: 1, body, total: body.length }),
      ),
    );
    expect((await got).body.equals(body)).toBe(true);
  });
});
