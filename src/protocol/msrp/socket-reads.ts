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
 * got them returns; a later read (of any socket of the thread, or, in a relay read buffer, of
 * the same socket) may overwrite them. So:
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
 * Relaying sockets (the PF passing a large message on chunk by chunk) skip that copy: while the
 * bytes of a socket's reads are being written on to another socket (`relaying`, set by its
 * connection), its next reads go into a buffer lent to it alone (a RelayReadBuffer) instead of the
 * thread's. Writes of those bytes hold the buffer (`retainRelayRead`) until Node has sent them; a
 * buffer still held when its socket reads again is set aside and the socket reads into another
 * (Node asks for the next read's buffer after every read), so nothing written is ever overwritten.
 * The bytes are still borrowed for everyone else (the framer, body collectors): the buffer is
 * reused once its writes have left. Memory: about two buffers per relaying socket (the reads of one
 * turn, the writes of the last), capped per thread (RELAY_READ_BYTES_MAX); past the cap, and for
 * every socket that is not relaying, reads go into the thread's buffer and relayed bytes are copied.
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

/**
 * True when `bytes` are a view of a read buffer: the thread's, or a relay read buffer (both valid
 * only until the next read).
 */
export function isBorrowed(bytes: Uint8Array): boolean {
  return (threadReadBuffer !== undefined && bytes.buffer === threadReadBuffer.buffer) || (relayBuffers.size > 0 && relayBuffers.has(bytes.buffer));
}

/** `bytes` if they are not borrowed, else a copy that is the caller's to keep. */
export function ownBytes(bytes: Buffer): Buffer {
  return isBorrowed(bytes) ? Buffer.from(bytes) : bytes;
}

/** Most bytes of relay read buffers a thread lends out at once (past it, relayed bytes are copied). */
export const RELAY_READ_BYTES_MAX = 64 * 1024 * 1024;
let relayReadBytesMax = RELAY_READ_BYTES_MAX;

/** Sets the thread's cap on relay read buffers (tests); returns the previous one. */
export function limitRelayReadBytes(bytes: number): number {
  const previous = relayReadBytesMax;
  relayReadBytesMax = bytes;
  return previous;
}
/** Empty relay read buffers kept for reuse. */
const FREE_RELAY_BUFFERS_KEPT = 8;

/** A read buffer lent to one relaying socket; see the module comment. */
class RelayReadBuffer {
  readonly bytes = Buffer.allocUnsafeSlow(READ_BUFFER_BYTES);
  /** Writes of its bytes not yet sent. */
  refs = 0;
  /** Some socket's next read goes here: not reusable even with no writes pending. */
  lent = false;
  /** The write callback of every write that retains it. */
  readonly release = (): void => {
    // Never below 0: a callback run twice must not put the buffer on the free list twice.
    if (this.refs === 0) return;
    if (--this.refs === 0 && !this.lent) recycleRelayBuffer(this);
  };
}

/** Every relay read buffer of the thread, by backing store (to tell their bytes apart). */
const relayBuffers = new Map<ArrayBufferLike, RelayReadBuffer>();
const freeRelayBuffers: RelayReadBuffer[] = [];

function takeRelayBuffer(): RelayReadBuffer | undefined {
  const inUse = relayBuffers.size - freeRelayBuffers.length;
  if ((inUse + 1) * READ_BUFFER_BYTES > relayReadBytesMax) return undefined;
  let b = freeRelayBuffers.pop();
  if (b === undefined) {
    b = new RelayReadBuffer();
    relayBuffers.set(b.bytes.buffer, b);
  }
  b.lent = true;
  return b;
}

function recycleRelayBuffer(b: RelayReadBuffer): void {
  if (freeRelayBuffers.length < FREE_RELAY_BUFFERS_KEPT) freeRelayBuffers.push(b);
  else relayBuffers.delete(b.bytes.buffer);
}

/**
 * For bytes read into a relay read buffer: holds the buffer until a write of them has left and
 * returns the callback to give that write. Undefined for any other bytes.
 */
export function retainRelayRead(bytes: Uint8Array): (() => void) | undefined {
  if (relayBuffers.size === 0) return undefined;
  const b = relayBuffers.get(bytes.buffer);
  if (b === undefined) return undefined;
  b.refs++;
  return b.release;
}

/** Relay read buffers lent or held by writes, and free (for tests and statistics). */
export function relayReadBufferCounts(): { inUse: number; free: number } {
  return { inUse: relayBuffers.size - freeRelayBuffers.length, free: freeRelayBuffers.length };
}

/** Where a socket's reads go; the connection sets `handler` once it exists. */
export class BorrowedReads {
  handler: ((bytes: Buffer) => void) | undefined;
  /**
   * Set by the connection while handling a read whose bytes it passes on to another socket:
   * the socket's next read then goes into a relay read buffer. Cleared before every read.
   */
  relaying = false;
  /** The relay read buffer this socket's next read goes into, if any. */
  private lent: RelayReadBuffer | undefined;

  /** The `onread` option for net.connect / new Socket. */
  readonly onread = {
    // Node asks for the buffer of the next read once at the start and again after every read.
    buffer: (): Buffer => this.nextReadBuffer(),
    callback: (n: number, buf: Uint8Array): boolean => {
      this.relaying = false;
      this.handler?.((buf as Buffer).subarray(0, n));
      // Pausing is the connection's own business (holdReading), not a return value here.
      return true;
    },
  };

  /** The socket is gone: its relay read buffer goes back once its writes have left. Safe twice. */
  close(): void {
    this.giveBack();
  }

  private nextReadBuffer(): Buffer {
    if (!this.relaying) {
      this.giveBack();
      return readBuffer();
    }
    const lent = this.lent;
    // Nothing of the last read is still to be written: read into the same buffer again.
    if (lent !== undefined && lent.refs === 0) return lent.bytes;
    this.giveBack();
    const next = takeRelayBuffer();
    if (next === undefined) return readBuffer();
    this.lent = next;
    return next.bytes;
  }

  private giveBack(): void {
    const lent = this.lent;
    if (lent === undefined) return;
    this.lent = undefined;
    lent.lent = false;
    if (lent.refs === 0) recycleRelayBuffer(lent);
  }
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
