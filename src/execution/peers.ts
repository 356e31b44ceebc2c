/**
 * Who a session or large message goes to, and the per-iteration random numbers. Everything here is
 * a pure function of (seed, global iteration index, calling client, intended start), never of the
 * worker that runs the iteration, so a run with 1 or 8 workers makes the same choices for the same
 * iteration run by the same client.
 *
 * The engine knows the whole population by arithmetic alone (client i comes up at t0 + i / rate),
 * not which remote clients actually registered: a `random` peer is therefore drawn among the
 * clients that came up at least `settleMs` before the iteration's intended start, so their
 * REGISTER has had time to complete; while fewer than one other client is that old (the first
 * moments of a run), the draw falls back to every client already up.
 */
import { seededRandom } from "../client/prng.js";
import type { UserCredential } from "../config/run-config.js";
import type { PeerPlan, PopulationPlan } from "../scenario/plan.js";
import { credentialsFor } from "./user-names.js";
import { hashUnit } from "./weighted-pick.js";

/** Default age a client must have before a `random` draw picks it (see the module comment). */
export const DEFAULT_PEER_SETTLE_MS = 1000;

// Salts keep the streams of one iteration independent of each other and of the scenario pick
// (which uses hashUnit(seed, j) unsalted).
const RANDOM_STREAM_SALT = 0x6a09e667;
const PEER_STREAM_SALT = 0xbb67ae85;

/** A seeded PRNG stream for iteration `iterationIndex` (uniform in [0, 1)): the project's one PRNG. */
export function iterationRandom(seed: number, iterationIndex: number, salt = RANDOM_STREAM_SALT): () => number {
  return seededRandom(Math.floor(hashUnit((seed ^ salt) >>> 0, iterationIndex) * 0x1_0000_0000));
}

export interface PeerResolverOptions {
  population: Pick<PopulationPlan, "arrivalRate" | "userTemplate" | "passwordTemplate">;
  /** Clients that come up during the run (global count); `next` wraps around it. */
  clientsInRun: number;
  /** Explicit credentials (--users), or null for the plan's templates. */
  users: readonly UserCredential[] | null;
  domain: string;
  seed: number;
  settleMs?: number;
}

/** Where one iteration stands, as the peer choice needs it. */
export interface PeerRequest {
  /** Global index of the calling client. */
  self: number;
  iterationIndex: number;
  /** The iteration's intended start, ms after t0. */
  offsetMs: number;
}

export class PeerResolver {
  private readonly settleMs: number;

  constructor(private readonly opts: PeerResolverOptions) {
    this.settleMs = opts.settleMs ?? DEFAULT_PEER_SETTLE_MS;
  }

  /** How many clients (a prefix 0..n-1 of the population) have come up by `offsetMs` after t0. */
  upBy(offsetMs: number): number {
    const n = this.opts.clientsInRun;
    if (offsetMs < 0) return 0;
    const rate = this.opts.population.arrivalRate;
    if (!(rate > 0) || !Number.isFinite(rate)) return n;
    // client i is up when i·1000/rate ≤ offset; the epsilon keeps an exact boundary inside.
    return Math.min(n, Math.floor((offsetMs * rate) / 1000 + 1e-9) + 1);
  }

  /**
   * A stream of peer draws for one iteration: the k-th `random` peer of the iteration uses the
   * k-th number of a stream seeded by (seed, iteration), so two invites in one iteration differ.
   */
  drawsFor(iterationIndex: number): () => number {
    return iterationRandom(this.opts.seed, iterationIndex, PEER_STREAM_SALT);
  }

  /** The global index of the peer, or null when there is none (nobody else up, or the caller itself). */
  resolve(peer: PeerPlan, request: PeerRequest, draw: () => number): number | null {
    const n = this.opts.clientsInRun;
    const { self } = request;
    switch (peer.kind) {
      case "next":
        return n > 1 ? (self + 1) % n : null;
      case "index":
        return peer.index < n && peer.index !== self ? peer.index : null;
      case "random": {
        let pool = this.upBy(request.offsetMs - this.settleMs);
        if (pool - (self < pool ? 1 : 0) < 1) pool = this.upBy(request.offsetMs);
        const others = pool - (self < pool ? 1 : 0);
        if (others < 1) return null;
        const r = Math.min(others - 1, Math.floor(draw() * others));
        // Skip over the caller: the candidates are 0..pool-1 without `self`.
        return self < pool && r >= self ? r + 1 : r;
      }
    }
  }

  /** The AOR of client `index`, e.g. `sip:user000012@cpm.test`. */
  uriOf(index: number): string {
    const { user } = credentialsFor(index, this.opts.population, this.opts.users);
    return `sip:${user}@${this.opts.domain}`;
  }
}
