import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  createBindSend,
  HopResponseSerializer,
  createMsrpResponse,
  createReport,
  getFailureReport,
  getSuccessReport,
  type MsrpRequest,
  parseMsrpMessage,
  responseRequired,
  serializeMsrp,
} from "../../../src/protocol/msrp/index.js";
import { fixture } from "./fixtures.js";

const ALICE = "msrp://127.0.0.1:40312/jshA7weztas;tcp";
const BOB = "msrp://127.0.0.1:2855/kjhd37s2s20w2a;tcp";
const RELAY_A = "msrps://relayA.example.com:2855/rA1;tcp";
const RELAY_B = "msrps://relayB.example.com:2855/rB1;tcp";

function send(headers: Array<[string, string]>): MsrpRequest {
  return { kind: "request", tid: "tid12345", method: "SEND", headers, body: Buffer.from("x"), flag: "$" };
}

describe("responses and reports", () => {
  it("answers the previous hop: To-Path is the first From-Path URI, From-Path is us", () => {
    // As Bob receives it behind two relays: each relay prepended itself to From-Path.
    const req = send([
      ["To-Path", BOB],
      ["From-Path", `${RELAY_B} ${RELAY_A} ${ALICE}`],
      ["Message-ID", "m1"],
    ]);
    const r = createMsrpResponse(req, 200);
    expect(r).toEqual({
      kind: "response",
      tid: "tid12345",
      status: 200,
      comment: "OK",
      headers: [
        ["To-Path", RELAY_B],
        ["From-Path", BOB],
      ],
    });
    expect(createMsrpResponse(req, 481).comment).toBe("Session Does Not Exist");
    expect(createMsrpResponse(req, 413, "too big", { fromPath: "msrp://me:1/x;tcp" })).toMatchObject({
      comment: "too big",
      headers: [
        ["To-Path", RELAY_B],
        ["From-Path", "msrp://me:1/x;tcp"],
      ],
    });
    expect(createMsrpResponse(req, 299).comment).toBeUndefined();
  });

  it("produces the 200 of the fixture for the fixture SEND", () => {
    const parsed = parseMsrpMessage(fixture("send-cpim.msrp"));
    if (!parsed.ok || parsed.message.kind !== "request") throw new Error("fixture did not parse");
    expect(serializeMsrp(createMsrpResponse(parsed.message, 200)).equals(fixture("response-200.msrp"))).toBe(true);
  });

  it("sends a REPORT back along the whole From-Path with Message-ID, range and status", () => {
    const req = send([
      ["To-Path", `${RELAY_A} ${BOB}`],
      ["From-Path", ALICE],
      ["Message-ID", "87652491"],
      ["Success-Report", "yes"],
    ]);
    const report = createReport(req, 200, { start: 1, end: 318, total: 318 }, { tid: "dkei38sd" });
    expect(report.headers).toEqual([
      ["To-Path", ALICE],
      ["From-Path", BOB],
      ["Message-ID", "87652491"],
      ["Byte-Range", "1-318/318"],
      ["Status", "000 200 OK"],
    ]);
    expect(report.method).toBe("REPORT");
    const direct = send([
      ["To-Path", BOB],
      ["From-Path", ALICE],
      ["Message-ID", "87652491"],
    ]);
    const wire = serializeMsrp(createReport(direct, 200, { start: 1, end: 318, total: 318 }, { tid: "dkei38sd" }));
    expect(wire.equals(fixture("report-success.msrp"))).toBe(true);
  });

  it("builds the binding SEND of the fixture", () => {
    const bind = createBindSend({ toPath: BOB, fromPath: [ALICE], messageId: "bind-4z7T", tid: "Ukmdq7Kx" });
    expect(serializeMsrp(bind).equals(fixture("bind-send.msrp"))).toBe(true);
  });

  it("knows when no response is due", () => {
    const plain = send([]);
    expect(responseRequired(plain, 200)).toBe(true);
    expect(responseRequired({ ...plain, method: "REPORT" }, 200)).toBe(false);
    expect(responseRequired(send([["Failure-Report", "no"]]), 400)).toBe(false);
    expect(responseRequired(send([["Failure-Report", "partial"]]), 200)).toBe(false);
    expect(responseRequired(send([["Failure-Report", "partial"]]), 413)).toBe(true);
    expect(getFailureReport(plain)).toBe("yes");
    expect(getSuccessReport(plain)).toBe(false);
    expect(getSuccessReport(send([["success-report", "YES"]]))).toBe(true);
  });
});

describe("hop-by-hop responses from a template (HopResponseSerializer)", () => {
  it("gives exactly serializeMsrp(createMsrpResponse(...)) for any run of requests, statuses, comments and paths (property)", () => {
    const fromPaths = fc.constantFrom(ALICE, `${RELAY_B} ${RELAY_A} ${ALICE}`, RELAY_A, "", "msrp://h\u00e9:1/x;tcp", undefined);
    const tids = fc.constantFrom("tid12345", "T".repeat(32), "a.b-c+d%e=f", "t\u00e9d1");
    const statuses = fc.constantFrom(200, 200, 200, 400, 413, 481, 506, 999);
    const comments = fc.constantFrom(undefined, undefined, "OK", "too big", "d\u00e9j\u00e0 vu", "");
    const selves = fc.constantFrom(BOB, RELAY_A, "msrp://b\u00f6b:2/y;tcp");
    const answer = fc.record({ tid: tids, from: fromPaths, status: statuses, comment: comments, self: selves });
    fc.assert(
      fc.property(fc.array(answer, { minLength: 1, maxLength: 20 }), (answers) => {
        const serializer = new HopResponseSerializer();
        for (const a of answers) {
          const headers: Array<[string, string]> = [["To-Path", BOB]];
          if (a.from !== undefined) headers.push(["From-Path", a.from]);
          const request = { tid: a.tid, headers };
          const expected = serializeMsrp(createMsrpResponse(request, a.status, a.comment, { fromPath: a.self }));
          expect(serializer.serialize(request, a.status, a.comment, a.self).toString("latin1")).toBe(expected.toString("latin1"));
        }
      }),
      { numRuns: 300 },
    );
  });
});
