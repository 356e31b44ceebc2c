import type { RunConfig } from "../../src/config/run-config.js";

export function runConfig(outDir: string, overrides: Partial<RunConfig> = {}): RunConfig {
  return {
    runId: "20240101-120000-test",
    scenarioFile: "scenarios/register.yaml",
    plan: {
      name: "register-storm",
      seed: 7,
      durationMs: 3000,
      warmupMs: 0,
      population: {
        clients: 100,
        arrivalRate: 50,
        userTemplate: "user{index:06}",
        passwordTemplate: "pw-{user}",
        domain: "example.test",
        registerExpires: 3600,
        refreshFraction: 0.9,
        unregisterAtEnd: true,
      },
      phases: [{ name: "hold", durationMs: 3000, startRate: 0, endRate: 0 }],
      scenarios: [],
      thresholds: [
        { metric: "register", stat: "p99", op: "<", value: 200, expression: "p99 < 200ms" },
        { metric: "register.failures", stat: "rate", op: "<", value: 0.01, expression: "rate < 1%" },
      ],
    },
    workers: 2,
    transport: "tcp",
    connection: "per-client",
    sharedConnections: 4,
    target: { kind: "embedded", host: "127.0.0.1", port: 0 },
    domain: "example.test",
    users: null,
    outDir,
    requestTimeoutMs: 32_000,
    embedded: { delay: null, auth: true },
    live: true,
    saturationLagUs: 100_000,
    toolVersion: "0.1.0-test",
    ...overrides,
  };
}

/** Minimal RFC 4180 reader for checking periods.csv (quoted fields, doubled quotes). */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      row.push(field);
      field = "";
    } else if (c === "\n") {
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
    } else if (c !== "\r") field += c;
  }
  if (field !== "" || row.length > 0) rows.push([...row, field]);
  return rows;
}
