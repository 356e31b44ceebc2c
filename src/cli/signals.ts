/**
 * Ctrl-C / SIGTERM handling shared by `run` and `serve`: the first signal asks for a clean stop
 * (results flushed, sockets closed); a second one exits at once, for when the clean stop hangs.
 */
import { ExitCode } from "../errors.js";

export interface StopSignals {
  /** Aborted on the first SIGINT/SIGTERM. */
  signal: AbortSignal;
  /** Resolves on the first SIGINT/SIGTERM. */
  stopped: Promise<NodeJS.Signals>;
  dispose(): void;
}

export function onStopSignals(onFirst: (signal: NodeJS.Signals) => void): StopSignals {
  const controller = new AbortController();
  let resolveStopped!: (s: NodeJS.Signals) => void;
  const stopped = new Promise<NodeJS.Signals>((resolve) => (resolveStopped = resolve));
  const handler = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      process.stderr.write("cpm-load: stopping now (second signal), without waiting for a clean shutdown\n");
      process.exit(ExitCode.interrupted);
    }
    onFirst(signal);
    controller.abort();
    resolveStopped(signal);
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
  return {
    signal: controller.signal,
    stopped,
    dispose() {
      process.off("SIGINT", handler);
      process.off("SIGTERM", handler);
    },
  };
}

/**
 * After a command has finished, the process should end by itself. If some handle (a socket, a
 * worker) still keeps it alive, exit anyway after `ms`: a stuck process after Ctrl-C is worse
 * than a missed cleanup. The timer is unref'd, so it never delays a clean exit.
 */
export function exitSoon(ms: number, debug: boolean): void {
  setTimeout(() => {
    if (debug) process.stderr.write(`cpm-load: debug: still running ${ms} ms after the command finished; exiting\n`);
    process.exit();
  }, ms).unref();
}
