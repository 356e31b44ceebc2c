import { inflateSync } from "node:zlib";
import fc from "fast-check";
import { decodeFromCompressedBase64, encodeIntoCompressedBase64, type Histogram } from "hdr-histogram-js";
import { afterEach, describe, expect, it } from "vitest";
import {
  compressedEnvelope,
  createHistogram,
  decodeHistogram,
  encodeHistogram,
  latencyStats,
  latencyStatsByLibrary,
  storedPayload,
} from "../../src/metrics/histogram.js";

const made: Histogram[] = [];
function wasmHistogram(values: Array<[number, number]>): Histogram {
  const h = createHistogram({ wasm: true });
  made.push(h);
  for (const [value, count] of values) h.recordValueWithCount(value, count);
  return h;
}
afterEach(() => {
  for (const h of made.splice(0)) h.destroy();
});

/** Every bucket's count, compared through the library's (deterministic) encoding of a JS copy. */
function buckets(h: Histogram): string {
  return encodeIntoCompressedBase64(decodeHistogram(encodeIntoCompressedBase64(h)));
}

describe("encodeHistogram (V2 compressed, stored zlib blocks)", () => {
  it("decodes to the same histogram as the library's own encoding, for any samples", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 1, max: 3_600_000_000 }), fc.integer({ min: 1, max: 2 ** 31 })), { maxLength: 200 }),
        (values) => {
          const h = wasmHistogram(values);
          const ours = decodeHistogram(encodeHistogram(h));
          const theirs = decodeFromCompressedBase64(encodeIntoCompressedBase64(h));
          expect(ours.totalCount).toBe(theirs.totalCount);
          expect(ours.maxValue).toBe(theirs.maxValue);
          expect(ours.minNonZeroValue).toBe(theirs.minNonZeroValue);
          expect(buckets(ours)).toEqual(buckets(theirs));
        },
      ),
      { numRuns: 60 },
    );
  });

  it("round-trips an empty histogram", () => {
    const h = decodeHistogram(encodeHistogram(wasmHistogram([])));
    expect(h.totalCount).toBe(0);
  });

  it("splits encodings longer than one stored block (65,535 bytes) and keeps every count", () => {
    // A large count in nearly every bucket up to 10^9 (~20,000 buckets, 5 bytes each): the V2
    // encoding is about 100 KB, so two stored blocks.
    const h = wasmHistogram([]);
    for (let v = 1; v <= 1_000_000_000; v += Math.max(1, Math.floor(v / 1000))) h.recordValueWithCount(v, 1_000_000_007);
    const base64 = encodeHistogram(h);
    const bytes = Buffer.from(base64, "base64");
    const zlibLength = bytes.readInt32BE(4);
    expect(zlibLength).toBeGreaterThan(65_535);
    const decoded = decodeHistogram(base64);
    expect(decoded.totalCount).toBe(h.totalCount);
    expect(buckets(decoded)).toEqual(buckets(h));
  });

  it("writes a valid zlib stream (header, stored blocks, Adler-32) that Node's inflate accepts", () => {
    for (const size of [0, 1, 65_535, 65_536, 140_000]) {
      const raw = Uint8Array.from({ length: size }, (_, i) => (i * 7919) & 0xff);
      const envelope = compressedEnvelope(raw);
      expect(envelope.readInt32BE(0)).toBe(0x1c849314);
      const zlibLength = envelope.readInt32BE(4);
      expect(envelope.length).toBe(8 + zlibLength);
      expect(Buffer.compare(inflateSync(envelope.subarray(8)), Buffer.from(raw))).toBe(0);
    }
  });

  it("a corrupted checksum is rejected by the decoder (the stream is really checked)", () => {
    const envelope = compressedEnvelope(Uint8Array.from([1, 2, 3, 4]));
    envelope[envelope.length - 1] ^= 0xff;
    expect(() => inflateSync(envelope.subarray(8))).toThrow(/incorrect data check/);
  });
});

describe("latencyStats (one pass over the counts)", () => {
  it("equals the library's own percentiles and mean exactly, for any samples: JS, decoded and merged histograms", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 3_600_000_000 }), fc.integer({ min: 1, max: 100_000 })), { minLength: 1, maxLength: 300 }),
        fc.array(fc.tuple(fc.integer({ min: 1, max: 50_000 }), fc.integer({ min: 1, max: 5 })), { maxLength: 50 }),
        (values, more) => {
          const h = createHistogram();
          for (const [value, count] of values) h.recordValueWithCount(value, count);
          expect(latencyStats(h)).toEqual(latencyStatsByLibrary(h));
          // What the coordinator holds: decoded worker snapshots merged with add().
          const merged = decodeHistogram(encodeHistogram(h));
          const other = createHistogram();
          for (const [value, count] of more) other.recordValueWithCount(value, count);
          merged.add(decodeHistogram(encodeHistogram(other)));
          expect(latencyStats(merged)).toEqual(latencyStatsByLibrary(merged));
        },
      ),
      { numRuns: 200 },
    );
  });

  it("gives real values on a known histogram, and zeros when empty", () => {
    const h = createHistogram();
    for (let v = 1; v <= 1000; v++) h.recordValue(v * 10);
    const s = latencyStats(h);
    expect(s).toMatchObject({ count: 1000, min: 10, p50: 5003, p99: 9903, max: 10007 });
    expect(s.mean).toBeCloseTo(5005, -1);
    expect(latencyStats(createHistogram())).toEqual({ count: 0, min: 0, mean: 0, p50: 0, p90: 0, p95: 0, p99: 0, p999: 0, max: 0 });
  });

  it("a WASM histogram (no JS counts API) takes the library's path with the same figures", () => {
    const values: Array<[number, number]> = [[120, 3], [4500, 10], [20_000, 1]];
    const w = wasmHistogram(values);
    // The WebAssembly histogram has no JS counts array to scan: the library path is the one taken.
    expect(typeof (w as unknown as { getCountAtIndex?: unknown }).getCountAtIndex).toBe("undefined");
    const j = createHistogram();
    for (const [value, count] of values) j.recordValueWithCount(value, count);
    expect(latencyStats(w)).toEqual(latencyStats(j));
  });
});

describe("storedPayload (the coordinator's fast path for what workers send)", () => {
  it("unwraps stored blocks of any length, one block or several, byte for byte", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 200_000 }), (raw) => {
        const got = storedPayload(compressedEnvelope(raw));
        expect(got).not.toBeNull();
        expect(Buffer.from(got!).equals(Buffer.from(raw))).toBe(true);
      }),
      { numRuns: 30 },
    );
  });

  it("declines the library's deflated encoding (decodeHistogram then inflates it) and damaged envelopes", () => {
    const h = createHistogram();
    for (let v = 1; v < 5000; v += 7) h.recordValue(v);
    const deflated = Buffer.from(encodeIntoCompressedBase64(h), "base64");
    expect(storedPayload(deflated)).toBeNull();
    expect(latencyStats(decodeHistogram(deflated.toString("base64")))).toEqual(latencyStats(h));

    const ours = compressedEnvelope(Buffer.from("0123456789abcdef"));
    const badChecksum = Buffer.from(ours);
    badChecksum[badChecksum.length - 1]! ^= 1;
    expect(storedPayload(badChecksum)).toBeNull();
    const badLength = Buffer.from(ours);
    badLength[11]! ^= 1; // the block's LEN no longer matches NLEN
    expect(storedPayload(badLength)).toBeNull();
    expect(storedPayload(ours.subarray(0, ours.length - 3))).toBeNull();
  });
});
