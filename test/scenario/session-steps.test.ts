import { describe, expect, it } from "vitest";
import { compileScenario, describePlan, planWarnings } from "../../src/scenario/index.js";
import { MAX_SIZE_BYTES, parseSizeBytes } from "../../src/scenario/compile.js";
import type { Plan } from "../../src/scenario/plan.js";
import { MINIMAL_SCENARIO as head, problems } from "./support/scenario-text.js";

/** One scenario holding `steps` (YAML flow or block text starting on the line after `steps:`). */
const withSteps = (steps: string): string => `${head}scenarios:\n  - name: s\n    steps:\n${steps}`;
const stepsOf = (text: string): Plan["scenarios"][number]["steps"] => compileScenario(text, "x.yaml").scenarios[0]!.steps;

describe("session steps compile to StepPlans", () => {
  it("the full chat example of the scenario language", () => {
    const steps = stepsOf(
      withSteps(`      - invite: { to: random, subject: "hello" }
      - send: { count: 5, interval: 1s, size: 200, contentType: text/plain, chunkSize: 2048, imdn: false }
      - pause: 2s
      - reinvite: { renewMsrp: true }
      - bye: { by: caller }
`),
    );
    expect(steps).toEqual([
      { kind: "invite", to: { kind: "random" }, subject: "hello" },
      { kind: "send", count: 5, intervalMs: 1000, size: { kind: "fixed", bytes: 200 }, contentType: "text/plain", chunkSize: 2048, imdn: false },
      { kind: "pause", durationMs: 2000 },
      { kind: "reinvite", renewMsrp: true },
      { kind: "bye", by: "caller" },
    ]);
  });

  it("bare step names and empty mappings take the defaults", () => {
    const steps = stepsOf(withSteps("      - invite\n      - send\n      - reinvite\n      - {send: }\n      - bye: {}\n      - {invite: {}}\n      - {bye: }\n"));
    const send = { kind: "send", count: 1, intervalMs: 0, size: { kind: "fixed", bytes: 100 }, contentType: "text/plain", chunkSize: 2048, imdn: false };
    expect(steps).toEqual([
      { kind: "invite", to: { kind: "random" } },
      send,
      { kind: "reinvite", renewMsrp: false },
      send,
      { kind: "bye", by: "caller" },
      { kind: "invite", to: { kind: "random" } },
      { kind: "bye", by: "caller" },
    ]);
  });

  it("peers: random, next, an index; bye by the callee; IMDN and other content types", () => {
    const steps = stepsOf(
      withSteps(`      - invite: {to: next}
      - send: {count: 3, interval: 250ms, size: 1KB, contentType: application/json, chunkSize: 512B, imdn: true}
      - bye: {by: callee}
      - invite: {to: 9}
      - bye
      - largeMessage: {to: 0, size: 1MB}
`),
    );
    expect(steps[0]).toEqual({ kind: "invite", to: { kind: "next" } });
    expect(steps[1]).toEqual({
      kind: "send",
      count: 3,
      intervalMs: 250,
      size: { kind: "fixed", bytes: 1024 },
      contentType: "application/json",
      chunkSize: 512,
      imdn: true,
    });
    expect(steps[2]).toEqual({ kind: "bye", by: "callee" });
    expect(steps[3]).toEqual({ kind: "invite", to: { kind: "index", index: 9 } });
    expect(steps[5]).toEqual({ kind: "largeMessage", to: { kind: "index", index: 0 }, size: { kind: "fixed", bytes: 1_048_576 }, chunkSize: 65_536, contentType: "application/octet-stream", failureReport: "yes" });
  });

  it("largeMessage: sizes with units up to 100MB (50MB included), ranges, chunk size and content type", () => {
    const steps = stepsOf(
      withSteps(`      - largeMessage: {to: random, size: 5MB, chunkSize: 64KB}
      - largeMessage: {size: 50MB}
      - largeMessage: {size: 100MB, chunkSize: 1MB, contentType: image/jpeg}
      - largeMessage: {size: {min: 1MB, max: 10MB}, chunkSize: 32768}
      - largeMessage: {size: 1.5KB}
`),
    );
    expect(steps).toEqual([
      { kind: "largeMessage", to: { kind: "random" }, size: { kind: "fixed", bytes: 5 * 1_048_576 }, chunkSize: 65_536, contentType: "application/octet-stream", failureReport: "yes" },
      { kind: "largeMessage", to: { kind: "random" }, size: { kind: "fixed", bytes: 50 * 1_048_576 }, chunkSize: 65_536, contentType: "application/octet-stream", failureReport: "yes" },
      { kind: "largeMessage", to: { kind: "random" }, size: { kind: "fixed", bytes: 100 * 1_048_576 }, chunkSize: 1_048_576, contentType: "image/jpeg", failureReport: "yes" },
      {
        kind: "largeMessage",
        to: { kind: "random" },
        size: { kind: "uniform", minBytes: 1_048_576, maxBytes: 10 * 1_048_576 },
        chunkSize: 32_768,
        contentType: "application/octet-stream",
        failureReport: "yes",
      },
      { kind: "largeMessage", to: { kind: "random" }, size: { kind: "fixed", bytes: 1536 }, chunkSize: 65_536, contentType: "application/octet-stream", failureReport: "yes" },
    ]);
  });

  it("largeMessage.failureReport: yes (default) or partial; anything else is refused with the allowed values", () => {
    const steps = stepsOf(withSteps("      - largeMessage: {size: 1MB, failureReport: partial}\n      - largeMessage: {size: 1MB, failureReport: \"yes\"}\n"));
    expect(steps.map((st) => (st as { failureReport?: string }).failureReport)).toEqual(["partial", "yes"]);
    expect(problems(withSteps("      - largeMessage: {size: 1MB, failureReport: no}\n"))).toEqual([
      "x.yaml:7:50: scenarios[0].steps[0].largeMessage.failureReport must be one of 'yes', 'partial' (got 'no')",
    ]);
  });

  it("sizes: bytes, B/KB/MB in any case, 1024-based, fractions round to the byte", () => {
    expect(parseSizeBytes(200)).toBe(200);
    expect(parseSizeBytes("200")).toBeNull();
    expect(parseSizeBytes("200B")).toBe(200);
    expect(parseSizeBytes(" 1 kb ")).toBe(1024);
    expect(parseSizeBytes("64KB")).toBe(65_536);
    expect(parseSizeBytes("5mB")).toBe(5_242_880);
    expect(parseSizeBytes("0.5KB")).toBe(512);
    expect(parseSizeBytes("1.0001KB")).toBe(1024);
    expect(parseSizeBytes("5GB")).toBeNull();
    expect(parseSizeBytes("-1KB")).toBeNull();
    expect(parseSizeBytes(1.5)).toBeNull();
    expect(MAX_SIZE_BYTES).toBe(104_857_600);
    const steps = stepsOf(withSteps("      - invite\n      - send: {size: {min: 10, max: 2KB}}\n      - send: {size: {min: 1KB, max: 1KB}}\n"));
    expect(steps[1]).toMatchObject({ size: { kind: "uniform", minBytes: 10, maxBytes: 2048 } });
    expect(steps[2]).toMatchObject({ size: { kind: "uniform", minBytes: 1024, maxBytes: 1024 } });
  });

  it("population.answer: defaults for the keys left out, absent when not given", () => {
    const full = compileScenario(
      "population:\n  clients: 2\n  answer: { delay: 150ms, reject: { probability: 0.25, status: 603 }, reply: echo }\nduration: 5s\n",
      "a.yaml",
    );
    expect(full.population.answer).toEqual({ delayMs: 150, rejectProbability: 0.25, rejectStatus: 603, reply: "echo" });
    const partial = compileScenario("population:\n  clients: 2\n  answer: {reject: {probability: 0.1}}\nduration: 5s\n", "a.yaml");
    expect(partial.population.answer).toEqual({ delayMs: 0, rejectProbability: 0.1, rejectStatus: 486, reply: "none" });
    expect(compileScenario("population:\n  clients: 2\n  answer: {}\nduration: 5s\n", "a.yaml").population.answer).toEqual({
      delayMs: 0,
      rejectProbability: 0,
      rejectStatus: 486,
      reply: "none",
    });
    expect(compileScenario(head, "a.yaml").population.answer).toBeUndefined();
  });

  it("thresholds accept the session latencies and their service times", () => {
    const plan = compileScenario(
      `${head}thresholds:
  session_setup: ["p99 < 50ms", "count > 0"]
  session_ready: p99 < 100ms
  msrp_send: p95 < 20ms
  message_delivery: p99 < 100ms
  large_message: max < 10s
  session_setup.service: p50 < 5ms
`,
      "t.yaml",
    );
    expect(plan.thresholds.map((t) => [t.metric, t.stat, t.value])).toEqual([
      ["session_setup", "p99", 50],
      ["session_setup", "count", 0],
      ["session_ready", "p99", 100],
      ["msrp_send", "p95", 20],
      ["message_delivery", "p99", 100],
      ["large_message", "max", 10_000],
      ["session_setup.service", "p50", 5],
    ]);
  });

  it("thresholds accept the session counters and their failure causes; rates divide by the family's attempts", () => {
    const plan = compileScenario(
      `${head}thresholds:
  session.failures: rate == 0
  session.successes: count > 10
  session.failures.status.486: count == 0
  session.failures.msrp_status.481: count == 0
  session.failures.msrp_connect_timeout: count == 0
  session.failures.no_peer: rate < 1%
  msrp_send.failures: rate == 0
  msrp_send.failures.status.413: count == 0
  msrp_send.failures.connection_lost: count == 0
  large_message.failures: rate < 0.05
  large_message.failures.msrp: count == 0
  bye.failures: rate == 0
  reinvite.failures.timeout: count == 0
  messages.received: count > 0
`,
      "t.yaml",
    );
    expect(plan.thresholds.map((t) => `${t.metric} ${t.stat}`)).toEqual([
      "session.failures rate",
      "session.successes count",
      "session.failures.status.486 count",
      "session.failures.msrp_status.481 count",
      "session.failures.msrp_connect_timeout count",
      "session.failures.no_peer rate",
      "msrp_send.failures rate",
      "msrp_send.failures.status.413 count",
      "msrp_send.failures.connection_lost count",
      "large_message.failures rate",
      "large_message.failures.msrp count",
      "bye.failures rate",
      "reinvite.failures.timeout count",
      "messages.received count",
    ]);
    expect(problems(`${head}thresholds:\n  session.failures.because: count == 0\n  messages.received: rate < 1\n`)).toEqual([
      expect.stringMatching(/^x\.yaml:5:3: threshold metric 'session\.failures\.because' does not exist/),
      expect.stringMatching(/^x\.yaml:6:22: threshold 'rate < 1' for messages\.received: 'rate' needs an '\.attempts' counter/),
    ]);
  });

  it("the plan description names every session step and the answer behaviour", () => {
    const plan = compileScenario(
      `population:
  clients: 10
  answer: {delay: 1s, reject: {probability: 0.5}, reply: echo}
duration: 30s
scenarios:
  - name: chat
    steps: [{invite: {to: next, subject: hi}}, {send: {count: 3, interval: 1s, size: {min: 100, max: 1KB}, imdn: true}}, {reinvite: {renewMsrp: true}}, {bye: {by: callee}}]
  - name: big
    steps: [{largeMessage: {to: 3, size: 1.5MB}}]
`,
      "d.yaml",
    );
    const text = describePlan(plan);
    expect(text).toContain("answer      accept after 1s, reject 50% with 486, echo every message");
    expect(text).toContain(
      "invite(to next, subject \"hi\") → send(3 × 100B–1KB every 1s, text/plain, chunks 2KB, imdn) → reinvite(new MSRP connection) → bye(by callee)",
    );
    expect(text).toContain("largeMessage(to client 3, 1.5MB, chunks 64KB, application/octet-stream)");
  });

  it("warns when sessions have nobody to call", () => {
    const plan = compileScenario("population: {clients: 1}\nduration: 5s\nscenarios:\n  - {name: s, steps: [invite, bye]}\n", "w.yaml");
    expect(planWarnings(plan)).toEqual([
      "Sessions need a second client to call, but the population has only 1: raise population.clients to 2 or more.",
    ]);
  });
});

describe("session step problems name file:line:col", () => {
  it("send, reinvite and bye need an open session from an earlier invite in the same scenario", () => {
    expect(
      problems(`${head}scenarios:
  - name: a
    steps:
      - send: {count: 2}
      - reinvite
      - bye
  - name: b
    steps: [invite, bye, send]
  - name: c
    steps: [invite, largeMessage: {size: 1KB}, send, bye, bye]
`),
    ).toEqual([
      "x.yaml:7:9: scenarios[0].steps[0] (send) needs an open session but no session is open: add an invite step before it",
      "x.yaml:8:9: scenarios[0].steps[1] (reinvite) needs an open session but no session is open: add an invite step before it",
      "x.yaml:9:9: scenarios[0].steps[2] (bye) needs an open session but no session is open: add an invite step before it",
      "x.yaml:11:26: scenarios[1].steps[2] (send) needs an open session but the session was closed by the bye at scenarios[1].steps[1]: add an invite step before it",
      "x.yaml:13:59: scenarios[2].steps[4] (bye) needs an open session but the session was closed by the bye at scenarios[2].steps[3]: add an invite step before it",
    ]);
  });

  it("a second invite while a session is open", () => {
    expect(problems(withSteps("      - invite\n      - invite: {to: next}\n"))).toEqual([
      "x.yaml:8:9: scenarios[0].steps[1] opens a session while the one from scenarios[0].steps[0] is still open: add a bye before it (an iteration holds one session at a time)",
    ]);
  });

  it("peers: unknown words, negative or fractional indices, an index outside the population", () => {
    expect(
      problems(
        withSteps(`      - invite: {to: anyone}
      - bye
      - invite: {to: -1}
      - bye
      - invite: {to: 1.5}
      - bye
      - invite: {to: 10}
      - bye
      - largeMessage: {to: 12, size: 1KB}
`),
      ),
    ).toEqual([
      "x.yaml:7:22: scenarios[0].steps[0].invite.to must be random, next or a client index (0-based), e.g. 0 (got 'anyone')",
      "x.yaml:9:22: scenarios[0].steps[2].invite.to must be random, next or a client index (0-based), e.g. 0 (got -1)",
      "x.yaml:11:22: scenarios[0].steps[4].invite.to must be random, next or a client index (0-based), e.g. 0 (got 1.5)",
      "x.yaml:13:22: scenarios[0].steps[6].invite.to names client 10, but the population has 10 clients (indices 0 to 9): use a smaller index, next or random",
      "x.yaml:15:28: scenarios[0].steps[8].largeMessage.to names client 12, but the population has 10 clients (indices 0 to 9): use a smaller index, next or random",
    ]);
  });

  it("sizes: spelling, zero, above 100MB, ranges the wrong way round or incomplete", () => {
    expect(
      problems(
        withSteps(`      - largeMessage: {size: 5 megabytes}
      - largeMessage: {size: 0}
      - largeMessage: {size: 101MB}
      - largeMessage: {size: 104857601}
      - largeMessage: {size: {min: 2MB, max: 1MB}}
      - largeMessage: {size: {min: 1MB}}
      - largeMessage: {size: 1KB, chunkSize: 0.2B}
      - largeMessage: {to: next}
`),
      ),
    ).toEqual([
      'x.yaml:7:30: scenarios[0].steps[0].largeMessage.size must be a size: bytes as a whole number, or a number with B, KB or MB (1024-based), e.g. 200, "64KB" or "5MB" (got \'5 megabytes\')',
      'x.yaml:8:30: scenarios[0].steps[1].largeMessage.size must be a size: bytes as a whole number from 1 to 104857600 (100MB), or a number with B, KB or MB (1024-based), e.g. 200, "64KB" or "5MB" (got 0)',
      "x.yaml:9:30: scenarios[0].steps[2].largeMessage.size is 101MB, above the limit of 100MB: give a smaller size",
      'x.yaml:10:30: scenarios[0].steps[3].largeMessage.size must be a size: bytes as a whole number from 1 to 104857600 (100MB), or a number with B, KB or MB (1024-based), e.g. 200, "64KB" or "5MB" (got 104857601)',
      "x.yaml:11:36: scenarios[0].steps[4].largeMessage.size.min (2097152 bytes) is above scenarios[0].steps[4].largeMessage.size.max (1048576 bytes): swap them",
      "x.yaml:12:24: scenarios[0].steps[5].largeMessage.size is missing 'max': a size range needs both ends, e.g. `size: {min: 100, max: 1KB}`",
      "x.yaml:13:46: scenarios[0].steps[6].largeMessage.chunkSize is 0.2B, which is less than 1 byte: give a size of at least 1B",
      "x.yaml:14:9: scenarios[0].steps[7].largeMessage is missing 'size': add the message size, e.g. `size: 5MB` (1024-based units B, KB, MB)",
    ]);
  });

  it("send options: count, interval, content type, imdn, unknown keys", () => {
    expect(
      problems(
        withSteps(`      - invite: {subject: 7}
      - send: {count: 0, interval: 1, contentType: "text/plain; charset=utf-8", imdn: yes please, repeat: 2}
      - bye: {by: both}
      - largeMessage
`),
      ),
    ).toEqual([
      "x.yaml:7:27: scenarios[0].steps[0].invite.subject must be a string, not 7",
      "x.yaml:8:23: scenarios[0].steps[1].send.count must be >= 1 (got 0)",
      'x.yaml:8:36: scenarios[0].steps[1].send.interval must be a duration with a unit (us, ms, s, m or h), e.g. "500ms", "20s" or "2m" (got 1)',
      'x.yaml:8:52: scenarios[0].steps[1].send.contentType must be a MIME type such as "text/plain" (type/subtype, no parameters) (got \'text/plain; charset=utf-8\')',
      "x.yaml:8:87: scenarios[0].steps[1].send.imdn must be true or false, not the string 'yes please'",
      "x.yaml:8:99: unknown key 'repeat' in scenarios[0].steps[1].send (allowed: count, interval, size, contentType, chunkSize, imdn)",
      "x.yaml:9:19: scenarios[0].steps[2].bye.by must be one of 'caller', 'callee' (got 'both')",
      "x.yaml:10:9: scenarios[0].steps[3] must be one of the steps register, unregister, invite, send, reinvite, bye, or a mapping such as {pause: 2s} or {largeMessage: {size: 5MB}} (got 'largeMessage')",
    ]);
  });

  it("population.answer: delay, probability, status and reply are checked", () => {
    expect(
      problems("population:\n  clients: 2\n  answer: { delay: 2, reject: { probability: 1.5, status: 200, reason: busy }, reply: shout, after: 1s }\nduration: 5s\n"),
    ).toEqual([
      'x.yaml:3:20: population.answer.delay must be a duration with a unit (us, ms, s, m or h), e.g. "500ms", "20s" or "2m" (got 2)',
      "x.yaml:3:46: population.answer.reject.probability must be <= 1 (got 1.5)",
      "x.yaml:3:59: population.answer.reject.status must be >= 400 (got 200)",
      "x.yaml:3:64: unknown key 'reason' in population.answer.reject (allowed: probability, status)",
      "x.yaml:3:87: population.answer.reply must be one of 'none', 'echo' (got 'shout')",
      "x.yaml:3:94: unknown key 'after' in population.answer (allowed: delay, reject, reply)",
    ]);
  });
});
