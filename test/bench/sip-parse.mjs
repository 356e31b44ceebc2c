#!/usr/bin/env node
/**
 * SIP parse throughput: our codec (dist/, so run `npm run build` first) vs SIP.js 0.21.2's own
 * parser, side by side in one process on the same INVITE-with-SDP capture.
 *
 * Work compared fairly: SIP.js's Parser.parseMessage already parses From, To, the top Via, CSeq,
 * Call-ID, Contact, Content-Length, Content-Type and Max-Forwards eagerly through its PEG grammar.
 * Our parseSipMessage keeps raw values, so besides the bare parse we also time "ours+structured":
 * the parse plus parseNameAddr(From/To/every Contact), parseVia(every Via), parseCSeq and the
 * Call-ID lookup — at least the work SIP.js does.
 *
 * Usage: node test/bench/sip-parse.mjs [--ms 1000]   (prints a table, then one JSON line)
 * Library use: import { runSipParseBench } from "./sip-parse.mjs"; await runSipParseBench({ ms }).
 */
import { readFileSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = new URL("../../", import.meta.url);
const distSip = new URL("dist/protocol/sip/", root);

function nowNs() {
  return process.hrtime.bigint();
}

/** Runs fn in batches until `ms` elapsed; returns calls per second. */
function measure(fn, ms) {
  let calls = 0;
  let batch = 64;
  const start = nowNs();
  const budget = BigInt(ms) * 1_000_000n;
  let elapsed = 0n;
  while (elapsed < budget) {
    for (let i = 0; i < batch; i++) fn();
    calls += batch;
    elapsed = nowNs() - start;
    if (batch < 4096) batch *= 2;
  }
  return calls / (Number(elapsed) / 1e9);
}

export async function runSipParseBench(opts = {}) {
  const ms = opts.ms ?? 1000;
  const rounds = opts.rounds ?? 3;
  const { parseSipMessage } = await import(new URL("parser.js", distSip).href);
  const { getHeader, getHeaderValues, parseNameAddr, parseVia, parseCSeq } = await import(new URL("headers.js", distSip).href);
  const { Parser } = await import("sip.js/lib/core/messages/parser.js");
  const fixturePath = fileURLToPath(new URL("test/fixtures/sip/invite-sdp.sip", root));
  const bytes = readFileSync(fixturePath);
  const text = bytes.toString("utf8");
  const logger = { log() {}, debug() {}, warn() {}, error() {} };

  // Sanity: both parsers accept the message and agree on what they found.
  const ours = parseSipMessage(bytes);
  const theirs = Parser.parseMessage(text, logger);
  if (!ours.ok || theirs === undefined) throw new Error("bench message does not parse");
  if (getHeader(ours.message, "Call-ID") !== theirs.callId) throw new Error("parsers disagree on Call-ID");

  let sink = 0;
  const cases = {
    "ours(Buffer)": () => {
      const r = parseSipMessage(bytes);
      sink += r.ok ? r.message.headers.length : 0;
    },
    "ours(string)": () => {
      const r = parseSipMessage(text);
      sink += r.ok ? r.message.headers.length : 0;
    },
    "ours+structured(Buffer)": () => {
      const r = parseSipMessage(bytes);
      if (!r.ok) return;
      const m = r.message;
      const from = parseNameAddr(getHeader(m, "From"));
      const to = parseNameAddr(getHeader(m, "To"));
      let n = 0;
      for (const v of getHeaderValues(m, "Via")) if (parseVia(v)) n++;
      for (const v of getHeaderValues(m, "Contact")) if (parseNameAddr(v)) n++;
      const cseq = parseCSeq(getHeader(m, "CSeq"));
      const callId = getHeader(m, "Call-ID");
      sink += n + (from ? 1 : 0) + (to ? 1 : 0) + (cseq ? cseq.seq : 0) + (callId ? 1 : 0);
    },
    "sip.js Parser.parseMessage(string)": () => {
      const m = Parser.parseMessage(text, logger);
      sink += m ? m.cseq : 0;
    },
  };
  // Warm up every case (JIT) before measuring, then interleave rounds so drift hits all alike.
  for (const fn of Object.values(cases)) measure(fn, Math.min(300, ms));
  const results = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  for (let r = 0; r < rounds; r++) for (const [k, fn] of Object.entries(cases)) results[k].push(measure(fn, ms));
  const best = Object.fromEntries(Object.entries(results).map(([k, v]) => [k, Math.max(...v)]));
  const sipjs = best["sip.js Parser.parseMessage(string)"];
  return {
    bench: "sip-parse",
    message: "INVITE with SDP",
    messageBytes: bytes.length,
    msgsPerSec: Object.fromEntries(Object.entries(best).map(([k, v]) => [k, Math.round(v)])),
    ratioVsSipJs: {
      bare: Number((best["ours(Buffer)"] / sipjs).toFixed(1)),
      string: Number((best["ours(string)"] / sipjs).toFixed(1)),
      structured: Number((best["ours+structured(Buffer)"] / sipjs).toFixed(1)),
    },
    sink: sink > 0,
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const i = process.argv.indexOf("--ms");
  const ms = i > 0 ? Number(process.argv[i + 1]) : 1000;
  const r = await runSipParseBench({ ms });
  console.log(`SIP parse throughput, ${r.message} (${r.messageBytes} bytes), best of 3 x ${ms} ms:`);
  for (const [k, v] of Object.entries(r.msgsPerSec)) console.log(`  ${k.padEnd(36)} ${v.toLocaleString("en-US").padStart(12)} msgs/s`);
  console.log(`  ratio vs SIP.js: bare ${r.ratioVsSipJs.bare}x, string ${r.ratioVsSipJs.string}x, structured ${r.ratioVsSipJs.structured}x`);
  console.log(JSON.stringify(r));
}
