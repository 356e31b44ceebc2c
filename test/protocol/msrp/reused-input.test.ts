/**
 * The framers with `reusedInput` (a socket read into one reused buffer, socket-reads.ts): every
 * read here is pushed from one scratch buffer that is overwritten with garbage as soon as the
 * push's events were handled, so a frame, a body or held-back bytes that still pointed into it
 * would come out corrupted. The consumer copies body segments while handling them, as the
 * connection does; whole frames are kept as they come and compared at the end.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type MsrpFrame, MsrpFramer, type MsrpMessage, type MsrpRequest, MsrpStreamFramer } from "../../../src/protocol/msrp/index.js";
import { cutAt } from "../../support/cut-at.js";
import { fixture, MSRP_FIXTURES } from "./fixtures.js";

const A = "msrp://127.0.0.1:40312/jshA7weztas;tcp";
const B = "msrp://127.0.0.1:2855/kjhd37s2s20w2a;tcp";
const GARBAGE = 0xee;

/** A SEND whose body (binary, with end-line look-alikes) is large enough to be streamed even when whole. */
function largeSend(tid: string, n: number, flag = "$"): Buffer {
  const body = Buffer.alloc(n);
  for (let i = 0; i < n; i++) body[i] = (i * 31 + 7) & 0xff;
  body.write(`\r\n-------${tid}x\r\n`, 100, "latin1");
  body.write(`\r\n-------${tid}`, n - 12, "latin1");
  return Buffer.concat([
    Buffer.from(`MSRP ${tid} SEND\r\nTo-Path: ${B}\r\nFrom-Path: ${A}\r\nMessage-ID: big1\r\nByte-Range: 1-${n}/${n}\r\nContent-Type: application/octet-stream\r\n\r\n`),
    body,
    Buffer.from(`\r\n-------${tid}${flag}\r\n`),
  ]);
}

const WIRES: Array<[name: string, wire: Buffer]> = [
  ...MSRP_FIXTURES.map(([name]) => [name, fixture(name)] as [string, Buffer]),
  ["large SEND (20 KB)", largeSend("bigTid77", 20_000)],
];

/** A comparable form: bodies become base64 so deep equality looks at content (and stays fast). */
function plain(f: MsrpFrame): unknown {
  if (!f.ok) return { ok: false, code: f.error.code, fatal: f.fatal, tid: f.tid };
  const m: MsrpMessage = f.message;
  return { size: f.size, m: m.kind === "request" ? { ...m, body: m.body.toString("base64") } : m };
}

function reference(wire: Buffer): unknown[] {
  return new MsrpFramer().push(Buffer.from(wire)).map(plain);
}

/** Pushes `pieces` through one scratch buffer that is overwritten after every push. */
function throughReusedBuffer(pieces: Buffer[], kind: "whole" | "stream"): { frames: unknown[]; buffered: number } {
  const scratch = Buffer.alloc(Math.max(1, ...pieces.map((p) => p.length)));
  const frames: MsrpFrame[] = [];
  if (kind === "whole") {
    const framer = new MsrpFramer({ reusedInput: true });
    for (const piece of pieces) {
      piece.copy(scratch);
      frames.push(...framer.push(scratch.subarray(0, piece.length)));
      scratch.fill(GARBAGE);
    }
    return { frames: frames.map(plain), buffered: framer.bufferedBytes };
  }
  const framer = new MsrpStreamFramer({ reusedInput: true });
  let head: MsrpRequest | undefined;
  let parts: Buffer[] = [];
  for (const piece of pieces) {
    piece.copy(scratch);
    for (const e of framer.push(scratch.subarray(0, piece.length))) {
      if (!("part" in e)) frames.push(e);
      else if (e.part === "head") {
        head = e.request;
        parts = [];
      } else if (e.part === "body") parts.push(Buffer.from(e.data));
      else {
        frames.push({ ok: true, message: { ...head!, body: Buffer.concat(parts), flag: e.flag }, size: e.size });
        head = undefined;
      }
    }
    scratch.fill(GARBAGE);
  }
  return { frames: frames.map(plain), buffered: framer.bufferedBytes };
}

describe("MSRP framers reading from a reused buffer", () => {
  for (const kind of ["whole", "stream"] as const) {
    it(`${kind}: every fixture split at every byte frames the same messages though the buffer is overwritten after each read`, () => {
      for (const [name, wire] of WIRES) {
        const expected = reference(wire);
        for (let i = 0; i <= wire.length; i++) {
          const got = throughReusedBuffer([wire.subarray(0, i), wire.subarray(i)], kind);
          expect(got.frames, `${name} split at ${i}`).toEqual(expected);
          expect(got.buffered).toBe(0);
        }
      }
    });

    it(`${kind}: any sequence of messages cut into any reads frames the same (property)`, () => {
      fc.assert(
        fc.property(
          fc.array(fc.integer({ min: 0, max: WIRES.length - 1 }), { minLength: 1, maxLength: 6 }),
          fc.array(fc.nat(), { maxLength: 30 }),
          (picked, cuts) => {
            const wire = Buffer.concat(picked.map((i) => WIRES[i]![1]));
            const expected = picked.flatMap((i) => reference(WIRES[i]![1]));
            const got = throughReusedBuffer(cutAt(wire, cuts), kind);
            expect(got.frames).toEqual(expected);
            expect(got.buffered).toBe(0);
          },
        ),
        { numRuns: 300 },
      );
    });
  }

  it("a read that ends inside a header block: the next large read is held in an arena of its size, and the large requests in it still come in parts", () => {
    const first = largeSend("firstTid1", 600 * 1024);
    const second = largeSend("secondTid", 300 * 1024);
    const framer = new MsrpStreamFramer({ reusedInput: true });
    const scratch = Buffer.alloc(first.length + second.length);
    first.copy(scratch, 0, 0, 60);
    expect(framer.push(scratch.subarray(0, 60))).toEqual([]);
    const rest = Buffer.concat([first.subarray(60), second]);
    rest.copy(scratch);
    const events = framer.push(scratch.subarray(0, rest.length));
    expect(events.map((e) => ("part" in e ? e.part : "whole"))).toEqual(["head", "body", "end", "head", "body", "end"]);
    const bodies = events.filter((e): e is { part: "body"; data: Buffer } => "part" in e && e.part === "body");
    expect(bodies.map((b) => b.data.length)).toEqual([600 * 1024, 300 * 1024]);
    // The first came from the framer's arena (the held header bytes made it copy that read), sized
    // to the read rather than twice it; the second from it too.
    expect(bodies[0]!.data.buffer).not.toBe(scratch.buffer);
    expect(bodies[0]!.data.buffer.byteLength).toBeLessThan(1.1 * (first.length + second.length));
    expect(framer.bufferedBytes).toBe(0);
  });

  it("a large request whole in one reused read comes in parts (one body view, no copy); a small one comes whole with its own copy", () => {
    const big = largeSend("bigTid77", 20_000);
    const small = fixture("send-cpim.msrp");
    const read = Buffer.concat([small, big]);
    const events = new MsrpStreamFramer({ reusedInput: true }).push(read);
    expect(events.map((e) => ("part" in e ? e.part : "whole"))).toEqual(["whole", "head", "body", "end"]);
    const first = events[0] as MsrpFrame & { ok: true };
    expect((first.message as MsrpRequest).body.buffer).not.toBe(read.buffer);
    const body = events[2] as { part: "body"; data: Buffer };
    expect(body.data.buffer).toBe(read.buffer);
    expect(body.data.length).toBe(20_000);
    // Without reusedInput the same large request comes whole (its body a view of the read).
    const plainEvents = new MsrpStreamFramer().push(read);
    expect(plainEvents.map((e) => ("part" in e ? e.part : "whole"))).toEqual(["whole", "whole"]);
  });
});
