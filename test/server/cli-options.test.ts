import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { UserError } from "../../src/errors.js";
import { buildServerOptionsFromFlags } from "../../src/server/cli-options.js";

function usersFile(text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), "cpm-users-")), "users.csv");
  writeFileSync(path, text);
  return path;
}

function errorOf(fn: () => unknown): UserError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(UserError);
    return err as UserError;
  }
  throw new Error("expected a UserError");
}

describe("buildServerOptionsFromFlags", () => {
  it("maps every flag", () => {
    const path = usersFile("alice;pw\n");
    expect(
      buildServerOptionsFromFlags({ host: "127.0.0.2", port: "5070", auth: path, authAlgorithm: "sha-256,MD5", delay: "uniform(10ms,30ms)", domain: "cpm.test" }),
    ).toEqual({
      host: "127.0.0.2",
      port: 5070,
      domain: "cpm.test",
      delay: { kind: "uniform", minMs: 10, maxMs: 30 },
      auth: { users: [{ user: "alice", password: "pw" }], algorithms: ["SHA-256", "MD5"] },
    });
  });

  it("reads a SIPp injection file: SEQUENTIAL header, comments and extra fields", () => {
    const path = usersFile("SEQUENTIAL\n# test users\nalice;a-secret\n\r\nbob;b;extra\n");
    expect(buildServerOptionsFromFlags({ auth: path }).auth).toEqual({
      users: [
        { user: "alice", password: "a-secret" },
        { user: "bob", password: "b" },
      ],
    });
  });

  it("a bad users file line is named with file and line", () => {
    const path = usersFile("SEQUENTIAL\nalice;x\nbob\n");
    expect(errorOf(() => buildServerOptionsFromFlags({ auth: path })).message).toBe(
      `--auth users file ${path}:3: 'bob' is not 'user;password': write one user and its password per line, separated by ';'.`,
    );
  });

  it("template auth, fixed delay and no flags at all", () => {
    expect(buildServerOptionsFromFlags({ auth: "template:{user}-secret", delay: "20ms", port: 0 })).toEqual({
      port: 0,
      delay: { kind: "fixed", ms: 20 },
      auth: { passwordTemplate: "{user}-secret" },
    });
    expect(buildServerOptionsFromFlags({})).toEqual({});
    expect(buildServerOptionsFromFlags({ msrpPort: "2855" })).toEqual({ msrpPort: 2855 });
  });

  it("rejects bad values with one sentence naming the flag", () => {
    expect(errorOf(() => buildServerOptionsFromFlags({ port: "50x" })).message).toBe("--port 50x is not a port: give a number from 0 (any free port) to 65535.");
    expect(errorOf(() => buildServerOptionsFromFlags({ port: 70000 })).message).toMatch(/^--port 70000 is not a port/);
    expect(errorOf(() => buildServerOptionsFromFlags({ msrpPort: "x" })).message).toMatch(/^--msrp-port x is not a port/);
    expect(errorOf(() => buildServerOptionsFromFlags({ delay: "soon" })).message).toMatch(/^--delay "soon" is not a delay: use a duration/);
    expect(errorOf(() => buildServerOptionsFromFlags({ auth: "template:" })).message).toMatch(/^--auth template: is empty/);
    expect(errorOf(() => buildServerOptionsFromFlags({ auth: "/nonexistent/users.csv" })).message).toBe(
      '--auth users file /nonexistent/users.csv does not exist: give a file of "user;password" lines or template:<password-template>.',
    );
    expect(errorOf(() => buildServerOptionsFromFlags({ auth: "template:x", authAlgorithm: "SHA-512" })).message).toBe(
      '--auth-algorithm "SHA-512" is not supported: use MD5, SHA-256 or both (SHA-256,MD5).',
    );
    expect(errorOf(() => buildServerOptionsFromFlags({ authAlgorithm: "MD5" })).message).toMatch(/^--auth-algorithm needs --auth/);
    expect(errorOf(() => buildServerOptionsFromFlags({ host: " " })).message).toMatch(/^--host is empty/);
    expect(errorOf(() => buildServerOptionsFromFlags({ domain: "bad domain" })).message).toMatch(/^--domain "bad domain" is not a host name/);
  });
});
