/**
 * A hand-driven MSRP client for the PF tests: a plain TCP connection to the PF's MSRP listener
 * that writes messages built with our MSRP codec (or raw bytes) and frames what comes back, so
 * tests see the PF's exact wire output (tids, paths, headers, bodies, 200s).
 */
import { connect, type Socket } from "node:net";
import { MsrpFramer, type MsrpFrame } from "../../../src/protocol/msrp/framer.js";
import type { MsrpMessage, MsrpRequest, MsrpResponse } from "../../../src/protocol/msrp/message.js";
import { serializeMsrp } from "../../../src/protocol/msrp/serializer.js";

let counter = 0;

export class MsrpPeer {
  readonly frames: MsrpFrame[] = [];
  private queue: MsrpMessage[] = [];
  private waiters: Array<() => void> = [];
  closed = false;
  /** Our own MSRP URI (what goes into our SDP path and every From-Path). */
  readonly uri: string;

  private constructor(
    private readonly socket: Socket,
    readonly sessionId: string,
  ) {
    this.uri = `msrp://127.0.0.1:9/${sessionId};tcp`;
    const framer = new MsrpFramer();
    socket.on("data", (d: Buffer) => {
      for (const f of framer.push(d)) {
        this.frames.push(f);
        if (f.ok) this.queue.push(f.message);
      }
      this.wake();
    });
    socket.on("close", () => {
      this.closed = true;
      this.wake();
    });
    socket.on("error", () => {});
  }

  /** A peer with its session id chosen up front (its path goes into the SDP before it connects). */
  static planned(): { sessionId: string; path: string[] } {
    const sessionId = `peer${process.pid}s${++counter}`;
    return { sessionId, path: [`msrp://127.0.0.1:9/${sessionId};tcp`] };
  }

  static async connect(port: number, sessionId: string): Promise<MsrpPeer> {
    const socket = connect({ host: "127.0.0.1", port });
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    socket.setNoDelay(true);
    return new MsrpPeer(socket, sessionId);
  }

  send(m: MsrpMessage): void {
    this.socket.write(serializeMsrp(m));
  }

  sendRaw(bytes: string | Buffer): void {
    this.socket.write(bytes);
  }

  /** A SEND from us to `toPath`. */
  sendChunk(
    toPath: readonly string[],
    opts: { tid?: string; messageId?: string; body?: Buffer | string; contentType?: string; byteRange?: string; flag?: "$" | "+" | "#"; extra?: Array<[string, string]> } = {},
  ): MsrpRequest {
    const body = opts.body === undefined ? Buffer.alloc(0) : Buffer.from(opts.body);
    const headers: Array<[string, string]> = [
      ["To-Path", toPath.join(" ")],
      ["From-Path", this.uri],
      ["Message-ID", opts.messageId ?? `m${process.pid}x${++counter}`],
      ["Byte-Range", opts.byteRange ?? (body.length === 0 ? "1-0/0" : `1-${body.length}/${body.length}`)],
      ...(opts.extra ?? []),
    ];
    if (opts.contentType !== undefined) headers.push(["Content-Type", opts.contentType]);
    const req: MsrpRequest = { kind: "request", tid: opts.tid ?? `t${process.pid}x${++counter}abc`, method: "SEND", headers, body, flag: opts.flag ?? "$" };
    this.send(req);
    return req;
  }

  /** The binding SEND (empty, `1-0/0`) and its 200. */
  async bind(toPath: readonly string[]): Promise<MsrpResponse> {
    const req = this.sendChunk(toPath);
    return this.response(req.tid);
  }

  async next<T extends MsrpMessage>(pred: (m: MsrpMessage) => boolean, what: string, timeoutMs = 5000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.queue.findIndex(pred);
      if (i >= 0) return this.queue.splice(i, 1)[0] as T;
      if (this.closed) throw new Error(`MSRP peer closed while waiting for ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no MSRP ${what} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  response(tid: string, timeoutMs?: number): Promise<MsrpResponse> {
    return this.next<MsrpResponse>((m) => m.kind === "response" && m.tid === tid, `response to ${tid}`, timeoutMs);
  }

  request(method = "SEND", timeoutMs?: number): Promise<MsrpRequest> {
    return this.next<MsrpRequest>((m) => m.kind === "request" && m.method === method, `${method} request`, timeoutMs);
  }

  /** Answer a request 200 the way a client does (To-Path = the sender, From-Path = us). */
  ok(req: MsrpRequest): void {
    const from = req.headers.find(([n]) => n === "From-Path")![1];
    this.send({ kind: "response", tid: req.tid, status: 200, comment: "OK", headers: [["To-Path", from.split(" ")[0]!], ["From-Path", this.uri]] });
  }

  async waitClosed(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error("the MSRP connection did not close");
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
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

export function header(m: { headers: ReadonlyArray<readonly [string, string]> }, name: string): string | undefined {
  return m.headers.find(([n]) => n.toLowerCase() === name.toLowerCase())?.[1];
}
