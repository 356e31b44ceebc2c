/**
 * config.json (the resolved RunConfig with the tool version, written at start so even a crashed
 * run can be reproduced) and summary.json (the RunSummary, at stop).
 */
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { RunConfig } from "../config/run-config.js";
import type { MergedPeriod } from "../metrics/aggregator.js";
import type { Output, RunInfo, RunSummary } from "./types.js";

export const CONFIG_FILE = "config.json";
export const SUMMARY_FILE = "summary.json";

export class JsonOutput implements Output {
  private configWrite: Promise<void> | null = null;

  constructor(private readonly config: RunConfig) {}

  start(_info: RunInfo): void {
    this.configWrite ??= this.writeConfig();
    // Surfaced by stop(); an unhandled rejection here would kill the coordinator.
    this.configWrite.catch(() => {});
  }

  period(_p: MergedPeriod): void {}

  async stop(summary: RunSummary): Promise<void> {
    this.configWrite ??= this.writeConfig();
    await this.configWrite;
    await writeJson(join(this.config.outDir, SUMMARY_FILE), summary);
  }

  private async writeConfig(): Promise<void> {
    // toolVersion first so a reader sees at once which build produced the run.
    const { toolVersion, ...rest } = this.config;
    await writeJson(join(this.config.outDir, CONFIG_FILE), { toolVersion, ...rest });
  }
}

async function writeJson(path: string, value: unknown): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${JSON.stringify(value, null, 2)}\n`);
}
