/**
 * V8 tuning for timing: hot code is optimized sooner.
 *
 * Why: V8 tiers a function up to optimized code once it has used up an "interrupt budget" of
 * executed bytecode (default ~132 KB). At moderate load — a few hundred requests a second, the
 * load at which the tool's own accuracy is checked — the per-request code runs too seldom to use
 * that up for a long time, and keeps running in the interpreter and baseline tiers: slower, and
 * with more garbage. A budget of 16 KB lets it reach optimized code within the first seconds.
 * Measured on the 2-core VM with 20 ms injected at 500 REGISTER/s (test/bench/register-rate.mjs
 * --delay-only, interleaved A/B runs): steady p99 22.5–23.0 ms → 21.4–22.3 ms, steady p50
 * 20.35–20.38 → 20.27–20.34 ms. 4 KB measured the same as 16 KB.
 *
 * V8 flags are per process (every worker thread shares them), so this runs in the main thread
 * before any worker exists. An `--interrupt-budget` given on node's command line wins
 * (`node --interrupt-budget=132000 …` measures without this; Node does not take V8 flags in
 * NODE_OPTIONS).
 */
import { setFlagsFromString } from "node:v8";

export const INTERRUPT_BUDGET_BYTES = 16_000;

let applied = false;

/** Sets V8's interrupt budget (once per process); false when the user set one or it was set already. */
export function optimizeHotCodeSooner(): boolean {
  if (applied) return false;
  applied = true;
  if (process.execArgv.some((a) => a.includes("interrupt-budget"))) return false;
  setFlagsFromString(`--interrupt-budget=${INTERRUPT_BUDGET_BYTES}`);
  return true;
}
