/**
 * HDR histogram settings, codec and statistics: the one place that knows how latency histograms
 * are built, encoded for the thread hop, decoded and read. Values are microseconds.
 */
import {
  build,
  decodeFromCompressedBase64,
  encodeIntoCompressedBase64,
  initWebAssemblySync,
  WasmHistogram,
  type Histogram,
} from "hdr-histogram-js";

export type { Histogram } from "hdr-histogram-js";

/** 1 µs … 1 h before auto-resize kicks in; 3 significant digits (0.1 % value error). */
export const HISTOGRAM_LOWEST_US = 1;
export const HISTOGRAM_HIGHEST_US = 3_600_000_000;
export const HISTOGRAM_DIGITS = 3;

let wasmState: "untried" | "ready" | "failed" = "untried";

/**
 * Loads the WebAssembly histogram backend once per thread (recording is ~5x faster than the JS
 * backend). Synchronous compile is allowed in Node for modules of any size. Returns false when
 * WebAssembly is unavailable, in which case callers fall back to JS histograms.
 */
export function ensureWasmHistograms(): boolean {
  if (wasmState === "untried") {
    try {
      initWebAssemblySync();
      wasmState = "ready";
    } catch {
      wasmState = "failed";
    }
  }
  return wasmState === "ready";
}

/**
 * A new empty histogram. WASM histograms live outside the JS heap and must be `destroy()`ed;
 * JS ones (the default) are garbage collected, which is why everything that hands histograms to
 * other modules (aggregator, outputs) uses JS.
 */
export function createHistogram(opts: { wasm?: boolean } = {}): Histogram {
  const useWebAssembly = opts.wasm === true && ensureWasmHistograms();
  return build({
    lowestDiscernibleValue: HISTOGRAM_LOWEST_US,
    highestTrackableValue: HISTOGRAM_HIGHEST_US,
    numberOfSignificantValueDigits: HISTOGRAM_DIGITS,
    autoResize: true,
    bitBucketSize: 32,
    useWebAssembly,
  });
}

/**
 * HdrHistogram's "V2 compressed" base64 (what `encodeIntoCompressedBase64` writes and every
 * HdrHistogram decoder reads): a big-endian cookie and length, then the V2 encoding in a zlib
 * stream. A worker encodes each histogram once per second, so it runs cold: the library's path
 * (a zlib deflate through Node's zlib binding) measured ~0.2–1.2 ms per histogram that way, a few
 * histograms together ~1–2 ms of a client worker's loop at every period boundary, delaying the
 * answers read there. The V2 encoding is already compact (zero runs are collapsed, counts are
 * LEB128), so here the zlib stream holds it in stored (uncompressed) blocks: a few µs of plain
 * JS, the same format, ~10 bytes longer. JS histograms (no WebAssembly) use the library.
 */
export function encodeHistogram(h: Histogram): string {
  if (!(h instanceof WasmHistogram)) return encodeIntoCompressedBase64(h);
  // A view into WebAssembly memory, valid until the next WebAssembly call: copied right away.
  return compressedEnvelope(h.encode()).toString("base64");
}

/** V2 compressed envelope around a V2 encoding, with the zlib stream in stored blocks. */
export function compressedEnvelope(raw: Uint8Array): Buffer {
  const blocks = Math.max(1, Math.ceil(raw.length / STORED_BLOCK_MAX));
  const zlibLength = 2 + blocks * 5 + raw.length + 4;
  const out = Buffer.allocUnsafe(8 + zlibLength);
  out.writeInt32BE(V2_COMPRESSED_COOKIE, 0);
  out.writeInt32BE(zlibLength, 4);
  // zlib header: deflate, 32 KiB window, no dictionary, check bits so that CMF·256+FLG ≡ 0 (mod 31).
  out[8] = 0x78;
  out[9] = 0x01;
  let at = 10;
  for (let b = 0; b < blocks; b++) {
    const start = b * STORED_BLOCK_MAX;
    const len = Math.min(STORED_BLOCK_MAX, raw.length - start);
    out[at] = b === blocks - 1 ? 1 : 0; // BFINAL, BTYPE 00 (stored)
    out.writeUInt16LE(len, at + 1);
    out.writeUInt16LE(~len & 0xffff, at + 3);
    out.set(raw.subarray(start, start + len), at + 5);
    at += 5 + len;
  }
  out.writeUInt32BE(adler32(raw), at);
  return out;
}

/** HdrHistogram's V2 cookie with the compressed flag (0x1c849304 | 0x10). */
const V2_COMPRESSED_COOKIE = 0x1c849314;
const STORED_BLOCK_MAX = 0xffff;

function adler32(data: Uint8Array): number {
  let a = 1;
  let b = 0;
  // 5552 bytes is the most that can be summed before b may exceed 2^32 (zlib's NMAX).
  for (let i = 0; i < data.length; ) {
    const end = Math.min(data.length, i + 5552);
    for (; i < end; i++) {
      a += data[i]!;
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}

/** Decodes into a JS histogram. Throws on malformed input (callers own the error policy). */
export function decodeHistogram(base64: string): Histogram {
  return decodeFromCompressedBase64(base64, 32, false);
}

/** The statistics every output shows, in the histogram's unit (µs). */
export interface LatencyStats {
  count: number;
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  p999: number;
  max: number;
}

/**
 * Percentiles follow HdrHistogram semantics: the highest value equivalent to the sample at that
 * rank (so max is the top of the max sample's bucket), min the lowest equivalent value.
 */
export function latencyStats(h: Histogram): LatencyStats {
  if (h.totalCount === 0) return { count: 0, min: 0, mean: 0, p50: 0, p90: 0, p95: 0, p99: 0, p999: 0, max: 0 };
  return {
    count: h.totalCount,
    min: h.getValueAtPercentile(0),
    mean: h.mean,
    p50: h.getValueAtPercentile(50),
    p90: h.getValueAtPercentile(90),
    p95: h.getValueAtPercentile(95),
    p99: h.getValueAtPercentile(99),
    p999: h.getValueAtPercentile(99.9),
    max: h.getValueAtPercentile(100),
  };
}

/** µs → ms, rounded to the µs (the recording resolution) so reports do not show float noise. */
export const usToMs = (us: number): number => Math.round(us) / 1000;

export function latencyStatsMs(h: Histogram): LatencyStats {
  const s = latencyStats(h);
  return {
    count: s.count,
    min: usToMs(s.min),
    mean: usToMs(s.mean),
    p50: usToMs(s.p50),
    p90: usToMs(s.p90),
    p95: usToMs(s.p95),
    p99: usToMs(s.p99),
    p999: usToMs(s.p999),
    max: usToMs(s.max),
  };
}
