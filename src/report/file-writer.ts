/**
 * Appends text to one results file without blocking the coordinator: writes are queued in order
 * and `close()` waits for them. The directory is created on first use (mkdir -p), so a file
 * that never received data still exists once closed.
 */
import { mkdir, open, type FileHandle } from "node:fs/promises";
import { dirname } from "node:path";

export class FileWriter {
  private chain: Promise<void> = Promise.resolve();
  private handle: FileHandle | null = null;
  private error: unknown = null;
  private closed = false;

  constructor(readonly path: string) {}

  write(text: string): void {
    if (this.closed || text.length === 0) return;
    this.enqueue(async () => {
      const h = await this.ensureOpen();
      await h.write(text);
    });
  }

  /** Waits for queued writes, closes the file and rejects with the first write error, if any. */
  async close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.enqueue(async () => {
        const h = await this.ensureOpen();
        this.handle = null;
        await h.close();
      });
    }
    await this.chain;
    if (this.error) throw this.error;
  }

  private enqueue(task: () => Promise<void>): void {
    this.chain = this.chain.then(async () => {
      if (this.error) return;
      try {
        await task();
      } catch (err) {
        // Keep the first error; later writes are skipped rather than producing a torn file.
        this.error = err;
        await this.handle?.close().catch(() => {});
        this.handle = null;
      }
    });
  }

  private async ensureOpen(): Promise<FileHandle> {
    if (!this.handle) {
      await mkdir(dirname(this.path), { recursive: true });
      this.handle = await open(this.path, "w");
    }
    return this.handle;
  }
}
