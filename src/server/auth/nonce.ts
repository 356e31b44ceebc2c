/**
 * Stateless digest nonces: `<issue time, hex ms>.<HMAC-SHA256(secret, time:realm), base64url, 128 bits>`.
 * The server needs no nonce table (memory stays flat at 10,000s of registrations/s) and can still
 * tell a nonce it issued (HMAC matches) from a forged one, and an old one (answer stale=true, so the
 * client retries with the new nonce without asking its user for a password again, RFC 7616 §3.3).
 *
 * Being stateless, it cannot detect a replayed nonce-count; this server exists for load tests, not
 * to defend a network, and says so here rather than pretend.
 */
import { createHmac, randomBytes } from "node:crypto";
import type { Clock } from "../../time/clock.js";

export type NonceCheck = "valid" | "stale" | "invalid";

export class NonceService {
  private readonly secret: Buffer;

  constructor(
    private readonly clock: Clock,
    private readonly realm: string,
    private readonly lifetimeMs: number,
    secret?: Buffer,
  ) {
    this.secret = secret ?? randomBytes(32);
  }

  issue(): string {
    const time = Math.floor(this.clock.nowMs()).toString(16);
    return `${time}.${this.mac(time)}`;
  }

  check(nonce: string): NonceCheck {
    const dot = nonce.indexOf(".");
    if (dot <= 0 || dot > 13) return "invalid";
    const time = nonce.slice(0, dot);
    if (!/^[0-9a-f]+$/.test(time) || nonce.slice(dot + 1) !== this.mac(time)) return "invalid";
    const ageMs = this.clock.nowMs() - Number.parseInt(time, 16);
    // A nonce from the future was not issued by this clock: treat as forged, not as fresh.
    if (ageMs < -1000) return "invalid";
    return ageMs > this.lifetimeMs ? "stale" : "valid";
  }

  private mac(time: string): string {
    return createHmac("sha256", this.secret).update(`${time}:${this.realm}`).digest("base64url").slice(0, 22);
  }
}
