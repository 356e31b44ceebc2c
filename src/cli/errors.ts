/**
 * How the CLI reports failure: one line "cpm-load: <sentence>" on stderr and an exit code.
 * UserError → its message and exit code (no stack trace); a flag/argument problem found by yargs
 * → one sentence and exit 2; anything else is a bug → "internal error … (please report it)",
 * exit 1, with the stack only when CPM_LOAD_DEBUG=1.
 */
import { ExitCode, UserError } from "../errors.js";
import { suggest } from "../scenario/did-you-mean.js";

/** A yargs parse failure, already turned into a sentence. */
export class UsageError extends UserError {
  constructor(message: string) {
    super(message, ExitCode.usage);
    this.name = "UsageError";
  }
}

export interface ErrorSink {
  stderr: (text: string) => void;
  debug: boolean;
}

/** Print the error; returns the exit code to set. */
export function reportError(error: unknown, sink: ErrorSink): number {
  if (error instanceof UserError) {
    sink.stderr(`cpm-load: ${error.message}\n`);
    if (sink.debug && error.stack) sink.stderr(`${error.stack}\n`);
    return error.exitCode;
  }
  const message = error instanceof Error ? error.message : String(error);
  sink.stderr(`cpm-load: internal error: ${message} (please report it; set CPM_LOAD_DEBUG=1 for details)\n`);
  if (sink.debug && error instanceof Error && error.stack) sink.stderr(`${error.stack}\n`);
  return ExitCode.runFailed;
}

export interface UsageContext {
  /** The raw arguments, to tell flags from stray positional arguments. */
  argv: readonly string[];
  /** Known commands and, for the command in use, its flags. */
  commands: readonly string[];
  flagsOf: (command: string | undefined) => readonly string[];
}

/** Turn a yargs failure message into one sentence naming the problem and the fix. */
export function usageSentence(message: string, ctx: UsageContext): string {
  const command = ctx.argv.find((a) => ctx.commands.includes(a));
  const helpHint = `run \`cpm-load${command ? ` ${command}` : ""} --help\` for the usage`;
  const text = message.trim();

  const unknown = /^Unknown arguments?: (.+)$/s.exec(text);
  if (unknown) {
    const names = unknown[1]!.split(/,\s*/).map((n) => n.trim());
    const first = names[0]!;
    const asFlag = ctx.argv.some((a) => a === `--${first}` || a.startsWith(`--${first}=`) || a === `-${first}` || a.startsWith(`-${first}=`));
    if (asFlag) {
      const near = suggest(first, ctx.flagsOf(command));
      const dashes = first.length === 1 ? "-" : "--";
      return `Unknown flag ${dashes}${first}${command ? ` for \`cpm-load ${command}\`` : ""}: ${near ? `did you mean --${near}? Or ` : ""}${helpHint}.`;
    }
    if (!command) {
      const near = suggest(first, ctx.commands);
      return `Unknown command '${first}': ${near ? `did you mean '${near}'? The commands are` : "use one of"} ${ctx.commands.join(", ")} (\`cpm-load --help\`).`;
    }
    return `Unexpected argument '${first}' for \`cpm-load ${command}\`: remove it, or quote it if it is part of a value (${helpHint}).`;
  }
  if (/^Not enough non-option arguments/.test(text)) {
    if (command === "run" || command === "validate") {
      return `\`cpm-load ${command}\` needs a scenario file: e.g. cpm-load ${command} scenarios/register.yaml.`;
    }
    return `No command given: use one of ${ctx.commands.join(", ")} (\`cpm-load --help\`).`;
  }
  const missingValue = /^Not enough arguments following: (.+)$/.exec(text);
  if (missingValue) return `The flag --${missingValue[1]} needs a value: ${helpHint}.`;
  const invalid = /^Invalid values?:\s*Argument: ([^,]+), Given: (.+?), Choices: (.+)$/s.exec(text);
  if (invalid) return `--${invalid[1]} ${invalid[2]} is not valid: use one of ${invalid[3]!.trim()}.`;
  const missing = /^Missing required arguments?: (.+)$/.exec(text);
  if (missing) return `Missing ${missing[1]!.split(/,\s*/).map((n) => `--${n}`).join(", ")}: ${helpHint}.`;
  return `${text.split("\n")[0]}: ${helpHint}.`;
}
