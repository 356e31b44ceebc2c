/**
 * Arrival schedules as pure functions of an index: the time (ms after t0) at which client i comes
 * up and at which iteration j is intended to start. The engine asks for the absolute time of the
 * next arrival and sets one timer for it; it never chains relative timers, so a late timer does
 * not push every later arrival back (no drift), and the due arrivals are caught up at once with
 * their own intended times (no coordinated omission).
 */
import type { PhasePlan, PopulationPlan } from "../scenario/plan.js";

/**
 * Offset (ms from t0) at which global client `index` comes up: index / arrivalRate seconds.
 * A non-positive or infinite rate brings everyone up at t0.
 */
export function clientArrivalMs(population: Pick<PopulationPlan, "arrivalRate">, index: number): number {
  const rate = population.arrivalRate;
  if (!(rate > 0) || !Number.isFinite(rate)) return 0;
  return (index * 1000) / rate;
}

/** Clients that come up strictly before `durationMs` (the others are never started). */
export function clientsStartedWithin(population: Pick<PopulationPlan, "arrivalRate" | "clients">, durationMs: number): number {
  const rate = population.arrivalRate;
  if (!(rate > 0) || !Number.isFinite(rate)) return durationMs > 0 ? population.clients : 0;
  // index < durationMs * rate / 1000
  const limit = (durationMs * rate) / 1000;
  return Math.min(population.clients, Math.max(0, Math.ceil(limit - 1e-9)));
}

interface PhaseSegment {
  startMs: number;
  durationMs: number;
  /** iterations per ms at the start and end of the phase */
  a: number;
  b: number;
  /** cumulative iteration count at the start of the phase */
  before: number;
  /** iterations in this phase (area under the rate) */
  count: number;
}

/**
 * The iteration schedule of back-to-back phases, each ramping linearly from startRate to endRate
 * (iterations/s over the whole run). With cumulative arrivals N(t) = ∫ rate, iteration j (0-based,
 * global) is intended at inf{ t : N(t) > j }: for a constant rate r that is j / r (the first at t0,
 * as in k6's constant-arrival-rate), and a phase with rate 0 generates nothing (iterations never
 * land inside a hold phase). Within a linear ramp N is quadratic and inverted in closed form.
 */
export class IterationSchedule {
  readonly total: number;
  readonly durationMs: number;
  private readonly segments: PhaseSegment[] = [];

  constructor(phases: readonly PhasePlan[]) {
    let startMs = 0;
    let before = 0;
    for (const phase of phases) {
      const a = Math.max(0, phase.startRate) / 1000;
      const b = Math.max(0, phase.endRate) / 1000;
      const count = ((a + b) / 2) * phase.durationMs;
      this.segments.push({ startMs, durationMs: phase.durationMs, a, b, before, count });
      startMs += phase.durationMs;
      before += count;
    }
    this.durationMs = startMs;
    // Iterations j with j < N(end); the epsilon absorbs float error in the accumulated areas so a
    // whole-number total (e.g. 10/s for 5 s = 50) does not become 51.
    this.total = Math.max(0, Math.ceil(before - 1e-9));
  }

  /** Intended start of global iteration j in ms after t0, or null when j is beyond the schedule. */
  timeOfMs(j: number): number | null {
    if (!Number.isInteger(j) || j < 0 || j >= this.total) return null;
    let last: PhaseSegment | undefined;
    for (const s of this.segments) {
      if (s.count <= 0) continue;
      last = s;
      // The epsilon keeps an iteration that lands exactly on a phase boundary in the next phase
      // even when float error leaves the previous phase's area a hair above a whole number.
      if (j < s.before + s.count - 1e-9) return s.startMs + Math.min(s.durationMs, invertRamp(s.a, s.b, s.durationMs, j - s.before));
    }
    // Only reachable through float error on the very last iteration: it belongs to the last phase.
    return last ? last.startMs + Math.min(last.durationMs, invertRamp(last.a, last.b, last.durationMs, j - last.before)) : null;
  }
}

/**
 * Solve a·t + (b−a)·t²/(2D) = x for t ≥ 0 (rates per ms). Written as 2x / (a + √(a² + 2(b−a)x/D)),
 * the rationalised root: it is stable when the ramp is nearly flat (no division by b−a) and exact
 * for a constant rate (x / a).
 */
export function invertRamp(a: number, b: number, durationMs: number, x: number): number {
  if (x <= 0) return 0;
  const disc = a * a + (2 * (b - a) * x) / durationMs;
  const denom = a + Math.sqrt(Math.max(0, disc));
  if (denom <= 0) return durationMs;
  return (2 * x) / denom;
}
