import { describe, expect, it } from "vitest";
import {
  isValidTransactionId,
  isVouchedFor,
  LONG_TID_BODY_BYTES,
  LONG_TID_LENGTH,
  pickTransactionId,
  randomTransactionId,
  transactionIdOccursIn,
  vouchForBytes,
} from "../../../src/protocol/msrp/index.js";

describe("transaction ids", () => {
  it("are valid MSRP idents of 16 characters by default, 8 to 32 on request", () => {
    expect(randomTransactionId()).toHaveLength(16);
    expect(randomTransactionId(4)).toHaveLength(8);
    expect(randomTransactionId(64)).toHaveLength(32);
    for (let i = 0; i < 1000; i++) expect(isValidTransactionId(randomTransactionId())).toBe(true);
  });

  it("do not repeat across many draws", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 20_000; i++) seen.add(randomTransactionId());
    expect(seen.size).toBe(20_000);
  });

  it("are validated against the ident grammar", () => {
    expect(isValidTransactionId("a786hjs2")).toBe(true);
    expect(isValidTransactionId("a.-+%=")).toBe(true);
    expect(isValidTransactionId("abc")).toBe(false);
    expect(isValidTransactionId(".abc")).toBe(false);
    expect(isValidTransactionId("abc_d")).toBe(false);
    expect(isValidTransactionId("a".repeat(33))).toBe(false);
  });

  it("are picked so that their end-line does not occur in the body", () => {
    const body = Buffer.from("text\r\n-------COLLIDE1$\r\nmore -------COLLIDE2 end");
    expect(transactionIdOccursIn("COLLIDE1", body)).toBe(true);
    expect(transactionIdOccursIn("COLLIDE2", body)).toBe(true);
    expect(transactionIdOccursIn("COLLIDE3", body)).toBe(false);
    const candidates = ["COLLIDE1", "COLLIDE2", "COLLIDE3"];
    expect(pickTransactionId(body, () => candidates.shift()!)).toBe("COLLIDE3");
  });

  it("still end with a fresh random id when a candidate source keeps colliding", () => {
    const body = Buffer.from("-------STUCK000");
    const tid = pickTransactionId(body, () => "STUCK000");
    expect(tid).not.toBe("STUCK000");
    expect(isValidTransactionId(tid)).toBe(true);
  });

  it("are not looked for again in memory vouched for, and still in everything around it", () => {
    // A store whose middle holds no run of seven hyphens, between two end-lines of COLLIDE1.
    const store = Buffer.from(`-------COLLIDE1 ${"text with - and -- and ------ in it ".repeat(20)} -------COLLIDE1`, "latin1");
    const middle = store.subarray(16, store.length - 16);
    expect(middle.indexOf("-------")).toBe(-1);
    expect(vouchForBytes(middle)).toBe(true);
    expect(isVouchedFor(middle.subarray(5, 300))).toBe(true);
    expect(isVouchedFor(store.subarray(0, 200))).toBe(false);
    // Inside the vouched range: no scan, no end-line (there is none).
    expect(transactionIdOccursIn("COLLIDE1", middle.subarray(5, 300))).toBe(false);
    // Vouching is for that memory, not for those bytes: a copy of them is not vouched for.
    expect(isVouchedFor(Buffer.from(middle.subarray(5, 300)))).toBe(false);
    // A view reaching past the vouched range is scanned, and the end-line on either side is found.
    expect(transactionIdOccursIn("COLLIDE1", store.subarray(0, 200))).toBe(true);
    expect(transactionIdOccursIn("COLLIDE1", store.subarray(20))).toBe(true);
  });

  it("are still looked for in memory that holds a run of seven hyphens: it cannot be vouched for", () => {
    const store = Buffer.from("some text -------COLLIDE2 more text", "latin1");
    expect(vouchForBytes(store)).toBe(false);
    expect(transactionIdOccursIn("COLLIDE2", store)).toBe(true);
    expect(pickTransactionId(store, () => "COLLIDE2")).not.toBe("COLLIDE2");
  });

  it("are as long as RFC 4975 allows for large bodies (cheaper end-line scans at every hop), 16 characters otherwise", () => {
    expect(LONG_TID_LENGTH).toBe(32);
    expect(pickTransactionId(Buffer.alloc(LONG_TID_BODY_BYTES - 1))).toHaveLength(16);
    const long = pickTransactionId(Buffer.alloc(LONG_TID_BODY_BYTES));
    expect(long).toHaveLength(32);
    expect(isValidTransactionId(long)).toBe(true);
  });
});
