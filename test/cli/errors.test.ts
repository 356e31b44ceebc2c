import { describe, expect, it } from "vitest";
import { reportError, usageSentence, UsageError } from "../../src/cli/errors.js";
import { UserError } from "../../src/errors.js";

function report(error: unknown, debug = false): { code: number; text: string } {
  let text = "";
  const code = reportError(error, { stderr: (t) => (text += t), debug });
  return { code, text };
}

describe("reportError", () => {
  it("a UserError: its message and exit code, no stack", () => {
    expect(report(new UserError("Port 5060 on 127.0.0.1 is already in use: pass --port 0.", 2))).toEqual({
      code: 2,
      text: "cpm-load: Port 5060 on 127.0.0.1 is already in use: pass --port 0.\n",
    });
    expect(report(new UsageError("Unknown flag --x.")).code).toBe(2);
  });

  it("anything else is an internal error, exit 1, stack only with debug", () => {
    const plain = report(new TypeError("x is undefined"));
    expect(plain.code).toBe(1);
    expect(plain.text).toBe("cpm-load: internal error: x is undefined (please report it; set CPM_LOAD_DEBUG=1 for details)\n");
    const debug = report(new TypeError("x is undefined"), true);
    expect(debug.text).toMatch(/\n\s+at /);
  });
});

describe("usageSentence", () => {
  const ctx = (argv: string[]) => ({ argv, commands: ["run", "serve", "validate"], flagsOf: () => ["clients", "rate", "workers"] });

  it("stray positional arguments are not called flags", () => {
    expect(usageSentence("Unknown argument: extra", ctx(["validate", "a.yaml", "extra"]))).toBe(
      "Unexpected argument 'extra' for `cpm-load validate`: remove it, or quote it if it is part of a value (run `cpm-load validate --help` for the usage).",
    );
  });

  it("choices and other messages become one sentence", () => {
    expect(usageSentence('Invalid values:\n  Argument: transport, Given: "x", Choices: "tcp", "udp"', ctx(["run", "a"]))).toBe(
      '--transport "x" is not valid: use one of "tcp", "udp".',
    );
    expect(usageSentence("Something odd\nmore", ctx(["run", "a"]))).toBe("Something odd: run `cpm-load run --help` for the usage.");
  });
});
