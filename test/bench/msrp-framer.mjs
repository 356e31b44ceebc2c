#!/usr/bin/env node
/**
 * MSRP codec throughput (dist/, so run `npm run build` first): how fast the byte framer turns a
 * TCP stream back into messages, next to a plain memcpy of the same bytes as the ceiling.
 *
 * Cases:
 * - small: ~600-byte SENDs carrying CPIM chat messages, read in 64 KiB pieces (msgs/s, MB/s)
 * - 64k-chunks: 64 KiB chunks of a large message, read in 64 KiB pieces that straddle chunks
 * - 4m-in-1k-reads: one 4 MiB chunk trickling in 1 KiB reads (the concat cost the arena avoids)
 * - serialize-64k: serializeMsrp of 64 KiB chunks
 * - chunk+reassemble: a 50 MB message cut into 64 KiB chunks and put back together
 *
 * Usage: node test/bench/msrp-framer.mjs [--ms 1000]   (prints a table, then one JSON line)
 * Library use: import { runMsrpFramerBench } from "./msrp-framer.mjs"; await runMsrpFramerBench({ ms }).
 */
import { pathToFileURL } from "node:url";

const root = new URL("../../", import.meta.url);
const msrpUrl = new URL("dist/protocol/msrp/index.js", root);

const TO = "msrp://127.0.0.1:2855/kjhd37s2s20w2a;tcp";
const FROM = "msrp://127.0.0.1:40312/jshA7weztas;tcp";

/** Repeats fn until `ms` elapsed; returns { perSec, bytesPerSec } from fn's returned byte count. */
function measure(fn, ms) {
  fn(); // warm-up
  let runs = 0;
  let bytes = 0;
  const start = process.hrtime.bigint();
  const budget = BigInt(ms) * 1_000_000n;
  let elapsed = 0n;
  while (elapsed < budget) {
    bytes += fn();
    runs++;
    elapsed = process.hrtime.bigint() - start;
  }
  const s = Number(elapsed) / 1e9;
  return { runsPerSec: runs / s, bytesPerSec: bytes / s };
}

function pieces(buf, size) {
  const out = [];
  for (let i = 0; i < buf.length; i += size) out.push(buf.subarray(i, i + size));
  return out;
}

export async function runMsrpFramerBench({ ms = 1000 } = {}) {
  const m = await import(msrpUrl.href);
  const results = {};

  // small chat messages
  const cpim = Buffer.from(
    "From: <sip:alice@example.com>\r\nTo: <sip:bob@example.com>\r\nNS: imdn <urn:ietf:params:imdn>\r\n" +
      "imdn.Message-ID: Sk3xP2ad0Q\r\nDateTime: 2026-11-25T13:44:33.120Z\r\n" +
      "imdn.Disposition-Notification: positive-delivery, display\r\n\r\n" +
      "Content-Type: text/plain; charset=utf-8\r\nContent-Length: 120\r\n\r\n" + "x".repeat(120),
  );
  const smallCount = 2000;
  const small = Buffer.concat(
    Array.from({ length: smallCount }, (_, i) =>
      m.serializeMsrp([...m.chunkBody(cpim, { toPath: TO, fromPath: FROM, messageId: `m${i}`, contentType: "message/cpim", chunkSize: 4096 })][0]),
    ),
  );
  const smallReads = pieces(small, 65536);
  const s = measure(() => {
    const f = new m.MsrpFramer();
    let n = 0;
    for (const p of smallReads) n += f.push(p).length;
    if (n !== smallCount) throw new Error(`framed ${n} of ${smallCount}`);
    return small.length;
  }, ms);
  results.small = { msgsPerSec: s.runsPerSec * smallCount, mbPerSec: s.bytesPerSec / 1e6, messageBytes: small.length / smallCount };

  // 64 KiB chunks of a large message
  const big = Buffer.alloc(8 * 1024 * 1024, 0x5a);
  const bigWire = Buffer.concat([...m.chunkBody(big, { toPath: TO, fromPath: FROM, messageId: "big", contentType: "application/octet-stream", chunkSize: 65536 })].map(m.serializeMsrp));
  const bigReads = pieces(bigWire, 65536);
  const b = measure(() => {
    const f = new m.MsrpFramer();
    let n = 0;
    for (const p of bigReads) n += f.push(p).length;
    if (n !== 128) throw new Error(`framed ${n} chunks`);
    return bigWire.length;
  }, ms);
  results["64k-chunks"] = { mbPerSec: b.bytesPerSec / 1e6 };

  // one 4 MiB chunk in 1 KiB reads
  const huge = m.serializeMsrp([...m.chunkBody(Buffer.alloc(4 * 1024 * 1024, 0x41), { toPath: TO, fromPath: FROM, messageId: "h", contentType: "x/y", chunkSize: 4 * 1024 * 1024 })][0]);
  const hugeReads = pieces(huge, 1024);
  const h = measure(() => {
    const f = new m.MsrpFramer();
    let n = 0;
    for (const p of hugeReads) n += f.push(p).length;
    if (n !== 1) throw new Error("4 MiB chunk not framed");
    return huge.length;
  }, ms);
  results["4m-in-1k-reads"] = { mbPerSec: h.bytesPerSec / 1e6 };

  // memcpy ceiling: copying the same 64 KiB reads into one buffer
  const sink = Buffer.allocUnsafe(bigWire.length);
  const c = measure(() => {
    let off = 0;
    for (const p of bigReads) off += p.copy(sink, off);
    return off;
  }, ms);
  results.memcpy = { mbPerSec: c.bytesPerSec / 1e6 };

  // serializer
  const chunks = [...m.chunkBody(big, { toPath: TO, fromPath: FROM, messageId: "ser", contentType: "application/octet-stream", chunkSize: 65536 })];
  const ser = measure(() => {
    let total = 0;
    for (const ch of chunks) total += m.serializeMsrp(ch).length;
    return total;
  }, ms);
  results["serialize-64k"] = { mbPerSec: ser.bytesPerSec / 1e6 };

  // chunk + reassemble 50 MB (tids picked against each chunk body included)
  const fifty = Buffer.alloc(50 * 1000 * 1000, 0x33);
  const ra = measure(() => {
    const r = new m.MsrpReassembler();
    let done = 0;
    for (const ch of m.chunkBody(fifty, { toPath: TO, fromPath: FROM, messageId: "fifty", contentType: "application/octet-stream", chunkSize: 65536 })) {
      if (r.accept(ch).kind === "complete") done++;
    }
    if (done !== 1) throw new Error("50 MB message not reassembled");
    return fifty.length;
  }, Math.max(ms, 1500));
  results["chunk+reassemble-50MB"] = { mbPerSec: ra.bytesPerSec / 1e6 };

  return results;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const i = process.argv.indexOf("--ms");
  const ms = i > 0 ? Number(process.argv[i + 1]) : 1000;
  const r = await runMsrpFramerBench({ ms });
  const fmt = (v) => v.toLocaleString("en-US", { maximumFractionDigits: 0 });
  console.log("MSRP codec throughput (one core)");
  console.log(`  framer, ${Math.round(r.small.messageBytes)}-byte CPIM SENDs in 64 KiB reads: ${fmt(r.small.msgsPerSec)} msgs/s (${fmt(r.small.mbPerSec)} MB/s)`);
  console.log(`  framer, 64 KiB chunks in 64 KiB reads:        ${fmt(r["64k-chunks"].mbPerSec)} MB/s`);
  console.log(`  framer, one 4 MiB chunk in 1 KiB reads:       ${fmt(r["4m-in-1k-reads"].mbPerSec)} MB/s`);
  console.log(`  memcpy of the same 64 KiB reads (ceiling):    ${fmt(r.memcpy.mbPerSec)} MB/s`);
  console.log(`  serializeMsrp, 64 KiB chunks:                 ${fmt(r["serialize-64k"].mbPerSec)} MB/s`);
  console.log(`  chunkBody + reassemble, 50 MB in 64 KiB:      ${fmt(r["chunk+reassemble-50MB"].mbPerSec)} MB/s`);
  console.log(JSON.stringify(r));
}
