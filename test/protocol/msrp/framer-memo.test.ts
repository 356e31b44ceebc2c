/**
 * The framer remembers the header lines of the last request and the last response on its stream
 * and reuses their parsed pairs when the same bytes come again (HeaderLineMemo), and reads a
 * response made only of remembered lines without searching (rememberedResponse). Neither may
 * change a single frame: a long-lived framer must give exactly what a fresh framer gives for each
 * message on its own, whatever came before, however the bytes are cut, and bad headers that look
 * like remembered good ones must still be reported.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type MsrpFrame, MsrpFramer, type MsrpStreamEvent, MsrpStreamFramer } from "../../../src/protocol/msrp/index.js";
import { cutAt } from "../../support/cut-at.js";

const A = "msrp://127.0.0.1:40312/jshA7weztas;tcp";
const B = "msrp://127.0.0.1:2855/kjhd37s2s20w2a;tcp";
// Same length as A and B, one byte apart: a memo that compared lengths only would take them for A and B.
const A2 = "msrp://127.0.0.1:40312/jshA7weztaz;tcp";
const B2 = "msrp://127.0.0.1:2855/kjhd37s2s20w2b;tcp";

/** Header lines a message may have, many of them alike, some of them invalid. */
const LINE = fc.constantFrom(
  "Message-ID: m1",
  "Message-ID: m2",
  "Byte-Range: 1-10/20",
  "Byte-Range: 11-20/20",
  "Byte-Range: 1-1x/20", // invalid, as long as the valid one
  "Failure-Report: yes",
  "Failure-Report: yex", // invalid
  "Success-Report: yes",
  "Success-Report: no",
  "Content-Type: text/plain",
  "Status: 000 200 OK",
  "Status: 000 2x0 OK", // invalid
  "X-Odd:   spaced value  ",
  "no colon here", // malformed
  "Message-ID: m1\r", // a lone CR inside a line
);
const PATHS = fc.constantFrom([B, A], [B2, A2], [B, A2], [A, B], ["", A], [B, "not a uri"]);
const TIDS = ["tid1", "tid2xyz", "T".repeat(32), "a.b-c+d%e=f"];

interface Spec {
  kind: "request" | "response" | "empty-send" | "report";
  tid: string;
  paths: readonly string[];
  lines: string[];
  body: string;
  flag: string;
  status: string;
}

const specArb: fc.Arbitrary<Spec> = fc.record({
  kind: fc.constantFrom("request", "response", "response", "empty-send", "report") as fc.Arbitrary<Spec["kind"]>,
  tid: fc.constantFrom(...TIDS),
  paths: PATHS,
  lines: fc.array(LINE, { maxLength: 4 }),
  body: fc.constantFrom("", "hello", "x".repeat(300), "body with -------tid1 inside", "\r\n-------tid2xyz+ look-alike"),
  flag: fc.constantFrom("$", "+", "#"),
  status: fc.constantFrom("200 OK", "200", "413 too big", "481 No Such Session", "200 ", "2000"),
});

function wire(s: Spec): Buffer {
  const [to, from] = s.paths;
  const heads = `To-Path: ${to}\r\nFrom-Path: ${from}\r\n${s.lines.map((l) => `${l}\r\n`).join("")}`;
  switch (s.kind) {
    case "response":
      return Buffer.from(`MSRP ${s.tid} ${s.status}\r\n${heads}-------${s.tid}${s.flag}\r\n`, "utf8");
    case "empty-send":
      return Buffer.from(`MSRP ${s.tid} SEND\r\n${heads}-------${s.tid}${s.flag}\r\n`, "utf8");
    case "report":
      return Buffer.from(`MSRP ${s.tid} REPORT\r\n${heads}-------${s.tid}$\r\n`, "utf8");
    default:
      return Buffer.from(`MSRP ${s.tid} SEND\r\n${heads}Content-Type: text/plain\r\n\r\n${s.body}\r\n-------${s.tid}${s.flag}\r\n`, "utf8");
  }
}

/** Comparable form of a frame (Buffers as byte arrays). */
function plain(f: MsrpFrame): unknown {
  if (!f.ok) return { ok: false, code: f.error.code, fatal: f.fatal, tid: f.tid, method: f.method, headers: f.headers };
  const m = f.message;
  return { size: f.size, m: m.kind === "request" ? { ...m, body: [...m.body] } : m };
}

/** Stream framer events folded back into frames (a streamed request reassembled). */
function foldEvents(events: MsrpStreamEvent[], state: { head?: MsrpFrame & { ok: true }; parts: Buffer[] }, out: MsrpFrame[]): void {
  for (const e of events) {
    if (!("part" in e)) {
      out.push(e);
    } else if (e.part === "head") {
      state.head = { ok: true, message: e.request, size: 0 };
      state.parts = [];
    } else if (e.part === "body") {
      state.parts.push(Buffer.from(e.data)); // borrowed: copy before the next push reuses the read
    } else {
      const req = state.head!.message;
      if (req.kind !== "request") throw new Error("a streamed response");
      out.push({ ok: true, message: { ...req, body: Buffer.concat(state.parts), flag: e.flag }, size: e.size });
      state.head = undefined;
    }
  }
}

/** Each message framed by a fresh framer of its own: no memory of earlier messages. */
function alone(specs: Spec[]): unknown[] {
  return specs.flatMap((s) => new MsrpFramer().push(wire(s)).map(plain));
}

describe("MSRP framer header-line memory", () => {
  it("frames every message exactly as a fresh framer does, whatever came before and however it is cut (property)", () => {
    fc.assert(
      fc.property(fc.array(specArb, { minLength: 1, maxLength: 12 }), fc.array(fc.nat(), { maxLength: 12 }), (specs, cuts) => {
        const expected = alone(specs);
        const bytes = Buffer.concat(specs.map(wire));
        const reads = cutAt(bytes, cuts);

        const whole = new MsrpFramer();
        expect(reads.flatMap((r) => whole.push(r)).map(plain)).toEqual(expected);

        // Reused input: every read is a copy in one scratch buffer that the next read overwrites.
        const reused = new MsrpFramer({ reusedInput: true });
        const scratch = Buffer.alloc(bytes.length + 1);
        const got: unknown[] = [];
        for (const r of reads) {
          r.copy(scratch);
          got.push(...reused.push(scratch.subarray(0, r.length)).map((f) => plain(f)));
          scratch.fill(0x2d);
        }
        expect(got).toEqual(expected);

        const stream = new MsrpStreamFramer({ reusedInput: true });
        const frames: MsrpFrame[] = [];
        const state = { parts: [] as Buffer[] };
        for (const r of reads) {
          r.copy(scratch);
          foldEvents(stream.push(scratch.subarray(0, r.length)), state, frames);
          scratch.fill(0x2d);
        }
        // Streamed requests report their size at the end; compare everything else.
        const drop = (x: unknown) => ({ ...(x as object), size: undefined });
        expect(frames.map(plain).map(drop)).toEqual(expected.map(drop));
      }),
      { numRuns: 400 },
    );
  });

  it("still reports a bad value on a line that differs from a remembered good one in one byte", () => {
    const good: Spec = { kind: "response", tid: "tid1", paths: [B, A], lines: ["Failure-Report: yes"], body: "", flag: "$", status: "200 OK" };
    const framer = new MsrpFramer();
    const frames = framer.push(Buffer.concat([wire(good), wire({ ...good, lines: ["Failure-Report: yex"] }), wire({ ...good, paths: [B, "not a uri"] })]));
    expect(frames.map((f) => f.ok)).toEqual([true, false, false]);
    expect(frames[1]!.ok === false && frames[1]!.error.code).toBe("bad-header");
    expect(frames[2]!.ok === false && frames[2]!.error.message).toContain("From-Path");
  });

  it("reports an empty To-Path on the very first message of a stream (no cached path stands in for it)", () => {
    const frames = new MsrpFramer().push(Buffer.from(`MSRP tid1 SEND\r\nTo-Path: \r\nFrom-Path: ${A}\r\n-------tid1$\r\n`));
    expect(frames).toHaveLength(1);
    expect(frames[0]!.ok === false && [frames[0]!.error.code, frames[0]!.tid]).toEqual(["bad-header", "tid1"]);
  });

  it("a connection carrying the paths of thousands of sessions (a trunk) frames them all, and still rejects a bad one", () => {
    const framer = new MsrpFramer({ reusedInput: true });
    const path = (i: number, port: number) => `msrp://127.0.0.1:${port}/s${String(i).padStart(12, "0")};tcp`;
    const wires: Buffer[] = [];
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 5000; i++) wires.push(wire({ kind: "response", tid: `t${round}x${i}`, paths: [path(i, 40000), path(i, 2855)], lines: [], body: "", flag: "$", status: "200 OK" }));
    }
    wires.push(wire({ kind: "response", tid: "badpath1", paths: [path(1, 40000), "msrp://[bad;tcp"], lines: [], body: "", flag: "$", status: "200 OK" }));
    const frames = framer.push(Buffer.concat(wires));
    expect(frames).toHaveLength(10_001);
    expect(frames.slice(0, 10_000).every((f) => f.ok)).toBe(true);
    const last = frames[10_000]!;
    expect(!last.ok && [last.tid, last.error.code]).toEqual(["badpath1", "bad-header"]);
  });

  it("reads a run of 200s answered on one connection, each with its own tid and the remembered paths", () => {
    const framer = new MsrpFramer({ reusedInput: true });
    const tids = Array.from({ length: 50 }, (_, i) => `T${String(i).padStart(31, "0")}`);
    const bytes = Buffer.concat(tids.map((tid) => wire({ kind: "response", tid, paths: [A, B], lines: [], body: "", flag: "$", status: "200 OK" })));
    const frames = framer.push(bytes);
    expect(frames).toHaveLength(50);
    for (const [i, f] of frames.entries()) {
      expect(f.ok && f.message.kind === "response" && [f.message.tid, f.message.status, f.message.comment]).toEqual([tids[i], 200, "OK"]);
      expect(f.ok && f.message.headers).toEqual([
        ["To-Path", A],
        ["From-Path", B],
      ]);
    }
    expect(frames.reduce((n, f) => n + (f.ok ? f.size : 0), 0)).toBe(bytes.length);
    expect(framer.bufferedBytes).toBe(0);
  });
});
