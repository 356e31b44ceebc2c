/**
 * Errors a user can cause (bad YAML, wrong flags, port in use, unreachable target, auth failure).
 * The message is one sentence that names the problem and the fix; cli/ prints it without a stack
 * trace and exits with `exitCode`.
 */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = ExitCode.usage,
  ) {
    super(message);
    this.name = "UserError";
  }
}

export const ExitCode = {
  ok: 0,
  /** The run itself failed (target unreachable, every client failed, crash). */
  runFailed: 1,
  /** Bad flags, bad scenario file, bad users file. */
  usage: 2,
  /** The run completed but a threshold failed (k6 uses 99 as well). */
  thresholdsFailed: 99,
  /** Stopped by SIGINT. */
  interrupted: 130,
} as const;
