/**
 * The wire side of a chunk a relay forwards while it is still receiving it (cut-through, RFC 4976
 * relays; see MsrpStreamFramer for the receiving side).
 *
 * The difficulty: a sender picks a tid whose end-line does not occur in the chunk's body (RFC 4975
 * §7.1), but a relay writes the head, and so commits to a tid, before it has seen the body. So the
 * writer scans every body byte it passes on for its own `CRLF -------<tid>`, across segment
 * boundaries, and if it ever occurs it interrupts the chunk the way RFC 4975 §7.1.1 allows: the
 * piece ends with `+` just after the first byte of the occurrence (so the piece never holds it
 * whole, and no end-line can be read earlier than the real one, since CR occurs in the needle only
 * at its start), and the rest continues in a new piece with a fresh tid and a Byte-Range starting
 * where the previous piece stopped; the last piece carries the original flag. Receivers take a
 * piece's real end from its body length. With 16 random base-62 characters per tid this never
 * happens by chance, but the relay cannot vouch for bodies it has not seen.
 *
 * The same mechanism lets the connection put other messages on the wire while such a chunk is
 * open (RFC 4975 chunking exists for exactly that): `interrupt()` ends the current piece with `+`
 * and the next bytes (or the end) start a continuation piece.
 *
 * A relay that forwards a chunk under the tid it came with (`bodyFramedByTid`) skips the scan: its
 * framer has already read the body to its first `CRLF -------<tid>` + flag + CRLF, which is its
 * end, so the body holds no end-line of that tid (the RFC 4975 §7.1 promise, kept on the next
 * hop by the same bytes). Only continuation pieces, under fresh tids, are scanned. An interrupted
 * piece is a prefix of that body followed by its own end-line, which adds no earlier end-line: the
 * needle has its only CR first, so an occurrence cannot straddle into the end-line, and the framer
 * never ends a segment just after `CRLF -------<tid><flag>` without the byte that rules it out
 * (it holds such bytes back until the next read decides, and hands both out in one push; pieces
 * are interrupted only between pushes, at the end of an event-loop turn). A test cuts framed
 * bodies full of look-alikes at random reads, interrupts between them, and frames them again.
 *
 * Pure: it turns body segments into the byte pieces to write (views of the segments, never copies,
 * apart from the few bytes kept to find an occurrence across segments); the connection writes
 * them and keeps one transaction per piece head.
 */
import { formatByteRange, parseByteRange } from "./byte-range.js";
import type { ContinuationFlag, MsrpHeaderList, MsrpRequest } from "./message.js";
import { msrpEndLine, type RequestHeadSerializer, serializeMsrpStreamHead } from "./serializer.js";
import { randomLongTransactionId } from "./transaction-id.js";

export type ChunkWireOp =
  /** A piece starts: write `bytes`; a transaction for `tid` begins here. */
  | { op: "head"; tid: string; bytes: Buffer }
  | { op: "body"; bytes: Buffer }
  /** A piece ends (`+` for an interruption, the chunk's own flag at the end). */
  | { op: "end"; tid: string; flag: ContinuationFlag; bytes: Buffer };

const CR = 0x0d;
const EMPTY = Buffer.alloc(0);
const CRLF = Buffer.from("\r\n", "latin1");
const DASHES = "\r\n-------";

export class OutboundChunkWriter {
  private tid: string;
  /** `CRLF -------<tid>`, made when the first scan needs it (never for a piece that is not scanned). */
  private needleBytes: Buffer | undefined;
  /** The current piece's body is known to hold no end-line of its tid: it is not scanned. */
  private unscanned: boolean;
  /**
   * The last bytes of the current piece when they may begin an occurrence (≤ needle - 1). A piece
   * starts with the CRLF that ends its head: a receiver reads `CRLF CRLF -------<tid>$ CRLF` as an
   * empty body and its end-line, so a body that begins with `-------<tid>` counts as an occurrence.
   */
  private tail: Buffer = CRLF;
  /** Body bytes of the current piece, and of the pieces before it. */
  private pieceBytes = 0;
  private offset = 0;
  private pieces = 1;
  private closed = false;
  /** The current piece was ended by interrupt(): the next bytes (or the end) need a new head. */
  private suspended = false;

  /**
   * `head`: the request to send (this hop's paths and tid; its body is ignored). `nextTid` gives
   * the tids of continuation pieces (tests inject colliding ones). `bodyFramedByTid`: the body
   * comes from a stream framed by `head.tid` (see the module comment), so the first piece is not
   * scanned.
   */
  constructor(
    private readonly head: MsrpRequest,
    private readonly nextTid: () => string = randomLongTransactionId,
    bodyFramedByTid = false,
    /** The connection's head template (the same bytes as serializeMsrpStreamHead, made faster). */
    private readonly heads?: RequestHeadSerializer,
  ) {
    this.tid = head.tid;
    this.unscanned = bodyFramedByTid;
  }

  private headBytes(m: MsrpRequest): Buffer {
    return this.heads !== undefined ? this.heads.head(m, true) : serializeMsrpStreamHead(m);
  }

  private get needle(): Buffer {
    return (this.needleBytes ??= Buffer.from(DASHES + this.tid, "latin1"));
  }

  /** Pieces so far (1 unless the body held an end-line of ours). */
  get pieceCount(): number {
    return this.pieces;
  }

  /** Body bytes passed on so far. */
  get bodyBytes(): number {
    return this.offset + this.pieceBytes;
  }

  get finished(): boolean {
    return this.closed;
  }

  /** The first piece's head. */
  start(): ChunkWireOp[] {
    return [{ op: "head", tid: this.tid, bytes: this.headBytes(this.head) }];
  }

  /** The ops that pass `data` on (appended to `out`). Ignored once finished. */
  write(data: Buffer, out: ChunkWireOp[]): void {
    if (this.closed || data.length === 0) return;
    if (this.suspended) this.startPiece(out);
    if (this.unscanned) {
      out.push({ op: "body", bytes: data });
      this.pieceBytes += data.length;
      return;
    }
    let rest = data;
    while (rest.length > 0) {
      const cut = this.findCut(rest);
      if (cut < 0) {
        this.pass(rest, out);
        return;
      }
      if (cut > 0) this.pass(rest.subarray(0, cut), out);
      this.endPiece(out);
      this.startPiece(out);
      rest = rest.subarray(cut);
    }
  }

  /**
   * Ends the current piece with `+` so that other messages can go on the wire; the next write (or
   * the end, then with an empty body) continues in a new piece. Nothing when already suspended.
   */
  interrupt(): ChunkWireOp[] {
    if (this.closed || this.suspended) return [];
    const out: ChunkWireOp[] = [];
    this.endPiece(out);
    this.suspended = true;
    return out;
  }

  /** The ops that end the chunk with `flag` (`#` aborts the message). */
  end(flag: ContinuationFlag): ChunkWireOp[] {
    if (this.closed) return [];
    this.closed = true;
    const out: ChunkWireOp[] = [];
    if (this.suspended) this.startPiece(out);
    out.push({ op: "end", tid: this.tid, flag, bytes: msrpEndLine(this.tid, flag) });
    return out;
  }

  /**
   * Where the current piece must end in `rest` so that it never holds its end-line whole: 0 when
   * an occurrence begins in the bytes already written, just after its first byte when it begins in
   * `rest`, -1 when there is none.
   */
  private findCut(rest: Buffer): number {
    if (this.tail.length > 0 && this.occursAcross(rest)) return 0;
    const q = rest.indexOf(this.needle);
    return q < 0 ? -1 : q + 1;
  }

  /**
   * True when an occurrence begins in the kept tail and ends in `rest` (compared in place: this
   * runs for every segment passed on, and joining the two was an allocation per segment).
   */
  private occursAcross(rest: Buffer): boolean {
    const tail = this.tail;
    const needle = this.needle;
    for (let i = 0; i < tail.length; i++) {
      if (tail[i] !== CR) continue;
      const inTail = tail.length - i;
      if (rest.length < needle.length - inTail) return false;
      let j = 0;
      while (j < inTail && tail[i + j] === needle[j]) j++;
      if (j < inTail) continue;
      let k = 0;
      while (j < needle.length && rest[k] === needle[j]) {
        j++;
        k++;
      }
      if (j === needle.length) return true;
    }
    return false;
  }

  private pass(bytes: Buffer, out: ChunkWireOp[]): void {
    out.push({ op: "body", bytes });
    this.pieceBytes += bytes.length;
    this.keepTail(bytes);
  }

  /** Keeps the last needle - 1 bytes of the piece, from a CR on (nothing else can begin the needle). */
  private keepTail(bytes: Buffer): void {
    const keep = this.needle.length - 1;
    const src = bytes.length >= keep ? bytes : Buffer.concat([this.tail, bytes]);
    const from = Math.max(0, src.length - keep);
    let cr = -1;
    for (let i = from; i < src.length; i++) {
      if (src[i] === CR) {
        cr = i;
        break;
      }
    }
    this.tail = cr < 0 ? EMPTY : Buffer.from(src.subarray(cr));
  }

  private endPiece(out: ChunkWireOp[]): void {
    out.push({ op: "end", tid: this.tid, flag: "+", bytes: msrpEndLine(this.tid, "+") });
    this.offset += this.pieceBytes;
    this.pieceBytes = 0;
    this.tail = CRLF;
    // A continuation goes out under a fresh tid, which nothing has checked the body against.
    this.unscanned = false;
  }

  /** A continuation piece starting at the next body byte: fresh tid, Byte-Range from there. */
  private startPiece(out: ChunkWireOp[]): void {
    this.suspended = false;
    this.pieces++;
    let tid = this.nextTid();
    // A continuation must not reuse the tid just interrupted (its needle is in the body).
    for (let i = 0; i < 64 && tid === this.tid; i++) tid = this.nextTid();
    if (tid === this.tid) tid = randomLongTransactionId();
    this.tid = tid;
    this.needleBytes = undefined;
    const headers: MsrpHeaderList = [];
    let ranged = false;
    for (const h of this.head.headers) {
      if (h[0] === "Byte-Range") {
        ranged = true;
        headers.push(["Byte-Range", continuedRange(h[1], this.offset)]);
      } else {
        headers.push(h);
      }
    }
    if (!ranged) headers.push(["Byte-Range", continuedRange(undefined, this.offset)]);
    const next: MsrpRequest = { ...this.head, tid, headers };
    out.push({ op: "head", tid, bytes: this.headBytes(next) });
  }
}

/** The Byte-Range of a continuation that starts `offset` body bytes into the chunk. */
function continuedRange(value: string | undefined, offset: number): string {
  const r = value !== undefined ? parseByteRange(value) : null;
  const start = (r?.start ?? 1) + offset;
  const end = r && r.end !== "*" && r.end >= start - 1 ? r.end : "*";
  return formatByteRange({ start, end, total: r?.total ?? "*" });
}
