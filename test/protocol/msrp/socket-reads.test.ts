import { connect, createServer, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import {
  adoptAcceptedSocket,
  BorrowedReads,
  CopySlabs,
  isBorrowed,
  limitRelayReadBytes,
  ownBytes,
  READ_BUFFER_BYTES,
  RELAY_READ_BYTES_MAX,
  relayReadBufferCounts,
  retainRelayRead,
  SLAB_BYTES,
} from "../../../src/protocol/msrp/socket-reads.js";
import { randomBytes } from "./support/msrp-peers.js";

const servers: Server[] = [];
const sockets: Socket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const s of servers.splice(0)) s.close();
});

/** A server whose accepted sockets are re-made with onread; resolves with the adopted socket and what it read. */
async function adoptingServer(): Promise<{ server: Server; port: number; accepted: Promise<{ socket: Socket; reads: Buffer[]; borrowed: boolean[] }> }> {
  let resolve!: (v: { socket: Socket; reads: Buffer[]; borrowed: boolean[] }) => void;
  const accepted = new Promise<{ socket: Socket; reads: Buffer[]; borrowed: boolean[] }>((r) => (resolve = r));
  const server = createServer({ pauseOnConnect: true }, (raw) => {
    const reads = new BorrowedReads();
    const got: Buffer[] = [];
    const borrowed: boolean[] = [];
    reads.handler = (bytes) => {
      borrowed.push(isBorrowed(bytes));
      got.push(ownBytes(bytes));
    };
    const socket = adoptAcceptedSocket(raw, reads);
    if (!socket) throw new Error("could not adopt the accepted socket");
    sockets.push(socket);
    resolve({ socket, reads: got, borrowed });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { server, port: (server.address() as { port: number }).port, accepted };
}

describe("reading sockets into the thread's reused buffer", () => {
  it("an accepted socket re-made with onread gets every byte (borrowed), sees the peer's end, and the server still closes", async () => {
    const { server, port, accepted } = await adoptingServer();
    const client = connect(port, "127.0.0.1");
    sockets.push(client);
    const payload = Buffer.alloc(3 * 1024 * 1024);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 7) & 0xff;
    const echoed = new Promise<Buffer>((r) => client.once("data", r));
    client.write(payload);
    const { socket, reads, borrowed } = await accepted;
    await waitFor(() => reads.reduce((n, b) => n + b.length, 0) === payload.length);
    expect(Buffer.concat(reads).equals(payload)).toBe(true);
    expect(borrowed.every(Boolean)).toBe(true);
    // Reads of up to 1 MiB, not Node's 64 KiB.
    expect(Math.max(...reads.map((b) => b.length))).toBeGreaterThan(64 * 1024);
    // Writing back works on the adopted socket.
    socket.write("bye");
    expect((await echoed).toString()).toBe("bye");
    const ended = new Promise<void>((r) => socket.once("end", () => r()));
    client.end();
    await ended;
    // The server's connection count moved to the adopted socket: close() completes once it is gone.
    socket.destroy();
    await new Promise<void>((r, j) => server.close((e) => (e ? j(e) : r())));
  });

  it("bytes from the reused buffer are borrowed; ownBytes copies them and leaves others alone", async () => {
    const { port, accepted } = await adoptingServer();
    const client = connect(port, "127.0.0.1");
    sockets.push(client);
    client.write("hello");
    const { reads, borrowed } = await accepted;
    await waitFor(() => reads.length > 0);
    expect(borrowed[0]).toBe(true);
    expect(Buffer.concat(reads).toString()).toBe("hello");
    expect(isBorrowed(reads[0]!)).toBe(false); // the handler kept an owned copy
    const mine = Buffer.from("x");
    expect(ownBytes(mine)).toBe(mine);
  });

  it("a connection's copies fill its own slab, span slabs when large, and a slab whose writes have all left is reused", () => {
    const a = new CopySlabs();
    const b = new CopySlabs();
    const source = Buffer.alloc(100 * 1024, 1);
    const a1 = a.copy(source);
    const b1 = b.copy(source);
    expect(a1).toHaveLength(1);
    // Two connections never share a slab: a peer that stops reading pins only its own bytes.
    expect(b1[0]!.bytes.buffer).not.toBe(a1[0]!.bytes.buffer);
    source.fill(2);
    expect(a1[0]!.bytes.every((x) => x === 1)).toBe(true); // a copy, not a view
    const a2 = a.copy(source); // fits beside a1 in a's slab
    expect(a2[0]!.bytes.buffer).toBe(a1[0]!.bytes.buffer);
    // 100 KiB more does not fit (256 KiB slabs): the copy spans the rest of this slab and a new one.
    const a3 = a.copy(Buffer.alloc(100 * 1024, 3));
    expect(a3.map((p) => p.bytes.length)).toEqual([SLAB_BYTES - 200 * 1024, 300 * 1024 - SLAB_BYTES]);
    expect(a3[1]!.bytes.buffer).not.toBe(a1[0]!.bytes.buffer);
    expect(Buffer.concat(a3.map((p) => p.bytes)).every((x) => x === 3)).toBe(true);
    const firstSlab = a1[0]!.bytes.buffer;
    for (const p of [...a1, ...a2, a3[0]!]) {
      p.release();
      p.release(); // released once only
    }
    // The first slab is empty and retired: the next connection that needs a slab gets it back.
    const c = new CopySlabs();
    const c1 = c.copy(Buffer.alloc(10, 4));
    expect(c1[0]!.bytes.buffer).toBe(firstSlab);
    // A closed connection's slab returns once its last write has left.
    const bSlab = b1[0]!.bytes.buffer;
    b.close();
    b.close();
    expect(new CopySlabs().copy(Buffer.alloc(1))[0]!.bytes.buffer).not.toBe(bSlab);
    b1[0]!.release();
    expect(new CopySlabs().copy(Buffer.alloc(1))[0]!.bytes.buffer).toBe(bSlab);
    // A 1 MiB read spans four slabs.
    expect(new CopySlabs().copy(Buffer.alloc(1024 * 1024)).length).toBe(4);
  });
});

async function waitFor(cond: () => boolean, ms = 2000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * A byte relay built like the PF's: its accepted socket reads with BorrowedReads and says it is
 * relaying, and writes what it reads on to a sink that does not read at first (so the writes are
 * held by Node). Returns what the sink got, and how many reads were written on without a copy.
 */
async function relayThroughPausedSink(payload: Buffer): Promise<{ received: Buffer; uncopiedReads: number; copiedReads: number; borrowed: boolean }> {
  const sinkServer = createServer({ pauseOnConnect: true });
  servers.push(sinkServer);
  await new Promise<void>((r) => sinkServer.listen(0, "127.0.0.1", r));
  const sinkSocket = new Promise<Socket>((r) => sinkServer.once("connection", r));
  const out = connect((sinkServer.address() as { port: number }).port, "127.0.0.1");
  sockets.push(out);
  const sink = await sinkSocket;
  sockets.push(sink);

  const { port, accepted } = await adoptingServerWith((reads) => {
    let uncopied = 0;
    let copied = 0;
    let borrowed = true;
    reads.handler = (bytes) => {
      borrowed &&= isBorrowed(bytes);
      reads.relaying = true;
      const release = retainRelayRead(bytes);
      if (release) {
        uncopied++;
        out.write(bytes, release);
      } else {
        copied++;
        out.write(Buffer.from(bytes));
      }
    };
    return () => ({ uncopied, copied, borrowed });
  });
  const client = connect(port, "127.0.0.1");
  sockets.push(client);
  client.write(payload);
  const counts = await accepted;
  // Let the relay read (and hold) everything before the sink reads a byte.
  await waitFor(() => out.writableLength + (out.bytesWritten ?? 0) >= payload.length);
  const got: Buffer[] = [];
  let n = 0;
  sink.on("data", (d: Buffer) => {
    got.push(d);
    n += d.length;
  });
  sink.resume();
  await waitFor(() => n === payload.length);
  const c = counts();
  return { received: Buffer.concat(got), uncopiedReads: c.uncopied, copiedReads: c.copied, borrowed: c.borrowed };
}

/** Like adoptingServer, with the handler set up by `setup`; resolves with what `setup` returned. */
async function adoptingServerWith<T>(setup: (reads: BorrowedReads) => T): Promise<{ port: number; accepted: Promise<T> }> {
  let resolve!: (v: T) => void;
  const accepted = new Promise<T>((r) => (resolve = r));
  const server = createServer({ pauseOnConnect: true }, (raw) => {
    const reads = new BorrowedReads();
    const result = setup(reads);
    const socket = adoptAcceptedSocket(raw, reads);
    if (!socket) throw new Error("could not adopt the accepted socket");
    socket.on("close", () => reads.close());
    sockets.push(socket);
    resolve(result);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { port: (server.address() as { port: number }).port, accepted };
}

/** Bytes that never repeat at any offset a read could land on (a repeating pattern would hide an overwrite). */
function pattern(bytes: number, seed: number): Buffer {
  return randomBytes(bytes, seed);
}

describe("relay read buffers (a relaying socket's reads are written on without a copy)", () => {
  it("a relaying socket reads into buffers lent to it alone: what a slow receiver has not taken yet is never overwritten", async () => {
    const before = relayReadBufferCounts();
    const payload = pattern(8 * 1024 * 1024, 1);
    const r = await relayThroughPausedSink(payload);
    expect(r.received.equals(payload)).toBe(true);
    expect(r.borrowed).toBe(true);
    // The first read goes into the thread's buffer (the socket was not relaying yet); the rest into relay buffers.
    expect(r.copiedReads).toBe(1);
    expect(r.uncopiedReads).toBeGreaterThan(1);
    for (const s of sockets.splice(0)) s.destroy();
    // Every buffer comes back once its socket is gone and its writes have left.
    await waitFor(() => relayReadBufferCounts().inUse === before.inUse);
    expect(relayReadBufferCounts().free).toBeGreaterThan(0);
  });

  it("past the thread's cap, reads go into the thread's buffer and are copied: still every byte, in order", async () => {
    const previous = limitRelayReadBytes(READ_BUFFER_BYTES);
    try {
      const payload = pattern(6 * 1024 * 1024, 2);
      const r = await relayThroughPausedSink(payload);
      expect(r.received.equals(payload)).toBe(true);
      expect(r.copiedReads).toBeGreaterThan(1);
    } finally {
      expect(limitRelayReadBytes(previous)).toBe(READ_BUFFER_BYTES);
    }
    expect(previous).toBe(RELAY_READ_BYTES_MAX);
  });
});
