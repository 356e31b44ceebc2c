/**
 * Duration and delay-distribution parsing shared by the scenario language, flags and the server.
 * Accepted durations: a number (milliseconds) or a string "<number><unit>" with unit us|ms|s|m|h,
 * e.g. "20ms", "1.5s", "2m". Returns null for anything else (callers turn that into a UserError).
 */
const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

export function parseDurationMs(input: string | number): number | null {
  if (typeof input === "number") return Number.isFinite(input) && input >= 0 ? input : null;
  const match = /^\s*(\d+(?:\.\d+)?)\s*(us|ms|s|m|h)?\s*$/.exec(input);
  if (!match) return null;
  return Number(match[1]) * UNIT_MS[match[2] ?? "ms"]!;
}

/** A duration as the scenario language writes it: 5000 → "5s", 1500 → "1500ms". */
export function formatDurationMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/** A response delay: fixed, uniform(min,max), normal(mean,stddev) or exponential(mean); all in ms. */
export type DelaySpec =
  | { kind: "fixed"; ms: number }
  | { kind: "uniform"; minMs: number; maxMs: number }
  | { kind: "normal"; meanMs: number; stddevMs: number }
  | { kind: "exponential"; meanMs: number };

export function parseDelaySpec(input: string): DelaySpec | null {
  const fixed = parseDurationMs(input);
  if (fixed !== null) return { kind: "fixed", ms: fixed };
  const match = /^\s*(uniform|normal|exponential)\s*\(([^)]*)\)\s*$/.exec(input);
  if (!match) return null;
  const args = match[2]!.split(",").map((a) => parseDurationMs(a.trim()));
  if (args.some((a) => a === null)) return null;
  const [a, b] = args as number[];
  if (match[1] === "uniform" && args.length === 2 && a! <= b!) return { kind: "uniform", minMs: a!, maxMs: b! };
  if (match[1] === "normal" && args.length === 2) return { kind: "normal", meanMs: a!, stddevMs: b! };
  if (match[1] === "exponential" && args.length === 1) return { kind: "exponential", meanMs: a! };
  return null;
}

/** Draw one delay in ms (never negative). `random` returns [0,1). */
export function sampleDelayMs(spec: DelaySpec, random: () => number = Math.random): number {
  switch (spec.kind) {
    case "fixed":
      return spec.ms;
    case "uniform":
      return spec.minMs + (spec.maxMs - spec.minMs) * random();
    case "normal": {
      // Box–Muller; clamp at 0 because a negative delay cannot be injected.
      const u = 1 - random();
      const v = random();
      return Math.max(0, spec.meanMs + spec.stddevMs * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v));
    }
    case "exponential":
      return -spec.meanMs * Math.log(1 - random());
  }
}
