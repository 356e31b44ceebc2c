import { describe, expect, it } from "vitest";
import { getHeader } from "../../../src/protocol/sip/headers.js";
import { parseSipMessage, type SipFrame, SipStreamFramer } from "../../../src/protocol/sip/parser.js";
import { serializeSipMessage } from "../../../src/protocol/sip/serializer.js";
import { allFixtures, captureFixtures, fixture } from "./fixtures.js";

/** A comparable summary of frames (message content, raw bytes, errors). */
function describeFrames(frames: SipFrame[]): string[] {
  return frames.map((f) =>
    f.ok
      ? `ok ${f.bytes.toString("latin1")} ${JSON.stringify(f.message.headers)} ${f.message.body.toString("latin1")} text=${f.text ?? "-"}`
      : `error ${f.error.code} fatal=${f.fatal}`,
  );
}

function pushAll(framer: SipStreamFramer, chunks: Buffer[]): SipFrame[] {
  const out: SipFrame[] = [];
  for (const c of chunks) out.push(...framer.push(c));
  return out;
}

describe("SipStreamFramer", () => {
  it("frames every fixture split at every byte boundary into the same messages as whole", () => {
    for (const [name, raw] of allFixtures()) {
      const whole = describeFrames(new SipStreamFramer().push(raw));
      expect(whole.length, name).toBeGreaterThan(0);
      for (let cut = 1; cut < raw.length; cut++) {
        const f = new SipStreamFramer();
        const frames = pushAll(f, [raw.subarray(0, cut), raw.subarray(cut)]);
        const got = describeFrames(frames);
        if (got.length !== whole.length || got.some((g, i) => g !== whole[i])) {
          expect(got, `${name} cut at ${cut}`).toEqual(whole);
        }
      }
    }
  });

  it("yields exactly the datagram parse of each capture, with the raw bytes", () => {
    for (const [name, raw] of captureFixtures()) {
      const frames = new SipStreamFramer().push(raw);
      const datagram = parseSipMessage(raw);
      expect(frames).toHaveLength(1);
      const frame = frames[0]!;
      if (!frame.ok || !datagram.ok) throw new Error(`${name} should parse`);
      expect(frame.message, name).toEqual(datagram.message);
      expect(frame.bytes.equals(raw), name).toBe(true);
    }
  });

  it("gives the decoded text of a message without a body, and none for one with a body", () => {
    let withText = 0;
    let withoutText = 0;
    for (const [name, raw] of allFixtures()) {
      for (const frame of new SipStreamFramer().push(raw)) {
        if (!frame.ok) continue;
        if (frame.message.body.length === 0) {
          expect(frame.text, name).toBe(frame.bytes.toString("utf8"));
          withText++;
        } else {
          expect(frame.text, name).toBeUndefined();
          withoutText++;
        }
      }
    }
    expect(withText).toBeGreaterThan(0);
    expect(withoutText).toBeGreaterThan(0);
  });

  it("frames a stream of all captures fed one byte at a time, keeping no bytes back", () => {
    const captures = captureFixtures().map(([, b]) => b);
    const stream = Buffer.concat(captures);
    const f = new SipStreamFramer();
    const frames: SipFrame[] = [];
    for (let i = 0; i < stream.length; i++) frames.push(...f.push(stream.subarray(i, i + 1)));
    expect(frames.map((fr) => fr.ok && fr.bytes.equals(captures[frames.indexOf(fr)]!))).toEqual(captures.map(() => true));
    expect(f.bufferedBytes).toBe(0);
  });

  it("emits several messages from one chunk and keeps a partial tail buffered", () => {
    const a = fixture("options.sip");
    const b = fixture("invite-sdp.sip");
    const f = new SipStreamFramer();
    const frames = f.push(Buffer.concat([a, b, a.subarray(0, 10)]));
    expect(frames.map((x) => x.ok)).toEqual([true, true]);
    expect(f.bufferedBytes).toBe(10);
    expect(f.push(a.subarray(10)).map((x) => x.ok)).toEqual([true]);
    expect(f.bufferedBytes).toBe(0);
  });

  it("gives frames their own bytes: later input does not change earlier messages", () => {
    const a = fixture("invite-sdp.sip");
    const f = new SipStreamFramer();
    f.push(a.subarray(0, 100));
    const [first] = f.push(Buffer.concat([a.subarray(100), a.subarray(0, 50)]));
    if (!first?.ok) throw new Error("frame expected");
    const before = Buffer.from(first.bytes);
    const bodyBefore = Buffer.from(first.message.body);
    // Fill the framer's internal buffer with other data.
    for (let i = 0; i < 20; i++) f.push(Buffer.alloc(200, 0x41));
    expect(first.bytes.equals(before)).toBe(true);
    expect(first.message.body.equals(bodyBefore)).toBe(true);
  });

  it("reassembles a large body from many small chunks", () => {
    const body = Buffer.alloc(1_000_000, 0x61);
    const req = parseSipMessage(fixture("message-cpim.sip"));
    if (!req.ok) throw new Error("fixture");
    const wire = serializeSipMessage({ ...req.message, body });
    const f = new SipStreamFramer();
    const frames: SipFrame[] = [];
    for (let i = 0; i < wire.length; i += 1000) frames.push(...f.push(wire.subarray(i, i + 1000)));
    expect(frames).toHaveLength(1);
    expect(frames[0]!.ok && frames[0]!.message.body.equals(body)).toBe(true);
  });

  it("skips CRLF keep-alives and reports RFC 5626 pings and pongs", () => {
    const events: string[] = [];
    const f = new SipStreamFramer({ onKeepAlive: (k) => events.push(k) });
    const msg = fixture("options.sip");
    const frames = [
      ...f.push(Buffer.from("\r\n\r\n")),
      ...f.push(Buffer.concat([Buffer.from("\r\n"), msg])),
      ...f.push(Buffer.from("\r\n\r\n\r\n\r\n")),
    ];
    expect(frames.map((x) => x.ok)).toEqual([true]);
    expect(events).toEqual(["ping", "pong", "ping", "ping"]);
    expect(f.bufferedBytes).toBe(0);
  });

  it("reports a ping split across reads (pong first, then ping)", () => {
    const events: string[] = [];
    const f = new SipStreamFramer({ onKeepAlive: (k) => events.push(k) });
    f.push(Buffer.from("\r\n"));
    f.push(Buffer.from("\r\n"));
    expect(events).toEqual(["pong", "ping"]);
  });

  it("skips a malformed message whose Content-Length is readable (non-fatal) and continues", () => {
    const good = fixture("options.sip");
    const bad = Buffer.from(good.toString("latin1").replace("OPTIONS sip:cpm.example.com SIP/2.0", "OPTIONS sip:cpm.example.com SIP/3.0"), "latin1");
    const frames = new SipStreamFramer().push(Buffer.concat([bad, good]));
    expect(frames).toHaveLength(2);
    expect(frames[0]).toMatchObject({ ok: false, fatal: false });
    expect(!frames[0]!.ok && frames[0]!.error.code).toBe("bad-start-line");
    expect(!frames[0]!.ok && frames[0]!.bytes?.equals(bad)).toBe(true);
    expect(frames[1]!.ok).toBe(true);
  });

  it("gives a partial request for a non-fatal missing-header error so the server can answer 400", () => {
    const noCallId = Buffer.from(fixture("options.sip").toString("latin1").replace(/Call-ID:.*\r\n/, ""), "latin1");
    const [frame] = new SipStreamFramer().push(noCallId);
    expect(frame).toMatchObject({ ok: false, fatal: false, partial: { method: "OPTIONS", uri: "sip:cpm.example.com" } });
    expect(!frame!.ok && getHeader({ headers: frame!.partial!.headers! }, "CSeq")).toBe("42 OPTIONS");
  });

  it("fails fatally without Content-Length, with a bad one, or past the size limits, then ignores input", () => {
    const opt = fixture("options.sip").toString("latin1");
    const cases: Array<[string, Buffer, ConstructorParameters<typeof SipStreamFramer>[0]?]> = [
      ["bad-content-length", Buffer.from(opt.replace(/Content-Length: 0\r\n/, ""), "latin1")],
      ["bad-content-length", Buffer.from(opt.replace("Content-Length: 0", "Content-Length: 1x"), "latin1")],
      ["bad-content-length", Buffer.from(opt.replace("Content-Length: 0", "Content-Length: 0\r\nl: 5"), "latin1")],
      ["too-large", Buffer.from(opt.replace("Content-Length: 0", "Content-Length: 20000000"), "latin1")],
      ["too-large", Buffer.from(opt, "latin1"), { maxHeaderBytes: 100 }],
      ["too-large", Buffer.from(opt.replace("Content-Length: 0", "Content-Length: 11"), "latin1"), { maxBodyBytes: 10 }],
      ["too-large", Buffer.alloc(70_000, 0x41)],
    ];
    for (const [code, input, opts] of cases) {
      const f = new SipStreamFramer(opts);
      const frames = f.push(input);
      expect(frames.map((x) => (x.ok ? "ok" : `${x.error.code}/${x.fatal}`)), code).toEqual([`${code}/true`]);
      expect(f.push(fixture("options.sip"))).toEqual([]);
      expect(f.bufferedBytes).toBe(0);
    }
  });

  it("detects an oversized header block while it is still arriving", () => {
    const f = new SipStreamFramer({ maxHeaderBytes: 1000 });
    const frames: SipFrame[] = [];
    for (let i = 0; i < 20 && frames.length === 0; i++) frames.push(...f.push(Buffer.from("X-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n")));
    expect(frames).toMatchObject([{ ok: false, fatal: true }]);
  });
});

describe("SipStreamFramer on non-SIP input", () => {
  it("fails fast on binary data (a TLS ClientHello) instead of buffering up to the header limit", () => {
    const f = new SipStreamFramer();
    const frames = f.push(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]));
    expect(frames).toMatchObject([{ ok: false, fatal: true, error: { code: "bad-start-line" } }]);
  });

  it("scans a start line arriving byte by byte once, and still frames the message", () => {
    const raw = fixture("options.sip");
    const f = new SipStreamFramer();
    const frames: SipFrame[] = [];
    for (let i = 0; i < raw.length; i++) frames.push(...f.push(raw.subarray(i, i + 1)));
    expect(frames.map((x) => x.ok)).toEqual([true]);
    // Control characters after the start line (in header values) are not the framer's concern.
    const withNul = Buffer.from(raw.toString("latin1").replace("User-Agent: sipsak", "User-Agent: si\u0000sak"), "latin1");
    expect(new SipStreamFramer().push(withNul).map((x) => x.ok)).toEqual([true]);
  });
});
