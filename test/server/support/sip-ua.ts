/**
 * A hand-driven SIP user agent for the PF tests: a real TCP connection or UDP socket on 127.0.0.1,
 * messages built as plain header lists and written with our serializer, everything received parsed
 * with our codec and queued, so tests wait for exactly the message they expect and assert on
 * what was on the wire. It keeps just enough dialog state (tags, CSeq, target) to send ACK, BYE
 * and re-INVITE; answering, ringing, rejecting or staying silent is the test's choice.
 */
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { connect, type Socket } from "node:net";
import { getHeader, getHeaderLines, getTag, parseNameAddr } from "../../../src/protocol/sip/headers.js";
import type { HeaderList, SipMessage, SipRequest, SipResponse } from "../../../src/protocol/sip/message.js";
import { parseSipMessage, SipStreamFramer } from "../../../src/protocol/sip/parser.js";
import { createResponse } from "../../../src/protocol/sip/response.js";
import { serializeSipMessage } from "../../../src/protocol/sip/serializer.js";
import { buildMsrpOffer, buildMsrpAnswer, type MsrpMedia, extractMsrpMedia, serializeSdp, type MediaDirection } from "../../../src/protocol/sdp/index.js";
import type { CpmServer } from "../../../src/server/index.js";
import { buildDigestCredentials, formatDigestCredentials, parseDigestChallenge } from "../../../src/protocol/sip/digest.js";

let seq = 0;
const unique = (): string => `${process.pid}x${(++seq).toString(36)}`;

export const SESSION_ICSI = "urn:urn-7:3gpp-service.ims.icsi.oma.cpm.session";
export const LARGEMSG_ICSI = "urn:urn-7:3gpp-service.ims.icsi.oma.cpm.largemsg";
const encodeIcsi = (icsi: string): string => icsi.replace(/:/g, "%3A");

/** The dialog state one side keeps. */
export interface Dialog {
  callId: string;
  /** Our From/To value with our tag. */
  local: string;
  /** The peer's value with its tag. */
  remote: string;
  remoteTarget: string;
  cseq: number;
}

type Waiter = { pred: (m: SipMessage) => boolean; resolve: (m: SipMessage) => void };

export class TestUa {
  readonly received: SipMessage[] = [];
  private queue: SipMessage[] = [];
  private waiters: Waiter[] = [];
  readonly instance = `<urn:uuid:${unique()}>`;

  private constructor(
    readonly user: string,
    readonly domain: string,
    readonly transport: "tcp" | "udp",
    private readonly server: { host: string; port: number },
    private readonly tcp: Socket | null,
    private readonly udp: UdpSocket | null,
  ) {}

  static async open(server: CpmServer, user: string, transport: "tcp" | "udp" = "tcp", domain = "cpm.test"): Promise<TestUa> {
    const target = { host: server.sipAddress.host, port: server.sipAddress.port };
    if (transport === "tcp") {
      const socket = connect({ host: target.host, port: target.port });
      await new Promise<void>((resolve, reject) => {
        socket.once("connect", resolve);
        socket.once("error", reject);
      });
      socket.setNoDelay(true);
      const ua = new TestUa(user, domain, "tcp", target, socket, null);
      const framer = new SipStreamFramer();
      socket.on("data", (chunk: Buffer) => {
        for (const f of framer.push(chunk)) if (f.ok) ua.deliver(f.message);
      });
      socket.on("error", () => {});
      return ua;
    }
    const socket = createSocket("udp4");
    await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
    const ua = new TestUa(user, domain, "udp", target, null, socket);
    socket.on("message", (data) => {
      const r = parseSipMessage(data);
      if (r.ok) ua.deliver(r.message);
    });
    return ua;
  }

  get localPort(): number {
    return this.tcp ? this.tcp.localPort! : this.udp!.address().port;
  }

  get aor(): string {
    return `sip:${this.user}@${this.domain}`;
  }

  get contactUri(): string {
    return `sip:${this.user}@127.0.0.1:${this.localPort};transport=${this.transport}`;
  }

  contact(icsi = SESSION_ICSI): string {
    return `<${this.contactUri}>;+sip.instance="${this.instance}";+g.3gpp.icsi-ref="${encodeIcsi(icsi)}"`;
  }

  via(branch = `z9hG4bK-ua-${unique()}`): string {
    return `SIP/2.0/${this.transport.toUpperCase()} 127.0.0.1:${this.localPort};branch=${branch};rport`;
  }

  send(m: SipMessage | Buffer | string): void {
    const bytes = typeof m === "string" ? Buffer.from(m) : Buffer.isBuffer(m) ? m : serializeSipMessage(m);
    if (this.tcp) this.tcp.write(bytes);
    else this.udp!.send(bytes, this.server.port, this.server.host);
  }

  /** The next received message matching `pred` (queued ones first); rejects after `timeoutMs`. */
  next(pred: (m: SipMessage) => boolean, what: string, timeoutMs = 5000): Promise<SipMessage> {
    const i = this.queue.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.queue.splice(i, 1)[0]!);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        pred,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`${this.user}: no ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  request(method: string, timeoutMs?: number): Promise<SipRequest> {
    return this.next((m) => m.kind === "request" && m.method === method, `${method} request`, timeoutMs) as Promise<SipRequest>;
  }

  /** The next response to a request with this CSeq method (and Call-ID, when given). */
  response(method: string, callId?: string, timeoutMs?: number): Promise<SipResponse> {
    return this.next(
      (m) => m.kind === "response" && cseqMethod(m) === method && (callId === undefined || getHeader(m, "Call-ID") === callId),
      `response to ${method}`,
      timeoutMs,
    ) as Promise<SipResponse>;
  }

  /** The next final (≥ 200) response to `method`. */
  final(method: string, callId?: string, timeoutMs?: number): Promise<SipResponse> {
    return this.next(
      (m) => m.kind === "response" && m.status >= 200 && cseqMethod(m) === method && (callId === undefined || getHeader(m, "Call-ID") === callId),
      `final response to ${method}`,
      timeoutMs,
    ) as Promise<SipResponse>;
  }

  /** Messages still queued (not taken by a test). */
  pending(pred: (m: SipMessage) => boolean = () => true): SipMessage[] {
    return this.queue.filter(pred);
  }

  async register(expires = 600, password?: string): Promise<SipResponse> {
    const callId = `reg-${unique()}`;
    const first = await this.sendRegister(callId, 1, expires, null);
    if (first.status !== 401 || password === undefined) return first;
    const challenge = parseDigestChallenge(getHeader(first, "WWW-Authenticate")!)!;
    const creds = buildDigestCredentials({ challenge, username: this.user, password, method: "REGISTER", uri: `sip:${this.domain}`, cnonce: unique() })!;
    return this.sendRegister(callId, 2, expires, formatDigestCredentials(creds));
  }

  private sendRegister(callId: string, cseq: number, expires: number, authorization: string | null): Promise<SipResponse> {
    this.send({
      kind: "request",
      method: "REGISTER",
      uri: `sip:${this.domain}`,
      headers: [
        ["Via", this.via()],
        ["Max-Forwards", "70"],
        ["From", `<${this.aor}>;tag=${callId}`],
        ["To", `<${this.aor}>`],
        ["Call-ID", callId],
        ["CSeq", `${cseq} REGISTER`],
        ["Contact", this.contact()],
        ["Expires", String(expires)],
        ...(authorization === null ? [] : [["Authorization", authorization] as [string, string]]),
      ],
      body: Buffer.alloc(0),
    });
    return this.final("REGISTER", callId);
  }

  /** Sends an INVITE to `to` (an AOR); returns it (our Via on top) for CANCEL/ACK building. */
  invite(to: string, opts: { body?: Buffer | string; headers?: HeaderList; icsi?: string; contentType?: string | null } = {}): SipRequest {
    const icsi = opts.icsi ?? SESSION_ICSI;
    const headers: HeaderList = [
      ["Via", this.via()],
      ["Max-Forwards", "70"],
      ["From", `<${this.aor}>;tag=${unique()}`],
      ["To", `<${to}>`],
      ["Call-ID", `call-${unique()}`],
      ["CSeq", "1 INVITE"],
      ["Contact", this.contact(icsi)],
      ["User-Agent", "CPM-client/OMA1.0"],
      ["P-Preferred-Service", icsi],
      ["Accept-Contact", `*;+g.3gpp.icsi-ref="${encodeIcsi(icsi)}"`],
      ["Contribution-ID", `contrib-${unique()}`],
      ["Conversation-ID", `conv-${unique()}`],
      ["Supported", "timer"],
    ];
    if (opts.contentType !== null) headers.push(["Content-Type", opts.contentType ?? "application/sdp"]);
    headers.push(...(opts.headers ?? []));
    const body = opts.body === undefined ? Buffer.alloc(0) : Buffer.from(opts.body);
    const req: SipRequest = { kind: "request", method: "INVITE", uri: to, headers, body };
    this.send(req);
    return req;
  }

  /** CANCEL for an INVITE we sent (same branch, RFC 3261 §9.1). */
  cancel(invite: SipRequest): void {
    const headers: HeaderList = [["Via", getHeader(invite, "Via")!], ["Max-Forwards", "70"]];
    for (const n of ["From", "To", "Call-ID"]) headers.push([n, getHeader(invite, n)!]);
    headers.push(["CSeq", `${cseqNumber(invite)} CANCEL`]);
    this.send({ kind: "request", method: "CANCEL", uri: invite.uri, headers, body: Buffer.alloc(0) });
  }

  /** The dialog of an INVITE we sent, from its 2xx; also sends the ACK. */
  ack2xx(invite: SipRequest, ok: SipResponse): Dialog {
    const dialog: Dialog = {
      callId: getHeader(invite, "Call-ID")!,
      local: getHeader(invite, "From")!,
      remote: getHeader(ok, "To")!,
      remoteTarget: parseNameAddr(getHeader(ok, "Contact")!)!.uri,
      cseq: cseqNumber(invite),
    };
    this.send(this.inDialog(dialog, "ACK", [], Buffer.alloc(0), dialog.cseq));
    return dialog;
  }

  /** Answer a request; `toTag` makes the dialog (the same tag for all answers of one INVITE). */
  respond(req: SipRequest, status: number, opts: { toTag?: string; headers?: HeaderList; body?: Buffer | string; reason?: string } = {}): void {
    const headers: HeaderList = [...(opts.headers ?? [])];
    if (req.method === "INVITE" && status > 100 && status < 300) headers.push(["Contact", this.contact()]);
    if (opts.body !== undefined) headers.push(["Content-Type", "application/sdp"]);
    const response = createResponse(req, status, opts.reason, {
      ...(opts.toTag !== undefined && { toTag: opts.toTag }),
      headers,
      ...(opts.body !== undefined && { body: Buffer.from(opts.body) }),
    });
    this.send(response);
  }

  /** The dialog of an INVITE we received and answer with `toTag`. */
  dialogOf(invite: SipRequest, toTag: string): Dialog {
    return {
      callId: getHeader(invite, "Call-ID")!,
      local: `${getHeader(invite, "To")!};tag=${toTag}`,
      remote: getHeader(invite, "From")!,
      remoteTarget: parseNameAddr(getHeader(invite, "Contact")!)!.uri,
      cseq: 0,
    };
  }

  inDialog(d: Dialog, method: string, extra: HeaderList = [], body: Buffer = Buffer.alloc(0), cseq?: number): SipRequest {
    const n = cseq ?? ++d.cseq;
    const headers: HeaderList = [
      ["Via", this.via()],
      ["Max-Forwards", "70"],
      ["From", d.local],
      ["To", d.remote],
      ["Call-ID", d.callId],
      ["CSeq", `${n} ${method}`],
      ...extra,
    ];
    return { kind: "request", method, uri: d.remoteTarget, headers, body };
  }

  /** Sends a request in a dialog and returns it. */
  sendInDialog(d: Dialog, method: string, extra: HeaderList = [], body?: Buffer | string): SipRequest {
    const b = body === undefined ? Buffer.alloc(0) : Buffer.from(body);
    const headers = [...extra];
    if (body !== undefined) headers.push(["Content-Type", "application/sdp"], ["Contact", this.contact()]);
    const req = this.inDialog(d, method, headers, b);
    this.send(req);
    return req;
  }

  close(): Promise<void> {
    if (this.tcp) {
      this.tcp.destroy();
      return Promise.resolve();
    }
    return new Promise((resolve) => this.udp!.close(() => resolve()));
  }

  private deliver(m: SipMessage): void {
    this.received.push(m);
    const i = this.waiters.findIndex((w) => w.pred(m));
    if (i >= 0) {
      const [w] = this.waiters.splice(i, 1);
      w!.resolve(m);
      return;
    }
    this.queue.push(m);
  }
}

export function cseqMethod(m: SipMessage): string {
  return (getHeader(m, "CSeq") ?? "").trim().split(/\s+/)[1] ?? "";
}

export function cseqNumber(m: SipMessage): number {
  return Number((getHeader(m, "CSeq") ?? "").trim().split(/\s+/)[0]);
}

export { getHeader, getHeaderLines, getTag };

/** A client's MSRP offer (setup active by default) naming `path`. */
export function clientOffer(path: readonly string[], opts: { direction?: MediaDirection; setup?: "active" | "passive" | "actpass"; maxSize?: number } = {}): string {
  return serializeSdp(
    buildMsrpOffer({
      path,
      acceptTypes: ["message/cpim", "application/im-iscomposing+xml"],
      acceptWrappedTypes: ["text/plain", "message/imdn+xml"],
      setup: opts.setup ?? "active",
      direction: opts.direction ?? "sendrecv",
      ...(opts.maxSize !== undefined && { maxSize: opts.maxSize }),
      origin: { sessionId: String(Date.now()), sessionVersion: 1 },
    }),
  );
}

/** A client's answer (active) to the PF's offer, naming `path`. */
export function clientAnswer(offer: Buffer | string, path: readonly string[], direction: MediaDirection = "sendrecv"): string {
  const r = buildMsrpAnswer(offer, {
    path,
    acceptTypes: ["message/cpim", "application/im-iscomposing+xml"],
    acceptWrappedTypes: ["text/plain", "message/imdn+xml"],
    direction,
    preferredSetup: "active",
    origin: { sessionId: String(Date.now()), sessionVersion: 1 },
  });
  if (!r.ok) throw r.error;
  return serializeSdp(r.sdp);
}

export function msrpMediaOf(body: Buffer | string): MsrpMedia {
  const r = extractMsrpMedia(body);
  if (!r.ok) throw r.error;
  return r.media;
}
