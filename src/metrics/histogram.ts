/**
 * HDR histogram settings, codec and statistics: the one place that knows how latency histograms
 * are built, encoded for the thread hop, decoded and read. Values are microseconds.
 */
import {
  build,
  decodeFromCompressedBase64,
  encodeIntoCompressedBase64,
  initWebAssemblySync,
  JsHistogram,
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

/**
 * Decodes into a JS histogram. Throws on malformed input (callers own the error policy).
 * What the workers send (encodeHistogram: stored zlib blocks) is unwrapped here directly, checksum
 * included, instead of through a zlib inflate object per histogram (the coordinator decodes every
 * worker's histograms every second, and measured with perf the zlib set-up was half of that);
 * anything else — the library's own deflated encoding — goes through the library.
 */
export function decodeHistogram(base64: string): Histogram {
  const raw = storedPayload(Buffer.from(base64, "base64"));
  if (raw === null) return decodeFromCompressedBase64(base64, 32, false);
  return (JsHistogram as unknown as { decode(data: Uint8Array, bitBucketSize: number, minBar: number): Histogram }).decode(raw, 32, 0);
}

/** The V2 encoding inside a V2 compressed envelope whose zlib stream is all stored blocks, else null. */
export function storedPayload(data: Buffer): Uint8Array | null {
  if (data.length < 8 + 2 + 5 + 4 || data.readInt32BE(0) !== V2_COMPRESSED_COOKIE) return null;
  const zlibLength = data.readInt32BE(4);
  if (zlibLength !== data.length - 8 || data[8] !== 0x78 || (data[8]! * 256 + data[9]!) % 31 !== 0 || (data[9]! & 0x20) !== 0) return null;
  const parts: Buffer[] = [];
  let at = 10;
  const end = data.length - 4;
  for (;;) {
    if (at + 5 > end) return null;
    const header = data[at]!;
    if ((header & 0x06) !== 0) return null; // not a stored block: compressed data, the library inflates it
    const len = data.readUInt16LE(at + 1);
    if ((data.readUInt16LE(at + 3) ^ 0xffff) !== len || at + 5 + len > end) return null;
    parts.push(data.subarray(at + 5, at + 5 + len));
    at += 5 + len;
    if ((header & 1) === 1) break;
  }
  if (at !== end) return null;
  const raw = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  return adler32(raw) === data.readUInt32BE(end) ? raw : null;
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
 *
 * One pass over the counts instead of the library's seven `getValueAtPercentile` scans and its
 * `mean` iterator (an object per recorded bucket): the coordinator computes these for every
 * metric every second, and measured with perf that was a third of the main thread's per-second
 * work — work that lands at the period boundary together with the workers' own. Same arithmetic
 * as the library (rank rounding with its ulp, median-equivalent values for the mean, summed in
 * index order), so the figures are identical (a differential test checks it); histograms without
 * the JS counts API (WASM) take the library's path.
 */
export function latencyStats(h: Histogram): LatencyStats {
  if (h.totalCount === 0) return { count: 0, min: 0, mean: 0, p50: 0, p90: 0, p95: 0, p99: 0, p999: 0, max: 0 };
  if (!hasCountsApi(h)) return latencyStatsByLibrary(h);
  const total = h.totalCount;
  const ranks = STATS_PERCENTILES.map((p) => rankAtPercentile(p, total));
  const values = new Array<number>(STATS_PERCENTILES.length).fill(0);
  let next = 0;
  let running = 0;
  let sum = 0;
  const n = h.countsArrayLength;
  for (let i = 0; i < n; i++) {
    const count = h.getCountAtIndex(i);
    if (count === 0) continue;
    running += count;
    const value = h.valueFromIndex(i);
    sum += h.medianEquivalentValue(value) * count;
    while (next < ranks.length && running >= ranks[next]!) {
      values[next] = next === 0 ? h.lowestEquivalentValue(value) : h.highestEquivalentValue(value);
      next++;
    }
  }
  const [min, p50, p90, p95, p99, p999, max] = values as [number, number, number, number, number, number, number];
  return { count: total, min, mean: sum / total, p50, p90, p95, p99, p999, max };
}

/** The library's own way, for histograms without the JS counts API, and as the test's reference. */
export function latencyStatsByLibrary(h: Histogram): LatencyStats {
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

/** min, p50, p90, p95, p99, p99.9, max: in ascending order, as the one-pass scan needs. */
const STATS_PERCENTILES = [0, 50, 90, 95, 99, 99.9, 100];

/** The JS histogram's counts API (JsHistogram), which the one-pass scan reads. */
interface CountsApi {
  countsArrayLength: number;
  getCountAtIndex(index: number): number;
  valueFromIndex(index: number): number;
  lowestEquivalentValue(value: number): number;
  highestEquivalentValue(value: number): number;
  medianEquivalentValue(value: number): number;
}

function hasCountsApi(h: Histogram): h is Histogram & CountsApi {
  const c = h as unknown as Partial<CountsApi>;
  return (
    typeof c.countsArrayLength === "number" &&
    typeof c.getCountAtIndex === "function" &&
    typeof c.valueFromIndex === "function" &&
    typeof c.lowestEquivalentValue === "function" &&
    typeof c.highestEquivalentValue === "function" &&
    typeof c.medianEquivalentValue === "function"
  );
}

/** The count a percentile reaches, rounded as `getValueAtPercentile` does (up, minus one ulp, at least 1). */
function rankAtPercentile(percentile: number, total: number): number {
  const fp = (Math.min(percentile, 100) / 100) * total;
  return Math.max(Math.ceil(fp - ulp(fp)), 1);
}

/** hdr-histogram-js's ulp (of 0 it is 2^-Infinity = 0). */
function ulp(x: number): number {
  return 2 ** (Math.floor(Math.log2(x)) - 52);
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
