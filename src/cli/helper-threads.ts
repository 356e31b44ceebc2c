/**
 * Background helper threads step aside for the threads that time requests.
 *
 * A Node process starts with helper threads of its own before any of ours exist: V8's platform
 * workers (concurrent and parallel GC, optimizing compiles) and, once used, libuv's thread pool
 * (file I/O). On a small machine they take whole cores for milliseconds at a time — measured with
 * `perf sched` on this 2-core VM during a 500 REGISTER/s run, platform workers ran 2–2.5 ms slices
 * while the client worker, the server thread or a precise-timer helper waited to be scheduled, and
 * those waits are what put the slowest 1 % of `register` 3 ms above an injected 20 ms delay. None
 * of their work is due at an instant (a GC helper that starts later makes marking finish later; V8
 * does what is left on the owning thread), so they run at the lowest priority (nice 19): they get
 * every idle cycle and never hold a core that an event loop is ready to use. Measured over 3 runs
 * each, 20 ms injected at 500/s: steady p99 23.1–23.6 ms before, 22.0–22.4 ms after (nice 10:
 * 22.7–23.0). Threads made later are not touched: worker threads and their timer helpers inherit
 * the normal priority of the main thread that creates them.
 *
 * Linux only (a thread's nice value is per thread there); anywhere else, or off the main thread
 * (a library caller's threads are not ours to change), it does nothing.
 */
import { readdirSync } from "node:fs";
import { setPriority } from "node:os";
import { isMainThread } from "node:worker_threads";

export const HELPER_THREAD_NICE = 19;

let done = false;

/**
 * Lowers every thread of this process but the main one to nice 19; returns how many it changed.
 * Once per process: a second call would find worker threads made since the first (and lower them).
 */
export function lowerHelperThreadPriority(): number {
  if (process.platform !== "linux" || !isMainThread || done) return 0;
  done = true;
  let tasks: string[];
  try {
    tasks = readdirSync("/proc/self/task");
  } catch {
    return 0;
  }
  // A /proc from another PID namespace would name other processes' threads: touch nothing then.
  if (!tasks.includes(String(process.pid))) return 0;
  let lowered = 0;
  for (const task of tasks) {
    const tid = Number(task);
    if (!Number.isInteger(tid) || tid === process.pid) continue;
    try {
      setPriority(tid, HELPER_THREAD_NICE);
      lowered++;
    } catch {
      // The thread ended meanwhile, or a security policy forbids it: nothing to do about either.
    }
  }
  return lowered;
}
