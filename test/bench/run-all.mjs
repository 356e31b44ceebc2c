#!/usr/bin/env node
/**
 * `npm run bench`: every benchmark in one run, printed side by side (figures, not assertions).
 * - SIP parse rate of an INVITE with SDP: our codec vs SIP.js's parser (sip-parse.mjs, if present)
 * - sustained REGISTER rate through the embedded server on this machine (register-rate.mjs)
 * - measurement accuracy: register p50/p99 with 20 ms injected by the server at moderate load
 * - MSRP framing rate (msrp-framer.mjs) and large-message throughput client → PF → client (the
 *   embedded server in a worker thread) against two anchors over loopback: raw TCP one hop, and
 *   raw TCP through a plain byte relay in a worker thread, the same topology (msrp-throughput.mjs);
 *   the client's own large-message content, and random bytes beside it
 * - highest CPM 1-1 session rate (invite + one message + bye) through the embedded PF with 0 errors
 *   and p99 session_setup < 50 ms: the whole tool (SIP.js virtual clients, session-rate.mjs), and
 *   the PF alone against a lean raw-socket generator (../server/bench/pf-session-rate.mjs), which
 *   tells the target's limit apart from the generator's; with CPU-ms per session of the client
 *   worker and of the PF thread, which hold up better than rates on a busy machine
 * Each benchmark runs in a fresh process of its own (isolated.mjs), with its anchors beside it in
 * that process, so its figures match a run of its script alone.
 * Options: --quick (shorter runs), --seconds N, --rates a,b,c (REGISTER), --session-rates a,b,c
 */
import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { runIsolated } from "./isolated.mjs";

const here = (name) => new URL(`./${name}`, import.meta.url);
const quick = process.argv.includes("--quick");
const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const seconds = Number(arg("--seconds", quick ? "4" : "10"));
const rates = arg("--rates", quick ? "2000,6000" : "2000,4000,6000,8000").split(",").map(Number);
const sessionRates = arg("--session-rates", quick ? "250,750" : "250,500,750,1000,1500,2000,3000,4000").split(",").map(Number);

const fmt = (v, digits = 0) =>
  v === undefined || v === null || Number.isNaN(v) ? "-" : Number(v).toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });

const rows = [];
const add = (figure, value, goal = "") => rows.push([figure, value, goal]);

if (existsSync(fileURLToPath(here("sip-parse.mjs")))) {
  const p = await runIsolated(here("sip-parse.mjs"), "runSipParseBench", { ms: quick ? 300 : 1000 });
  for (const [name, perSec] of Object.entries(p.msgsPerSec)) add(`SIP parse ${p.message}: ${name}`, `${fmt(perSec)} /s`, name === "ours(Buffer)" ? ">= 100,000 /s/core" : "");
  add("SIP parse: ours vs SIP.js (bare / structured)", `${p.ratioVsSipJs.bare}x / ${p.ratioVsSipJs.structured}x`, ">= 100x");
} else {
  add("SIP parse", "skipped (test/bench/sip-parse.mjs missing)");
}

const r = await runIsolated(here("register-rate.mjs"), "runRegisterRateBench", { rates, seconds });
for (const row of r.rows) {
  add(
    `REGISTER refresh at ${fmt(row.targetRate)} /s (shared TCP, ${row.workers} client worker${row.workers === 1 ? "" : "s"})`,
    `${fmt(row.achievedRate)} /s, p50 ${fmt(row.registerP50Ms, 2)} ms, p99 ${fmt(row.registerP99Ms, 2)} ms ` +
      `(steady ${fmt(row.steadyP50Ms, 2)} / ${fmt(row.steadyP99Ms, 2)}), ` +
      `fail ${row.failures}, drop ${row.dropped}, steady lag p99 ${fmt(row.generatorLagP99Ms, 1)} ms${row.sustained ? "" : "  (not sustained)"}`,
  );
}
add(
  "REGISTER rate sustained with 0 failures",
  `${fmt(r.sustainedRate)} /s (p99 ${fmt(r.sustainedP99Ms, 2)} ms, steady ${fmt(r.sustainedSteadyP99Ms, 2)} ms)`,
  `${availableParallelism()} cores`,
);
const d = await runIsolated(here("register-rate.mjs"), "runDelayAccuracyBench", { seconds });
add(
  `Injected 20 ms delay at ${d.rate} /s: register p50 / p99`,
  `whole run ${fmt(d.registerP50Ms, 2)} / ${fmt(d.registerP99Ms, 2)} ms; steady (--warmup 3s) ${fmt(d.steadyP50Ms, 2)} / ${fmt(d.steadyP99Ms, 2)} ms ` +
    `(service ${fmt(d.steadyServiceP50Ms, 2)} / ${fmt(d.steadyServiceP99Ms, 2)} ms); ${d.failures} failures`,
  "20 ms + 1-2 ms",
);

const f = await runIsolated(here("msrp-framer.mjs"), "runMsrpFramerBench", { ms: quick ? 300 : 1000 });
for (const [name, x] of Object.entries(f)) {
  if (x && typeof x === "object" && "mbPerSec" in x) {
    add(`MSRP framer: ${name}`, `${fmt(x.mbPerSec)} MB/s${x.msgsPerSec ? `, ${fmt(x.msgsPerSec)} msgs/s` : ""}`);
  }
}

const t = await runIsolated(here("msrp-throughput.mjs"), "runMsrpThroughputBench", { mb: quick ? 50 : 200, reps: quick ? 1 : 5, pfWarmupMB: quick ? 500 : 3000 });
const byThread = (x) =>
  x.cpuMsPerMBByThread ? `: clients ${fmt(x.cpuMsPerMBByThread.main, 2)}, PF ${fmt(x.cpuMsPerMBByThread.pf, 2)}, V8 helpers ${fmt(x.cpuMsPerMBByThread.other, 2)}` : "";
const mbps = (x) => `${fmt(x.mbPerSec)} MB/s (${fmt(x.cpuMsPerMB, 2)} CPU-ms/MB${byThread(x)})`;
// Rows run in interleaved rounds give the median [range] of their per-round ratios.
const range = (r) => (r ? ` [${fmt(r[0], 2)}–${fmt(r[1], 2)}]` : "");
const vs = (r) =>
  `${fmt(r.raw, 2)}x raw${range(r.rawRange)}, ${fmt(r.rawReused, 2)}x raw with 1 MiB reads${range(r.rawReusedRange)}, ${fmt(r.byteRelay, 2)}x byte relay`;
add(`Raw TCP over loopback, one hop, ${fmt(t.messageMB)} MB, Node's default reads`, mbps(t.rawTcp));
add("Raw TCP over loopback, one hop, reads into a reused 1 MiB buffer (as cpm-load's MSRP sockets)", `${mbps(t.rawTcpReused)}, ${vs(t.rawTcpReused.ratio)}`);
add("Raw TCP client → byte relay (worker thread) → client, default reads", `${mbps(t.byteRelayDefault)}, ${vs(t.byteRelayDefault.ratio)}`);
add("Raw TCP client → byte relay (worker thread) → client, reused 1 MiB buffers", `${mbps(t.byteRelay)}, ${vs(t.byteRelay.ratio)}`);
add(
  `MSRP large message client → PF (worker thread) → client, ${fmt(t.chunkSize / 1024)} KB chunks`,
  `${mbps(t.msrpPf)}, ${vs(t.ratios.pf)}`,
  ">= 0.8x raw",
);
if (t.msrpPfPartial) {
  add(
    `MSRP large message client → PF (worker thread) → client, ${fmt(t.chunkSize / 1024)} KB chunks, Failure-Report partial`,
    `${mbps(t.msrpPfPartial)}, ${vs(t.ratios.pfPartial)}`,
    ">= 0.8x raw",
  );
}
if (t.msrpPfLarge) {
  add(
    `MSRP large message client → PF (worker thread) → client, ${fmt(t.msrpPfLarge.chunkSize / 1024)} KB chunks`,
    `${mbps(t.msrpPfLarge)}, ${vs(t.ratios.pfLarge)}`,
    ">= 0.8x raw",
  );
}
if (t.msrpPfRandom) {
  add(`Raw TCP over loopback, one hop, ${fmt(t.messageMB)} MB of random bytes from one Buffer, Node's default reads`, mbps(t.rawTcpRandom));
  add(
    `MSRP client → PF (worker thread) → client, ${fmt(t.chunkSize / 1024)} KB chunks, the same random bytes (content the sender did not make: scanned at every hop)`,
    `${mbps(t.msrpPfRandom)}, ${fmt(t.ratios.pfRandom.raw, 2)}x raw${range(t.ratios.pfRandom.rawRange)}`,
  );
}
add("MSRP large message client → library relay (worker thread) → client", `${mbps(t.msrpRelayWorker)}, ${vs(t.ratios.relayWorker)}`);
add("MSRP large message client → client direct", `${mbps(t.msrpDirect)}, ${vs(t.ratios.direct)}`);

const s = await runIsolated(here("session-rate.mjs"), "runSessionRateBench", { rates: sessionRates, seconds });
for (const row of s.rows) {
  add(
    `1-1 sessions (invite + 1 message + bye) at ${fmt(row.targetRate)} /s (shared TCP, ${row.workers} client worker${row.workers === 1 ? "" : "s"})`,
    `${fmt(row.achievedRate)} /s, session_setup steady p50 ${fmt(row.steadySetupP50Ms, 2)} ms, p99 ${fmt(row.steadySetupP99Ms, 2)} ms, ` +
      `errors ${row.errors}, drop ${row.dropped}, lag p99 ${fmt(row.generatorLagP99Ms, 1)} ms${row.saturated ? " (generator saturated)" : ""}, ` +
      `CPU-ms/session client worker ${fmt(row.clientCpuMsPerSession, 3)}, PF ${fmt(row.pfCpuMsPerSession, 3)}` +
      `${row.sustained ? "" : "  (not sustained)"}`,
  );
}
add(
  "Session rate sustained, 0 errors, p99 session_setup < 50 ms",
  `${fmt(s.sustainedRate)} /s (p99 ${fmt(s.sustainedSetupP99Ms, 2)} ms${s.sustainedSaturated ? ", generator saturated" : ""}; next rate up limited by ${s.limitedBy})`,
  ">= 3,000 /s",
);

const pfBench = new URL("../server/bench/pf-session-rate.mjs", import.meta.url);
if (existsSync(fileURLToPath(pfBench))) {
  const pfRates = arg("--pf-rates", quick ? "2000,4000" : "1000,2000,3000,4000,5000").split(",").map(Number);
  const pf = await runIsolated(pfBench, "runPfSessionBench", { rates: pfRates, seconds });
  for (const row of pf.rows) {
    add(
      `PF alone, 1-1 sessions at ${fmt(row.targetRate)} /s (raw-socket generator)`,
      `${fmt(row.achievedRate)} /s, session_setup steady p50 ${fmt(row.steadyP50Ms, 2)} ms, p99 ${fmt(row.steadyP99Ms, 2)} ms, ` +
        `failures ${row.failures}${row.sustained ? "" : "  (not sustained)"}`,
    );
  }
  add("PF session rate sustained (raw-socket generator), 0 failures, p99 < 50 ms", `${fmt(pf.sustainedRate)} /s`, ">= 3,000 /s");
} else {
  add("PF alone session rate", "skipped (test/server/bench/pf-session-rate.mjs missing)");
}

const widths = [0, 1, 2].map((i) => Math.max(...rows.map((row) => row[i].length), ["figure", "measured", "goal"][i].length));
const line = (cells) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
console.log(`cpm-load benchmarks — node ${process.version}, ${availableParallelism()} cores`);
console.log(line(["figure", "measured", "goal"]));
console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
for (const row of rows) console.log(line(row));
