#!/usr/bin/env node
/**
 * MSRP large-message throughput against two TCP anchors over loopback, side by side (dist/, so
 * `npm run build` first; MSRP_DIST=/some/dir points at another build).
 *
 * Anchors (the same bytes, no MSRP), each with Node's default reads (a fresh 64 KiB Buffer per
 * read) and with the reads cpm-load's MSRP sockets use (the thread's reused 1 MiB buffer,
 * src/protocol/msrp/socket-reads.ts; ~1.5x faster on their own):
 * - raw TCP: one socket, sender and reader in one thread (the single-hop ceiling).
 * - byte relay: client → relay → client with a plain TCP relay in a worker thread (read, write,
 *   pause while the far socket is over its high-water mark — what `pipe()` does): the ceiling for
 *   the topology of a relayed MSRP message, two loopback hops and a relay thread in between.
 * MSRP rows are compared with raw TCP both ways (the issue's anchor is "raw TCP": the default
 * reads are what any Node program gets, the reused buffer is the fastest raw TCP we know of) and
 * with the byte relay that reads as they do.
 * What is sent (large-content.mjs): the content a virtual client's largeMessage step sends (a
 * CPIM head, then --mb MB of the seeded payload pattern, as views of it; the MSRP sender knows that
 * pattern holds no end-line and does not scan it again), the same bytes for every anchor. Two more
 * rows send --mb MB of random bytes in one Buffer (a compressed file or an image), over raw TCP and
 * via the PF: content the sender did not make, which it scans for each chunk's end-line.
 * MSRP rows, one message in 64 KiB chunks, timed from send() to the receiver's 'message' event
 * (every byte delivered):
 * - via the PF: the real embedded server (createCpmServer) in a worker thread, a largemsg session
 *   set up over SIP, MSRP anchored at the PF and relayed chunk by chunk
 *   (test/server/bench/pf-large-message.mjs) — the figure the issue asks for;
 * - via a library relay (bridgeMsrpSessions) in a worker thread, and in one thread (the worst
 *   case: one core does both hops and both ends);
 * - direct (one hop), for scale.
 * Each MSRP row names its chunk size. One more PF row sends the same message in larger chunks
 * (--pf-large-chunk, default 1 MiB; 0 leaves it out): RFC 4975 lets the sender choose any chunk
 * size, and per-chunk work (a head, a transaction and a 200 at every hop) is most of what MSRP
 * adds to the bytes, so this row shows what the chunk size costs.
 * Receivers track the message to completion without keeping its bytes (keepBodies: false, what a
 * load generator's receiving clients do), like the anchors' readers; one row keeps the body.
 * CPU-ms/MB is the process's CPU (all threads) per MB moved: the steady figure on a noisy 2-core
 * machine, where wall-clock MB/s moves with whatever else runs.
 *
 * Usage: node test/bench/msrp-throughput.mjs [--mb 200] [--chunk 65536] [--pf-large-chunk 1048576] [--reps 5] [--warmup-mb 200]
 *          [--pf-warmup-mb 3000] [--no-pf] [--no-random]
 * Library use: import { runMsrpThroughputBench } from "./msrp-throughput.mjs"
 */
import { createServer, connect } from "node:net";
import { loadavg } from "node:os";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { clientLargeMessage, randomBytesMessage } from "./large-content.mjs";

const root = new URL("../../", import.meta.url);
const distDir = process.env.MSRP_DIST ? pathToFileURL(`${process.env.MSRP_DIST.replace(/\/$/, "")}/`) : new URL("dist/", root);
const msrpUrl = new URL("protocol/msrp/index.js", distDir).href;
const { adoptAcceptedSocket, BorrowedReads } = await import(new URL("protocol/msrp/socket-reads.js", distDir).href);
// As `cpm-load run` and `serve` do (src/cli/helper-threads.ts): GC/JIT helper threads at the lowest priority.
const { lowerHelperThreadPriority } = await import(new URL("cli/helper-threads.js", distDir).href);
lowerHelperThreadPriority();
(await import(new URL("cli/v8-tuning.js", distDir).href)).optimizeHotCodeSooner();

const MB = 1e6;

/**
 * A reader that counts bytes until `total`; resolves with the time the last byte arrived. `reused`:
 * it reads into the thread's reused buffer, as cpm-load's MSRP sockets do.
 */
async function sink(total, reused = false) {
  const server = createServer({ pauseOnConnect: reused });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const received = new Promise((resolve) => {
    server.once("connection", (s) => {
      let n = 0;
      const count = (d) => {
        n += d.length;
        if (n >= total) resolve(process.hrtime.bigint());
      };
      if (!reused) return void s.on("data", count);
      const reads = new BorrowedReads();
      reads.handler = count;
      adoptAcceptedSocket(s, reads);
    });
  });
  return { port: server.address().port, received, close: () => new Promise((r) => server.close(r)) };
}

/** Writes the content to `port` in 1 MiB pieces with the usual drain backpressure; times it into the sink. */
async function pumpTcp(content, port, done) {
  const c = connect(port, "127.0.0.1");
  c.setNoDelay(true);
  await new Promise((r) => c.once("connect", r));
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  const pieces = content.pieces(1024 * 1024)[Symbol.iterator]();
  const pump = () => {
    for (let next = pieces.next(); !next.done; next = pieces.next()) {
      if (!c.write(next.value)) return void c.once("drain", pump);
    }
  };
  pump();
  const t1 = await done;
  const cpu = process.cpuUsage(c0);
  c.destroy();
  return { s: Number(t1 - t0) / 1e9, cpuMs: (cpu.user + cpu.system) / 1000 };
}

async function rawTcp(content, reused = false) {
  const s = await sink(content.totalBytes, reused);
  const r = await pumpTcp(content, s.port, s.received);
  await s.close();
  return r;
}

async function byteRelay(content, relayHost, reused = false) {
  const s = await sink(content.totalBytes, reused);
  const port = await relayHost.byteRelay(s.port, reused);
  const r = await pumpTcp(content, port, s.received);
  await s.close();
  return r;
}

async function relayWorker(m, maxMessageBytes) {
  const worker = new Worker(new URL("./msrp-relay-worker.mjs", import.meta.url), { workerData: { msrpUrl, maxMessageBytes } });
  const waiting = new Map();
  let nextId = 1;
  await new Promise((resolve, reject) => {
    worker.once("error", reject);
    worker.on("message", (msg) => {
      if (msg.type === "ready") resolve();
      else if (msg.type === "bridged") waiting.get(msg.id)?.(msg.path);
      else if (msg.type === "byte-relay") waiting.get(msg.id)?.(msg.port);
      else if (msg.type === "closed") waiting.get("close")?.();
    });
  });
  return {
    bridge(receiverPath) {
      const id = nextId++;
      return new Promise((r) => {
        waiting.set(id, r);
        worker.postMessage({ type: "bridge", id, receiverPath });
      });
    },
    byteRelay(target, reused) {
      const id = nextId++;
      return new Promise((r) => {
        waiting.set(id, r);
        worker.postMessage({ type: "byte-relay", id, target, reused });
      });
    },
    async close() {
      await new Promise((r) => {
        waiting.set("close", r);
        worker.postMessage({ type: "close" });
      });
      await worker.terminate();
    },
  };
}

/** One message sender → (relay) → receiver; returns seconds from send() to delivery. */
async function msrpOnce(m, content, chunkSize, mode, relayHost, keepBodies = false) {
  const maxMessageBytes = content.totalBytes + 1024;
  const senderEp = await m.createMsrpEndpoint();
  const receiverEp = await m.createMsrpEndpoint({ sessionDefaults: { maxMessageBytes, keepBodies } });
  const receiver = receiverEp.createSession({ setup: "passive" });
  const sender = senderEp.createSession({ setup: "active" });
  let relayEp;
  let target = receiver.localPath;
  if (mode === "relay-same-thread") {
    relayEp = await m.createMsrpEndpoint();
    const legA = relayEp.createSession({ setup: "passive" });
    const legB = relayEp.createSession({ setup: "active" });
    m.bridgeMsrpSessions(legA, legB);
    await legB.connect(receiver.localPath);
    target = legA.localPath;
  } else if (mode === "relay-worker") {
    target = await relayHost.bridge(receiver.localPath);
  }
  await sender.connect(target);
  await receiver.connect();
  const delivered = new Promise((resolve) => receiver.once("message", (msg) => resolve({ t: process.hrtime.bigint(), msg })));
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  const result = await sender.send(content.source(chunkSize), { contentType: "application/octet-stream", chunkSize, totalBytes: content.totalBytes });
  const { t, msg } = await delivered;
  const cpu = process.cpuUsage(c0);
  if (!result.ok) throw new Error(`send failed: ${result.error?.message}`);
  if (msg.size !== content.totalBytes) throw new Error(`got ${msg.size} of ${content.totalBytes} bytes`);
  if (keepBodies && !msg.body.equals(Buffer.concat([...content.pieces(1024 * 1024)]))) throw new Error("corrupted message");
  await Promise.all([senderEp.close(), receiverEp.close(), relayEp?.close()]);
  return { s: Number(t - t0) / 1e9, cpuMs: (cpu.user + cpu.system) / 1000 };
}

export async function runMsrpThroughputBench({
  mb = 200,
  chunkSize = 64 * 1024,
  reps = 5,
  pf = true,
  warmupMB = 200,
  pfLargeChunk = 1024 * 1024,
  pfWarmupMB = 3000,
  randomBytes = true,
} = {}) {
  const m = await import(msrpUrl);
  // The headline content is what the tool itself sends in a largeMessage step; random bytes in
  // main memory show what content the sender did not make costs it (large-content.mjs).
  const content = await clientLargeMessage(mb, distDir);
  const randomContent = randomBytes ? randomBytesMessage(mb) : undefined;
  const messageMB = content.totalBytes / MB;
  /**
   * Untimed warm-up runs of each row, at least `warmupMB` in all (the JIT and the heap settle: the
   * first 100-200 MB cost up to twice the CPU of later ones). Then `reps` rounds, each running the
   * raw TCP anchor, the byte relay and the PF rows back to back: on this VM one hop of raw TCP
   * moves anywhere between ~1,250 and ~2,100 MB/s from one minute to the next (the host's load,
   * memory handed back to it and faulted in again), so a ratio is only meaningful between runs
   * made moments apart. Each row reports its best MB/s, its median CPU per MB, and the median
   * (and range) over the rounds of its ratio to the raw run and to the byte-relay run of the
   * same round (rows sending random bytes: to the raw run that sends those bytes).
   */
  const warmups = warmupMB > 0 ? Math.ceil(warmupMB / mb) : 0;
  const relayHost = await relayWorker(m, content.totalBytes + 1024);
  const pfHarness = pf ? await (await import(new URL("../server/bench/pf-large-message.mjs", import.meta.url).href)).openPfHarness({ threadSplit: true }) : undefined;
  const viaPf = async (what, size, failureReport) => {
    const r = await pfHarness.sendOne(what, size, failureReport);
    const whatMB = what.totalBytes / MB;
    return { s: whatMB / r.mbps, cpuMs: r.cpuMsPerMB * whatMB, peakExtraBytes: r.peakExtraBytes, byThread: r.cpuMsPerMBByThread };
  };
  const interleaved = [
    ["raw", () => rawTcp(content)],
    ["rawReused", () => rawTcp(content, true)],
    ["byteRelay", () => byteRelay(content, relayHost)],
    ["byteRelayReused", () => byteRelay(content, relayHost, true)],
    ...(pf ? [["pf", () => viaPf(content, chunkSize)]] : []),
    ...(pf ? [["pfPartial", () => viaPf(content, chunkSize, "partial")]] : []),
    ...(pf && pfLargeChunk > 0 && pfLargeChunk !== chunkSize ? [["pfLarge", () => viaPf(content, pfLargeChunk)]] : []),
    ...(randomContent ? [["rawRandom", () => rawTcp(randomContent)]] : []),
    ...(pf && randomContent ? [["pfRandom", () => viaPf(randomContent, chunkSize)]] : []),
  ];
  const runs = Object.fromEntries(interleaved.map(([name]) => [name, []]));
  let relayWorker_;
  /** CPU-ms per MB of each PF warm-up message in 64 KiB chunks, in order. */
  const pfWarmup = [];
  try {
    for (let i = 0; i < warmups; i++) for (const [, fn] of interleaved) await fn();
    if (pf) {
      // The PF path keeps getting cheaper for a few GB: V8 optimizes, deoptimizes and re-optimizes
      // its code (and the clients') while type feedback settles, on helper threads that get little
      // CPU while both cores move bytes. Measured on this VM (64 KiB chunks, 200 MB messages): CPU
      // per MB falls from ~2.5-2.7 to ~1.5-1.6 ms over the first ~10 messages, with ±10 % noise between
      // neighbours — too noisy to detect the plateau reliably, so a fixed amount: pfWarmupMB of
      // untimed 64 KiB-chunk messages (the other PF rows run the same code with fewer chunks and
      // had their warm-up above); their CPU per MB is printed.
      const pfRow = interleaved.find(([name]) => name === "pf")[1];
      for (let sent = messageMB; sent <= pfWarmupMB; sent += messageMB) {
        const r = await pfRow();
        pfWarmup.push(Math.round((r.cpuMs / messageMB) * 100) / 100);
      }
    }
    for (let round = 0; round < reps; round++) {
      for (const [name, fn] of interleaved) runs[name].push(await fn());
    }
    relayWorker_ = await best(() => msrpOnce(m, content, chunkSize, "relay-worker", relayHost), warmups, reps, messageMB);
  } finally {
    await relayHost.close();
    await pfHarness?.close();
  }
  const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
  const summarise = (name, rowMB = messageMB, rawAnchor = "raw") => {
    const rs = runs[name];
    const mbPerSec = rs.map((r) => rowMB / r.s);
    const perRound = (anchor) => rs.map((r, i) => runs[anchor][i].s / r.s);
    const vsRaw = perRound(rawAnchor);
    // The other anchors send the client's content: no ratio for rows that send other bytes.
    const sameBytes = rawAnchor === "raw";
    const vsRawReused = sameBytes ? perRound("rawReused") : [];
    const vsBytes = sameBytes ? perRound("byteRelayReused") : [];
    return {
      mbPerSec: Math.max(...mbPerSec),
      cpuMsPerMB: median(rs.map((r) => r.cpuMs)) / rowMB,
      ratio: {
        raw: median(vsRaw),
        rawRange: [Math.min(...vsRaw), Math.max(...vsRaw)],
        ...(sameBytes
          ? { rawReused: median(vsRawReused), rawReusedRange: [Math.min(...vsRawReused), Math.max(...vsRawReused)], byteRelay: median(vsBytes) }
          : {}),
      },
      rounds: mbPerSec.map((x) => Math.round(x)),
      // Where the CPU went (PF rows, Linux): the clients' thread, the PF's, and V8's helpers.
      ...(rs[0].byThread?.pf !== undefined
        ? { cpuMsPerMBByThread: Object.fromEntries(["main", "pf", "other"].map((k) => [k, median(rs.map((r) => r.byThread[k]))])) }
        : {}),
      ...(rs[0].peakExtraBytes !== undefined ? { peakExtraBytes: Math.max(...rs.map((r) => r.peakExtraBytes)) } : {}),
    };
  };
  const raw = summarise("raw");
  const rawReused = summarise("rawReused");
  const bytesDefault = summarise("byteRelay");
  const bytes = summarise("byteRelayReused");
  const msrpPf = pf ? { chunkSize, ...summarise("pf") } : undefined;
  const msrpPfPartial = pf ? { chunkSize, ...summarise("pfPartial") } : undefined;
  const msrpPfLarge = runs.pfLarge ? { chunkSize: pfLargeChunk, ...summarise("pfLarge") } : undefined;
  const randomMB = randomContent ? randomContent.totalBytes / MB : 0;
  const rawRandom = runs.rawRandom ? summarise("rawRandom", randomMB, "rawRandom") : undefined;
  const msrpPfRandom = runs.pfRandom ? { chunkSize, ...summarise("pfRandom", randomMB, "rawRandom") } : undefined;
  const relaySameThread = await best(() => msrpOnce(m, content, chunkSize, "relay-same-thread"), warmups, reps, messageMB);
  const direct = await best(() => msrpOnce(m, content, chunkSize, "direct"), warmups, reps, messageMB);
  const directAssembled = await best(() => msrpOnce(m, content, chunkSize, "direct", undefined, true), warmups, reps, messageMB);
  // Rows outside the rounds are compared with the best raw and byte-relay runs.
  const vs = (x) => ({ raw: x.mbPerSec / raw.mbPerSec, rawReused: x.mbPerSec / rawReused.mbPerSec, byteRelay: x.mbPerSec / bytes.mbPerSec });
  return {
    loadAverage: loadavg().map((x) => x.toFixed(2)).join(" "),
    messageMB,
    chunkSize,
    reps,
    pfWarmupCpuMsPerMB: pfWarmup,
    rawTcp: raw,
    rawTcpReused: rawReused,
    byteRelayDefault: bytesDefault,
    byteRelay: bytes,
    ratioByteRelay: bytes.ratio.raw,
    msrpPf,
    msrpPfPartial,
    msrpPfLarge,
    rawTcpRandom: rawRandom,
    msrpPfRandom,
    msrpRelayWorker: relayWorker_,
    msrpRelaySameThread: relaySameThread,
    msrpDirect: direct,
    msrpDirectAssembled: directAssembled,
    ratios: {
      ...(msrpPf ? { pf: msrpPf.ratio, pfPartial: msrpPfPartial.ratio } : {}),
      ...(msrpPfLarge ? { pfLarge: msrpPfLarge.ratio } : {}),
      ...(msrpPfRandom ? { pfRandom: msrpPfRandom.ratio } : {}),
      relayWorker: vs(relayWorker_),
      relaySameThread: vs(relaySameThread),
      direct: vs(direct),
      directAssembled: vs(directAssembled),
    },
    ratioPf: msrpPf?.ratio.raw,
    ratioPfReused: msrpPf?.ratio.rawReused,
  };
}

/** Best wall time of `reps` runs after `warmups` untimed ones, and the median CPU per MB. */
async function best(fn, warmups, reps, messageMB) {
  for (let i = 0; i < warmups; i++) await fn();
  const runs = [];
  for (let i = 0; i < reps; i++) runs.push(await fn());
  const cpus = runs.map((r) => r.cpuMs).sort((x, y) => x - y);
  return { mbPerSec: messageMB / Math.min(...runs.map((r) => r.s)), cpuMsPerMB: cpus[Math.floor(cpus.length / 2)] / messageMB };
}

/** The table `node msrp-throughput.mjs` prints (also used by run-all). */
export function formatMsrpThroughput(r) {
  const lines = [];
  const threads = (x) =>
    x.cpuMsPerMBByThread ? ` (clients ${x.cpuMsPerMBByThread.main.toFixed(2)}, PF ${x.cpuMsPerMBByThread.pf.toFixed(2)}, V8 helpers ${x.cpuMsPerMBByThread.other.toFixed(2)})` : "";
  const row = (name, x, ratio) =>
    lines.push(
      `  ${name.padEnd(72)} ${x.mbPerSec.toFixed(0).padStart(6)} MB/s  ${x.cpuMsPerMB.toFixed(2).padStart(5)} CPU-ms/MB${threads(x)}` +
        (ratio === undefined
          ? ""
          : `  ${ratio.raw.toFixed(2)}x raw${range(ratio.rawRange)}` +
            (ratio.rawReused === undefined ? "" : `  ${ratio.rawReused.toFixed(2)}x raw 1 MiB reads${range(ratio.rawReusedRange)}  ${ratio.byteRelay.toFixed(2)}x byte relay`)),
    );
  const range = (r) => (r ? ` [${r.map((v) => v.toFixed(2)).join("–")}]` : "");
  const kib = (n) => (n % 1048576 === 0 ? `${n / 1048576} MiB` : n % 1024 === 0 ? `${n / 1024} KiB` : `${n} B`);
  const c = `, ${kib(r.chunkSize)} chunks`;
  lines.push(`MSRP throughput, one ${r.messageMB.toFixed(0)} MB message (the client's large-message content unless said otherwise), after warm-up runs.`);
  lines.push(`Rows marked * ran in ${r.reps} interleaved rounds`);
  lines.push("(anchors and PF rows back to back): best MB/s, median CPU of the whole process per MB, and the median [range] over the");
  lines.push("rounds of the ratio to the anchor runs of the same round: raw TCP with Node's default reads, raw TCP reading into a reused");
  lines.push("1 MiB buffer (as cpm-load's MSRP sockets do), and the byte relay reading that way. Other rows: best runs against the best anchors.");
  row("* raw TCP, one hop (one socket, one thread), Node's default reads", r.rawTcp);
  row("* raw TCP, one hop, reads into a reused 1 MiB buffer", r.rawTcpReused, r.rawTcpReused.ratio);
  row("* raw TCP, client→byte relay (worker thread)→client, default reads", r.byteRelayDefault, r.byteRelayDefault.ratio);
  row("* raw TCP, client→byte relay→client, reused 1 MiB buffers", r.byteRelay, r.byteRelay.ratio);
  if (r.msrpPf) row(`* MSRP client→PF (embedded server, worker thread)→client${c}`, r.msrpPf, r.ratios.pf);
  if (r.msrpPfPartial) row(`* MSRP client→PF (embedded server, worker thread)→client${c}, Failure-Report partial`, r.msrpPfPartial, r.ratios.pfPartial);
  if (r.msrpPfLarge) row(`* MSRP client→PF (embedded server, worker thread)→client, ${kib(r.msrpPfLarge.chunkSize)} chunks`, r.msrpPfLarge, r.ratios.pfLarge);
  if (r.rawTcpRandom) row("* raw TCP, one hop, Node's default reads: random bytes in one Buffer", r.rawTcpRandom);
  if (r.msrpPfRandom) row(`* MSRP client→PF→client${c}: the same random bytes (vs the raw row above)`, r.msrpPfRandom, r.ratios.pfRandom);
  row(`MSRP client→relay (library bridge, worker thread)→client${c}`, r.msrpRelayWorker, r.ratios.relayWorker);
  row(`MSRP client→relay→client, one thread${c}`, r.msrpRelaySameThread, r.ratios.relaySameThread);
  row(`MSRP client→client direct${c}`, r.msrpDirect, r.ratios.direct);
  row(`MSRP client→client direct, receiver keeps the body${c}`, r.msrpDirectAssembled, r.ratios.directAssembled);
  if (r.pfWarmupCpuMsPerMB?.length > 0) {
    lines.push(`  (PF warm-up, CPU-ms/MB of each untimed ${r.messageMB.toFixed(0)} MB message in ${kib(r.chunkSize)} chunks: ${r.pfWarmupCpuMsPerMB.join(" ")})`);
  }
  if (r.msrpPf?.peakExtraBytes !== undefined) {
    const peak = Math.max(r.msrpPf.peakExtraBytes, r.msrpPfLarge?.peakExtraBytes ?? 0);
    lines.push(`  (via the PF: peak ArrayBuffer memory in flight ${(peak / 1e6).toFixed(1)} MB for a ${r.messageMB.toFixed(0)} MB message; load average ${r.loadAverage})`);
  }
  return lines.join("\n");
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const arg = (name, fallback) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? Number(process.argv[i + 1]) : fallback;
  };
  const r = await runMsrpThroughputBench({
    mb: arg("--mb", 200),
    chunkSize: arg("--chunk", 64 * 1024),
    pfLargeChunk: arg("--pf-large-chunk", 1024 * 1024),
    reps: arg("--reps", 5),
    warmupMB: arg("--warmup-mb", 200),
    pfWarmupMB: arg("--pf-warmup-mb", 3000),
    pf: !process.argv.includes("--no-pf"),
    randomBytes: !process.argv.includes("--no-random"),
  });
  console.log(formatMsrpThroughput(r));
  console.log(JSON.stringify(r));
}
