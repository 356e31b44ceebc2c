import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type MsrpFrame,
  MsrpFramer,
  type MsrpMessage,
  type MsrpRequest,
  type MsrpStreamEvent,
  MsrpStreamFramer,
} from "../../../src/protocol/msrp/index.js";
import { cutAt } from "../../support/cut-at.js";
import { ALNUM, chars } from "./arbitraries.js";
import { fixture, MSRP_FIXTURES } from "./fixtures.js";

const A = "msrp://127.0.0.1:40312/jshA7weztas;tcp";
const B = "msrp://127.0.0.1:2855/kjhd37s2s20w2a;tcp";

/** What a consumer of the stream framer sees, folded back into frames (streamed requests reassembled). */
interface Folded {
  frames: MsrpFrame[];
  /** How many requests came streamed (head/body/end) rather than whole. */
  streamed: number;
  /** Body segments that were not views of a pushed read (held-back bytes handed out as copies). */
  copiedSegments: number;
  copiedBytes: number;
}

function fold(reads: Buffer[], framer = new MsrpStreamFramer()): Folded {
  const out: Folded = { frames: [], streamed: 0, copiedSegments: 0, copiedBytes: 0 };
  let head: MsrpRequest | undefined;
  let parts: Buffer[] = [];
  for (const read of reads) {
    for (const e of framer.push(read)) {
      if (!("part" in e)) {
        expect(head === undefined || (!e.ok && e.fatal), "a whole frame inside a streamed body").toBe(true);
        out.frames.push(e);
        continue;
      }
      if (e.part === "head") {
        expect(head).toBeUndefined();
        expect(e.request.body.length).toBe(0);
        head = e.request;
        parts = [];
      } else if (e.part === "body") {
        expect(head).toBeDefined();
        expect(e.data.length).toBeGreaterThan(0);
        if (e.data.buffer !== read.buffer) {
          out.copiedSegments++;
          out.copiedBytes += e.data.length;
        }
        parts.push(e.data);
      } else {
        expect(head).toBeDefined();
        out.streamed++;
        const message: MsrpRequest = { ...head!, body: Buffer.concat(parts), flag: e.flag };
        out.frames.push({ ok: true, message, size: e.size });
        head = undefined;
      }
    }
  }
  return out;
}

function whole(reads: Buffer[]): MsrpFrame[] {
  const framer = new MsrpFramer();
  return reads.flatMap((r) => framer.push(r));
}

/** A comparable form: Buffers become byte arrays so deep equality looks at content. */
function plain(f: MsrpFrame): unknown {
  if (!f.ok) return { ok: false, code: f.error.code, fatal: f.fatal, tid: f.tid, method: f.method, headers: f.headers };
  const m: MsrpMessage = f.message;
  return { size: f.size, m: m.kind === "request" ? { ...m, body: [...m.body] } : m };
}

function send(tid: string, body: Buffer, flag = "$", extra = ""): Buffer {
  return Buffer.concat([
    Buffer.from(`MSRP ${tid} SEND\r\nTo-Path: ${B}\r\nFrom-Path: ${A}\r\nMessage-ID: m1\r\n${extra}Byte-Range: 1-${body.length}/${body.length}\r\nContent-Type: application/octet-stream\r\n\r\n`),
    body,
    Buffer.from(`\r\n-------${tid}${flag}\r\n`),
  ]);
}

/** A body that is mostly end-line look-alikes of `tid`: wrong flags, missing CRLF, cut short. */
function lookalikeBody(tid: string, n: number): Buffer {
  const pieces = [
    `\r\n-------${tid}`,
    `\r\n-------${tid}x\r\n`,
    `\r\n-------${tid}$\r`,
    `\r\n-------${tid}$x`,
    `\r\n-------${tid.slice(0, -1)}$\r\n`,
    `\r\n------${tid}$\r\n`,
    "\r\n-------",
    "\r",
    "-",
  ];
  const parts: string[] = [];
  for (let i = 0; i < n; i++) parts.push(pieces[i % pieces.length]!);
  return Buffer.from(parts.join(""), "latin1");
}

describe("MSRP stream framer (cut-through) against the whole-message framer", () => {
  it("gives the same messages for every fixture split at every byte, and byte by byte", () => {
    for (const [name] of MSRP_FIXTURES) {
      const wire = fixture(name);
      const expected = whole([wire]).map(plain);
      for (let i = 0; i <= wire.length; i++) {
        const reads = [wire.subarray(0, i), wire.subarray(i)];
        expect(fold(reads).frames.map(plain), `${name} split at ${i}`).toEqual(expected);
      }
      const bytes = [...wire].map((b) => Buffer.from([b]));
      expect(fold(bytes).frames.map(plain), `${name} byte by byte`).toEqual(expected);
    }
  });

  it("streams a body split at every byte: the segments concatenate to the body, the end-line split anywhere", () => {
    const tid = "Str3amTid";
    const body = Buffer.concat([lookalikeBody(tid, 9), Buffer.from("payload"), lookalikeBody(tid, 5)]);
    const wire = Buffer.concat([send(tid, body, "+"), fixture("response-200.msrp")]);
    const expected = whole([wire]).map(plain);
    let streamedSplits = 0;
    for (let i = 0; i <= wire.length; i++) {
      for (const j of [i, Math.min(wire.length, i + 1), Math.min(wire.length, i + 17)]) {
        const r = fold([wire.subarray(0, i), wire.subarray(i, j), wire.subarray(j)]);
        expect(r.frames.map(plain), `split at ${i}, ${j}`).toEqual(expected);
        streamedSplits += r.streamed;
      }
    }
    // Every cut between the blank line (+ room for an end-line) and the end-line streams.
    expect(streamedSplits).toBeGreaterThan(body.length);
  });

  it("gives the same messages for any sequence of fixtures and look-alike bodies cut into any reads (property)", () => {
    const names = MSRP_FIXTURES.map(([n]) => n);
    const tid = fc.tuple(chars(ALNUM, 1, 1), chars(`${ALNUM}.-+%=`, 7, 20)).map(([a, b]) => a + b);
    const item = fc.oneof(
      fc.constantFrom(...names).map(fixture),
      fc
        .tuple(tid, fc.uint8Array({ maxLength: 300 }), fc.nat(12), fc.constantFrom("$", "+", "#"))
        .map(([t, bytes, n, flag]) => send(t, Buffer.concat([lookalikeBody(t, n), Buffer.from(bytes), lookalikeBody(t, n % 4)]), flag)),
    );
    fc.assert(
      fc.property(fc.array(item, { minLength: 1, maxLength: 6 }), fc.array(fc.nat(), { maxLength: 24 }), (messages, cuts) => {
        const wire = Buffer.concat(messages);
        const expected = whole([wire]).map(plain);
        const framer = new MsrpStreamFramer();
        expect(fold(cutAt(wire, cuts), framer).frames.map(plain)).toEqual(expected);
        expect(framer.bufferedBytes).toBe(0);
        expect(framer.inBody).toBe(false);
      }),
      { numRuns: 400 },
    );
  });
});

describe("MSRP stream framer cut-through behaviour", () => {
  const big = (n: number) => {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = (i * 31 + 7) & 0xff;
    return b;
  };

  it("emits the head as soon as the header block is read, then the body as views of the reads", () => {
    const body = big(200_000);
    const wire = send("bigStream1", body, "+");
    const reads: Buffer[] = [];
    for (let i = 0; i < wire.length; i += 65536) reads.push(Buffer.from(wire.subarray(i, i + 65536)));
    const framer = new MsrpStreamFramer();
    const first = framer.push(reads[0]!);
    expect(first[0]).toMatchObject({ part: "head", request: { kind: "request", tid: "bigStream1", method: "SEND", flag: "+" } });
    expect(first.slice(1).every((e) => "part" in e && e.part === "body" && e.data.buffer === reads[0]!.buffer)).toBe(true);
    expect(framer.inBody).toBe(true);
    const all = fold(reads);
    expect(all.streamed).toBe(1);
    // This body holds no end-line prefix at any read's end: no byte is held back or copied.
    expect(all.copiedBytes).toBe(0);
    const m = all.frames[0]!;
    expect(m.ok && m.message.kind === "request" && m.message.body.equals(body)).toBe(true);
    expect(m.ok && m.size).toBe(wire.length);
    expect(m.ok && m.message.kind === "request" && m.message.flag).toBe("+");
  });

  it("holds back a read's tail that may begin the end-line, and only that", () => {
    const tid = "tailTid01";
    const body = Buffer.from("x".repeat(1000));
    const wire = send(tid, body);
    const endLine = wire.length - `\r\n-------${tid}$\r\n`.length;
    for (const cut of [endLine, endLine + 1, endLine + 5, endLine + 12, endLine + 19]) {
      const framer = new MsrpStreamFramer();
      const events = framer.push(wire.subarray(0, cut));
      const bodyBytes = events.reduce((n, e) => n + ("part" in e && e.part === "body" ? e.data.length : 0), 0);
      expect(bodyBytes, `cut ${cut}`).toBe(body.length);
      expect(framer.bufferedBytes).toBe(cut - endLine);
      const rest = framer.push(wire.subarray(cut));
      expect(rest.at(-1)).toEqual({ part: "end", flag: "$", size: wire.length });
      expect(framer.bufferedBytes).toBe(0);
    }
  });

  it("frames small messages and responses whole when they fit in the read", () => {
    const wire = Buffer.concat([send("smallOne1", Buffer.from("hello")), fixture("response-200.msrp"), fixture("report-success.msrp")]);
    const events = new MsrpStreamFramer().push(wire);
    expect(events.map((e) => ("part" in e ? e.part : e.ok))).toEqual([true, true, true]);
  });

  it("frames a request with bad headers whole and reports it like the whole-message framer", () => {
    const bad = send("badHdr01", big(5000), "$", "this is not a header\r\n");
    const cut = bad.indexOf("\r\n\r\n") + 100;
    const framer = new MsrpStreamFramer();
    expect(framer.push(bad.subarray(0, cut))).toEqual([]);
    const [f] = framer.push(bad.subarray(cut));
    expect(f).toMatchObject({ ok: false, fatal: false, tid: "badHdr01", method: "SEND" });
    expect(!("part" in f!) && !f!.ok && f!.error.code).toBe("bad-header");
  });

  it("gives up a streamed message that outgrows the limit after its head, naming its tid", () => {
    const framer = new MsrpStreamFramer({ maxMessageBytes: 4000 });
    const wire = send("tooBig001", big(10_000));
    const events = framer.push(wire.subarray(0, 3000));
    expect(events[0]).toMatchObject({ part: "head" });
    const later = framer.push(wire.subarray(3000, 6000));
    const last = later.at(-1)!;
    expect(last).toMatchObject({ ok: false, fatal: true, tid: "tooBig001", method: "SEND" });
    expect(framer.isFailed).toBe(true);
    expect(framer.inBody).toBe(false);
    expect(framer.push(fixture("response-200.msrp"))).toEqual([]);
  });

  it("never throws on random bytes, split anywhere", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.boolean(), fc.array(fc.nat(), { maxLength: 6 }), (bytes, prefixed, cuts) => {
        const head = prefixed ? `MSRP abcd1234 SEND\r\nTo-Path: ${B}\r\nFrom-Path: ${A}\r\nContent-Type: a/b\r\n\r\n` : "";
        const data = Buffer.concat([Buffer.from(head), Buffer.from(bytes)]);
        const framer = new MsrpStreamFramer({ maxMessageBytes: 400 });
        const events: MsrpStreamEvent[] = cutAt(data, cuts).flatMap((r) => framer.push(r));
        expect(events.filter((e) => !("part" in e) && !e.ok && e.fatal).length).toBeLessThanOrEqual(1);
      }),
      { numRuns: 500 },
    );
  });
});
