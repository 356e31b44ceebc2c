import { connect, createServer, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { adoptAcceptedSocket, BorrowedReads, copyForWrite, isBorrowed, ownBytes } from "../../../src/protocol/msrp/socket-reads.js";

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

  it("copies for writing share slabs, and a slab whose writes have all left is reused", () => {
    const source = Buffer.alloc(600 * 1024, 1);
    const a = copyForWrite(source);
    const b = copyForWrite(source); // does not fit beside a: a new slab
    expect(b.bytes.buffer).not.toBe(a.bytes.buffer);
    source.fill(2);
    expect(a.bytes.every((x) => x === 1)).toBe(true); // a copy, not a view
    const small = copyForWrite(Buffer.alloc(1000, 3)); // fits beside b
    expect(small.bytes.buffer).toBe(b.bytes.buffer);
    a.release();
    a.release(); // released once only
    const c = copyForWrite(source); // b's slab is full: a's slab, now empty, is reused
    expect(c.bytes.buffer).toBe(a.bytes.buffer);
    expect(c.bytes.every((x) => x === 2)).toBe(true);
    const d = copyForWrite(source); // a's slab still holds c: neither it nor b's (unreleased) slab
    expect(d.bytes.buffer).not.toBe(a.bytes.buffer);
    expect(d.bytes.buffer).not.toBe(b.bytes.buffer);
    for (const x of [b, small, c, d]) x.release();
    const huge = copyForWrite(Buffer.alloc(2 * 1024 * 1024, 4)); // larger than a slab: its own buffer
    expect(huge.bytes.length).toBe(2 * 1024 * 1024);
    expect(huge.bytes.buffer.byteLength).toBeGreaterThanOrEqual(2 * 1024 * 1024);
  });
});

async function waitFor(cond: () => boolean, ms = 2000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 5));
  }
}
