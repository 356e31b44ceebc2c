/**
 * The cpm-load command line: `run <scenario>`, `serve`, `validate <scenario>`. The only module
 * that reads argv and the environment, prints, and sets the exit code (README "Commands").
 */
import yargs, { type Argv } from "yargs";
import { toolVersion } from "../config/resolve.js";
import { RUN_OPTIONS } from "../config/run-options.js";
import { reportError, usageSentence, UsageError } from "./errors.js";
import { SERVE_OPTIONS, serveCommand, type ServeArgs } from "./serve-command.js";
import { runCommand, type RunArgs } from "./run-command.js";
import { validateCommand, type ValidateArgs } from "./validate-command.js";

const COMMANDS = ["run", "serve", "validate"] as const;

const EPILOGUE =
  "Exit codes: 0 ok, 1 run failed (target unreachable, crash), 2 bad input (flags, scenario, users file, port in use), " +
  "99 a threshold failed, 130 interrupted. Every flag of `run` can also be set as CPM_LOAD_<FLAG> (e.g. CPM_LOAD_WORKERS=2); flags win.";

export async function main(argv: string[]): Promise<void> {
  const debug = process.env.CPM_LOAD_DEBUG === "1";
  ignoreClosedPipes();
  try {
    await buildParser(argv).parseAsync();
  } catch (error) {
    process.exitCode = reportError(error, { stderr: (t) => process.stderr.write(t), debug });
  }
}

/**
 * `cpm-load validate x.yaml | head` closes our stdout early: that is the reader's choice, not an
 * error worth a stack trace. A `run` keeps going (its results are files) and simply stops printing.
 */
function ignoreClosedPipes(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code !== "EPIPE") throw error;
    });
  }
}

function flagsOf(command: string | undefined): string[] {
  const common = ["help", "version"];
  if (command === "run") return [...RUN_OPTIONS.map((o) => o.flag), "no-live", ...common];
  if (command === "serve") return [...Object.keys(SERVE_OPTIONS), ...common];
  if (command === "validate") return ["json", ...common];
  return common;
}

function buildParser(argv: string[]): Argv {
  return yargs(argv)
    .scriptName("cpm-load")
    .usage("$0 <command> [options]\n\nLoad tester and simulator for OMA CPM (SIP + MSRP).")
    .command(
      "run <scenario>",
      "Run a scenario: virtual clients against the embedded server (default) or --target, live line each second, results in <out>/<run-id>/.",
      (y) => {
        y.positional("scenario", { type: "string", describe: "Scenario YAML file, e.g. scenarios/register.yaml" });
        for (const option of RUN_OPTIONS) {
          y.option(option.flag, {
            type: option.type,
            describe: `${option.description} [env ${option.env}]`,
            ...(option.type === "string" ? { requiresArg: true } : {}),
          });
        }
        return y.example("$0 run scenarios/register.yaml", "200 clients against the embedded server").example(
          "$0 run scenarios/register.yaml --target 127.0.0.1:5060 --transport udp --users users.csv",
          "against an external registrar on this machine",
        );
      },
      (args) => runCommand(args as unknown as RunArgs),
    )
    .command(
      "serve",
      "Run the embedded CPM server (registrar) in the foreground until Ctrl-C.",
      (y) => {
        for (const [name, option] of Object.entries(SERVE_OPTIONS)) y.option(name, option);
        return y.example("$0 serve --port 5060 --auth 'template:{user}-secret'", "digest auth with derived passwords");
      },
      (args) => serveCommand(args as unknown as ServeArgs),
    )
    .command(
      "validate <scenario>",
      "Check a scenario file and print what it will do (every problem with file:line:col).",
      (y) =>
        y
          .positional("scenario", { type: "string", describe: "Scenario YAML file" })
          .option("json", { type: "boolean", describe: "Print the compiled plan as JSON" }),
      (args) => validateCommand(args as unknown as ValidateArgs),
    )
    .demandCommand(1, "Not enough non-option arguments: no command")
    .strict()
    .parserConfiguration({ "duplicate-arguments-array": false })
    .exitProcess(false)
    .version(toolVersion())
    .alias("v", "version")
    .help()
    .alias("h", "help")
    .epilogue(EPILOGUE)
    .wrap(Math.min(110, process.stdout.columns || 100))
    .fail((message, error) => {
      // Errors thrown by a command handler arrive here too: let main() report them as they are.
      // yargs' own validation errors (YError, e.g. a flag missing its value) are usage problems too.
      if (error && error.name !== "YError") throw error;
      throw new UsageError(usageSentence(message ?? error?.message ?? "invalid arguments", { argv, commands: COMMANDS, flagsOf }));
    });
}
