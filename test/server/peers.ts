/**
 * Raw SIP peers for the server tests: real UDP and TCP sockets on 127.0.0.1 that write the exact
 * bytes a test gives them and parse what comes back with our codec (so the server's wire output,
 * not an in-memory object, is what tests assert on).
 */
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { connect, type Socket } from "node:net";
import { parseSipMessage, SipStreamFramer } from "../../src/protocol/sip/parser.js";
import { afterEach } from "vitest";
import type { SipResponse } from "../../src/protocol/sip/message.js";
import { createCpmServer, type CpmServer, type CpmServerOptions } from "../../src/server/index.js";

let counter = 0;

export interface RequestSpec {
  method?: string;
  uri?: string;
  user?: string;
  domain?: string;
  transport?: "UDP" | "TCP";
  /** Local address for Via/Contact. */
  via?: string;
  branch?: string;
  callId?: string;
  cseq?: number;
  contacts?: string[];
  expires?: number | null;
  headers?: string[];
  body?: string;
  maxForwards?: number | null;
}

/** A REGISTER (or any request) as wire text with CRLF line ends. */
export function request(spec: RequestSpec = {}): string {
  const method = spec.method ?? "REGISTER";
  const user = spec.user ?? "alice";
  const domain = spec.domain ?? "cpm.test";
  const via = spec.via ?? "127.0.0.1:5999";
  const n = ++counter;
  const lines = [
    `${method} ${spec.uri ?? `sip:${domain}`} SIP/2.0`,
    `Via: SIP/2.0/${spec.transport ?? "UDP"} ${via};branch=${spec.branch ?? `z9hG4bK-test-${process.pid}-${n}`}`,
  ];
  if (spec.maxForwards !== null) lines.push(`Max-Forwards: ${spec.maxForwards ?? 70}`);
  lines.push(
    `From: <sip:${user}@${domain}>;tag=from-${n}`,
    `To: <sip:${user}@${domain}>`,
    `Call-ID: ${spec.callId ?? `call-${process.pid}-${n}`}`,
    `CSeq: ${spec.cseq ?? 1} ${method}`,
  );
  for (const c of spec.contacts ?? (method === "REGISTER" ? [`<sip:${user}@${via};transport=${(spec.transport ?? "UDP").toLowerCase()}>`] : [])) {
    lines.push(`Contact: ${c}`);
  }
  if (spec.expires !== null && spec.expires !== undefined) lines.push(`Expires: ${spec.expires}`);
  lines.push(...(spec.headers ?? []));
  const body = spec.body ?? "";
  lines.push(`Content-Length: ${Buffer.byteLength(body)}`, "", body);
  return lines.join("\r\n");
}

/** Collects received messages as raw bytes and lets tests await the next one, parsed or raw. */
class Inbox {
  private readonly queue: Buffer[] = [];
  private waiters: Array<(m: Buffer) => void> = [];

  deliver(m: Buffer): void {
    const waiter = this.waiters.shift();
    if (waiter) waiter(m);
    else this.queue.push(m);
  }

  /** The next message's bytes; rejects after timeoutMs (a missing answer fails the test, never hangs it). */
  nextRaw(timeoutMs = 5000): Promise<Buffer> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const waiter = (m: Buffer) => {
        clearTimeout(timer);
        resolve(m);
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`no SIP message within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** The next message, which must be a well-formed response. */
  async next(timeoutMs = 5000): Promise<SipResponse> {
    const raw = await this.nextRaw(timeoutMs);
    const r = parseSipMessage(raw);
    if (!r.ok || r.message.kind !== "response") throw new Error(`not a well-formed response: ${raw.toString()}`);
    return r.message;
  }

  get pending(): number {
    return this.queue.length;
  }
}

export class UdpPeer {
  readonly inbox = new Inbox();
  readonly raw: Buffer[] = [];
  private constructor(private readonly socket: UdpSocket) {
    socket.on("message", (data) => {
      this.raw.push(data);
      this.inbox.deliver(data);
    });
  }

  static open(): Promise<UdpPeer> {
    return new Promise((resolve) => {
      const socket = createSocket("udp4");
      socket.bind(0, "127.0.0.1", () => resolve(new UdpPeer(socket)));
    });
  }

  get address(): string {
    return `127.0.0.1:${this.socket.address().port}`;
  }

  send(text: string | Buffer, port: number): void {
    this.socket.send(typeof text === "string" ? Buffer.from(text) : text, port, "127.0.0.1");
  }

  async exchange(text: string, port: number): Promise<SipResponse> {
    this.send(text, port);
    return this.inbox.next();
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

export class TcpPeer {
  readonly inbox = new Inbox();
  private readonly framer = new SipStreamFramer();
  readonly closed: Promise<void>;

  private constructor(readonly socket: Socket) {
    socket.on("data", (chunk) => {
      for (const frame of this.framer.push(chunk)) if (frame.bytes) this.inbox.deliver(frame.bytes);
    });
    socket.on("error", () => {});
    this.closed = new Promise((resolve) => socket.once("close", () => resolve()));
  }

  static open(port: number): Promise<TcpPeer> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: "127.0.0.1", port }, () => resolve(new TcpPeer(socket)));
      socket.once("error", reject);
    });
  }

  get address(): string {
    return `127.0.0.1:${this.socket.localPort}`;
  }

  write(data: string | Buffer): Promise<void> {
    return new Promise((resolve, reject) => this.socket.write(data, (err) => (err ? reject(err) : resolve())));
  }

  async exchange(text: string): Promise<SipResponse> {
    await this.write(text);
    return this.inbox.next();
  }

  close(): Promise<void> {
    this.socket.destroy();
    return this.closed;
  }
}

/**
 * Per-test resources: servers and peers opened through it are closed after each test, in reverse
 * order, whatever the test's outcome.
 */
export function serverFixtures() {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });
  return {
    defer(fn: () => Promise<void>): void {
      cleanup.push(fn);
    },
    async server(opts: CpmServerOptions = {}): Promise<CpmServer> {
      const s = await createCpmServer({ port: 0, ...opts });
      cleanup.push(() => s.close());
      return s;
    },
    async udpPeer(): Promise<UdpPeer> {
      const p = await UdpPeer.open();
      cleanup.push(() => p.close());
      return p;
    },
    async tcpPeer(port: number): Promise<TcpPeer> {
      const p = await TcpPeer.open(port);
      cleanup.push(() => p.close());
      return p;
    },
  };
}
