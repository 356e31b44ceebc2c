/**
 * Demultiplexing for the shared connection model: many clients' SIP.js user agents share a few
 * connections, so each incoming message must find its client.
 *
 * - Responses: by the top Via branch. Every request a client sends is noted (branch → client) on
 *   its way out; SIP.js puts exactly one Via in its requests and the target echoes it.
 * - Requests: by the Request-URI user (the client's Contact user, which the target uses to reach a
 *   registered contact), else by the To user (AOR).
 *
 * Branch entries of non-INVITE transactions go at their final response; the rest (INVITE, whose
 * 2xx may be retransmitted, and unanswered requests) age out in two generations of 64*T1 each.
 */
import { Timers } from "sip.js/lib/core/timers.js";
import { getHeader, parseNameAddr } from "../protocol/sip/headers.js";
import type { SipMessage } from "../protocol/sip/message.js";
import type { Clock, TimerHandle } from "../time/clock.js";
import { transactionKey } from "./udp-retransmit.js";

export interface DemuxTarget<E> {
  endpoint: E;
}

/** The user part of a sip:/sips: URI string, percent-decoded; undefined when it has none. */
export function uriUser(uri: string): string | undefined {
  const colon = uri.indexOf(":");
  if (colon < 0) return undefined;
  const at = uri.indexOf("@", colon + 1);
  if (at < 0) return undefined;
  let end = at;
  const pw = uri.indexOf(":", colon + 1);
  if (pw >= 0 && pw < at) end = pw;
  const raw = uri.slice(colon + 1, end);
  if (raw.indexOf("%") < 0) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/** The top Via branch of a message (first Via line, first value). */
export function topBranch(m: SipMessage): string | undefined {
  const via = getHeader(m, "Via");
  if (via === undefined) return undefined;
  const i = via.indexOf(";branch=");
  if (i < 0) {
    // Unusual spelling (case, spaces): fall back to a case-insensitive search.
    const j = via.toLowerCase().indexOf("branch=");
    if (j < 0) return undefined;
    return readBranch(via, j + 7);
  }
  return readBranch(via, i + 8);
}

function readBranch(via: string, from: number): string {
  let j = from;
  while (j < via.length) {
    const c = via.charCodeAt(j);
    if (c === 0x3b || c === 0x2c || c === 0x20 || c === 0x09) break;
    j++;
  }
  return via.slice(from, j);
}

/** CSeq method of a message (cheap: no full CSeq validation). */
export function cseqMethod(m: SipMessage): string {
  const cseq = getHeader(m, "CSeq");
  if (cseq === undefined) return "";
  const sp = cseq.lastIndexOf(" ");
  return sp < 0 ? "" : cseq.slice(sp + 1).trim();
}

export class Demux<E> {
  private current = new Map<string, E>();
  private previous = new Map<string, E>();
  private readonly users = new Map<string, E>();
  private rotation: TimerHandle | undefined;
  /** Messages no client claimed (late responses, requests for unknown users). */
  unroutable = 0;

  constructor(
    private readonly clock: Clock,
    private readonly generationMs = 64 * Timers.T1,
  ) {}

  private scheduleRotation(): void {
    if (this.rotation !== undefined) return;
    this.rotation = this.clock.after(this.generationMs, () => {
      this.rotation = undefined;
      this.previous = this.current;
      this.current = new Map();
      if (this.previous.size > 0) this.scheduleRotation();
    });
  }

  addUser(user: string, endpoint: E): void {
    this.users.set(user, endpoint);
  }

  removeUser(user: string, endpoint: E): void {
    if (this.users.get(user) === endpoint) this.users.delete(user);
  }

  /** A client sent a request with this branch (CANCEL keeps its own key). */
  noteRequest(branch: string, method: string, endpoint: E): void {
    if (method === "ACK") return;
    this.current.set(transactionKey(branch, method), endpoint);
    this.scheduleRotation();
  }

  /** Stop routing responses of an abandoned transaction. */
  forgetRequest(branch: string, method: string): void {
    const key = transactionKey(branch, method);
    this.current.delete(key);
    this.previous.delete(key);
  }

  /** The client an incoming message belongs to, or undefined. */
  route(m: SipMessage): E | undefined {
    if (m.kind === "response") {
      const branch = topBranch(m);
      if (branch === undefined) return this.miss();
      const method = cseqMethod(m);
      const key = transactionKey(branch, method);
      let endpoint = this.current.get(key);
      let map = this.current;
      if (endpoint === undefined) {
        endpoint = this.previous.get(key);
        map = this.previous;
      }
      if (endpoint === undefined) return this.miss();
      if (method !== "INVITE" && m.status >= 200) map.delete(key);
      return endpoint;
    }
    const ruser = uriUser(m.uri);
    let endpoint = ruser === undefined ? undefined : this.users.get(ruser);
    if (endpoint === undefined) {
      const to = getHeader(m, "To");
      const touri = to === undefined ? undefined : parseNameAddr(to)?.uri;
      const touser = touri === undefined ? undefined : uriUser(touri);
      if (touser !== undefined) endpoint = this.users.get(touser);
    }
    return endpoint ?? this.miss();
  }

  private miss(): undefined {
    this.unroutable++;
    return undefined;
  }

  /** Branch entries held (for tests and diagnostics). */
  get pendingBranches(): number {
    return this.current.size + this.previous.size;
  }

  close(): void {
    this.rotation?.cancel();
    this.rotation = undefined;
    this.current.clear();
    this.previous.clear();
    this.users.clear();
  }
}
