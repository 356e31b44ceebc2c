/**
 * `run` and `serve` lower the process's own helper threads (V8's platform workers, libuv's pool)
 * to nice 19 before any worker thread exists. Checked in a fresh Node process (the test runner's
 * own threads are not ours to change) against the kernel's per-thread nice values.
 */
import { spawn, spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { existsSync } from "node:fs";
import { getPriority } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../../", import.meta.url));
const moduleUrl = new URL("../../dist/cli/helper-threads.js", import.meta.url).href;

const probe = `
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { Worker } from "node:worker_threads";
const { lowerHelperThreadPriority } = await import(${JSON.stringify(moduleUrl)});
const niceOf = (tid) => Number(readFileSync("/proc/self/task/" + tid + "/stat", "utf8").split(") ")[1].split(" ")[16]);
const before = readdirSync("/proc/self/task").map(Number);
const lowered = lowerHelperThreadPriority();
const again = lowerHelperThreadPriority();
const helpers = before.filter((t) => t !== process.pid).map((tid) => ({ tid, nice: niceOf(tid) }));
// The probe runs as a module (--input-type=module), and so does this eval'd worker. The worker
// waits (its port listened to) until it is terminated: a worker that ended on its own could be
// gone from /proc before its nice value is read.
const worker = new Worker(
  "import { parentPort } from 'node:worker_threads';" +
  "import { readlinkSync } from 'node:fs';" +
  "const m = await import(" + JSON.stringify(${JSON.stringify(moduleUrl)}) + ");" +
  "parentPort.on('message', () => {});" +
  "parentPort.postMessage({ tid: Number(readlinkSync('/proc/thread-self').split('/').pop()), loweredInWorker: m.lowerHelperThreadPriority() });",
  { eval: true },
);
const fromWorker = await new Promise((resolve) => worker.once("message", resolve));
const workerNice = niceOf(fromWorker.tid);
await worker.terminate();
console.log(JSON.stringify({ lowered, again, mainNice: niceOf(process.pid), helpers, workerNice, loweredInWorker: fromWorker.loweredInWorker }));
`;

describe.runIf(process.platform === "linux")("helper thread priority", () => {
  it("lowers every pre-existing thread but the main one to nice 19, once; worker threads made later keep the main thread's priority", () => {
    expect(existsSync(join(root, "dist", "cli", "helper-threads.js")), "run `npm run build` first (npm test does)").toBe(true);
    const child = spawnSync(process.execPath, ["--input-type=module", "-e", probe], { cwd: root, encoding: "utf8", timeout: 20_000 });
    expect(child.status, child.stderr).toBe(0);
    const r = JSON.parse(child.stdout.trim()) as {
      lowered: number;
      again: number;
      mainNice: number;
      helpers: Array<{ tid: number; nice: number }>;
      workerNice: number;
      loweredInWorker: number;
    };
    // V8 starts its platform workers before any script runs.
    expect(r.helpers.length).toBeGreaterThanOrEqual(1);
    expect(r.lowered).toBe(r.helpers.length);
    expect(r.helpers.every((h) => h.nice === 19)).toBe(true);
    // The main thread keeps the priority it was started with (the test runner's own, e.g. under `nice`).
    const started = getPriority();
    expect(r.mainNice).toBe(started);
    // A worker thread inherits the main thread's priority, and does not change anyone from there;
    // a second call in the same process changes nothing (it would find worker threads by then).
    expect(r.workerNice).toBe(started);
    expect(r.loweredInWorker).toBe(0);
    expect(r.again).toBe(0);
  });
});

describe.runIf(process.platform === "linux")("cpm-load serve and helper thread priority", () => {
  /** Starts `serve`, waits for its listening line, reads every thread's nice value, stops it. */
  async function serveNices(env: Record<string, string>): Promise<{ main: number; others: number[] }> {
    const child = spawn(process.execPath, [join(root, "bin", "cpm-load.js"), "serve", "--port", "0", "--transport", "tcp"], {
      cwd: root,
      env: { ...process.env, ...env },
    });
    try {
      await new Promise<void>((resolve, reject) => {
        let out = "";
        child.stdout.on("data", (d: Buffer) => {
          out += d.toString();
          if (out.includes("listening on")) resolve();
        });
        child.once("exit", (code) => reject(new Error(`serve exited ${code}`)));
      });
      // A thread can end between listing and reading (undefined then: left out).
      const niceOf = (tid: string): number | undefined => {
        try {
          return Number(readFileSync(`/proc/${child.pid}/task/${tid}/stat`, "utf8").split(") ")[1]!.split(" ")[16]);
        } catch {
          return undefined;
        }
      };
      const tids = readdirSync(`/proc/${child.pid}/task`);
      const others = tids.filter((t) => t !== String(child.pid)).map(niceOf).filter((n): n is number => n !== undefined);
      return { main: niceOf(String(child.pid))!, others };
    } finally {
      child.kill("SIGINT");
      await new Promise((r) => child.once("close", r));
    }
  }

  it("serve lowers its helper threads; CPM_LOAD_KEEP_HELPER_PRIORITY=1 leaves them as they are", async () => {
    const started = getPriority();
    const lowered = await serveNices({});
    expect(lowered.main).toBe(started);
    // V8's helpers at 19; a thread started later by the server (its precise-timer helper) keeps the main thread's.
    expect(lowered.others.filter((n) => n === 19).length).toBeGreaterThanOrEqual(1);
    const kept = await serveNices({ CPM_LOAD_KEEP_HELPER_PRIORITY: "1" });
    expect(kept.main).toBe(started);
    expect(kept.others.every((n) => n === started)).toBe(true);
  });
});
