#!/usr/bin/env node
/**
 * Runs one benchmark function in a process of its own, for run-all.mjs: each figure is then taken
 * in a fresh Node process (no heap, threads or JIT state left by the benchmarks before it), as
 * when its script is run alone; the anchors of a figure still run beside it in that same process.
 *
 * Child side: `node isolated.mjs <module path> <export name> <options JSON>` prints the function's
 * result as one `BENCH_RESULT <json>` line on stdout. Parent side: runIsolated(...) below.
 */
import { spawn } from "node:child_process";
import { fileURLToPath, pathToFileURL } from "node:url";

const MARKER = "BENCH_RESULT ";

/** Runs `exportName(options)` of the module at `moduleUrl` in a child process; resolves with its result. */
export function runIsolated(moduleUrl, exportName, options = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), fileURLToPath(moduleUrl), exportName, JSON.stringify(options)], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (text) => {
      out += text;
    });
    child.on("error", reject);
    child.on("close", (code) => {
      const line = out.split("\n").reverse().find((l) => l.startsWith(MARKER));
      // Anything else the benchmark printed goes to stderr, beside its progress lines.
      const rest = out.split("\n").filter((l) => l.length > 0 && !l.startsWith(MARKER));
      if (rest.length > 0) process.stderr.write(`${rest.join("\n")}\n`);
      if (code !== 0 || line === undefined) {
        reject(new Error(`${exportName} (${fileURLToPath(moduleUrl)}) exited with code ${code} and no result`));
        return;
      }
      resolve(JSON.parse(line.slice(MARKER.length)));
    });
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [modulePath, exportName, optionsJson] = process.argv.slice(2);
  const mod = await import(pathToFileURL(modulePath).href);
  const result = await mod[exportName](JSON.parse(optionsJson ?? "{}"));
  process.stdout.write(`${MARKER}${JSON.stringify(result)}\n`);
  // Benchmarks may leave unref'd helpers or sockets closing: the result is out, end the process.
  process.exit(0);
}
