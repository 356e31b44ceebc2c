#!/usr/bin/env node
/**
 * MSRP large-message throughput against raw TCP over loopback (dist/, so `npm run build` first;
 * MSRP_DIST=/some/dir points at another build).
 *
 * - raw TCP: a 200 MB buffer written through one loopback socket (sender and reader in one thread).
 * - MSRP via relay: one 200 MB message, 64 KiB chunks, client → relay → client: the sender's
 *   active session connects to the relay's passive leg, the relay bridges chunk by chunk onto an
 *   active leg towards the receiver's passive session, which reassembles the message. Timed from
 *   send() to the receiver's 'message' event (every byte delivered and assembled).
 *   - relay in a worker thread (the run's shape: clients in a client worker, the PF in the server
 *     thread), and
 *   - everything in one thread (the worst case: one core does both hops and both ends).
 * - MSRP direct: the same message without relay (one hop), for scale.
 * Receivers track the message to completion without keeping its bytes (keepBodies: false, what a
 * load generator's receiving clients do), like the raw TCP reader; one row keeps the body.
 * CPU-ms/MB is the process's CPU (all threads) per MB moved: it shows the cost of each path even
 * when other processes make the wall-clock figures noisy.
 *
 * Usage: node test/bench/msrp-throughput.mjs [--mb 200] [--chunk 65536] [--reps 3]
 * Library use: import { runMsrpThroughputBench } from "./msrp-throughput.mjs"
 */
import { createServer, connect } from "node:net";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";

const root = new URL("../../", import.meta.url);
const distDir = process.env.MSRP_DIST ? pathToFileURL(`${process.env.MSRP_DIST.replace(/\/$/, "")}/`) : new URL("dist/", root);
const msrpUrl = new URL("protocol/msrp/index.js", distDir).href;

const MB = 1e6;

async function rawTcp(buf) {
  const server = createServer();
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address();
  const received = new Promise((resolve) => {
    server.once("connection", (s) => {
      let n = 0;
      s.on("data", (d) => {
        n += d.length;
        if (n >= buf.length) resolve(process.hrtime.bigint());
      });
    });
  });
  const c = connect(port, "127.0.0.1");
  await new Promise((r) => c.once("connect", r));
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  let off = 0;
  const piece = 1024 * 1024;
  const pump = () => {
    while (off < buf.length) {
      const ok = c.write(buf.subarray(off, off + piece));
      off += piece;
      if (!ok) return void c.once("drain", pump);
    }
  };
  pump();
  const t1 = await received;
  const cpu = process.cpuUsage(c0);
  c.destroy();
  await new Promise((r) => server.close(r));
  return { s: Number(t1 - t0) / 1e9, cpuMs: (cpu.user + cpu.system) / 1000 };
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
async function msrpOnce(m, body, chunkSize, mode, relayHost, keepBodies = false) {
  const maxMessageBytes = body.length + 1024;
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
  const result = await sender.send(body, { contentType: "application/octet-stream", chunkSize });
  const { t, msg } = await delivered;
  const cpu = process.cpuUsage(c0);
  if (!result.ok) throw new Error(`send failed: ${result.error?.message}`);
  if (msg.size !== body.length) throw new Error(`got ${msg.size} of ${body.length} bytes`);
  if (keepBodies && !msg.body.equals(body)) throw new Error("corrupted message");
  await Promise.all([senderEp.close(), receiverEp.close(), relayEp?.close()]);
  return { s: Number(t - t0) / 1e9, cpuMs: (cpu.user + cpu.system) / 1000 };
}

export async function runMsrpThroughputBench({ mb = 200, chunkSize = 64 * 1024, reps = 3 } = {}) {
  const m = await import(msrpUrl);
  const body = Buffer.alloc(Math.round(mb * MB));
  for (let i = 0; i < body.length; i += 4096) body[i] = i & 0xff;
  /** Best wall time of `reps` runs (other processes on a 2-core box make single runs noisy), and the CPU of that run. */
  const best = async (fn) => {
    let top;
    for (let i = 0; i < reps; i++) {
      const r = await fn();
      if (!top || r.s < top.s) top = r;
    }
    return { mbPerSec: body.length / MB / top.s, cpuMsPerMB: top.cpuMs / (body.length / MB) };
  };
  const raw = await best(() => rawTcp(body));
  const relayHost = await relayWorker(m, body.length + 1024);
  let relayWorker_;
  try {
    relayWorker_ = await best(() => msrpOnce(m, body, chunkSize, "relay-worker", relayHost));
  } finally {
    await relayHost.close();
  }
  const relaySameThread = await best(() => msrpOnce(m, body, chunkSize, "relay-same-thread"));
  const direct = await best(() => msrpOnce(m, body, chunkSize, "direct"));
  const directAssembled = await best(() => msrpOnce(m, body, chunkSize, "direct", undefined, true));
  return {
    messageMB: body.length / MB,
    chunkSize,
    rawTcp: raw,
    msrpRelayWorker: relayWorker_,
    msrpRelaySameThread: relaySameThread,
    msrpDirect: direct,
    msrpDirectAssembled: directAssembled,
    ratioRelayWorker: relayWorker_.mbPerSec / raw.mbPerSec,
    ratioRelaySameThread: relaySameThread.mbPerSec / raw.mbPerSec,
    ratioDirect: direct.mbPerSec / raw.mbPerSec,
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const arg = (name, fallback) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? Number(process.argv[i + 1]) : fallback;
  };
  const r = await runMsrpThroughputBench({ mb: arg("--mb", 200), chunkSize: arg("--chunk", 64 * 1024), reps: arg("--reps", 3) });
  const row = (name, x, ratio) =>
    console.log(
      `  ${name.padEnd(52)} ${x.mbPerSec.toFixed(0).padStart(6)} MB/s  ${x.cpuMsPerMB.toFixed(2)} CPU-ms/MB${ratio === undefined ? "" : `  ${ratio.toFixed(2)}x raw`}`,
    );
  console.log(`MSRP throughput, one ${r.messageMB} MB message in ${r.chunkSize}-byte chunks (best of ${arg("--reps", 3)}):`);
  row("raw TCP over loopback (one socket, one thread)", r.rawTcp);
  row("MSRP client→relay→client, relay in a worker thread", r.msrpRelayWorker, r.ratioRelayWorker);
  row("MSRP client→relay→client, one thread", r.msrpRelaySameThread, r.ratioRelaySameThread);
  row("MSRP client→client direct", r.msrpDirect, r.ratioDirect);
  row("MSRP client→client direct, receiver keeps the body", r.msrpDirectAssembled, r.msrpDirectAssembled.mbPerSec / r.rawTcp.mbPerSec);
  console.log(JSON.stringify(r));
}
