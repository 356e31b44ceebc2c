/**
 * Helpers for the MSRP session tests: endpoints on 127.0.0.1 port 0, connected session pairs, and a
 * raw socket peer that speaks MSRP by hand (to send what our own sessions never would).
 */
import { connect, createServer, type Server, type Socket } from "node:net";
import {
  createMsrpEndpoint,
  type MsrpEndpoint,
  type MsrpEndpointOptions,
  MsrpFramer,
  type MsrpFrame,
  type MsrpIncomingMessage,
  type MsrpMessage,
  type MsrpSession,
  type MsrpSessionOptions,
  serializeMsrp,
} from "../../../../src/protocol/msrp/index.js";

/** Endpoints made by a test; closeAll() in afterEach. */
export class EndpointSet {
  private readonly endpoints: MsrpEndpoint[] = [];
  private readonly extra: Array<() => Promise<void> | void> = [];

  async create(opts: MsrpEndpointOptions = {}): Promise<MsrpEndpoint> {
    const e = await createMsrpEndpoint(opts);
    this.endpoints.push(e);
    return e;
  }

  onClose(fn: () => Promise<void> | void): void {
    this.extra.push(fn);
  }

  async closeAll(): Promise<void> {
    for (const fn of this.extra.splice(0)) await fn();
    await Promise.all(this.endpoints.splice(0).map((e) => e.close()));
  }
}

/** An active session on `client` bound to a passive session on `server`. */
export async function connectedPair(
  client: MsrpEndpoint,
  server: MsrpEndpoint,
  opts: { active?: Partial<MsrpSessionOptions>; passive?: Partial<MsrpSessionOptions> } = {},
): Promise<{ active: MsrpSession; passive: MsrpSession }> {
  const passive = server.createSession({ ...opts.passive, setup: "passive" });
  const active = client.createSession({ ...opts.active, setup: "active" });
  passive.setRemotePath(active.localPath);
  await Promise.all([active.connect(passive.localPath), passive.connect()]);
  return { active, passive };
}

export function nextMessage(session: MsrpSession): Promise<MsrpIncomingMessage> {
  return new Promise((resolve) => session.once("message", resolve));
}

export function collectMessages(session: MsrpSession): MsrpIncomingMessage[] {
  const out: MsrpIncomingMessage[] = [];
  session.on("message", (m) => out.push(m));
  return out;
}

/** A hand-driven MSRP peer on a plain socket: write messages or raw bytes, read frames. */
export class RawPeer {
  readonly frames: MsrpFrame[] = [];
  closed = false;
  private readonly framer = new MsrpFramer();
  private waiters: Array<() => void> = [];

  private constructor(readonly socket: Socket) {
    socket.on("data", (d: Buffer) => {
      this.frames.push(...this.framer.push(d));
      this.wake();
    });
    socket.on("close", () => {
      this.closed = true;
      this.wake();
    });
    socket.on("error", () => {});
  }

  static async connect(port: number): Promise<RawPeer> {
    const socket = connect({ host: "127.0.0.1", port });
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    return new RawPeer(socket);
  }

  static wrap(socket: Socket): RawPeer {
    return new RawPeer(socket);
  }

  send(m: MsrpMessage): void {
    this.socket.write(serializeMsrp(m));
  }

  sendRaw(bytes: string | Buffer): void {
    this.socket.write(bytes);
  }

  /** Waits until `n` frames have arrived in total (or the socket closed). */
  async waitFrames(n: number): Promise<MsrpFrame[]> {
    while (this.frames.length < n && !this.closed) await new Promise<void>((r) => this.waiters.push(r));
    return this.frames;
  }

  async waitClosed(): Promise<void> {
    while (!this.closed) await new Promise<void>((r) => this.waiters.push(r));
  }

  destroy(): void {
    this.socket.destroy();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

/** A TCP server whose connections are RawPeers (to play a passive peer that misbehaves). */
export async function rawServer(onPeer: (peer: RawPeer) => void): Promise<{ port: number; server: Server; peers: RawPeer[]; close(): Promise<void> }> {
  const peers: RawPeer[] = [];
  const server = createServer((s) => {
    const p = RawPeer.wrap(s);
    peers.push(p);
    onPeer(p);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    server,
    peers,
    close: async () => {
      for (const p of peers) p.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** Deterministic pseudo-random bytes (so a mismatch is a real corruption, not a fill pattern). */
export function randomBytes(n: number, seed = 1): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}
