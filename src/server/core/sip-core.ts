/**
 * The UAS core every request passes through before a method handler sees it (RFC 3261 §8.2, §17.2):
 *   parse failure        → 400 when the parser recovered a Via (else dropped; TCP closes on unframeable input)
 *   retransmission       → last response resent (or dropped while the first copy is still in work)
 *   ACK                  → ends the INVITE transaction's retransmissions, never answered; an ACK
 *                          for a 2xx goes to the dialog ACK handler (the B2BUA)
 *   CANCEL               → 200 + 487 to a pending INVITE, 481 when there is none
 *   Max-Forwards: 0      → 483 (OPTIONS excepted: RFC 3261 §11 lets the element answer it itself)
 *   unknown method       → 501, known but not served → 405, both with Allow
 *   Require: <unknown>   → 420 with Unsupported
 *   To-tag (in a dialog) → the dialog handler (the PF's B2BUA: 481 for dialogs it does not know),
 *                          for any known method; 481 when none is set. REGISTER never belongs to
 *                          a dialog and is served either way
 *   anything else        → the method's handler (REGISTER, OPTIONS, BYE … registered by index.ts).
 * A handler that throws (or rejects) is answered 500 and counted; the server keeps serving.
 *
 * Later issues add handlers (MESSAGE, INVITE, SUBSCRIBE, REFER) with `setHandler`; the checks here
 * and the transaction layer stay as they are.
 */
import { getHeader, parseCSeq, parseNameAddr, parseVia, splitHeaderList, formatVia, type Via } from "../../protocol/sip/headers.js";
import type { HeaderList, SipMessage, SipParseError, SipRequest, SipResponse } from "../../protocol/sip/message.js";
import { hasTagParam } from "../../protocol/sip/response.js";
import type { StatsCollector } from "../stats.js";
import type { ServerTransactionTable } from "../transaction/server-transaction-table.js";
import { inviteKeyFor, transactionKey, type KeyInputs } from "../transaction/transaction-key.js";
import type { Flow } from "../transport/flow.js";
import type { TransportHandler } from "../transport/transport-handler.js";
import { IncomingRequest } from "./incoming-request.js";
import type { ResponseSender } from "./response-sender.js";

export type RequestHandler = (req: IncomingRequest) => void | Promise<void>;
/** Responses to requests the server sent itself (client transactions). */
export type ResponseHandler = (response: SipResponse, flow: Flow) => void;
/** ACKs that belong to no server transaction's non-2xx answer: ACKs for 2xx, i.e. dialogs. */
export type DialogAckHandler = (ack: SipRequest, flow: Flow) => void;

/** Methods of RFC 3261 and its extensions: not serving one of these is 405, anything else 501. */
const KNOWN_METHODS = new Set([
  "INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "PRACK", "SUBSCRIBE", "NOTIFY",
  "PUBLISH", "INFO", "REFER", "MESSAGE", "UPDATE",
]);

const EMPTY = Buffer.alloc(0);

export class SipCore implements TransportHandler {
  private readonly handlers = new Map<string, RequestHandler>();
  private allowValue = "ACK, CANCEL";
  private dialogHandler: RequestHandler | null = null;
  private responseHandler: ResponseHandler | null = null;
  private ackHandler: DialogAckHandler | null = null;

  constructor(
    private readonly table: ServerTransactionTable,
    private readonly sender: ResponseSender,
    private readonly stats: StatsCollector,
    /** Option tags this server supports (Supported header, Require check). */
    private readonly supported: readonly string[],
  ) {}

  /** Requests inside a dialog (To-tag present) go here instead of the method handler. */
  setDialogHandler(handler: RequestHandler | null): void {
    this.dialogHandler = handler;
  }

  /** Responses (to the server's own requests) go here; without a handler they are dropped. */
  setResponseHandler(handler: ResponseHandler | null): void {
    this.responseHandler = handler;
  }

  /** ACKs for 2xx responses (end-to-end, outside the INVITE transaction, RFC 3261 §13.2.2.4). */
  setAckHandler(handler: DialogAckHandler | null): void {
    this.ackHandler = handler;
  }

  setHandler(method: string, handler: RequestHandler): void {
    this.handlers.set(method, handler);
    this.allowValue = [...new Set([...this.handlers.keys(), "ACK", "CANCEL"])].join(", ");
  }

  /** Value of the Allow header: the methods with a handler, plus ACK and CANCEL. */
  get allow(): string {
    return this.allowValue;
  }

  get supportedValue(): string {
    return this.supported.join(", ");
  }

  onMessage(message: SipMessage, flow: Flow): void {
    try {
      if (message.kind === "request") this.onRequest(message, flow);
      else this.responseHandler?.(message, flow);
    } catch {
      this.stats.handlerErrors++;
    }
  }

  onParseError(error: SipParseError, flow: Flow, partial: Partial<SipRequest> | undefined): void {
    this.stats.parseErrors++;
    // A 400 needs somewhere to go (Via) and must not answer an ACK (RFC 3261 §17.1.1.3).
    if (!partial?.headers || partial.method === "ACK" || getHeader(partial as { headers: HeaderList }, "Via") === undefined) return;
    try {
      const request: SipRequest = {
        kind: "request",
        method: partial.method ?? "UNKNOWN",
        uri: partial.uri ?? "",
        headers: partial.headers,
        body: EMPTY,
      };
      const warning = error.message.replace(/["\\\r\n]/g, " ").slice(0, 200);
      this.sender.sendStateless(flow, request, 400, "Bad Request", [["Warning", `399 cpm-serv "${warning}"`]]);
    } catch {
      this.stats.handlerErrors++;
    }
  }

  private onRequest(message: SipRequest, flow: Flow): void {
    const method = message.method;
    const topVia = topViaOf(message);
    const callId = getHeader(message, "Call-ID");
    const cseqValue = getHeader(message, "CSeq");
    const cseq = cseqValue === undefined ? null : parseCSeq(cseqValue);
    if (topVia === null || callId === undefined || cseq === null || cseq.method !== method) {
      this.badRequest(message, flow, topVia === null ? "no usable Via" : cseq?.method !== method ? "CSeq missing or not matching the method" : "no Call-ID");
      return;
    }
    const keyInputs: KeyInputs = { via: topVia.via, method, callId, cseq: cseq.seq, fromTag: undefined };
    if (!topVia.via.params.branch?.startsWith("z9hG4bK")) keyInputs.fromTag = fromTagOf(message);

    if (method === "ACK") {
      const invite = this.table.get(transactionKey(keyInputs));
      if (invite) this.table.acknowledge(invite);
      // An ACK for a 2xx has its own branch (so it matches nothing here) and belongs to a dialog.
      // Some UAs reuse the INVITE's branch: an ACK matching a 2xx-answered transaction is one too.
      if (invite === undefined || (invite.lastStatus >= 200 && invite.lastStatus < 300)) this.ackHandler?.(message, flow);
      return;
    }

    const key = transactionKey(keyInputs);
    const existing = this.table.get(key);
    if (existing) {
      this.stats.retransmissions++;
      if (existing.lastResponse !== null) flow.send(existing.lastResponse);
      return;
    }

    this.stats.request(method);
    addReceived(message, topVia, flow);
    const req = new IncomingRequest(message, flow, this.table.create(key, method, flow), this.sender, callId, cseq.seq);
    if (method === "INVITE") req.transaction.onCancel = () => req.respondNow(487, "Request Terminated");

    if (method === "CANCEL") {
      this.cancel(req, keyInputs);
      return;
    }
    const maxForwards = getHeader(message, "Max-Forwards");
    if (maxForwards !== undefined && maxForwards.trim() === "0" && method !== "OPTIONS") {
      req.respond(483, "Too Many Hops");
      return;
    }
    const handler = this.handlers.get(method);
    const inDialog = method !== "REGISTER" && hasTagParam(getHeader(message, "To") ?? "");
    // Inside a dialog the dialog handler serves every known method (a B2BUA passes INFO, UPDATE,
    // MESSAGE … to the other leg) even when the method has no out-of-dialog handler.
    if (handler === undefined && !(inDialog && this.dialogHandler !== null && KNOWN_METHODS.has(method))) {
      if (KNOWN_METHODS.has(method)) req.respond(405, "Method Not Allowed", [["Allow", this.allowValue]]);
      else req.respond(501, "Not Implemented", [["Allow", this.allowValue]]);
      return;
    }
    const unsupported = this.unsupportedRequirements(message);
    if (unsupported !== null) {
      req.respond(420, "Bad Extension", [["Unsupported", unsupported]]);
      return;
    }
    if (inDialog) {
      if (this.dialogHandler === null) req.respond(481, "Call/Transaction Does Not Exist");
      else this.invoke(this.dialogHandler, req);
      return;
    }
    this.invoke(handler!, req);
  }

  private invoke(handler: RequestHandler, req: IncomingRequest): void {
    const fail = () => {
      this.stats.handlerErrors++;
      req.respond(500, "Server Internal Error");
    };
    try {
      const result = handler(req);
      if (result !== undefined) result.catch(fail);
    } catch {
      fail();
    }
  }

  /** RFC 3261 §9.2: CANCEL gets 200 when its INVITE is found; a still-pending INVITE then gets 487. */
  private cancel(req: IncomingRequest, keyInputs: KeyInputs): void {
    const invite = this.table.get(inviteKeyFor(keyInputs));
    if (invite === undefined) {
      req.respond(481, "Call/Transaction Does Not Exist");
      return;
    }
    req.respond(200, "OK");
    if (invite.state === "proceeding") {
      invite.cancelled = true;
      invite.onCancel?.();
    }
  }

  private unsupportedRequirements(message: SipRequest): string | null {
    const require = getHeader(message, "Require");
    if (require === undefined) return null;
    let unsupported: string[] | null = null;
    for (const line of message.headers) {
      if (line[0] !== "Require") continue;
      for (const tag of splitHeaderList(line[1])) {
        if (!this.supported.includes(tag.toLowerCase())) (unsupported ??= []).push(tag);
      }
    }
    return unsupported === null ? null : unsupported.join(", ");
  }

  private badRequest(message: SipRequest, flow: Flow, why: string): void {
    this.stats.parseErrors++;
    if (message.method === "ACK" || getHeader(message, "Via") === undefined) return;
    this.sender.sendStateless(flow, message, 400, "Bad Request", [["Warning", `399 cpm-serv "${why}"`]]);
  }
}

interface TopVia {
  via: Via;
  /** The header line index and the first element's text, to rewrite with received/rport. */
  index: number;
  rest: string | null;
}

function topViaOf(message: SipRequest): TopVia | null {
  const headers = message.headers;
  for (let i = 0; i < headers.length; i++) {
    if (headers[i]![0] !== "Via") continue;
    const line = headers[i]![1];
    let first = line;
    let rest: string | null = null;
    if (line.indexOf(",") >= 0) {
      const parts = splitHeaderList(line);
      first = parts[0] ?? "";
      rest = parts.length > 1 ? parts.slice(1).join(", ") : null;
    }
    const via = parseVia(first);
    return via === null ? null : { via, index: i, rest };
  }
  return null;
}

function fromTagOf(message: SipRequest): string | undefined {
  const from = getHeader(message, "From");
  const tag = from === undefined ? undefined : parseNameAddr(from)?.params.tag;
  return tag ?? undefined;
}

/**
 * RFC 3261 §18.2.1 and RFC 3581: note the packet's source in the top Via (received when it differs
 * from sent-by, rport when the client asked for it) so the response copies it back.
 */
function addReceived(message: SipRequest, top: TopVia, flow: Flow): void {
  const params = top.via.params;
  const wantsRport = "rport" in params && params.rport === null;
  if (!wantsRport && top.via.host === flow.remote.address) return;
  const via: Via = { ...top.via, params: { ...params, received: flow.remote.address } };
  if (wantsRport) via.params.rport = String(flow.remote.port);
  const value = formatVia(via);
  message.headers[top.index] = ["Via", top.rest === null ? value : `${value}, ${top.rest}`];
}
