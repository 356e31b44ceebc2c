import { inflateSync } from "node:zlib";
import fc from "fast-check";
import { decodeFromCompressedBase64, encodeIntoCompressedBase64, type Histogram } from "hdr-histogram-js";
import { afterEach, describe, expect, it } from "vitest";
import { compressedEnvelope, createHistogram, decodeHistogram, encodeHistogram } from "../../src/metrics/histogram.js";

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
