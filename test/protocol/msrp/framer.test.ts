import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  createBadRequestResponse,
  getMsrpHeader,
  type MsrpFrame,
  MsrpFramer,
  type MsrpMessage,
  type MsrpRequest,
  parseByteRange,
  parseMsrpMessage,
  parseStatusHeader,
  serializeMsrp,
  setMsrpHeader,
} from "../../../src/protocol/msrp/index.js";
import { cutAt } from "../../support/cut-at.js";
import { fixture, MSRP_FIXTURES } from "./fixtures.js";

const A = "msrp://127.0.0.1:40312/jshA7weztas;tcp";
const B = "msrp://127.0.0.1:2855/kjhd37s2s20w2a;tcp";

function frameAll(chunks: Buffer[], framer = new MsrpFramer()): MsrpFrame[] {
  return chunks.flatMap((c) => framer.push(c));
}

function okMessages(frames: MsrpFrame[]): MsrpMessage[] {
  return frames.map((f) => {
    if (!f.ok) throw new Error(`unexpected error frame: ${f.error.code} ${f.error.message}`);
    return f.message;
  });
}

/** A comparable form: Buffers become byte arrays so deep equality looks at content. */
function plain(m: MsrpMessage): unknown {
  return m.kind === "request" ? { ...m, body: [...m.body] } : m;
}

function request(frame: MsrpFrame | undefined): MsrpRequest {
  if (!frame?.ok || frame.message.kind !== "request") throw new Error("expected a request frame");
  return frame.message;
}

describe("MSRP framer on wire fixtures", () => {
  it("reads a SEND carrying a CPIM body with every header in order", () => {
    const frames = frameAll([fixture("send-cpim.msrp")]);
    expect(frames).toHaveLength(1);
    const m = request(frames[0]);
    expect(m.tid).toBe("a786hjs2");
    expect(m.method).toBe("SEND");
    expect(m.flag).toBe("$");
    const cpim = fixture("cpim-text.cpim");
    expect(m.headers).toEqual([
      ["To-Path", B],
      ["From-Path", A],
      ["Message-ID", "87652491"],
      ["Success-Report", "yes"],
      ["Byte-Range", `1-${cpim.length}/${cpim.length}`],
      ["Content-Type", "message/cpim"],
    ]);
    expect(m.body.equals(cpim)).toBe(true);
    expect(frames[0]!.ok && frames[0]!.size).toBe(fixture("send-cpim.msrp").length);
  });

  it("reads responses with and without a long comment", () => {
    const [ok] = okMessages(frameAll([fixture("response-200.msrp")]));
    expect(ok).toEqual({
      kind: "response",
      tid: "a786hjs2",
      status: 200,
      comment: "OK",
      headers: [
        ["To-Path", A],
        ["From-Path", B],
      ],
    });
    const [gone] = okMessages(frameAll([fixture("response-481.msrp")]));
    expect(gone).toMatchObject({ kind: "response", tid: "d93kswow", status: 481, comment: "Session Does Not Exist" });
  });

  it("reads a response comment and a Status reason holding U+2028, which RFC 4975's utf8text allows", () => {
    const wire = Buffer.from(`MSRP tid2028 000 !\u2028!\r\nTo-Path: ${A}\r\nFrom-Path: ${B}\r\n-------tid2028$\r\n`, "utf8");
    const [m] = okMessages(frameAll([wire]));
    expect(m).toMatchObject({ kind: "response", tid: "tid2028", status: 0, comment: "!\u2028!" });
    expect(parseStatusHeader("000 413 too\u2028big")).toEqual({ namespace: 0, code: 413, reason: "too\u2028big" });
  });

  it("reads a success REPORT and its Status header", () => {
    const m = request(frameAll([fixture("report-success.msrp")])[0]);
    expect(m.method).toBe("REPORT");
    expect(m.body.length).toBe(0);
    expect(parseStatusHeader(getMsrpHeader(m, "Status")!)).toEqual({ namespace: 0, code: 200, reason: "OK" });
  });

  it("reads the empty binding SEND whose end-line follows the headers", () => {
    const m = request(frameAll([fixture("bind-send.msrp")])[0]);
    expect(m.body.length).toBe(0);
    expect(getMsrpHeader(m, "Content-Type")).toBeUndefined();
    expect(parseByteRange(getMsrpHeader(m, "Byte-Range")!)).toEqual({ start: 1, end: 0, total: 0 });
  });

  it("reads two chunks of one message with their continuation flags", () => {
    const [c1, c2] = okMessages(frameAll([fixture("multi-chunk.msrp")])) as MsrpRequest[];
    expect([c1!.flag, c2!.flag]).toEqual(["+", "$"]);
    expect(Buffer.concat([c1!.body, c2!.body]).toString()).toBe("0123456789abcdefghijKLMNOPQRST");
  });

  it("reads an interrupted chunk with range end '*' and the aborting '#' chunk", () => {
    const [c1, c2] = okMessages(frameAll([fixture("abort.msrp")])) as MsrpRequest[];
    expect(getMsrpHeader(c1!, "Byte-Range")).toBe("1-*/100");
    expect(c1!.body.length).toBe(40);
    expect(c2!.flag).toBe("#");
    expect(c2!.body.toString()).toBe("y".repeat(10));
  });

  it("frames a binary body full of end-line look-alikes by its exact end-line only", () => {
    const m = request(frameAll([fixture("binary-lookalike.msrp")])[0]);
    expect(m.tid).toBe("Xk9tid00");
    expect(m.body.equals(fixture("binary-lookalike.body"))).toBe(true);
  });

  it("gives the same messages when any fixture is split at every byte", () => {
    for (const [name, count] of MSRP_FIXTURES) {
      const wire = fixture(name);
      const expected = okMessages(frameAll([wire])).map(plain);
      expect(expected).toHaveLength(count);
      for (let i = 0; i <= wire.length; i++) {
        const got = okMessages(frameAll([wire.subarray(0, i), wire.subarray(i)])).map(plain);
        expect(got, `${name} split at ${i}`).toEqual(expected);
      }
      const byteByByte = okMessages(frameAll([...wire].map((b) => Buffer.from([b])))).map(plain);
      expect(byteByByte, `${name} byte by byte`).toEqual(expected);
    }
  });

  it("gives the same messages for any sequence of fixtures cut into any reads (property)", () => {
    const names = MSRP_FIXTURES.map(([n]) => n);
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...names), { minLength: 1, maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (picked, cuts) => {
          const wire = Buffer.concat(picked.map(fixture));
          const expected = picked.flatMap((n) => okMessages(frameAll([fixture(n)])).map(plain));
          const pieces = cutAt(wire, cuts);
          const framer = new MsrpFramer();
          expect(okMessages(frameAll(pieces, framer)).map(plain)).toEqual(expected);
          expect(framer.bufferedBytes).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("trims header names and values exactly as String.prototype.trim does (property)", () => {
    // Every character trim() removes, a few it keeps, and ordinary text.
    const space = fc.constantFrom(" ", "\t", "\v", "\f", "\u00a0", "\u1680", "\u2000", "\u200a", "\u2028", "\u2029", "\u202f", "\u205f", "\u3000", "\ufeff");
    const kept = fc.constantFrom("\u200b", "\u180e", "x", "-", "é");
    const pad = fc.array(space, { maxLength: 3 }).map((a) => a.join(""));
    const value = fc.array(fc.oneof(space, kept), { minLength: 1, maxLength: 6 }).map((a) => a.join(""));
    fc.assert(
      fc.property(pad, value, pad, pad, (before, inner, after, nameSpace) => {
        const raw = `${before}${inner}${after}`;
        const wire = Buffer.from(`MSRP abcd1234 SEND\r\nTo-Path: ${B}\r\nFrom-Path: ${A}\r\nX-Test${nameSpace.replace(/[\u2028\u2029]/g, "")}:${raw}\r\n-------abcd1234$\r\n`, "utf8");
        const [frame] = new MsrpFramer().push(wire);
        if (!frame?.ok) throw new Error("not framed");
        expect(getMsrpHeader(frame.message, "X-Test")).toBe(raw.trim());
      }),
      { numRuns: 2000 },
    );
  });

  it("tolerates CRLFs between messages", () => {
    const wire = Buffer.concat([fixture("response-200.msrp"), Buffer.from("\r\n\r\n"), fixture("bind-send.msrp")]);
    expect(okMessages(frameAll([wire]))).toHaveLength(2);
  });

  it("re-serializes every fixture to the identical bytes", () => {
    for (const [name] of MSRP_FIXTURES) {
      const wire = fixture(name);
      const again = Buffer.concat(okMessages(frameAll([wire])).map(serializeMsrp));
      expect(again.equals(wire), name).toBe(true);
    }
  });
});

describe("getMsrpHeader", () => {
  it("matches names in any ASCII case, and nothing that only folds alike", () => {
    const m = { headers: [["message-id", "a"], ["BYTE-RANGE", "1-1/1"], ["X-@", "at"], ["Content_Type", "u"]] as [string, string][] };
    expect(getMsrpHeader(m, "Message-ID")).toBe("a");
    expect(getMsrpHeader(m, "byte-range")).toBe("1-1/1");
    expect(getMsrpHeader(m, "x-@")).toBe("at");
    expect(getMsrpHeader(m, "X-`")).toBeUndefined(); // '@' and '`' differ by 0x20 but are not letters
    expect(getMsrpHeader(m, "Content-Type")).toBeUndefined();
    expect(getMsrpHeader(m, "Message-I")).toBeUndefined();
  });

  it("compares names outside ASCII lower-cased, as setMsrpHeader does", () => {
    const m = { headers: [["X-É", "v"], ["\u212A", "kelvin"]] as [string, string][] };
    expect(getMsrpHeader(m, "x-é")).toBe("v");
    expect(getMsrpHeader(m, "k")).toBe("kelvin"); // U+212A KELVIN SIGN lower-cases to "k"
    setMsrpHeader(m, "x-é", "w");
    expect(getMsrpHeader(m, "X-É")).toBe("w");
    expect(getMsrpHeader(m, "x-é")).toBe("w");
  });
});

describe("MSRP framer memory behaviour", () => {
  it("copies a small body out of a large read instead of pinning the read buffer", () => {
    const small = fixture("send-cpim.msrp");
    const read = Buffer.alloc(64 * 1024);
    small.copy(read);
    const framer = new MsrpFramer();
    const [f] = framer.push(read.subarray(0, small.length));
    const m = request(f);
    expect(m.body.buffer).not.toBe(read.buffer);
  });

  it("hands out a large body as a view of the read, without copying", () => {
    const body = Buffer.alloc(60_000, 0x61);
    const wire = Buffer.concat([
      Buffer.from(`MSRP bigbody1 SEND\r\nTo-Path: ${B}\r\nFrom-Path: ${A}\r\nMessage-ID: big\r\nContent-Type: text/plain\r\n\r\n`),
      body,
      Buffer.from("\r\n-------bigbody1$\r\n"),
    ]);
    const m = request(new MsrpFramer().push(wire)[0]);
    expect(m.body.buffer).toBe(wire.buffer);
    expect(m.body.equals(body)).toBe(true);
  });

  it("assembles a 4 MiB chunk from 1 KiB reads and holds nothing afterwards", () => {
    const body = Buffer.alloc(4 * 1024 * 1024);
    for (let i = 0; i < body.length; i++) body[i] = (i * 7) & 0xff;
    const wire = Buffer.concat([
      Buffer.from(`MSRP huge0001 SEND\r\nTo-Path: ${B}\r\nFrom-Path: ${A}\r\nMessage-ID: h\r\nContent-Type: x/y\r\n\r\n`),
      body,
      Buffer.from("\r\n-------huge0001+\r\n"),
    ]);
    const framer = new MsrpFramer();
    const frames: MsrpFrame[] = [];
    for (let i = 0; i < wire.length; i += 1024) {
      frames.push(...framer.push(wire.subarray(i, i + 1024)));
      if (frames.length === 0) expect(framer.bufferedBytes).toBe(Math.min(i + 1024, wire.length));
    }
    expect(frames).toHaveLength(1);
    expect(request(frames[0]).body.equals(body)).toBe(true);
    expect(framer.bufferedBytes).toBe(0);
  });
});

describe("MSRP framer on bad input", () => {
  const send = (tid: string, headers: string, flag = "$") =>
    Buffer.from(`MSRP ${tid} SEND\r\n${headers}Content-Type: text/plain\r\n\r\nhi\r\n-------${tid}${flag}\r\n`);

  it("gives up a stream that does not start with MSRP, without waiting for a line end", () => {
    const framer = new MsrpFramer();
    const [f] = framer.push(Buffer.from("GET / HTTP"));
    expect(f).toMatchObject({ ok: false, fatal: true });
    expect(!f!.ok && f!.error.code).toBe("bad-start-line");
    expect(!f!.ok && f!.tid).toBeUndefined();
    expect(framer.isFailed).toBe(true);
    expect(framer.push(fixture("response-200.msrp"))).toEqual([]);
  });

  it("gives up when the tid is invalid, since the end-line cannot be found", () => {
    for (const tid of ["abc", "a".repeat(33), "ab_cd", "ab/cd"]) {
      const [f] = new MsrpFramer().push(Buffer.from(`MSRP ${tid} SEND\r\n`));
      expect(f, tid).toMatchObject({ ok: false, fatal: true });
    }
  });

  it("accepts a received tid that starts with punctuation, as long as it can be framed", () => {
    const wire = Buffer.from(`MSRP -odd.tid 200 OK\r\nTo-Path: ${A}\r\nFrom-Path: ${B}\r\n-------\x2dodd.tid$\r\n`);
    const [f] = new MsrpFramer().push(wire);
    expect(f!.ok && f!.message.tid).toBe("-odd.tid");
  });

  it("gives up on a start line without CRLF after 4 KiB", () => {
    const framer = new MsrpFramer();
    expect(framer.push(Buffer.from(`MSRP abcd1234 SEND${" x".repeat(1000)}`))).toEqual([]);
    const [f] = framer.push(Buffer.from("y".repeat(3000)));
    expect(f).toMatchObject({ ok: false, fatal: true });
  });

  it("refuses a start line over 4 KiB even when its CRLF came in the same read: the same answer however the bytes are cut", () => {
    const wire = Buffer.from(`MSRP abcd1234 200 ${"x".repeat(4200)}\r\nTo-Path: ${A}\r\nFrom-Path: ${B}\r\n-------abcd1234$\r\n`);
    for (const cut of [0, 100, 4096, wire.length]) {
      const frames = frameAll([wire.subarray(0, cut), wire.subarray(cut)]);
      expect(frames, `cut at ${cut}`).toHaveLength(1);
      expect(frames[0]).toMatchObject({ ok: false, fatal: true });
    }
  });

  it("reports a malformed header with tid, method and headers, then goes on with the next message", () => {
    const framer = new MsrpFramer();
    const bad = send("tidbad01", `To-Path: ${B}\r\nFrom-Path: ${A}\r\nthis is not a header\r\n`);
    const frames = framer.push(Buffer.concat([bad, fixture("response-200.msrp")]));
    expect(frames).toHaveLength(2);
    const f = frames[0]!;
    expect(f).toMatchObject({ ok: false, fatal: false, tid: "tidbad01", method: "SEND" });
    expect(!f.ok && f.error.code).toBe("bad-header");
    expect(frames[1]!.ok).toBe(true);

    const reply = createBadRequestResponse(f)!;
    expect(reply).toMatchObject({ kind: "response", tid: "tidbad01", status: 400 });
    expect(reply.headers).toEqual([
      ["To-Path", A],
      ["From-Path", B],
    ]);
  });

  it("reports missing paths and bad Byte-Range, Status and report headers as non-fatal", () => {
    const cases: Array<[string, string]> = [
      [`From-Path: ${A}\r\n`, "missing-header"],
      [`To-Path: ${B}\r\n`, "missing-header"],
      [`To-Path: not-a-uri\r\nFrom-Path: ${A}\r\n`, "bad-header"],
      [`To-Path: ${B}\r\nFrom-Path: ${A}\r\nByte-Range: 0-5/5\r\n`, "bad-byte-range"],
      [`To-Path: ${B}\r\nFrom-Path: ${A}\r\nByte-Range: 1-9/5\r\n`, "bad-byte-range"],
      [`To-Path: ${B}\r\nFrom-Path: ${A}\r\nStatus: 200\r\n`, "bad-status"],
      [`To-Path: ${B}\r\nFrom-Path: ${A}\r\nFailure-Report: maybe\r\n`, "bad-header"],
      [`To-Path: ${B}\r\nFrom-Path: ${A}\r\nSuccess-Report: partial\r\n`, "bad-header"],
    ];
    for (const [headers, code] of cases) {
      const [f] = new MsrpFramer().push(send("tidcase1", headers));
      expect(f, headers).toMatchObject({ ok: false, fatal: false, tid: "tidcase1", method: "SEND" });
      expect(!f!.ok && f!.error.code, headers).toBe(code);
    }
  });

  it("reports an unknown start line kind and a response with a body, without a method to answer", () => {
    const [weird] = new MsrpFramer().push(Buffer.from(`MSRP tid00001 send\r\nTo-Path: ${B}\r\nFrom-Path: ${A}\r\n-------tid00001$\r\n`));
    expect(weird).toMatchObject({ ok: false, fatal: false, tid: "tid00001" });
    expect(!weird!.ok && weird!.error.code).toBe("bad-start-line");
    expect(!weird!.ok && weird!.method).toBeUndefined();

    const withBody = Buffer.from(`MSRP tid00002 200 OK\r\nTo-Path: ${A}\r\nFrom-Path: ${B}\r\nContent-Type: a/b\r\n\r\nx\r\n-------tid00002$\r\n`);
    const [f] = new MsrpFramer().push(withBody);
    expect(!f!.ok && f!.error.code).toBe("unexpected-body");
    expect(createBadRequestResponse(f!)).toBeUndefined();
  });

  it("does not owe a 400 for a REPORT or with Failure-Report: no", () => {
    const report = Buffer.from(`MSRP tid00003 REPORT\r\nTo-Path: ${A}\r\nFrom-Path: ${B}\r\nByte-Range: x\r\n-------tid00003$\r\n`);
    const [r] = new MsrpFramer().push(report);
    expect(!r!.ok && r!.method).toBe("REPORT");
    expect(createBadRequestResponse(r!)).toBeUndefined();
    const [n] = new MsrpFramer().push(send("tid00004", `To-Path: ${B}\r\nFrom-Path: ${A}\r\nFailure-Report: no\r\nByte-Range: x\r\n`));
    expect(n!.ok).toBe(false);
    expect(createBadRequestResponse(n!)).toBeUndefined();
  });

  it("gives up a message that outgrows the limit, naming its tid", () => {
    const framer = new MsrpFramer({ maxMessageBytes: 1000 });
    expect(framer.push(Buffer.from(`MSRP toolarge SEND\r\nTo-Path: ${B}\r\nFrom-Path: ${A}\r\nContent-Type: a/b\r\n\r\n`))).toEqual([]);
    const [f] = framer.push(Buffer.alloc(1000, 0x41));
    expect(f).toMatchObject({ ok: false, fatal: true, tid: "toolarge", method: "SEND" });
    expect(!f!.ok && f!.error.code).toBe("too-large");
    expect(framer.bufferedBytes).toBe(0);
  });

  it("never throws on random bytes, with or without an MSRP-looking start", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.boolean(), fc.nat(600), (bytes, prefixed, cut) => {
        const data = Buffer.concat([Buffer.from(prefixed ? "MSRP abcd1234 SEND\r\n" : ""), Buffer.from(bytes)]);
        const framer = new MsrpFramer({ maxMessageBytes: 400 });
        const frames = frameAll([data.subarray(0, cut), data.subarray(cut)], framer);
        for (const f of frames) {
          if (!f.ok) expect(f.error.code).toMatch(/^[a-z-]+$/);
        }
        expect(frames.filter((f) => !f.ok && f.fatal).length).toBeLessThanOrEqual(1);
      }),
      { numRuns: 500 },
    );
  });

  it("never throws on fixtures with corrupted bytes", () => {
    const wires = MSRP_FIXTURES.map(([n]) => fixture(n));
    fc.assert(
      fc.property(
        fc.constantFrom(...wires),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
        (wire, edits) => {
          const data = Buffer.from(wire);
          for (const [pos, byte] of edits) data[pos % data.length] = byte;
          const frames = new MsrpFramer().push(data);
          for (const f of frames) if (f.ok) expect(["request", "response"]).toContain(f.message.kind);
          parseMsrpMessage(data);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe("parseMsrpMessage", () => {
  it("parses exactly one message", () => {
    const r = parseMsrpMessage(fixture("send-cpim.msrp"));
    expect(r.ok && r.message.kind).toBe("request");
  });

  it("says incomplete without the end-line and trailing-data after it", () => {
    const wire = fixture("response-200.msrp");
    const cut = parseMsrpMessage(wire.subarray(0, wire.length - 3));
    expect(!cut.ok && cut.error.code).toBe("incomplete");
    const two = parseMsrpMessage(fixture("multi-chunk.msrp"));
    expect(!two.ok && two.error.code).toBe("trailing-data");
  });
});
