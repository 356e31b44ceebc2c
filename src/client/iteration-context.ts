/**
 * The contract between the execution engine (src/execution/) and a VirtualClient for one scenario
 * iteration. The engine creates one context per iteration and passes the same object to every
 * `client.runStep(step, intendedStartNs, ctx)` of that iteration, then calls
 * `client.endIteration(ctx)` once (also after a failed step), which closes a session the steps left
 * open (BYE, no failure counted).
 *
 * Why a context rather than client state: a client may (in later issues) run overlapping
 * iterations, and the engine — not the client — knows the population (who is up, who is "next"),
 * so peer resolution is the engine's job.
 */
import type { PeerPlan } from "../scenario/plan.js";

export interface IterationContext {
  /** Global index of the iteration (the engine's counter). */
  iterationIndex: number;
  /** Seeded PRNG for this iteration, uniform in [0, 1): sizes, payload bytes. Deterministic per seed. */
  random: () => number;
  /**
   * Resolves a peer to the AOR of the chosen virtual client, e.g. `sip:user000012@example.com`,
   * or null when none is available (e.g. `random` with nobody else up). Called once per step that
   * names a peer; the client never picks peers itself.
   */
  peerUri(peer: PeerPlan): string | null;
  /**
   * Per-iteration state owned by the client: `session` is the iteration's current CPM session
   * (opaque to the engine) set by an invite step and used by send/bye/reinvite steps.
   */
  state: { session?: unknown };
}

/** A context for callers that run a single step outside an iteration (tests, register steps). */
export function standaloneIterationContext(opts: {
  iterationIndex?: number;
  random?: () => number;
  peerUri?: (peer: PeerPlan) => string | null;
} = {}): IterationContext {
  return {
    iterationIndex: opts.iterationIndex ?? 0,
    random: opts.random ?? Math.random,
    peerUri: opts.peerUri ?? (() => null),
    state: {},
  };
}
