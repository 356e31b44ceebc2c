/**
 * How MSRP sockets are read: into one large buffer per thread, reused for every read (Node's
 * `onread` option), instead of Node's default of a fresh 64 KiB Buffer per read.
 *
 * Why: large messages are most of MSRP's bytes, and a relay (the PF) moves each of them twice.
 * Measured on the 2-core machine, 200 MB over loopback (test/bench/msrp-throughput.mjs, and a TCP
 * relay with nothing but reads and writes): one hop moved ~1,700 MB/s with default reads and
 * ~2,600 MB/s reading into a reused 1 MiB buffer; a two-hop relay in a worker thread ~900 MB/s
 * against ~1,800. Two things make the difference: no allocation (and no garbage) per read, and
 * reads of up to 1 MiB instead of 64 KiB, so a relay wakes and writes once per MiB, not per 64 KiB.
 *
 * The price is a rule: bytes read this way are *borrowed*. They are valid until the callback that
 * got them returns; the next read (of any socket of the thread) overwrites them. So:
 * - the framer is told its input is reused (it copies the few bytes it keeps between reads);
 * - whoever keeps bytes past the callback copies them (`ownBytes`), e.g. a body collected from
 *   several reads;
 * - bytes written on to another socket are copied into that connection's slab (`CopySlabs`)
 *   first, because Node keeps a reference to what it could not write at once (and a corked
 *   socket writes nothing until uncorked). Slabs are reused once every write from them has left,
 *   so the copy is a memcpy into warm memory, not an allocation; one connection's slabs hold only
 *   its own bytes, so a peer that stops reading pins no more than what was written to it.
 * `isBorrowed` tells borrowed bytes apart by their backing store, so the rule is checked where
 * bytes are kept or written, not by convention.
 *
 * Accepted sockets: Node takes `onread` only when a Socket is constructed, and a server builds
 * its sockets itself; `adoptAcceptedSocket` moves the accepted handle (the server pauses it on
 * connect) into a new Socket that has `onread`. Where that is not possible, the socket is read
 * the default way and everything still works (bytes from 'data' events are never borrowed).
 */
import { Socket } from "node:net";

/** Size of the thread's read buffer: the most one read can return. */
export const READ_BUFFER_BYTES = 1024 * 1024;
/** Size of a copy slab: copies larger than this span several (a connection's copies fill its slab in turn). */
export const SLAB_BYTES = 256 * 1024;
/** Empty slabs kept for reuse; more are left to the garbage collector. */
const FREE_SLABS_KEPT = 8;

let threadReadBuffer: Buffer | undefined;

function readBuffer(): Buffer {
  threadReadBuffer ??= Buffer.allocUnsafeSlow(READ_BUFFER_BYTES);
  return threadReadBuffer;
}

/** True when `bytes` are a view of this thread's read buffer (valid only until the next read). */
export function isBorrowed(bytes: Uint8Array): boolean {
  return threadReadBuffer !== undefined && bytes.buffer === threadReadBuffer.buffer;
}

/** `bytes` if they are not borrowed, else a copy that is the caller's to keep. */
export function ownBytes(bytes: Buffer): Buffer {
  return isBorrowed(bytes) ? Buffer.from(bytes) : bytes;
}

/** Where a socket's reads go; the connection sets `handler` once it exists. */
export class BorrowedReads {
  handler: ((bytes: Buffer) => void) | undefined;
  /** The `onread` option for net.connect / new Socket. */
  readonly onread = {
    buffer: readBuffer,
    callback: (n: number, buf: Uint8Array): boolean => {
      this.handler?.((buf as Buffer).subarray(0, n));
      // Pausing is the connection's own business (holdReading), not a return value here.
      return true;
    },
  };
}

interface Slab {
  readonly bytes: Buffer;
  used: number;
  /** Copies not yet written out. */
  refs: number;
  /** False once no more copies go into it (it is reused when its refs reach 0). */
  current: boolean;
}

/** Empty slabs, shared by the thread's connections (empty ones pin nothing of anybody's). */
const freeSlabs: Slab[] = [];

function recycle(slab: Slab): void {
  if (freeSlabs.length < FREE_SLABS_KEPT) {
    slab.used = 0;
    freeSlabs.push(slab);
  }
}

function releaseFrom(slab: Slab): () => void {
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--slab.refs === 0 && !slab.current) recycle(slab);
  };
}

/** One piece of a copy: the bytes to write and the callback to pass to that write. */
export interface SlabCopy {
  bytes: Buffer;
  release: () => void;
}

/**
 * Copies of borrowed bytes for writing, for ONE connection: its own current slab, so a peer that
 * stops reading pins only the bytes written to it (plus one slab), never slabs full of other
 * connections' bytes. Slabs come from, and return to, a free list shared by the thread.
 */
export class CopySlabs {
  private current: Slab | undefined;

  /**
   * Copies of `bytes`, in order, one per slab they span (a read of 1 MiB spans a few): write each
   * with its `release` as the write callback; the slab is reused once all its writes have left.
   */
  copy(bytes: Buffer): SlabCopy[] {
    const out: SlabCopy[] = [];
    let offset = 0;
    while (offset < bytes.length) {
      let slab = this.current;
      if (slab === undefined || slab.used === SLAB_BYTES) {
        if (slab !== undefined) this.retire(slab);
        slab = freeSlabs.pop() ?? { bytes: Buffer.allocUnsafeSlow(SLAB_BYTES), used: 0, refs: 0, current: true };
        slab.current = true;
        this.current = slab;
      }
      const start = slab.used;
      const n = Math.min(bytes.length - offset, SLAB_BYTES - start);
      bytes.copy(slab.bytes, start, offset, offset + n);
      slab.used = start + n;
      slab.refs++;
      offset += n;
      out.push({ bytes: slab.bytes.subarray(start, start + n), release: releaseFrom(slab) });
    }
    return out;
  }

  /** The connection is gone: its slab goes back once its last write has left. Safe twice. */
  close(): void {
    const slab = this.current;
    this.current = undefined;
    if (slab !== undefined) this.retire(slab);
  }

  private retire(slab: Slab): void {
    slab.current = false;
    if (slab.refs === 0) recycle(slab);
  }
}

/** Socket fields this module relies on (Node's own, not in its typings). */
interface AcceptedSocketInternals {
  _handle?: { readStart?: unknown } | null;
  _server?: unknown;
  server?: unknown;
}

/**
 * A socket accepted by a server made with `pauseOnConnect: true`, re-made around the same handle
 * with `onread`; the server's connection count moves to the new socket. Undefined when Node's
 * internals are not as expected: the caller then resumes and reads `socket` the default way.
 */
export function adoptAcceptedSocket(socket: Socket, reads: BorrowedReads): Socket | undefined {
  const old = socket as unknown as AcceptedSocketInternals;
  const handle = old._handle;
  if (!handle || typeof handle.readStart !== "function" || socket.destroyed) return undefined;
  const server = old._server;
  old._handle = null;
  old._server = null;
  old.server = null;
  const adopted = new Socket({ handle, onread: reads.onread, readable: true, writable: true } as unknown as ConstructorParameters<typeof Socket>[0]);
  const a = adopted as unknown as AcceptedSocketInternals;
  a._server = server;
  a.server = server;
  return adopted;
}
