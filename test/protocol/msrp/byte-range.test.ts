import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  formatByteRange,
  formatStatusHeader,
  parseByteRange,
  parseStatusHeader,
} from "../../../src/protocol/msrp/index.js";

describe("Byte-Range", () => {
  it("parses numeric ranges, unknown ends and totals, and the empty message", () => {
    expect(parseByteRange("1-25/25")).toEqual({ start: 1, end: 25, total: 25 });
    expect(parseByteRange("1-*/*")).toEqual({ start: 1, end: "*", total: "*" });
    expect(parseByteRange("65537-131072/*")).toEqual({ start: 65537, end: 131072, total: "*" });
    expect(parseByteRange("41-*/100")).toEqual({ start: 41, end: "*", total: 100 });
    expect(parseByteRange("1-0/0")).toEqual({ start: 1, end: 0, total: 0 });
  });

  it("rejects impossible or malformed ranges", () => {
    for (const bad of ["0-5/5", "5-3/10", "1-11/10", "1-2", "a-b/c", "1-2/3/4", "-1-2/3", "1 -2/3", "99999999999999999-1/*", "12-*/10"]) {
      expect(parseByteRange(bad), bad).toBeNull();
    }
  });

  it("round-trips (property)", () => {
    const arb = fc
      .tuple(fc.integer({ min: 1, max: 1e12 }), fc.integer({ min: -1, max: 1e6 }), fc.integer({ min: 0, max: 1e6 }))
      .chain(([start, len, extra]) =>
        fc.record({
          start: fc.constant(start),
          end: fc.constantFrom<number | "*">(start + len, "*"),
          total: fc.constantFrom<number | "*">(start + Math.max(len, 0) + extra, "*"),
        }),
      );
    fc.assert(
      fc.property(arb, (r) => {
        expect(parseByteRange(formatByteRange(r))).toEqual(r);
      }),
    );
  });
});

/** The original definition, kept as the reference the digit-by-digit reader must agree with. */
function referenceByteRange(value: string) {
  const m = /^\s*(\d{1,16})-(\d{1,16}|\*)\/(\d{1,16}|\*)\s*$/.exec(value);
  if (!m) return null;
  const start = Number(m[1]);
  const end = m[2] === "*" ? "*" : Number(m[2]);
  const total = m[3] === "*" ? "*" : Number(m[3]);
  // The same rules as one predicate, written independently of the module's checks.
  const startOk = Number.isSafeInteger(start) && start >= 1;
  const endOk = end === "*" || (Number.isSafeInteger(end) && end >= start - 1 && (total === "*" || end <= total));
  const totalOk = total === "*" || (Number.isSafeInteger(total) && (end !== "*" || start <= total + 1));
  return startOk && endOk && totalOk ? { start, end, total } : null;
}

describe("Byte-Range reader against the regex definition", () => {
  it("agrees on every string of digits, dashes, slashes, stars and spaces (property)", () => {
    const piece = fc.oneof(
      fc.constantFrom("-", "/", "*", " ", "\t", "0", "1", "9", "a"),
      fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }).map(String),
      fc.constantFrom("9007199254740991", "9007199254740992", "9999999999999999", "10000000000000000", "00000000000000001"),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 8 }), (parts) => {
        const value = parts.join("");
        expect(parseByteRange(value)).toEqual(referenceByteRange(value));
      }),
      { numRuns: 20_000 },
    );
  });

  it("agrees on well-formed ranges around the limits", () => {
    for (const value of ["1-9007199254740991/9007199254740991", "1-9007199254740992/*", "9007199254740991-9007199254740990/*", "1-1/1", "2-1/1", "3-1/1", "1-0/0", "0001-0002/0003", "0000000000000001-1/1", "00000000000000001-1/1", "1-00000000000000001/5", "1-1/00000000000000005", "1-2/3 ", " 1-2/3"]) {
      expect(parseByteRange(value), value).toEqual(referenceByteRange(value));
    }
  });
});

describe("Status header", () => {
  it("parses and formats the namespace, code and reason", () => {
    expect(parseStatusHeader("000 200 OK")).toEqual({ namespace: 0, code: 200, reason: "OK" });
    expect(parseStatusHeader("000 413 Message Too Large")).toEqual({ namespace: 0, code: 413, reason: "Message Too Large" });
    expect(parseStatusHeader("000 408")).toEqual({ namespace: 0, code: 408 });
    expect(formatStatusHeader({ namespace: 0, code: 200, reason: "OK" })).toBe("000 200 OK");
    expect(formatStatusHeader({ namespace: 0, code: 481 })).toBe("000 481");
  });

  it("rejects what is not a Status value", () => {
    for (const bad of ["200 OK", "000200", "0 200", "abc 200", ""]) expect(parseStatusHeader(bad), bad).toBeNull();
  });
});
