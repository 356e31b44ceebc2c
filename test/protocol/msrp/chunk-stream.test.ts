import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type ChunkWireOp,
  type ContinuationFlag,
  getMsrpHeader,
  MsrpFramer,
  type MsrpRequest,
  MsrpStreamFramer,
  OutboundChunkWriter,
  parseByteRange,
} from "../../../src/protocol/msrp/index.js";
import { cutAt } from "../../support/cut-at.js";

const A = "msrp://127.0.0.1:40312/jshA7weztas;tcp";
const B = "msrp://127.0.0.1:2855/kjhd37s2s20w2a;tcp";

function head(tid: string, byteRange: string | undefined = "1-*/*"): MsrpRequest {
  const headers: MsrpRequest["headers"] = [
    ["To-Path", B],
    ["From-Path", A],
    ["Message-ID", "msg-1"],
  ];
  if (byteRange !== undefined) headers.push(["Byte-Range", byteRange]);
  headers.push(["Content-Type", "application/octet-stream"]);
  return { kind: "request", tid, method: "SEND", headers, body: Buffer.alloc(0), flag: "+" };
}

/** Runs a body through a writer in the given segments; returns the ops and the wire they make. */
function pass(writer: OutboundChunkWriter, segments: Buffer[], flag: ContinuationFlag): { ops: ChunkWireOp[]; wire: Buffer } {
  const ops = writer.start();
  for (const s of segments) writer.write(s, ops);
  ops.push(...writer.end(flag));
  return { ops, wire: Buffer.concat(ops.map((o) => o.bytes)) };
}

function frames(wire: Buffer): MsrpRequest[] {
  return new MsrpFramer().push(wire).map((f) => {
    if (!f.ok || f.message.kind !== "request") throw new Error(`bad frame: ${JSON.stringify(f)}`);
    return f.message;
  });
}

/** Tids handed out in order (the writer's continuations), then random-looking fallbacks. */
function tidSequence(tids: string[]): () => string {
  let i = 0;
  return () => tids[i++] ?? `fallback${i}xyz`;
}

describe("outbound chunk writer (cut-through forwarding)", () => {
  it("passes a body on as views of its segments between one head and one end-line", () => {
    const body = Buffer.alloc(100_000, 0x61);
    const segments = [body.subarray(0, 30_000), body.subarray(30_000, 65_536), body.subarray(65_536)];
    const writer = new OutboundChunkWriter(head("outTid001", "1-100000/100000"));
    const { ops, wire } = pass(writer, segments, "$");
    expect(ops.map((o) => o.op)).toEqual(["head", "body", "body", "body", "end"]);
    for (const o of ops.filter((x) => x.op === "body")) expect(o.bytes.buffer).toBe(body.buffer);
    const [m, ...rest] = frames(wire);
    expect(rest).toEqual([]);
    expect(m).toMatchObject({ tid: "outTid001", flag: "$" });
    expect(m!.body.equals(body)).toBe(true);
    expect(getMsrpHeader(m!, "Byte-Range")).toBe("1-100000/100000");
    expect(writer.pieceCount).toBe(1);
    expect(writer.bodyBytes).toBe(body.length);
  });

  it("an empty body still makes a body section, and `#` aborts", () => {
    const { wire } = pass(new OutboundChunkWriter(head("outTid002")), [], "#");
    const [m] = frames(wire);
    expect(m).toMatchObject({ flag: "#", body: Buffer.alloc(0) });
  });

  it("interrupts the chunk where its own end-line occurs in the body and continues in a new piece", () => {
    const body = Buffer.from("before\r\n-------outTid003$\r\nafter", "latin1");
    const writer = new OutboundChunkWriter(head("outTid003", `11-${10 + body.length}/100`), tidSequence(["nextTid01"]));
    const { wire } = pass(writer, [body], "$");
    const pieces = frames(wire);
    expect(pieces.map((p) => [p.tid, p.flag])).toEqual([
      ["outTid003", "+"],
      ["nextTid01", "$"],
    ]);
    expect(Buffer.concat(pieces.map((p) => p.body)).equals(body)).toBe(true);
    // The first piece keeps the first byte of the look-alike, so it never holds it whole.
    expect(pieces[0]!.body.toString("latin1")).toBe("before\r");
    expect(getMsrpHeader(pieces[0]!, "Byte-Range")).toBe(`11-${10 + body.length}/100`);
    expect(getMsrpHeader(pieces[1]!, "Byte-Range")).toBe(`18-${10 + body.length}/100`);
    expect(writer.pieceCount).toBe(2);
  });

  it("a body that begins with its end-line's dashes is interrupted too (CRLF CRLF ------- reads as an empty body)", () => {
    const body = Buffer.from("-------outTid007$\r\nrest", "latin1");
    const writer = new OutboundChunkWriter(head("outTid007"), tidSequence(["contTid03"]));
    const pieces = frames(pass(writer, [body], "$").wire);
    expect(pieces.map((p) => [p.tid, p.body.toString("latin1"), p.flag])).toEqual([
      ["outTid007", "", "+"],
      ["contTid03", body.toString("latin1"), "$"],
    ]);
  });

  it("finds its end-line across segments, and adds a Byte-Range to a continuation when the chunk had none", () => {
    const body = Buffer.from("xx\r\n-------outTid004+\r\nyy", "latin1");
    for (let cut = 1; cut < body.length; cut++) {
      const writer = new OutboundChunkWriter(head("outTid004", undefined), tidSequence(["nextTid02"]));
      const pieces = frames(pass(writer, [body.subarray(0, cut), body.subarray(cut)], "+").wire);
      expect(pieces.length, `cut ${cut}`).toBe(2);
      expect(Buffer.concat(pieces.map((p) => p.body)).equals(body), `cut ${cut}`).toBe(true);
      const second = parseByteRange(getMsrpHeader(pieces[1]!, "Byte-Range")!)!;
      expect(second.start, `cut ${cut}`).toBe(1 + pieces[0]!.body.length);
      expect(pieces.map((p) => p.flag)).toEqual(["+", "+"]);
    }
  });

  it("never lets a piece hold its own end-line, for any body and segmentation (property)", () => {
    const tid = fc.stringMatching(/^[A-Za-z0-9]{8,12}$/);
    let interrupted = 0;
    fc.assert(
      fc.property(
        fc.array(tid, { minLength: 4, maxLength: 4 }),
        fc.array(fc.oneof(fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)), fc.nat(3), fc.constantFrom("\r", "\r\n", "-------")), {
          maxLength: 30,
        }),
        fc.array(fc.nat(), { maxLength: 12 }),
        fc.constantFrom<ContinuationFlag>("$", "+", "#"),
        (tids, parts, cuts, flag) => {
          const [first, ...next] = tids as [string, ...string[]];
          // Bodies made of look-alikes of the tids the writer will use, whole and cut short.
          const body = Buffer.concat(
            parts.map((p) => (typeof p === "number" ? Buffer.from(`\r\n-------${tids[p]}${"$+#"[p % 3]}\r\n`, "latin1") : Buffer.from(p))),
          );
          const writer = new OutboundChunkWriter(head(first, `5-${4 + body.length}/${4 + body.length}`), tidSequence(next));
          // Every other segment boundary also interrupts the piece (the connection had other messages).
          const ops = writer.start();
          for (const [i, seg] of cutAt(body, cuts).entries()) {
            writer.write(seg, ops);
            if (i % 2 === 1) ops.push(...writer.interrupt());
          }
          ops.push(...writer.end(flag));
          const wire = Buffer.concat(ops.map((o) => o.bytes));
          const pieces = frames(wire);
          expect(pieces.length).toBe(writer.pieceCount);
          expect(Buffer.concat(pieces.map((p) => p.body)).equals(body)).toBe(true);
          let offset = 0;
          for (const [i, p] of pieces.entries()) {
            expect(p.body.indexOf(`\r\n-------${p.tid}`)).toBe(-1);
            expect(parseByteRange(getMsrpHeader(p, "Byte-Range")!)!.start).toBe(5 + offset);
            expect(p.flag).toBe(i === pieces.length - 1 ? flag : "+");
            offset += p.body.length;
          }
          expect(ops.filter((o) => o.op === "head").length).toBe(pieces.length);
          if (pieces.length > 1) interrupted++;
        },
      ),
      { numRuns: 400 },
    );
    expect(interrupted).toBeGreaterThan(50);
  });

  it("interrupt() ends the piece with + and the next bytes, or the end alone, continue in a new piece", () => {
    const body = Buffer.from("0123456789abcdefghij");
    for (const at of [0, 7, 20]) {
      const writer = new OutboundChunkWriter(head("outTid006", `1-${body.length}/${body.length}`), tidSequence(["contTid01", "contTid02"]));
      const ops = writer.start();
      writer.write(body.subarray(0, at), ops);
      ops.push(...writer.interrupt());
      expect(writer.interrupt()).toEqual([]);
      writer.write(body.subarray(at), ops);
      ops.push(...writer.end("$"));
      const pieces = frames(Buffer.concat(ops.map((o) => o.bytes)));
      expect(pieces.map((p) => [p.tid, p.flag]), `at ${at}`).toEqual([
        ["outTid006", "+"],
        ["contTid01", "$"],
      ]);
      expect(Buffer.concat(pieces.map((p) => p.body)).equals(body)).toBe(true);
      expect(getMsrpHeader(pieces[1]!, "Byte-Range")).toBe(`${at + 1}-${body.length}/${body.length}`);
    }
  });

  it("a body framed by the head's own tid goes out unscanned in one piece; a continuation under a fresh tid is scanned again", () => {
    // `CRLF -------<tid>` followed by no flag: a body its sender may send (it is no end-line), and
    // that the scanning writer conservatively cuts. The framer that read it vouches for it.
    const lookAlike = Buffer.from("head of body\r\n-------keepTid0123456789X and more");
    const scanned = pass(new OutboundChunkWriter(head("keepTid0123456789"), tidSequence(["contTid01"])), [lookAlike], "$");
    expect(frames(scanned.wire).map((p) => p.tid)).toEqual(["keepTid0123456789", "contTid01"]);

    const writer = new OutboundChunkWriter(head("keepTid0123456789"), tidSequence(["contTid01", "contTid02"]), true);
    const ops = writer.start();
    writer.write(lookAlike, ops);
    expect(ops.filter((o) => o.op === "body").map((o) => o.bytes)).toEqual([lookAlike]); // one view, not cut
    ops.push(...writer.interrupt());
    // The continuation goes out under contTid01: its look-alike is cut again.
    const second = Buffer.from("tail\r\n-------contTid01 end");
    writer.write(second, ops);
    ops.push(...writer.end("$"));
    const pieces = frames(Buffer.concat(ops.map((o) => o.bytes)));
    expect(pieces.map((p) => [p.tid, p.flag])).toEqual([
      ["keepTid0123456789", "+"],
      ["contTid01", "+"],
      ["contTid02", "$"],
    ]);
    expect(Buffer.concat(pieces.map((p) => p.body)).equals(Buffer.concat([lookAlike, second]))).toBe(true);
  });

  it("ignores writes after the end", () => {
    const writer = new OutboundChunkWriter(head("outTid005"));
    writer.start();
    const ops: ChunkWireOp[] = [];
    expect(writer.end("$")).toHaveLength(1);
    writer.write(Buffer.from("late"), ops);
    expect(ops).toEqual([]);
    expect(writer.end("$")).toEqual([]);
    expect(writer.finished).toBe(true);
  });
});

describe("forwarding under the sender's tid without scanning (what the relay's framer hands out)", () => {
  const T = "keepTid0123456789";
  // Look-alikes of T's end-line that are not end-lines, and bits of them.
  const PARTS = [`\r\n-------${T}`, "$", "+", "#", "\r", "\n", "\r\n", "-", "abc", "-------", T, `\r\n-------${T}$\r`, `\r\n-------${T}$x`, `\r\n-------${T}+-`];

  it("bodies full of look-alikes, cut into any reads and interrupted between them, arrive whole and in order (property)", () => {
    let framedWhole = 0;
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...PARTS), { maxLength: 30 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 40 }),
        (parts, cuts, interrupts) => {
          const body = parts.join("");
          const wire = Buffer.from(`MSRP ${T} SEND\r\nTo-Path: ${B}\r\nFrom-Path: ${A}\r\nContent-Type: x/y\r\n\r\n${body}\r\n-------${T}$\r\n`, "latin1");
          // Only bodies a framer reads as one message under T (a look-alike may end it earlier).
          const alone = new MsrpFramer().push(wire);
          if (alone.length !== 1 || !alone[0]!.ok || alone[0]!.message.kind !== "request" || alone[0]!.message.body.toString("latin1") !== body) return;
          framedWhole++;
          const framer = new MsrpStreamFramer({ reusedInput: true });
          const scratch = Buffer.alloc(wire.length);
          const out: Buffer[] = [];
          let writer: OutboundChunkWriter | undefined;
          let next = 0;
          const fresh = () => `cont${next++}xxxxxxxxxxxxxxxxxx`;
          const take = (ops: ChunkWireOp[]) => out.push(...ops.map((o) => Buffer.from(o.bytes))); // copies: the read is reused
          let k = 0;
          for (const read of cutAt(wire, cuts)) {
            read.copy(scratch);
            for (const e of framer.push(scratch.subarray(0, read.length))) {
              if (!("part" in e)) {
                if (!e.ok || e.message.kind !== "request") throw new Error("unexpected frame");
                writer = new OutboundChunkWriter({ ...e.message, tid: T }, fresh, true);
                const ops = writer.start();
                writer.write(e.message.body, ops);
                take([...ops, ...writer.end(e.message.flag)]);
              } else if (e.part === "head") {
                writer = new OutboundChunkWriter({ ...e.request, tid: T }, fresh, true);
                take(writer.start());
              } else if (e.part === "body") {
                const ops: ChunkWireOp[] = [];
                writer!.write(e.data, ops);
                take(ops);
              } else {
                take(writer!.end(e.flag));
              }
            }
            scratch.fill(0x2d);
            // The connection interrupts an open chunk only between reads (at the end of a turn).
            if (writer && interrupts[k++ % interrupts.length]) take(writer.interrupt());
          }
          const pieces = frames(Buffer.concat(out));
          expect(Buffer.concat(pieces.map((p) => p.body)).toString("latin1")).toBe(body);
          expect(pieces[0]!.tid).toBe(T);
          expect(pieces.at(-1)!.flag).toBe("$");
          expect(pieces.slice(0, -1).every((p) => p.flag === "+")).toBe(true);
        },
      ),
      { numRuns: 3000 },
    );
    expect(framedWhole).toBeGreaterThan(300);
  });
});
