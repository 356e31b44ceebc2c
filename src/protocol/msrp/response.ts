/**
 * Building the messages an endpoint answers with: transaction responses (RFC 4975 §7.2), REPORTs
 * (§7.1.2-7.1.4) and the empty SEND that binds a connection (RFC 4975 §5.4 / RFC 6135).
 *
 * Responses are hop by hop: the To-Path of a response holds one URI, the previous hop (the first
 * From-Path URI of the request, since each relay prepends itself there), and the From-Path holds
 * the responder (by default the first To-Path URI of the request, which is the receiving hop).
 * A REPORT travels end to end back to the sender: its To-Path is the request's whole From-Path
 * and its From-Path the reporting endpoint (by default the last To-Path URI: the final target).
 */
import { type ByteRange, formatByteRange, formatStatusHeader } from "./byte-range.js";
import type { MsrpFrame } from "./framer.js";
import {
  formatPath,
  getFailureReport,
  getFromPath,
  getMsrpHeader,
  getToPath,
  MSRP_STATUS_TEXT,
  type MsrpHeaderList,
  type MsrpRequest,
  type MsrpResponse,
  parsePath,
} from "./message.js";
import { serializeMsrp, writeAscii } from "./serializer.js";
import { randomTransactionId } from "./transaction-id.js";

export interface ResponseOptions {
  /** Our URI for the From-Path; defaults to the first To-Path URI of the request. */
  fromPath?: string;
}

/** Whether an answer is due at all: not to REPORTs, not with `Failure-Report: no`, and not a 200 with `partial`. */
export function responseRequired(request: MsrpRequest, status: number): boolean {
  if (request.method === "REPORT") return false;
  const fr = getFailureReport(request);
  if (fr === "no") return false;
  if (fr === "partial" && status === 200) return false;
  return true;
}

export function createMsrpResponse(
  request: Pick<MsrpRequest, "tid" | "headers">,
  status: number,
  comment?: string,
  opts: ResponseOptions = {},
): MsrpResponse {
  const previousHop = getFromPath(request)[0] ?? "";
  const self = opts.fromPath ?? getToPath(request)[0] ?? "";
  const response: MsrpResponse = {
    kind: "response",
    tid: request.tid,
    status,
    headers: [
      ["To-Path", previousHop],
      ["From-Path", self],
    ],
  };
  const text = comment ?? MSRP_STATUS_TEXT[status];
  if (text) response.comment = text;
  return response;
}

const MSRP_SP = Buffer.from("MSRP ", "latin1");
const END_OK = Buffer.from("$\r\n", "latin1");

/**
 * serializeMsrp(createMsrpResponse(request, status, comment, { fromPath })), from a template kept
 * for the last sender, status and comment: an endpoint answers the same previous hop with the
 * same 200 chunk after chunk, and only the tid changes. The bytes are the same as the model's
 * (a property test compares them); the template is `MSRP ` tid, the middle (status line rest,
 * To-Path, From-Path, the end-line's hyphens), tid, `$ CRLF`.
 */
export class HopResponseSerializer {
  private fromHeader: string | undefined;
  private self = "";
  private status = 0;
  private comment: string | undefined;
  /** Made on the second answer with the same key (a connection shared by many sessions may never repeat one). */
  private middle: string | undefined;
  private middleBytes: Buffer = Buffer.alloc(0);

  serialize(request: Pick<MsrpRequest, "tid" | "headers">, status: number, comment: string | undefined, fromPath: string): Buffer {
    const fromHeader = getMsrpHeader(request, "From-Path");
    if (fromHeader !== this.fromHeader || fromPath !== this.self || status !== this.status || comment !== this.comment) {
      this.fromHeader = fromHeader;
      this.self = fromPath;
      this.status = status;
      this.comment = comment;
      this.middle = undefined;
      return serializeMsrp(createMsrpResponse(request, status, comment, { fromPath }));
    }
    if (this.middle === undefined) {
      const model = createMsrpResponse({ tid: "", headers: request.headers }, status, comment, { fromPath });
      const text = model.comment;
      this.middle =
        ` ${String(status).padStart(3, "0")}${text !== undefined ? ` ${text}` : ""}\r\n` +
        `To-Path: ${getMsrpHeader(model, "To-Path")}\r\nFrom-Path: ${getMsrpHeader(model, "From-Path")}\r\n-------`;
      this.middleBytes = Buffer.from(this.middle, "utf8");
    }
    const tid = request.tid;
    const mid = this.middleBytes;
    const out = Buffer.allocUnsafe(5 + 2 * tid.length + mid.length + 3);
    out.set(MSRP_SP, 0);
    let o = writeAscii(out, 5, tid);
    if (o >= 0) {
      out.set(mid, o);
      o = writeAscii(out, o + mid.length, tid);
      out.set(END_OK, o);
      return out;
    }
    // A tid that is not ASCII (not one a framer accepts, but the model allows it).
    return Buffer.from(`MSRP ${tid}${this.middle}${tid}$\r\n`, "utf8");
  }
}

/**
 * The 400 owed for a message the framer could not parse, or undefined when none is owed (a
 * response, a REPORT, no readable tid, `Failure-Report: no`, or no From-Path to send it to).
 */
export function createBadRequestResponse(frame: MsrpFrame, opts: ResponseOptions = {}): MsrpResponse | undefined {
  if (frame.ok || frame.tid === undefined || frame.method === undefined || frame.method === "REPORT") return undefined;
  const headers: MsrpHeaderList = frame.headers ?? [];
  const probe = { headers };
  if (getFailureReport(probe) === "no") return undefined;
  const from = parsePath(getMsrpHeader(probe, "From-Path"))[0];
  if (from === undefined) return undefined;
  return createMsrpResponse({ tid: frame.tid, headers }, 400, frame.error.message.slice(0, 200).replace(/[\r\n]/g, " "), opts);
}

export interface ReportOptions {
  /** Our URI for the From-Path; defaults to the last To-Path URI of the request. */
  fromPath?: string;
  tid?: string;
  /** Reason text of the Status header; defaults to the usual status text. */
  reason?: string;
}

/**
 * A REPORT about `request`'s message: `Status: 000 <status>`, the same Message-ID, and the
 * range it covers (a success report names the bytes received so far, RFC 4975 §7.1.3).
 */
export function createReport(
  request: Pick<MsrpRequest, "headers">,
  status: number,
  byteRange: ByteRange,
  opts: ReportOptions = {},
): MsrpRequest {
  const toPath = getFromPath(request);
  const targets = getToPath(request);
  const self = opts.fromPath ?? targets[targets.length - 1] ?? "";
  const headers: MsrpHeaderList = [
    ["To-Path", formatPath(toPath)],
    ["From-Path", self],
  ];
  const messageId = getMsrpHeader(request, "Message-ID");
  if (messageId !== undefined) headers.push(["Message-ID", messageId]);
  headers.push(["Byte-Range", formatByteRange(byteRange)]);
  headers.push([
    "Status",
    formatStatusHeader({ namespace: 0, code: status, reason: opts.reason ?? MSRP_STATUS_TEXT[status] ?? "" }),
  ]);
  return { kind: "request", tid: opts.tid ?? randomTransactionId(), method: "REPORT", headers, body: Buffer.alloc(0), flag: "$" };
}

/**
 * The empty SEND (`Byte-Range: 1-0/0`, no body) the active side sends right after connecting so
 * the passive side can bind the connection to the session named in the To-Path.
 */
export function createBindSend(opts: {
  toPath: string | readonly string[];
  fromPath: string | readonly string[];
  messageId: string;
  tid?: string;
}): MsrpRequest {
  return {
    kind: "request",
    tid: opts.tid ?? randomTransactionId(),
    method: "SEND",
    headers: [
      ["To-Path", formatPath(opts.toPath)],
      ["From-Path", formatPath(opts.fromPath)],
      ["Message-ID", opts.messageId],
      ["Byte-Range", "1-0/0"],
    ],
    body: Buffer.alloc(0),
    flag: "$",
  };
}
