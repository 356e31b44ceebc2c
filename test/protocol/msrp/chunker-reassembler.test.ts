import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ChunkerError,
  chunkBody,
  chunkIterable,
  chunkMessage,
  createSendChunk,
  getMsrpHeader,
  isValidTransactionId,
  MsrpFramer,
  MsrpReassembler,
  type MsrpRequest,
  type ReassemblyResult,
  serializeMsrp,
  transactionIdOccursIn,
} from "../../../src/protocol/msrp/index.js";
import { fixture } from "./fixtures.js";

const TO = "msrp://127.0.0.1:2855/kjhd37s2s20w2a;tcp";
const FROM = "msrp://127.0.0.1:40312/jshA7weztas;tcp";
const base = { toPath: TO, fromPath: FROM, contentType: "application/octet-stream" };

async function collect(gen: AsyncIterable<MsrpRequest>): Promise<MsrpRequest[]> {
  const out: MsrpRequest[] = [];
  for await (const c of gen) out.push(c);
  return out;
}

function range(c: MsrpRequest): string {
  return getMsrpHeader(c, "Byte-Range")!;
}

function completed(results: ReassemblyResult[]): Buffer[] {
  return results.flatMap((r) => (r.kind === "complete" ? [r.message.body] : []));
}

/** Deterministic shuffle driven by fast-check's random source. */
function shuffled<T>(items: T[], keys: number[]): T[] {
  return items
    .map((item, i) => ({ item, k: keys[i % Math.max(1, keys.length)]! + i / 1e6 }))
    .sort((a, b) => a.k - b.k)
    .map((x) => x.item);
}

describe("chunker", () => {
  it("cuts a body into chunks with ranges, flags, one Message-ID and fresh tids", () => {
    const body = Buffer.from("0123456789abcdefghijKLMNOPQRST");
    const chunks = [...chunkBody(body, { ...base, messageId: "m1", chunkSize: 16, successReport: true })];
    expect(chunks.map(range)).toEqual(["1-16/30", "17-30/30"]);
    expect(chunks.map((c) => c.flag)).toEqual(["+", "$"]);
    expect(chunks.map((c) => getMsrpHeader(c, "Message-ID"))).toEqual(["m1", "m1"]);
    expect(chunks[0]!.headers.map(([n]) => n)).toEqual([
      "To-Path",
      "From-Path",
      "Message-ID",
      "Success-Report",
      "Byte-Range",
      "Content-Type",
    ]);
    expect(chunks[0]!.tid).not.toBe(chunks[1]!.tid);
    expect(chunks.every((c) => isValidTransactionId(c.tid))).toBe(true);
    expect(chunks[0]!.body.buffer).toBe(body.buffer); // views, not copies
  });

  it("makes the fixture's two chunks byte for byte", () => {
    const tids = ["2nQf8vP0", "7Rw3zXy1"];
    const chunks = [
      ...chunkBody(Buffer.from("0123456789abcdefghijKLMNOPQRST"), {
        ...base,
        contentType: "text/plain",
        messageId: "m-chunked-1",
        chunkSize: 16,
        nextTid: () => tids.shift()!,
      }),
    ];
    expect(Buffer.concat(chunks.map(serializeMsrp)).equals(fixture("multi-chunk.msrp"))).toBe(true);
  });

  it("sends an empty message as one 1-0/0 chunk", () => {
    const [only, ...rest] = [...chunkBody(Buffer.alloc(0), { ...base, messageId: "e", chunkSize: 10 })];
    expect(rest).toHaveLength(0);
    expect(range(only!)).toBe("1-0/0");
    expect(only!.flag).toBe("$");
  });

  it("streams a source of unknown size with '*' totals until the last chunk", async () => {
    async function* source() {
      yield Buffer.from("abc");
      yield Buffer.from("defghij");
      yield Buffer.from("k");
    }
    const chunks = await collect(chunkMessage({ ...base, messageId: "s", chunkSize: 4, source: source() }));
    expect(chunks.map(range)).toEqual(["1-4/*", "5-8/*", "9-11/11"]);
    expect(chunks.map((c) => c.flag)).toEqual(["+", "+", "$"]);
    expect(Buffer.concat(chunks.map((c) => c.body)).toString()).toBe("abcdefghijk");
  });

  it("uses the declared total from the first chunk of a stream", async () => {
    const chunks = await collect(
      chunkMessage({ ...base, messageId: "d", chunkSize: 5, totalBytes: 12, source: [Buffer.from("abcdefghijkl")] }),
    );
    expect(chunks.map(range)).toEqual(["1-5/12", "6-10/12", "11-12/12"]);
  });

  it("rejects a source that does not deliver the declared size, and a bad chunk size", async () => {
    const more = collect(chunkMessage({ ...base, messageId: "x", chunkSize: 4, totalBytes: 3, source: [Buffer.from("abcd")] }));
    await expect(more).rejects.toMatchObject({ code: "size-mismatch" });
    const fewer = collect(chunkMessage({ ...base, messageId: "x", chunkSize: 4, totalBytes: 9, source: [Buffer.from("abcd")] }));
    await expect(fewer).rejects.toBeInstanceOf(ChunkerError);
    const buf = collect(chunkMessage({ ...base, messageId: "x", chunkSize: 4, totalBytes: 9, source: Buffer.from("abcd") }));
    await expect(buf).rejects.toMatchObject({ code: "size-mismatch" });
    expect(() => [...chunkBody(Buffer.from("a"), { ...base, messageId: "x", chunkSize: 0 })]).toThrow(ChunkerError);
  });

  it("cuts a synchronous source exactly as the async chunker does, and copies no chunk that lies in one piece", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ minLength: 0, maxLength: 40 }), { maxLength: 8 }),
        fc.integer({ min: 1, max: 17 }),
        fc.boolean(),
        async (pieces, chunkSize, declare) => {
          const source = pieces.map((p) => Buffer.from(p));
          const total = source.reduce((n, p) => n + p.length, 0);
          const opts = { ...base, messageId: "p", chunkSize, ...(declare ? { totalBytes: total } : {}) };
          const wire = (cs: MsrpRequest[]) => cs.map((c) => [range(c), c.flag, c.body.toString("hex")]);
          const sync = [...chunkIterable({ ...opts, source })];
          const async_ = await collect(chunkMessage({ ...opts, source }));
          expect(wire(sync)).toEqual(wire(async_));
          expect(Buffer.concat(sync.map((c) => c.body)).equals(Buffer.concat(source))).toBe(true);
          // With the size declared, the pieces make no difference: the same chunks as the whole
          // body cut in one piece by chunkBody (a separate implementation).
          if (declare) expect(wire(sync)).toEqual(wire([...chunkBody(Buffer.concat(source), opts)]));
        },
      ),
      { numRuns: 300 },
    );
    // Pieces of exactly the chunk size (what a client's payload stream hands over): every chunk
    // body is the piece itself, not a copy.
    const store = Buffer.alloc(40, 0x61);
    const pieces = [store.subarray(0, 10), store.subarray(10, 20), store.subarray(20, 30), store.subarray(30, 35)];
    const chunks = [...chunkIterable({ ...base, messageId: "v", chunkSize: 10, totalBytes: 35, source: pieces })];
    expect(chunks.map(range)).toEqual(["1-10/35", "11-20/35", "21-30/35", "31-35/35"]);
    expect(chunks.every((c, i) => c.body.buffer === store.buffer && c.body.byteOffset === pieces[i]!.byteOffset)).toBe(true);
  });

  it("rejects a synchronous source of the wrong size when it is iterated", () => {
    expect(() => [...chunkIterable({ ...base, messageId: "x", chunkSize: 4, totalBytes: 3, source: [Buffer.from("abcd")] })]).toThrow(
      expect.objectContaining({ code: "size-mismatch" }),
    );
    expect(() => [...chunkIterable({ ...base, messageId: "x", chunkSize: 4, totalBytes: 9, source: [Buffer.from("abcd")] })]).toThrow(ChunkerError);
    expect(() => [...chunkIterable({ ...base, messageId: "x", chunkSize: 4, totalBytes: 2, source: Buffer.from("abc") })]).toThrow(ChunkerError);
    expect(() => [...chunkIterable({ ...base, messageId: "x", chunkSize: 0, source: [Buffer.from("abc")] })]).toThrow(
      expect.objectContaining({ code: "bad-chunk-size" }),
    );
  });

  it("picks each chunk's tid so that its end-line is not in that chunk's body", () => {
    const body = Buffer.from("-------AAAAAAAA-------BBBBBBBB");
    const candidates = ["AAAAAAAA", "BBBBBBBB", "CCCCCCCC"];
    const [c] = [...chunkBody(body, { ...base, messageId: "t", chunkSize: 100, nextTid: () => candidates.shift()! })];
    expect(c!.tid).toBe("CCCCCCCC");
    expect(transactionIdOccursIn(c!.tid, c!.body)).toBe(false);
  });
});

describe("reassembler", () => {
  it("returns a one-chunk message without copying it", () => {
    const r = new MsrpReassembler();
    const [c] = [...chunkBody(Buffer.from("hello"), { ...base, messageId: "one", chunkSize: 100 })];
    const res = r.accept(c!);
    expect(res.kind === "complete" && res.message.body).toBe(c!.body);
    expect(res).toMatchObject({ kind: "complete", message: { messageId: "one", contentType: "application/octet-stream", chunks: 1 } });
    expect(r.pendingCount).toBe(0);
  });

  it("takes a chunk without Byte-Range as the whole message", () => {
    const res = new MsrpReassembler().accept({
      kind: "request",
      tid: "norange1",
      method: "SEND",
      headers: [
        ["To-Path", TO],
        ["From-Path", FROM],
        ["Message-ID", "nr"],
        ["Content-Type", "text/plain"],
      ],
      body: Buffer.from("whole"),
      flag: "$",
    });
    expect(res.kind === "complete" && res.message.body.toString()).toBe("whole");
  });

  it("reports progress, then the message, for the fixture's two chunks", () => {
    const frames = new MsrpFramer().push(fixture("multi-chunk.msrp"));
    const r = new MsrpReassembler();
    const results = frames.map((f) => r.accept((f.ok ? f.message : undefined) as MsrpRequest));
    expect(results[0]).toEqual({ kind: "progress", messageId: "m-chunked-1", receivedBytes: 16, totalBytes: 30 });
    expect(results[1]!.kind === "complete" && results[1]!.message.body.toString()).toBe("0123456789abcdefghijKLMNOPQRST");
  });

  it("accepts a cut-short chunk and a '$' chunk whose end and total are '*'", () => {
    const r = new MsrpReassembler();
    const mk = (start: number, body: string, rangeText: string, flag: "+" | "$") => {
      const c = createSendChunk({ ...base, messageId: "cut", start, body: Buffer.from(body), total: "*", flag });
      c.headers = c.headers.map(([n, v]) => (n === "Byte-Range" ? [n, rangeText] : [n, v]));
      return c;
    };
    expect(r.accept(mk(1, "abcdefgh", "1-*/*", "+"))).toEqual({ kind: "progress", messageId: "cut", receivedBytes: 8 });
    const res = r.accept(mk(9, "ijkl", "9-*/*", "$"));
    expect(res.kind === "complete" && res.message.body.toString()).toBe("abcdefghijkl");
  });

  it("completes when the '$' chunk only repeats bytes that came before with an unknown total", () => {
    const r = new MsrpReassembler();
    const first = createSendChunk({ ...base, messageId: "rep", start: 1, body: Buffer.from("abcdef"), total: "*" });
    const last = createSendChunk({ ...base, messageId: "rep", start: 4, body: Buffer.from("def"), total: "*", flag: "$" });
    expect(r.accept(first).kind).toBe("progress");
    const res = r.accept(last);
    expect(res.kind === "complete" && res.message.body.toString()).toBe("abcdef");
  });

  it("drops an aborted message on '#' (the fixture's abort)", () => {
    const r = new MsrpReassembler();
    const frames = new MsrpFramer().push(fixture("abort.msrp"));
    const results = frames.map((f) => r.accept((f.ok ? f.message : undefined) as MsrpRequest));
    expect(results[0]).toEqual({ kind: "progress", messageId: "m-aborted-1", receivedBytes: 40, totalBytes: 100 });
    expect(results[1]).toEqual({ kind: "aborted", messageId: "m-aborted-1", receivedBytes: 40 });
    expect(r.pendingCount).toBe(0);
  });

  it("without keepBodies takes a chunk's size in place of its bytes", () => {
    const r = new MsrpReassembler({ keepBodies: false });
    const [c1, c2, c3] = [...chunkBody(Buffer.alloc(25, 7), { ...base, messageId: "sized", chunkSize: 10 })];
    expect(r.accept(c1!)).toMatchObject({ kind: "progress", receivedBytes: 10 });
    // The bytes of the later chunks were counted, not kept: empty bodies and their sizes.
    expect(r.accept({ ...c2!, body: Buffer.alloc(0) }, 10)).toMatchObject({ kind: "progress", receivedBytes: 20 });
    expect(r.accept({ ...c3!, body: Buffer.alloc(0) }, 5)).toMatchObject({ kind: "complete", message: { size: 25, chunks: 3 } });
    // A size past the Byte-Range is as wrong as the bytes would have been.
    const [d1] = [...chunkBody(Buffer.alloc(10), { ...base, messageId: "liar", chunkSize: 10 })];
    expect(r.accept({ ...d1!, body: Buffer.alloc(0) }, 11)).toMatchObject({ kind: "error", status: 400 });
    // With keepBodies the bytes are the truth: a size given beside them is ignored.
    const keep = new MsrpReassembler();
    expect(keep.accept(c1!, 3)).toMatchObject({ kind: "progress", receivedBytes: 10 });
  });

  it("ignores duplicates and merges overlaps", () => {
    const r = new MsrpReassembler();
    const body = Buffer.from("abcdefghij");
    const at = (start: number, end: number) =>
      createSendChunk({ ...base, messageId: "dup", start, body: body.subarray(start - 1, end), total: 10 });
    expect(r.accept(at(1, 4)).kind).toBe("progress");
    expect(r.accept(at(1, 4))).toMatchObject({ kind: "progress", receivedBytes: 4 });
    expect(r.accept(at(3, 7))).toMatchObject({ kind: "progress", receivedBytes: 7 });
    expect(r.progress("dup")).toEqual({ receivedBytes: 7, totalBytes: 10 });
    const res = r.accept(at(6, 10));
    expect(res.kind === "complete" && res.message.body.toString()).toBe("abcdefghij");
    expect(res.kind === "complete" && res.message.chunks).toBe(4);
  });

  it("reports a resent chunk of a completed message as a duplicate, not a second delivery", () => {
    const r = new MsrpReassembler();
    const [c] = [...chunkBody(Buffer.from("hello"), { ...base, messageId: "again", chunkSize: 100 })];
    expect(r.accept(c!).kind).toBe("complete");
    expect(r.accept(c!)).toEqual({ kind: "duplicate", messageId: "again" });
    const [p1, p2] = [...chunkBody(Buffer.from("hello world"), { ...base, messageId: "two", chunkSize: 6 })];
    r.accept(p1!);
    expect(r.accept(p2!).kind).toBe("complete");
    expect(r.accept(p1!)).toEqual({ kind: "duplicate", messageId: "two" });
    expect(r.pendingCount).toBe(0);
  });

  it("answers 400 to chunks it cannot place", () => {
    const r = new MsrpReassembler();
    const c = createSendChunk({ ...base, messageId: "bad", start: 1, body: Buffer.from("abcdef"), total: 10 });
    const noId = { ...c, headers: c.headers.filter(([n]) => n !== "Message-ID") };
    expect(r.accept(noId)).toMatchObject({ kind: "error", status: 400, error: { code: "missing-message-id" } });
    const longer = { ...c, headers: c.headers.map(([n, v]): [string, string] => (n === "Byte-Range" ? [n, "1-3/10"] : [n, v])) };
    expect(r.accept(longer)).toMatchObject({ kind: "error", status: 400, error: { code: "range-mismatch" } });
    const report = { ...c, method: "REPORT" };
    expect(r.accept(report)).toMatchObject({ kind: "error", status: 400, error: { code: "not-a-send" } });
    expect(r.accept(c).kind).toBe("progress");
    const otherTotal = createSendChunk({ ...base, messageId: "bad", start: 7, body: Buffer.from("gh"), total: 8 });
    expect(r.accept(otherTotal)).toMatchObject({ kind: "error", status: 400, messageId: "bad" });
    expect(r.pendingCount).toBe(0);
  });

  it("answers 413 beyond the size limit, keeps refusing that message, and accepts its abort", () => {
    const r = new MsrpReassembler({ maxMessageBytes: 100 });
    const big = createSendChunk({ ...base, messageId: "big", start: 1, body: Buffer.alloc(50), total: 200 });
    expect(r.accept(big)).toMatchObject({ kind: "error", status: 413, messageId: "big", error: { code: "too-large" } });
    const next = createSendChunk({ ...base, messageId: "big", start: 51, body: Buffer.alloc(50), total: 200 });
    expect(r.accept(next)).toMatchObject({ kind: "error", status: 413 });
    const abort = createSendChunk({ ...base, messageId: "big", start: 101, body: Buffer.alloc(0), total: 200, flag: "#" });
    expect(r.accept(abort)).toEqual({ kind: "aborted", messageId: "big", receivedBytes: 0 });

    // Unknown total: refused once the bytes run past the limit.
    const s1 = createSendChunk({ ...base, messageId: "grow", start: 1, body: Buffer.alloc(60), total: "*" });
    const s2 = createSendChunk({ ...base, messageId: "grow", start: 61, body: Buffer.alloc(60), total: "*" });
    expect(r.accept(s1).kind).toBe("progress");
    expect(r.accept(s2)).toMatchObject({ kind: "error", status: 413, messageId: "grow" });
    expect(r.pendingCount).toBe(0);
  });

  it("answers 413 when the messages in progress would hold more than the byte budget", () => {
    const r = new MsrpReassembler({ maxMessageBytes: 100, maxPendingBytes: 150 });
    const first = (id: string, total: number | "*", size = 10) =>
      createSendChunk({ ...base, messageId: id, start: 1, body: Buffer.alloc(size), total });
    expect(r.accept(first("a", 100)).kind).toBe("progress");
    expect(r.pendingBytes).toBe(100);
    expect(r.accept(first("b", 60))).toMatchObject({ kind: "error", status: 413, error: { code: "too-much-pending" } });
    expect(r.accept(first("c", "*", 40)).kind).toBe("progress");
    expect(r.accept(first("d", "*", 20))).toMatchObject({ kind: "error", status: 413, error: { code: "too-much-pending" } });
    expect(r.pendingBytes).toBe(140);
    r.discard("a");
    expect(r.pendingBytes).toBe(40);
    const rest = createSendChunk({ ...base, messageId: "c", start: 41, body: Buffer.alloc(5), total: 45 });
    expect(r.accept(rest).kind).toBe("complete");
    expect(r.pendingBytes).toBe(0);
  });

  it("answers 413 to a new message when too many are in progress", () => {
    const r = new MsrpReassembler({ maxPendingMessages: 2 });
    const first = (id: string) => createSendChunk({ ...base, messageId: id, start: 1, body: Buffer.from("ab"), total: 4 });
    expect(r.accept(first("a")).kind).toBe("progress");
    expect(r.accept(first("b")).kind).toBe("progress");
    expect(r.accept(first("c"))).toMatchObject({ kind: "error", status: 413, error: { code: "too-many-messages" } });
    expect(r.pendingMessageIds()).toEqual(["a", "b"]);
    expect(r.discard("a")).toBe(true);
    expect(r.accept(first("d")).kind).toBe("progress");
  });

  it("gets back the exact bytes of two interleaved, shuffled, duplicated messages (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 3000 }),
        fc.uint8Array({ maxLength: 3000 }),
        fc.integer({ min: 1, max: 700 }),
        fc.integer({ min: 1, max: 700 }),
        fc.boolean(),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 40 }),
        fc.array(fc.nat(), { maxLength: 3 }),
        async (a, b, sizeA, sizeB, unknownTotal, keys, dupes) => {
          const bodyA = Buffer.from(a);
          const bodyB = Buffer.from(b);
          const chunksA = [...chunkBody(bodyA, { ...base, messageId: "A", chunkSize: sizeA })];
          // B comes from a stream in uneven pieces, with or without a declared size.
          const pieces = [bodyB.subarray(0, 7), bodyB.subarray(7, 1000), bodyB.subarray(1000)];
          const chunksB = await collect(
            chunkMessage({
              ...base,
              messageId: "B",
              chunkSize: sizeB,
              source: pieces,
              ...(unknownTotal ? {} : { totalBytes: bodyB.length }),
            }),
          );
          const all = [...chunksA, ...chunksB];
          for (const d of dupes) all.push(all[d % all.length]!);
          const r = new MsrpReassembler();
          const results = shuffled(all, keys).map((c) => r.accept(c));
          const done = results.filter((x) => x.kind === "complete");
          expect(done).toHaveLength(2);
          expect(results.filter((x) => x.kind === "error" || x.kind === "aborted")).toHaveLength(0);
          expect(results.filter((x) => x.kind === "duplicate").length).toBeLessThanOrEqual(dupes.length);
          const byId = new Map(done.map((x) => [x.kind === "complete" && x.message.messageId, x]));
          const gotA = byId.get("A");
          const gotB = byId.get("B");
          expect(gotA?.kind === "complete" && gotA.message.body.equals(bodyA)).toBe(true);
          expect(gotB?.kind === "complete" && gotB.message.body.equals(bodyB)).toBe(true);
          expect([r.pendingCount, r.pendingBytes]).toEqual([0, 0]);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("gets back the exact bytes through the wire: serialize, cut into reads, frame, reassemble (property)", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 5000 }),
        fc.integer({ min: 1, max: 1500 }),
        fc.integer({ min: 1, max: 997 }),
        (bytes, chunkSize, readSize) => {
          const body = Buffer.from(bytes);
          const wire = Buffer.concat([...chunkBody(body, { ...base, messageId: "w", chunkSize })].map(serializeMsrp));
          const framer = new MsrpFramer();
          const r = new MsrpReassembler();
          const results: ReassemblyResult[] = [];
          for (let i = 0; i < wire.length; i += readSize) {
            for (const f of framer.push(wire.subarray(i, i + readSize))) {
              if (!f.ok || f.message.kind !== "request") throw new Error("framing failed");
              results.push(r.accept(f.message));
            }
          }
          const [got] = completed(results);
          expect(got?.equals(body)).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });
});
