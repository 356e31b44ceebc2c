import { describe, expect, it } from "vitest";
import { NonceService } from "../../src/server/auth/nonce.js";
import { FakeClock } from "../../src/time/clock.js";

describe("stateless nonces", () => {
  it("a fresh nonce is valid, an old one stale, a tampered or foreign one invalid", () => {
    const clock = new FakeClock();
    const nonces = new NonceService(clock, "cpm.test", 60_000);
    const nonce = nonces.issue();
    expect(nonce).toMatch(/^[0-9a-f]+\.[A-Za-z0-9_-]{22}$/);
    expect(nonces.check(nonce)).toBe("valid");
    clock.advanceMs(60_001);
    expect(nonces.check(nonce)).toBe("stale");
    expect(nonces.check(nonces.issue())).toBe("valid");
    const [time, mac] = nonce.split(".");
    const later = (Number.parseInt(time!, 16) + 1).toString(16);
    expect(nonces.check(`${later}.${mac}`)).toBe("invalid");
    expect(nonces.check("abc")).toBe("invalid");
    expect(nonces.check("")).toBe("invalid");
    expect(new NonceService(clock, "cpm.test", 60_000).check(nonce)).toBe("invalid");
    expect(new NonceService(clock, "other.realm", 60_000).check(nonce)).toBe("invalid");
  });

  it("a nonce that claims to come from the future is not accepted", () => {
    const clock = new FakeClock();
    const secret = Buffer.alloc(32, 7);
    const future = new NonceService(new FakeClock(clock.nowMs() + 3_600_000), "r", 60_000, secret).issue();
    expect(new NonceService(clock, "r", 60_000, secret).check(future)).toBe("invalid");
  });
});
