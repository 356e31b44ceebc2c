/**
 * Request retransmission over UDP (RFC 3261 17.1.1.2 Timer A, 17.1.2.2 Timer E), which SIP.js
 * 0.21 leaves out ("Timer E for unreliable transports not implemented": it was written for
 * WebSocket). Without it one lost datagram is a lost transaction. The transport layer does it here,
 * keyed by the branch of each request it sends, and stops on the first response (INVITE) or final
 * response (others; a provisional one slows the interval to T2), or after 64*T1 when the
 * transaction times out anyway.
 */
import { Timers } from "sip.js/lib/core/timers.js";
import type { Clock, TimerHandle } from "../time/clock.js";

interface Pending {
  data: string;
  invite: boolean;
  intervalMs: number;
  deadlineNs: number;
  timer: TimerHandle;
}

/** Method and top-Via branch of an outgoing request as SIP.js writes it; undefined for responses. */
export function requestKey(data: string): { method: string; branch: string } | undefined {
  if (data.startsWith("SIP/2.0 ")) return undefined;
  const sp = data.indexOf(" ");
  if (sp <= 0) return undefined;
  const i = data.indexOf(";branch=");
  if (i < 0) return undefined;
  let j = i + 8;
  while (j < data.length) {
    const c = data.charCodeAt(j);
    if (c === 0x3b || c === 0x0d || c === 0x2c || c === 0x20 || c === 0x0a) break;
    j++;
  }
  return { method: data.slice(0, sp), branch: data.slice(i + 8, j) };
}

/** CANCEL shares its INVITE's branch: keep the two transactions apart. */
export const transactionKey = (branch: string, method: string): string => (method === "CANCEL" ? `${branch}|CANCEL` : branch);

export class UdpRetransmitter {
  private readonly pending = new Map<string, Pending>();
  private closed = false;

  constructor(
    private readonly clock: Clock,
    private readonly resend: (data: string) => void,
  ) {}

  /** Called for every request sent (ACK has no response and is not retransmitted here). */
  track(method: string, branch: string, data: string): void {
    if (this.closed || method === "ACK") return;
    const key = transactionKey(branch, method);
    this.pending.get(key)?.timer.cancel();
    const entry: Pending = {
      data,
      invite: method === "INVITE",
      intervalMs: Timers.T1,
      deadlineNs: this.clock.nowNs() + 64 * Timers.T1 * 1e6,
      timer: { cancel() {} },
    };
    this.pending.set(key, entry);
    this.arm(key, entry);
  }

  private arm(key: string, entry: Pending): void {
    entry.timer = this.clock.after(entry.intervalMs, () => {
      if (this.pending.get(key) !== entry) return;
      if (this.clock.nowNs() >= entry.deadlineNs) {
        this.pending.delete(key);
        return;
      }
      this.resend(entry.data);
      // INVITE: Timer A doubles without bound; non-INVITE: Timer E doubles up to T2.
      entry.intervalMs = entry.invite ? entry.intervalMs * 2 : Math.min(entry.intervalMs * 2, Timers.T2);
      this.arm(key, entry);
    });
  }

  /** A response for the request sent with this branch and CSeq method arrived. */
  onResponse(branch: string, method: string, status: number): void {
    const key = transactionKey(branch, method);
    const entry = this.pending.get(key);
    if (entry === undefined) return;
    if (entry.invite || status >= 200) {
      entry.timer.cancel();
      this.pending.delete(key);
    } else if (entry.intervalMs < Timers.T2) {
      // RFC 3261 17.1.2.2: in Proceeding, retransmit every T2.
      entry.intervalMs = Timers.T2;
    }
  }

  /** Stop retransmitting one request (its transaction was abandoned). */
  cancel(branch: string, method: string): void {
    const key = transactionKey(branch, method);
    this.pending.get(key)?.timer.cancel();
    this.pending.delete(key);
  }

  get size(): number {
    return this.pending.size;
  }

  close(): void {
    this.closed = true;
    for (const entry of this.pending.values()) entry.timer.cancel();
    this.pending.clear();
  }
}
