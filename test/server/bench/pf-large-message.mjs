#!/usr/bin/env node
/**
 * Large-message throughput through the embedded PF (figures, not assertions; dist/, build first):
 * client A → PF (MSRP anchored, relayed chunk by chunk) → client B, against raw TCP over loopback.
 *
 * The PF runs in its own worker thread, as in `run`; both clients run in the main thread: a
 * largemsg INVITE set up with raw SIP, both MSRP legs bound by library MsrpSessions (active), A
 * sends one message of --mb MB of payload in --chunk byte chunks (64 KiB) — the content a client's
 * largeMessage step sends (CPIM head + payload pattern, test/bench/large-content.mjs) — and B
 * tracks it to completion without keeping the bytes (what load-generator receivers do). Timed from
 * send() to B's 'message' event. The raw TCP anchor sends the same bytes.
 * Also printed: the peak of the process's ArrayBuffer memory above its level just before send()
 * (the source message was allocated earlier): the PF never holds a message whole, so this stays at
 * the chunks in flight and socket buffers, far below the message size. The receiving client's
 * reassembly bound is raised to the message size, so any --mb works (the PF holds no message).
 *
 * Usage: node test/server/bench/pf-large-message.mjs [--mb 50] [--chunk 65536] [--reps 3] [--warmup-mb 200]
 * Library use: import { runPfLargeMessageBench } from "./pf-large-message.mjs".
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { connect, createServer } from "node:net";
import { loadavg } from "node:os";
import { isMainThread, parentPort, Worker } from "node:worker_threads";
import { fileURLToPath, pathToFileURL } from "node:url";
import { clientLargeMessage } from "../../bench/large-content.mjs";

const root = new URL("../../../", import.meta.url);
// MSRP_DIST=/some/dir measures another build (e.g. one compiled to a scratch directory).
const distDir = process.env.MSRP_DIST ? pathToFileURL(`${process.env.MSRP_DIST.replace(/\/$/, "")}/`) : new URL("dist/", root);
const dist = (path) => new URL(path, distDir).href;
// As `cpm-load run` and `serve` do (src/cli/helper-threads.ts): GC/JIT helper threads at the lowest
// priority (it does nothing in the PF's worker thread).
if (isMainThread) (await import(dist("cli/helper-threads.js"))).lowerHelperThreadPriority();
if (isMainThread) (await import(dist("cli/v8-tuning.js"))).optimizeHotCodeSooner();
const MB = 1e6;

if (!isMainThread) {
  const { createCpmServer } = await import(dist("server/index.js"));
  const server = await createCpmServer({ port: 0, transports: ["tcp"], domain: "bench.test" });
  let tid = 0;
  try {
    tid = Number(readlinkSync("/proc/thread-self").split("/").pop());
  } catch {
    // not Linux
  }
  parentPort.postMessage({ type: "ready", sip: server.sipAddress.port, tid });
  parentPort.on("message", async (m) => {
    if (m === "stats") parentPort.postMessage({ type: "stats", stats: server.stats() });
    if (m === "close") {
      await server.close();
      parentPort.close();
    }
  });
} else if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const arg = (name, fallback) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? process.argv[i + 1] : fallback;
  };
  const chunkSize = Number(arg("--chunk", String(64 * 1024)));
  const r = await runPfLargeMessageBench({ mb: Number(arg("--mb", "50")), reps: Number(arg("--reps", "3")), warmupMB: Number(arg("--warmup-mb", "200")), chunkSize });
  console.log(`raw TCP loopback: ${r.rawMBps.toFixed(0)} MB/s; load average ${loadavg().map((x) => x.toFixed(2)).join(" ")}`);
  for (const row of r.rows) {
    console.log(
      `${r.mb} MB via the PF: ${row.mbps.toFixed(0)} MB/s (${(row.mbps / r.rawMBps).toFixed(2)}x raw TCP), ` +
        `${row.chunks} chunks of ${chunkSize} bytes, ${row.cpuMsPerMB.toFixed(2)} CPU-ms/MB (PF + both clients), peak ArrayBuffer memory in flight ${(row.peakExtraBytes / MB).toFixed(1)} MB` +
        (row.cpuMsPerMBByThread
          ? ` [clients ${row.cpuMsPerMBByThread.main.toFixed(2)}, PF ${row.cpuMsPerMBByThread.pf.toFixed(2)}, other threads ${row.cpuMsPerMBByThread.other.toFixed(2)}]`
          : ""),
    );
  }
  console.log(
    `best: ${r.bestMBps.toFixed(0)} MB/s = ${(r.bestMBps / r.rawMBps).toFixed(2)}x raw TCP (goal >= 0.8x); ` +
      `median ${r.medianCpuMsPerMB.toFixed(2)} CPU-ms/MB (after untimed warm-up messages)`,
  );
}

/**
 * CPU ms per thread of this process (/proc/self/task, Linux only): with PF_BENCH_THREADS=1 each
 * row also says how the CPU splits between the main thread (both clients), the PF's worker thread
 * and the rest (V8's GC helpers, libuv) — which side is the bottleneck.
 */
function threadTimes() {
  const out = new Map();
  try {
    for (const t of readdirSync("/proc/self/task")) {
      const f = readFileSync(`/proc/self/task/${t}/stat`, "utf8");
      const fields = f.slice(f.lastIndexOf(")") + 2).split(" ");
      out.set(Number(t), ((Number(fields[11]) + Number(fields[12])) * 1000) / 100);
    }
  } catch {
    // not Linux: no breakdown
  }
  return out;
}

function threadSplit(before, after, workerTid) {
  let main = 0;
  let pf = 0;
  let other = 0;
  for (const [tid, ms] of after) {
    const d = ms - (before.get(tid) ?? 0);
    if (tid === process.pid) main += d;
    else if (tid === workerTid) pf += d;
    else other += d;
  }
  return { main, pf, other };
}

/** The same bytes over one raw loopback TCP connection (Node's default reads): MB/s. */
async function rawTcp(content) {
  const server = createServer();
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const done = new Promise((resolve) => {
    server.once("connection", (s) => {
      let n = 0;
      s.on("data", (d) => {
        n += d.length;
        if (n >= content.totalBytes) resolve(performance.now());
      });
    });
  });
  const c = connect(server.address().port, "127.0.0.1");
  await new Promise((r) => c.once("connect", r));
  const t0 = performance.now();
  const pieces = content.pieces(1024 * 1024)[Symbol.iterator]();
  const pump = () => {
    for (let next = pieces.next(); !next.done; next = pieces.next()) {
      if (!c.write(next.value)) return void c.once("drain", pump);
    }
  };
  pump();
  const t1 = await done;
  c.destroy();
  await new Promise((r) => server.close(r));
  return content.totalBytes / MB / ((t1 - t0) / 1000);
}

/**
 * `rawTcp: false` skips the raw TCP anchor (msrp-throughput.mjs measures its own anchors).
 * `warmupMB`: untimed messages first, at least this many MB in all, so the figures are the steady
 * state of a long run rather than the JIT and heap warming up (the first 100-200 MB cost up to
 * twice the CPU of later ones). 0 measures from the first message.
 */
export async function runPfLargeMessageBench({ mb = 50, reps = 3, chunkSize = 64 * 1024, rawTcp: withRaw = true, warmupMB = 200 } = {}) {
  const content = await clientLargeMessage(mb, distDir);
  const rawMBps = withRaw ? Math.max(await rawTcp(content), await rawTcp(content)) : NaN;
  const pf = await openPfHarness();
  const rows = [];
  const warmups = warmupMB > 0 ? Math.ceil(warmupMB / mb) : 0;
  try {
    for (let rep = -warmups; rep < reps; rep++) {
      const row = await pf.sendOne(content, chunkSize);
      if (rep >= 0) rows.push(row);
    }
  } finally {
    await pf.close();
  }
  const cpus = rows.map((r) => r.cpuMsPerMB).sort((x, y) => x - y);
  return { mb, rawMBps, rows, bestMBps: Math.max(...rows.map((r) => r.mbps)), medianCpuMsPerMB: cpus[Math.floor(cpus.length / 2)] };
}

/**
 * The PF in its worker thread with alice and bob registered over SIP, ready to carry one large
 * message after another: `sendOne(content, chunkSize, failureReport)` sets up a largemsg session,
 * sends `content` (a Buffer, or a test/bench/large-content.mjs source such as the client's own
 * large-message content) from alice to bob through the PF as the client's largeMessage step does
 * (Success-Report yes; Failure-Report `yes` by default, or `partial`) and ends the session; it
 * returns that message's row. Used by
 * runPfLargeMessageBench and by msrp-throughput.mjs, which interleaves PF messages with its TCP
 * anchors so that every ratio compares runs made moments apart.
 */
export async function openPfHarness({ threadSplit: splitByThread = Boolean(process.env.PF_BENCH_THREADS) } = {}) {
  const { createMsrpEndpoint } = await import(dist("protocol/msrp/index.js"));
  const { SipStreamFramer } = await import(dist("protocol/sip/parser.js"));
  const worker = new Worker(fileURLToPath(import.meta.url), process.env.PF_BENCH_PROF ? { execArgv: ["--cpu-prof", `--cpu-prof-dir=${process.env.PF_BENCH_PROF}`] } : {});
  const ready = await new Promise((resolve) => worker.once("message", resolve));
  const open = () =>
    new Promise((resolve) => {
      const s = connect({ host: "127.0.0.1", port: ready.sip }, () => resolve(s));
      s.setNoDelay(true);
    });
  const [sipA, sipB] = await Promise.all([open(), open()]);
  const queue = (socket) => {
    const q = [];
    const waiters = [];
    const f = new SipStreamFramer();
    socket.on("data", (d) => {
      for (const fr of f.push(d)) {
        if (!fr.ok) continue;
        const w = waiters.shift();
        if (w) w(fr.message);
        else q.push(fr.message);
      }
    });
    return () => (q.length > 0 ? Promise.resolve(q.shift()) : new Promise((r) => waiters.push(r)));
  };
  const nextA = queue(sipA);
  const nextB = queue(sipB);
  const hdr = (m, name) => m.headers.find(([n]) => n === name)?.[1];
  const reg = (s, user) =>
    s.write(
      `REGISTER sip:bench.test SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:${s.localPort};branch=z9hG4bKr${user}\r\nMax-Forwards: 70\r\n` +
        `From: <sip:${user}@bench.test>;tag=r\r\nTo: <sip:${user}@bench.test>\r\nCall-ID: reg-${user}\r\nCSeq: 1 REGISTER\r\n` +
        `Contact: <sip:${user}@127.0.0.1:${s.localPort};transport=tcp>\r\nExpires: 3600\r\nContent-Length: 0\r\n\r\n`,
    );
  reg(sipA, "alice");
  reg(sipB, "bob");
  await nextA();
  await nextB();

  const endpoint = await createMsrpEndpoint({ listen: false });
  const sdp = (path, direction) =>
    `v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=message 9 TCP/MSRP *\r\n` +
    `a=accept-types:message/cpim\r\na=path:${path}\r\na=setup:active\r\na=${direction}\r\n`;
  const pathOf = (b) => /a=path:(\S+)/.exec(b.toString("latin1"))[1];
  let rep = 0;
  const sendOne = async (content, chunkSize, failureReport = "yes") => {
    rep++;
    const a = endpoint.createSession({ setup: "active", connectionGroup: `a${rep}` });
    const totalBytes = Buffer.isBuffer(content) ? content.length : content.totalBytes;
    const b = endpoint.createSession({ setup: "active", connectionGroup: `b${rep}`, keepBodies: false, maxMessageBytes: totalBytes + 1024 });
    const offer = sdp(a.localPath[0], "sendonly");
    sipA.write(
      `INVITE sip:bob@bench.test SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:${sipA.localPort};branch=z9hG4bKi${rep}\r\nMax-Forwards: 70\r\n` +
        `From: <sip:alice@bench.test>;tag=a${rep}\r\nTo: <sip:bob@bench.test>\r\nCall-ID: lm${rep}\r\nCSeq: 1 INVITE\r\n` +
        `Contact: <sip:alice@127.0.0.1:${sipA.localPort};transport=tcp>\r\n` +
        `Accept-Contact: *;+g.3gpp.icsi-ref="urn%3Aurn-7%3A3gpp-service.ims.icsi.oma.cpm.largemsg"\r\n` +
        `Content-Type: application/sdp\r\nContent-Length: ${offer.length}\r\n\r\n${offer}`,
    );
    const inv = await nextB();
    const answer = sdp(b.localPath[0], "recvonly");
    sipB.write(
      `SIP/2.0 200 OK\r\nVia: ${hdr(inv, "Via")}\r\nFrom: ${hdr(inv, "From")}\r\nTo: ${hdr(inv, "To")};tag=b${rep}\r\n` +
        `Call-ID: ${hdr(inv, "Call-ID")}\r\nCSeq: ${hdr(inv, "CSeq")}\r\nContact: <sip:bob@127.0.0.1:${sipB.localPort};transport=tcp>\r\n` +
        `Content-Type: application/sdp\r\nContent-Length: ${answer.length}\r\n\r\n${answer}`,
    );
    let ok = await nextA();
    while (ok.kind !== "response" || ok.status < 200) ok = await nextA();
    if (ok.status !== 200) throw new Error(`INVITE answered ${ok.status} ${hdr(ok, "Warning") ?? ""}`);
    await nextB(); // the PF's ACK
    await Promise.all([a.connect([pathOf(ok.body)]), b.connect([pathOf(inv.body)])]);

    const base = process.memoryUsage().arrayBuffers;
    let peak = base;
    // process.memoryUsage() reads /proc: sampled every 25 ms it costs the clients' thread little.
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().arrayBuffers)), 25);
    const got = new Promise((resolve) => b.once("message", () => resolve(performance.now())));
    const th0 = splitByThread ? threadTimes() : undefined;
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const source = Buffer.isBuffer(content) ? content : content.source(chunkSize);
    const result = await a.send(source, { contentType: "message/cpim", chunkSize, successReport: true, failureReport, totalBytes });
    if (!result.ok) throw new Error(`the large message failed: ${result.error?.message ?? result.status}`);
    const t1 = await got;
    const cpu = process.cpuUsage(c0);
    const split = th0 ? threadSplit(th0, threadTimes(), ready.tid) : undefined;
    clearInterval(sampler);
    const row = {
      mbps: totalBytes / MB / ((t1 - t0) / 1000),
      chunks: result.chunks,
      peakExtraBytes: peak - base,
      // CPU of the whole process (PF thread and both clients) per MB: robust against other load.
      cpuMsPerMB: (cpu.user + cpu.system) / 1000 / (totalBytes / MB),
      ...(split ? { cpuMsPerMBByThread: Object.fromEntries(Object.entries(split).map(([k, v]) => [k, v / (totalBytes / MB)])) } : {}),
    };
    sipA.write(
      `BYE sip:pf@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:${sipA.localPort};branch=z9hG4bKb${rep}\r\nMax-Forwards: 70\r\n` +
        `From: <sip:alice@bench.test>;tag=a${rep}\r\nTo: ${hdr(ok, "To")}\r\nCall-ID: lm${rep}\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n`,
    );
    let bye = await nextB();
    while (bye.kind !== "request" || bye.method !== "BYE") bye = await nextB();
    sipB.write(
      `SIP/2.0 200 OK\r\nVia: ${hdr(bye, "Via")}\r\nFrom: ${hdr(bye, "From")}\r\nTo: ${hdr(bye, "To")}\r\n` +
        `Call-ID: ${hdr(bye, "Call-ID")}\r\nCSeq: ${hdr(bye, "CSeq")}\r\nContent-Length: 0\r\n\r\n`,
    );
    let byeOk = await nextA();
    while (byeOk.kind !== "response" || !hdr(byeOk, "CSeq").endsWith("BYE")) byeOk = await nextA();
    await a.close();
    await b.close();
    return row;
  };
  const close = async () => {
    await endpoint.close();
    sipA.destroy();
    sipB.destroy();
    worker.postMessage("close");
    await new Promise((r) => worker.once("exit", r));
  };
  return { sendOne, close };
}
