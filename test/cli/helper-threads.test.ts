/**
 * `run` and `serve` lower the process's own helper threads (V8's platform workers, libuv's pool)
 * to nice 19 before any worker thread exists. Checked in a fresh Node process (the test runner's
 * own threads are not ours to change) against the kernel's per-thread nice values.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
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
const helpers = before.filter((t) => t !== process.pid).map((tid) => ({ tid, nice: niceOf(tid) }));
// The probe runs as a module (--input-type=module), and so does this eval'd worker.
const worker = new Worker(
  "import { parentPort } from 'node:worker_threads';" +
  "import { readlinkSync } from 'node:fs';" +
  "const m = await import(" + JSON.stringify(${JSON.stringify(moduleUrl)}) + ");" +
  "parentPort.postMessage({ tid: Number(readlinkSync('/proc/thread-self').split('/').pop()), loweredInWorker: m.lowerHelperThreadPriority() });",
  { eval: true },
);
const fromWorker = await new Promise((resolve) => worker.once("message", resolve));
const workerNice = niceOf(fromWorker.tid);
await worker.terminate();
console.log(JSON.stringify({ lowered, mainNice: niceOf(process.pid), helpers, workerNice, loweredInWorker: fromWorker.loweredInWorker }));
`;

describe.runIf(process.platform === "linux")("helper thread priority", () => {
  it("lowers every pre-existing thread but the main one to nice 19, and worker threads made later keep nice 0", () => {
    expect(existsSync(join(root, "dist", "cli", "helper-threads.js")), "run `npm run build` first (npm test does)").toBe(true);
    const child = spawnSync(process.execPath, ["--input-type=module", "-e", probe], { cwd: root, encoding: "utf8", timeout: 20_000 });
    expect(child.status, child.stderr).toBe(0);
    const r = JSON.parse(child.stdout.trim()) as {
      lowered: number;
      mainNice: number;
      helpers: Array<{ tid: number; nice: number }>;
      workerNice: number;
      loweredInWorker: number;
    };
    // V8 starts its platform workers before any script runs.
    expect(r.helpers.length).toBeGreaterThanOrEqual(1);
    expect(r.lowered).toBe(r.helpers.length);
    expect(r.helpers.every((h) => h.nice === 19)).toBe(true);
    expect(r.mainNice).toBe(0);
    // A worker thread inherits the main thread's priority, and does not change anyone from there.
    expect(r.workerNice).toBe(0);
    expect(r.loweredInWorker).toBe(0);
  });
});
