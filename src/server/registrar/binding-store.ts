/**
 * Registration bindings per address-of-record (RFC 3261 §10.3), independent of SIP syntax so the
 * state machine can be driven by a FakeClock in tests.
 *
 * A binding is keyed by `+sip.instance` (+ `reg-id`) when the contact carries one (RFC 5626: a
 * device that re-registers from a new address replaces its old binding), else by the contact URI.
 * Each binding remembers the flow it registered over so later server-initiated requests (NOTIFY,
 * MESSAGE, INVITE) go back on the same connection (RFC 5626 flow reuse; shared trunks carry many
 * users per connection).
 *
 * Expiry: bindings past their expiry are ignored at once (every read filters them) and removed by a
 * periodic sweep. A full scan per sweep costs ~1 ms per 100,000 bindings: cheaper in memory and code
 * than a timer per binding or a timer wheel, and the sweep interval is configurable.
 */
import type { Clock, TimerHandle } from "../../time/clock.js";
import type { Flow } from "../transport/flow.js";

const NS_PER_S = 1_000_000_000;

export interface ContactBinding {
  readonly key: string;
  /** Contact URI as sent (without the angle brackets). */
  uri: string;
  /** Contact parameters to echo back (feature tags, +sip.instance, reg-id, q …), without expires. */
  params: Record<string, string | null>;
  instanceId: string | null;
  regId: string | null;
  callId: string;
  cseq: number;
  expiresAtNs: number;
  /** The flow the REGISTER arrived on. */
  flow: Flow;
  /** Path header values of the REGISTER (RFC 3327), in order. */
  path: string[];
}

/** One Contact of a REGISTER, already reduced to what the store needs. */
export interface ContactUpdate {
  uri: string;
  params: Record<string, string | null>;
  instanceId: string | null;
  regId: string | null;
  /** Granted expiry in seconds (0 = remove). */
  expires: number;
}

export type BindingChange = "created" | "refreshed" | "shortened" | "expired" | "unregistered";

export type BindingListener = (aor: string, binding: ContactBinding, change: BindingChange) => void;

export type ApplyResult = { ok: true; bindings: ContactBinding[] } | { ok: false; reason: "out-of-order" };

export function bindingKey(update: Pick<ContactUpdate, "uri" | "instanceId" | "regId">): string {
  if (update.instanceId === null) return update.uri;
  return update.regId === null ? `instance:${update.instanceId}` : `instance:${update.instanceId};reg-id=${update.regId}`;
}

export class BindingStore {
  private readonly aors = new Map<string, Map<string, ContactBinding>>();
  /** Every AOR that ever had a binding: the PF tells "unknown" (404) from "not reachable now" (480). */
  private readonly known = new Set<string>();
  private contactCount = 0;
  private sweepTimer: TimerHandle | null = null;
  private listener: BindingListener | null = null;

  constructor(
    private readonly clock: Clock,
    private readonly sweepIntervalMs = 1000,
  ) {}

  /** One listener (later: the reg-event package and deferred delivery, PROTOCOL.md §7.2.2). */
  onChange(listener: BindingListener | null): void {
    this.listener = listener;
  }

  get aorCount(): number {
    return this.aors.size;
  }

  get bindingCount(): number {
    return this.contactCount;
  }

  /** True when the AOR registered at least once since the server started. */
  everRegistered(aor: string): boolean {
    return this.known.has(aor);
  }

  /** Live bindings of an AOR (expired ones are left for the sweep but not returned). */
  lookup(aor: string): ContactBinding[] {
    const bindings = this.aors.get(aor);
    if (!bindings) return [];
    const now = this.clock.nowNs();
    const live: ContactBinding[] = [];
    for (const b of bindings.values()) if (b.expiresAtNs > now) live.push(b);
    return live;
  }

  /** Seconds left on a binding, rounded up so a fresh 3600 s binding reports 3600. */
  remainingSeconds(binding: ContactBinding): number {
    return Math.max(0, Math.ceil((binding.expiresAtNs - this.clock.nowNs()) / NS_PER_S));
  }

  /**
   * Apply the contacts of one REGISTER atomically (RFC 3261 §10.3 step 7): if any existing binding
   * has the same Call-ID and a higher CSeq, the request fails and nothing changes; the same CSeq
   * changes nothing either (a late retransmission) but succeeds.
   */
  apply(
    aor: string,
    updates: ContactUpdate[],
    meta: { callId: string; cseq: number; flow: Flow; path: string[] },
  ): ApplyResult {
    let bindings = this.aors.get(aor);
    const now = this.clock.nowNs();
    if (bindings) {
      let duplicate = false;
      for (const u of updates) {
        const existing = bindings.get(bindingKey(u));
        if (existing === undefined || existing.expiresAtNs <= now || existing.callId !== meta.callId) continue;
        if (existing.cseq > meta.cseq) return { ok: false, reason: "out-of-order" };
        if (existing.cseq === meta.cseq) duplicate = true;
      }
      // The same CSeq again is a retransmission that outlived its transaction (a UDP transaction
      // lifetime below Timer F): answer with the current state instead of failing it.
      if (duplicate) return { ok: true, bindings: this.lookup(aor) };
    }
    for (const u of updates) {
      const key = bindingKey(u);
      const existing = bindings?.get(key);
      const live = existing !== undefined && existing.expiresAtNs > now;
      if (u.expires === 0) {
        if (existing && bindings) this.remove(aor, bindings, existing, live ? "unregistered" : "expired");
        continue;
      }
      const expiresAtNs = now + u.expires * NS_PER_S;
      if (existing) {
        const change: BindingChange = !live ? "created" : expiresAtNs < existing.expiresAtNs ? "shortened" : "refreshed";
        existing.uri = u.uri;
        existing.params = u.params;
        existing.callId = meta.callId;
        existing.cseq = meta.cseq;
        existing.expiresAtNs = expiresAtNs;
        existing.flow = meta.flow;
        existing.path = meta.path;
        this.listener?.(aor, existing, change);
        continue;
      }
      if (!bindings) {
        bindings = new Map();
        this.aors.set(aor, bindings);
        this.known.add(aor);
      }
      const binding: ContactBinding = {
        key,
        uri: u.uri,
        params: u.params,
        instanceId: u.instanceId,
        regId: u.regId,
        callId: meta.callId,
        cseq: meta.cseq,
        expiresAtNs,
        flow: meta.flow,
        path: meta.path,
      };
      bindings.set(key, binding);
      this.contactCount++;
      this.listener?.(aor, binding, "created");
    }
    this.ensureSweep();
    return { ok: true, bindings: this.lookup(aor) };
  }

  /** `Contact: *` with `Expires: 0`: remove every binding of the AOR. */
  removeAll(aor: string): void {
    const bindings = this.aors.get(aor);
    if (!bindings) return;
    const now = this.clock.nowNs();
    for (const b of [...bindings.values()]) this.remove(aor, bindings, b, b.expiresAtNs > now ? "unregistered" : "expired");
  }

  /** Remove expired bindings now; returns how many went. */
  sweep(): number {
    const now = this.clock.nowNs();
    let removed = 0;
    for (const [aor, bindings] of this.aors) {
      for (const b of bindings.values()) {
        if (b.expiresAtNs <= now) {
          this.remove(aor, bindings, b, "expired");
          removed++;
        }
      }
    }
    return removed;
  }

  /** Stop the sweep timer and forget everything. */
  clear(): void {
    this.sweepTimer?.cancel();
    this.sweepTimer = null;
    this.aors.clear();
    this.known.clear();
    this.contactCount = 0;
  }

  private remove(aor: string, bindings: Map<string, ContactBinding>, binding: ContactBinding, change: BindingChange): void {
    bindings.delete(binding.key);
    this.contactCount--;
    if (bindings.size === 0) this.aors.delete(aor);
    this.listener?.(aor, binding, change);
  }

  /** The sweep timer runs only while there are bindings, so an idle server holds no timers. */
  private ensureSweep(): void {
    if (this.sweepTimer !== null || this.contactCount === 0) return;
    this.sweepTimer = this.clock.after(this.sweepIntervalMs, () => {
      this.sweepTimer = null;
      this.sweep();
      this.ensureSweep();
    });
  }
}
