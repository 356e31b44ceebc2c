/**
 * End-to-end CPM 1-1 sessions and large messages through runLoadTest: real worker threads from
 * dist/ (npm test builds first), the embedded PF in its own thread, SIP and MSRP over loopback
 * sockets, one MSRP endpoint per worker. The counts must add up across workers: every INVITE ends
 * in exactly one success or failure, every message sent is received whole by another client.
 */
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ExitCode } from "../../src/errors.js";
import { Counter, Gauge, Latency } from "../../src/metrics/names.js";
import type { RunSummary } from "../../src/report/index.js";
import { runLoadTest } from "../../src/runner/index.js";
import { configFromYaml, family } from "./support/config.js";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function config(yaml: string, flags: Parameters<typeof configFromYaml>[1] = {}) {
  const made = configFromYaml(yaml, { workers: "2", connection: "shared", transport: "tcp", ...flags });
  dirs.push(made.dir);
  return made.config;
}

const readSummary = (outDir: string): RunSummary => JSON.parse(readFileSync(join(outDir, "summary.json"), "utf8")) as RunSummary;

/**
 * A gauge's value in the last period that reports it (periods.csv); summary.json keeps the peak.
 * The file holds numbers and metric names only, so a split suffices.
 */
function lastGauge(outDir: string, metric: string): number | undefined {
  const [header, ...lines] = readFileSync(join(outDir, "periods.csv"), "utf8").trim().split("\n");
  const col = Object.fromEntries(header!.split(",").map((name, i) => [name, i]));
  let last: number | undefined;
  for (const line of lines) {
    const cells = line.split(",");
    if (cells[col.metric!] === metric && cells[col.kind!] === "gauge") last = Number(cells[col.value!]);
  }
  return last;
}

interface ChatShape {
  /** `population.answer` line, e.g. "  answer: {reject: {probability: 1}}" */
  answer?: string;
  /** Weights of the two bundled scenarios: chat (caller closes) and callee-closes. */
  weights?: [number, number];
  /** Further scenarios (YAML list items). */
  extra?: string;
  thresholds?: string;
}

/** 20 clients up in 1 s; 10 sessions over 2 s, 3 messages 200 ms apart each; 3 s to finish. */
const chatYaml = ({ answer = "", weights = [3, 1], extra = "", thresholds = "" }: ChatShape = {}) => `name: chat-e2e
seed: 3
population:
  clients: 20
  rate: 20
  users: {template: "c{index:03}", domain: e2e.test}
${answer}
phases:
  - {name: up, duration: 2s, rate: 0}
  - {name: chat, duration: 2s, rate: 5}
  - {name: drain, duration: 3s, rate: 0}
scenarios:
  - name: chat
    weight: ${weights[0]}
    steps:
      - invite: {to: random, subject: e2e}
      - send: {count: 3, interval: 200ms, size: {min: 50, max: 3KB}, chunkSize: 1KB}
      - bye
  - name: callee-closes
    weight: ${weights[1]}
    steps:
      - invite: {to: random}
      - send: {count: 3, interval: 200ms, size: 100}
      - bye: {by: callee}
${extra}
${thresholds}
`;

describe("CPM 1-1 sessions end to end (embedded PF, 2 workers)", () => {
  it("chat: every INVITE succeeds, every message sent is received whole by another client, every session is closed", async () => {
    const cfg = config(chatYaml());
    const result = await runLoadTest(cfg);
    const summary = readSummary(result.outDir);
    const c = summary.counters;
    expect(result.exitCode, JSON.stringify(c)).toBe(ExitCode.ok);
    expect(summary.workers.crashed).toEqual([]);
    expect(c[Counter.iterationsStarted]).toBe(10);
    expect(c[Counter.iterationsDropped] ?? 0).toBe(0);
    expect(c[Counter.iterationsCompleted]).toBe(10);
    // Sessions: one attempt per iteration, each a success.
    expect(c[Counter.sessionAttempts]).toBe(10);
    expect(c[Counter.sessionSuccesses]).toBe(10);
    expect(family(c, Counter.sessionFailures)).toBe(0);
    expect(c[Counter.sessionIncomingAccepted]).toBe(10);
    expect(summary.latencies[Latency.sessionSetup]!.count).toBe(10);
    expect(summary.latencies[Latency.sessionReady]!.count).toBe(10);
    // Messages: 3 per session, all answered, all received (across workers: the peer is random).
    expect(c[Counter.msrpSendAttempts]).toBe(30);
    expect(c[Counter.msrpSendSuccesses]).toBe(30);
    expect(family(c, Counter.msrpSendFailures)).toBe(0);
    expect(c[Counter.messagesSent]).toBe(30);
    expect(c[Counter.messagesReceived]).toBe(30);
    expect(c[Counter.messageBytesReceived]).toBe(c[Counter.messageBytesSent]);
    expect(c[Counter.messageBytesSent]).toBeGreaterThanOrEqual(30 * 50);
    expect(c[Counter.messageBytesSent]).toBeLessThanOrEqual(30 * 3072);
    expect(summary.latencies[Latency.messageDelivery]!.count).toBe(30);
    expect(summary.latencies[Latency.msrpSend]!.count).toBe(30);
    expect(c[Counter.msrpBytesSent]).toBeGreaterThan(c[Counter.messageBytesSent]!);
    // Closing: one BYE per session, and nothing left open at the end.
    expect(c[Counter.byeAttempts]).toBe(10);
    expect(c[Counter.byeSuccesses]).toBe(10);
    expect(summary.gauges[Gauge.activeSessions]).toBeGreaterThanOrEqual(1);
    expect(lastGauge(result.outDir, Gauge.activeSessions)).toBe(0);
    expect(c[Counter.registerSuccesses]).toBe(20);
  });

  it("the terminating users reject every INVITE with 486: each attempt is a counted failure and the thresholds fail the run", async () => {
    const cfg = config(
      chatYaml({ answer: "  answer: {reject: {probability: 1, status: 486}}", thresholds: "thresholds:\n  session.failures: rate == 0\n" }),
    );
    const result = await runLoadTest(cfg);
    expect(result.exitCode).toBe(ExitCode.thresholdsFailed);
    const summary = readSummary(result.outDir);
    const c = summary.counters;
    expect(c[Counter.sessionAttempts]).toBe(10);
    expect(c[Counter.sessionSuccesses] ?? 0).toBe(0);
    expect(c[`${Counter.sessionFailures}.status.486`]).toBe(10);
    expect(c[Counter.sessionIncomingRejected]).toBe(10);
    expect(c[Counter.iterationsFailed]).toBe(10);
    expect(c[Counter.messagesSent] ?? 0).toBe(0);
    expect(summary.thresholds[0]).toMatchObject({ ok: false });
  });

  it("re-INVITEs (one with a new MSRP connection) keep the session usable", async () => {
    // No pauses: each re-INVITE follows the previous step at once, so the PF's ACK to the callee
    // and the forwarded re-INVITE often reach the callee together (client/link-transport.ts).
    const cfg = config(
      chatYaml({
        weights: [0, 0],
        extra: `  - name: modify
    steps:
      - invite: {to: next}
      - send: {count: 1}
      - reinvite: {renewMsrp: true}
      - send: {count: 2, interval: 100ms}
      - reinvite
      - bye`,
      }),
    );
    const result = await runLoadTest(cfg);
    const c = readSummary(result.outDir).counters;
    expect(result.exitCode, JSON.stringify(c)).toBe(ExitCode.ok);
    expect(c[Counter.sessionSuccesses]).toBe(10);
    expect(c[Counter.reinviteAttempts]).toBe(20);
    expect(c[Counter.reinviteSuccesses]).toBe(20);
    expect(c[Counter.messagesSent]).toBe(30);
    expect(c[Counter.messagesReceived]).toBe(30);
    expect(c[Counter.byeSuccesses]).toBe(10);
    expect(c[Counter.iterationsCompleted]).toBe(10);
  });
});

describe("large messages end to end (embedded PF, per-client connections)", () => {
  it("each large message is one INVITE, one whole message received by another client, one BYE", async () => {
    const cfg = config(
      `name: large-e2e
seed: 5
population: {clients: 6, rate: 20}
phases:
  - {name: up, duration: 1500ms, rate: 0}
  - {name: send, duration: 2s, rate: 2}
  - {name: drain, duration: 3s, rate: 0}
scenarios:
  - name: large
    steps:
      - largeMessage: {to: random, size: {min: 100KB, max: 1MB}, chunkSize: 64KB}
thresholds:
  large_message.failures: rate == 0
`,
      { connection: "per-client" },
    );
    const result = await runLoadTest(cfg);
    const summary = readSummary(result.outDir);
    const c = summary.counters;
    expect(result.exitCode, JSON.stringify(c)).toBe(ExitCode.ok);
    expect(c[Counter.largeMessageAttempts]).toBe(4);
    expect(c[Counter.largeMessageSuccesses]).toBe(4);
    expect(c[Counter.messagesReceived]).toBe(4);
    expect(c[Counter.messageBytesReceived]).toBe(c[Counter.messageBytesSent]);
    expect(c[Counter.messageBytesSent]).toBeGreaterThanOrEqual(4 * 100 * 1024);
    expect(c[Counter.msrpBytesReceived]).toBeGreaterThan(c[Counter.messageBytesSent]!);
    expect(summary.latencies[Latency.largeMessage]!.count).toBe(4);
    expect(lastGauge(result.outDir, Gauge.activeSessions)).toBe(0);
  });
});
