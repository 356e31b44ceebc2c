#!/usr/bin/env node
/**
 * Session rate of the embedded PF (figures, not assertions): set-up + one CPIM message + BYE per
 * session, open model at fixed target rates, the server in its own worker thread (from dist/,
 * build first), a lean raw-socket generator in the main thread:
 * - callers and callees register over two shared TCP connections (an S-CSCF-like trunk each);
 * - per session: INVITE (caller) → PF → INVITE (callee) → 200 → 200 → ACK; both clients bind
 *   their MSRP legs on one shared MSRP connection per side; the caller sends a 200-byte CPIM
 *   message; once the callee has it, the caller BYEs and the callee answers the PF's BYE;
 * - session_setup = INVITE sent → 200 received (from the intended start: no coordinated
 *   omission); a session fails on any non-2xx, or when it is not done 5 s after its start.
 *
 * Usage: node test/server/bench/pf-session-rate.mjs [--seconds 10] [--rates 1000,2000,3000,4000]
 * Library use: import { runPfSessionBench } from "./pf-session-rate.mjs".
 */
import { connect } from "node:net";
import { isMainThread, parentPort, Worker } from "node:worker_threads";
import { fileURLToPath } from "node:url";

const root = new URL("../../../", import.meta.url);
const dist = (path) => new URL(`dist/${path}`, root).href;

if (!isMainThread) {
  const { createCpmServer } = await import(dist("server/index.js"));
  const server = await createCpmServer({ port: 0, transports: ["tcp"], domain: "bench.test", udpTransactionLifetimeMs: 0 });
  parentPort.postMessage({ type: "ready", sip: server.sipAddress.port, msrp: server.msrpAddress.port });
  let elu0 = performance.eventLoopUtilization();
  parentPort.on("message", async (m) => {
    if (m === "start") elu0 = performance.eventLoopUtilization();
    if (m === "stats") parentPort.postMessage({ type: "stats", stats: server.stats(), elu: performance.eventLoopUtilization(elu0).utilization });
    if (m === "close") {
      await server.close();
      parentPort.postMessage({ type: "closed" });
      parentPort.close();
    }
  });
} else if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const arg = (name, fallback) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? process.argv[i + 1] : fallback;
  };
  const seconds = Number(arg("--seconds", "10"));
  const rates = arg("--rates", "1000,2000,3000,4000").split(",").map(Number);
  const result = await runPfSessionBench({ rates, seconds });
  for (const row of result.rows) {
    console.log(
      `target ${row.targetRate}/s: ${row.completed} sessions in ${row.seconds}s = ${row.achievedRate.toFixed(0)}/s, ` +
        `setup p50 ${row.setupP50Ms.toFixed(2)} ms p99 ${row.setupP99Ms.toFixed(2)} ms (steady ${row.steadyP50Ms.toFixed(2)} / ${row.steadyP99Ms.toFixed(2)}), failures ${row.failures}, ` +
        `server ${row.serverUsPerSession.toFixed(0)} µs/session, ` +
        `process CPU ${row.processCpuPct.toFixed(0)}%, event loop busy: server ${(row.serverElu * 100).toFixed(0)}% generator ${(row.generatorElu * 100).toFixed(0)}% ${row.sustained ? "" : "(not sustained)"}`,
    );
  }
  console.log(`highest rate sustained (0 failures, p99 setup < 50 ms): ${result.sustainedRate}/s`);
}

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Runs each rate against a fresh server; returns one row per rate and the best sustained one. */
export async function runPfSessionBench({ rates, seconds = 10, users = 2000 }) {
  const rows = [];
  for (const rate of rates) rows.push(await runOne(rate, seconds, users));
  const ok = rows.filter((r) => r.sustained);
  return { rows, sustainedRate: ok.length === 0 ? 0 : Math.max(...ok.map((r) => r.targetRate)) };
}

async function runOne(rate, seconds, users) {
  const { SipStreamFramer } = await import(dist("protocol/sip/parser.js"));
  const { MsrpFramer } = await import(dist("protocol/msrp/framer.js"));
  const worker = new Worker(fileURLToPath(import.meta.url), process.env.PF_BENCH_PROF ? { execArgv: ["--cpu-prof", `--cpu-prof-dir=${process.env.PF_BENCH_PROF}`] } : {});
  const ready = await new Promise((resolve) => worker.once("message", resolve));
  const msgs = [];
  worker.on("message", (m) => msgs.push(m));

  const open = (port) =>
    new Promise((resolve, reject) => {
      const s = connect({ host: "127.0.0.1", port }, () => resolve(s));
      s.once("error", reject);
      s.setNoDelay(true);
    });
  const [sipA, sipB, msrpA, msrpB] = await Promise.all([open(ready.sip), open(ready.sip), open(ready.msrp), open(ready.msrp)]);
  const hdr = (m, name) => {
    for (const [n, v] of m.headers) if (n === name) return v;
    return undefined;
  };
  const sipFramer = (socket, onMessage) => {
    const f = new SipStreamFramer();
    socket.on("data", (d) => {
      for (const fr of f.push(d)) if (fr.ok) onMessage(fr.message);
    });
  };
  const msrpFramer = (socket, onMessage) => {
    const f = new MsrpFramer();
    socket.on("data", (d) => {
      for (const fr of f.push(d)) if (fr.ok) onMessage(fr.message);
    });
  };

  const portA = sipA.localPort;
  const portB = sipB.localPort;
  // --- registration ---
  let registered = 0;
  let regDone;
  const regPromise = new Promise((r) => (regDone = r));
  const onRegister = (m) => {
    if (m.kind === "response" && m.status === 200 && ++registered === 2 * users) regDone();
  };
  const register = (socket, port, user) =>
    socket.write(
      `REGISTER sip:bench.test SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:${port};branch=z9hG4bKr${user}\r\nMax-Forwards: 70\r\n` +
        `From: <sip:${user}@bench.test>;tag=r${user}\r\nTo: <sip:${user}@bench.test>\r\nCall-ID: reg-${user}\r\nCSeq: 1 REGISTER\r\n` +
        `Contact: <sip:${user}@127.0.0.1:${port};transport=tcp>\r\nExpires: 3600\r\nContent-Length: 0\r\n\r\n`,
    );

  // --- sessions ---
  const sessions = new Map(); // key (Contribution-ID) → state
  const byCallA = new Map();
  const byCallB = new Map();
  const setups = [];
  let failures = 0;
  let completed = 0;
  const cpim = Buffer.from(`From: <sip:a@bench.test>\r\nTo: <sip:b@bench.test>\r\n\r\nContent-Type: text/plain\r\n\r\n${"x".repeat(120)}`);
  const fail = (s) => {
    if (s.done) return;
    s.done = true;
    failures++;
    cleanup(s);
  };
  const cleanup = (s) => {
    sessions.delete(s.key);
    byCallA.delete(s.callA);
    if (s.callB) byCallB.delete(s.callB);
  };
  const sdp = (path) =>
    `v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=message 9 TCP/MSRP *\r\n` +
    `a=accept-types:message/cpim\r\na=path:${path}\r\na=setup:active\r\na=sendrecv\r\n`;
  const pathOf = (body) => /a=path:(\S+)/.exec(body.toString("latin1"))?.[1];
  let tidCounter = 0;
  const send = (socket, toPath, fromPath, body, messageId) => {
    const tid = `tid${(tidCounter++).toString(36)}x`;
    const head =
      `MSRP ${tid} SEND\r\nTo-Path: ${toPath}\r\nFrom-Path: ${fromPath}\r\nMessage-ID: ${messageId}\r\n` +
      (body.length === 0 ? `Byte-Range: 1-0/0\r\n` : `Byte-Range: 1-${body.length}/${body.length}\r\nContent-Type: message/cpim\r\n\r\n`);
    socket.write(body.length === 0 ? `${head}-------${tid}$\r\n` : Buffer.concat([Buffer.from(head), body, Buffer.from(`\r\n-------${tid}$\r\n`)]));
  };

  sipFramer(sipA, (m) => {
    if (m.kind === "response" && (hdr(m, "CSeq") ?? "").endsWith("REGISTER")) return onRegister(m);
    const callId = hdr(m, "Call-ID");
    const s = byCallA.get(callId);
    if (m.kind === "request") {
      // Nothing but BYE from the PF would be unexpected on the caller side here.
      return;
    }
    if (!s || s.done) return;
    const method = hdr(m, "CSeq").split(" ")[1];
    if (m.status < 200) return;
    if (method === "INVITE") {
      if (m.status >= 300) return fail(s);
      setups.push([s.intendedMs, performance.now() - s.intendedMs]);
      const to = hdr(m, "To");
      s.toA = to;
      sipA.write(
        `ACK sip:pf@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:${portA};branch=z9hG4bKa${s.key}\r\nMax-Forwards: 70\r\n` +
          `From: <sip:${s.a}@bench.test>;tag=a${s.key}\r\nTo: ${to}\r\nCall-ID: ${s.callA}\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n`,
      );
      s.pfPathA = pathOf(m.body);
      send(msrpA, s.pfPathA, s.pathA, Buffer.alloc(0), `bind${s.key}`);
      send(msrpA, s.pfPathA, s.pathA, cpim, `msg${s.key}`);
    } else if (method === "BYE") {
      if (m.status !== 200) return fail(s);
      s.byeOkA = true;
      finishIfDone(s);
    }
  });
  sipFramer(sipB, (m) => {
    if (m.kind === "response") return onRegister(m);
    const via = hdr(m, "Via");
    const reply = (status, extra = "", body = "") =>
      sipB.write(
        `SIP/2.0 ${status} OK\r\nVia: ${via}\r\nFrom: ${hdr(m, "From")}\r\nTo: ${hdr(m, "To")}${m.method === "INVITE" ? `;tag=b${hdr(m, "Call-ID").length}` : ""}\r\n` +
          `Call-ID: ${hdr(m, "Call-ID")}\r\nCSeq: ${hdr(m, "CSeq")}\r\n${extra}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
    if (m.method === "INVITE") {
      const s = sessions.get(hdr(m, "Contribution-ID"));
      if (!s) return reply(500);
      s.callB = hdr(m, "Call-ID");
      byCallB.set(s.callB, s);
      s.pfPathB = pathOf(m.body);
      reply(200, `Contact: <sip:${s.b}@127.0.0.1:${portB};transport=tcp>\r\nContent-Type: application/sdp\r\n`, sdp(s.pathB));
      send(msrpB, s.pfPathB, s.pathB, Buffer.alloc(0), `bindb${s.key}`);
    } else if (m.method === "BYE") {
      reply(200);
      const s = byCallB.get(hdr(m, "Call-ID"));
      if (s) {
        s.byeB = true;
        finishIfDone(s);
      }
    }
  });
  msrpFramer(msrpA, () => {});
  msrpFramer(msrpB, (m) => {
    if (m.kind !== "request" || m.method !== "SEND") return;
    sendOk(msrpB, m);
    if (m.body.length === 0) return;
    const id = hdr(m, "Message-ID");
    const s = sessions.get(id.slice(3));
    if (!s || s.done) return;
    // Delivered: the caller hangs up.
    sipA.write(
      `BYE sip:pf@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:${portA};branch=z9hG4bKb${s.key}\r\nMax-Forwards: 70\r\n` +
        `From: <sip:${s.a}@bench.test>;tag=a${s.key}\r\nTo: ${s.toA}\r\nCall-ID: ${s.callA}\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n`,
    );
  });
  const sendOk = (socket, m) => {
    const from = hdr(m, "From-Path");
    const to = hdr(m, "To-Path");
    socket.write(`MSRP ${m.tid} 200 OK\r\nTo-Path: ${from}\r\nFrom-Path: ${to}\r\n-------${m.tid}$\r\n`);
  };
  const finishIfDone = (s) => {
    if (s.done || !s.byeOkA || !s.byeB) return;
    s.done = true;
    completed++;
    cleanup(s);
  };

  for (let u = 0; u < users; u++) {
    register(sipA, portA, `a${u}`);
    register(sipB, portB, `b${u}`);
  }
  await regPromise;

  const cpu0 = process.cpuUsage();
  worker.postMessage("start");
  const elu0 = performance.eventLoopUtilization();
  const startMs = performance.now() + 50;
  const total = Math.round(rate * seconds);
  let next = 0;
  const startSession = (i, intendedMs) => {
    const key = `k${i}`;
    const u = i % users;
    const s = {
      key,
      a: `a${u}`,
      b: `b${u}`,
      callA: `ca${i}`,
      callB: null,
      intendedMs,
      pathA: `msrp://127.0.0.1:9/a${i}x;tcp`,
      pathB: `msrp://127.0.0.1:9/b${i}x;tcp`,
      done: false,
    };
    sessions.set(key, s);
    byCallA.set(s.callA, s);
    const body = sdp(s.pathA);
    sipA.write(
      `INVITE sip:${s.b}@bench.test SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:${portA};branch=z9hG4bKi${key}\r\nMax-Forwards: 70\r\n` +
        `From: <sip:${s.a}@bench.test>;tag=a${key}\r\nTo: <sip:${s.b}@bench.test>\r\nCall-ID: ${s.callA}\r\nCSeq: 1 INVITE\r\n` +
        `Contact: <sip:${s.a}@127.0.0.1:${portA};transport=tcp>\r\nContribution-ID: ${key}\r\nContent-Type: application/sdp\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    setTimeout(() => {
      if (!s.done) fail(s);
    }, 5000).unref();
  };
  await new Promise((resolve) => {
    const tick = () => {
      const now = performance.now();
      while (next < total && startMs + (next * 1000) / rate <= now) {
        startSession(next, startMs + (next * 1000) / rate);
        next++;
      }
      if (next < total) setTimeout(tick, 1);
      else resolve();
    };
    setTimeout(tick, 50);
  });
  const endSend = performance.now();
  // Let the tail finish (bounded).
  for (let i = 0; i < 600 && sessions.size > 0; i++) await new Promise((r) => setTimeout(r, 10));
  const elapsed = (Math.max(endSend, performance.now() - 0) - startMs) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const generatorElu = performance.eventLoopUtilization(elu0).utilization;
  worker.postMessage("stats");
  while (!msgs.some((m) => m.type === "stats")) await new Promise((r) => setTimeout(r, 5));
  const { stats, elu: serverElu } = msgs.find((m) => m.type === "stats");
  failures += sessions.size;
  for (const s of [sipA, sipB, msrpA, msrpB]) s.destroy();
  worker.postMessage("close");
  await new Promise((r) => worker.once("exit", r));

  // Steady state: sessions started after the first second (JIT warm-up) and before the last.
  const all = setups.map((x) => x[1]).sort((x, y) => x - y);
  const steady = setups.filter((x) => x[0] >= startMs + 1000).map((x) => x[1]).sort((x, y) => x - y);
  const row = {
    targetRate: rate,
    seconds: Number(elapsed.toFixed(2)),
    completed,
    achievedRate: completed / (seconds),
    setupP50Ms: percentile(all, 50),
    setupP99Ms: percentile(all, 99),
    steadyP50Ms: percentile(steady, 50),
    steadyP99Ms: percentile(steady, 99),
    failures,
    processCpuPct: ((cpu.user + cpu.system) / 1000 / (elapsed * 1000)) * 100,
    serverElu,
    generatorElu,
    /** Server thread busy time per completed session (event-loop utilisation × wall time). */
    serverUsPerSession: completed === 0 ? NaN : (serverElu * elapsed * 1e6) / completed,
    pf: stats.pf,
  };
  row.sustained = row.failures === 0 && row.steadyP99Ms < 50 && completed === total;
  return row;
}
