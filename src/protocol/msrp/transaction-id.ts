/**
 * Transaction ids. RFC 4975 §7.1 asks for at least 64 bits of randomness, and the framing only
 * works if the end-line `-------<tid>` does not occur inside the body (§6 / §7.1), so the sender
 * picks a tid against each chunk body.
 */
import { randomFillSync } from "node:crypto";

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/** 16 base-62 characters ≈ 95 bits. */
const DEFAULT_LENGTH = 16;
/**
 * The longest tid RFC 4975 allows (ident: 4 to 32 characters), for chunks with a body large enough
 * that scanning it is what costs: every hop scans the body for `CRLF -------<tid>`, and on bytes
 * that often hold the needle's first byte (binary content: one byte in 256) Node's search goes
 * over to Boyer-Moore-Horspool, which skips up to the needle's length at a time. A 41-byte needle
 * instead of 25 scans 64 KiB of random bytes in ~5.8 µs instead of ~9.6 (this VM).
 */
export const LONG_TID_LENGTH = 32;
/** Bodies from this size on get LONG_TID_LENGTH tids. */
export const LONG_TID_BODY_BYTES = 4096;

// One syscall per 4 KiB of randomness instead of one per tid: tids are made per chunk.
const pool = Buffer.alloc(4096);
let poolPos = pool.length;

function randomByte(): number {
  if (poolPos >= pool.length) {
    randomFillSync(pool);
    poolPos = 0;
  }
  return pool[poolPos++]!;
}

const CODES = Buffer.from(ALPHABET, "latin1");
/** Scratch space for one tid's characters (tids are made one at a time, synchronously). */
const scratch = Buffer.alloc(32);

/** A random tid of `length` (8-32) base-62 characters. */
export function randomTransactionId(length = DEFAULT_LENGTH): string {
  const n = Math.min(32, Math.max(8, Math.floor(length)));
  let i = 0;
  while (i < n) {
    const b = randomByte();
    // 248 = 4 × 62: rejecting the top bytes keeps every character equally likely.
    if (b < 248) scratch[i++] = CODES[b % 62]!;
  }
  return scratch.toString("latin1", 0, n);
}

const SEVEN_HYPHENS = Buffer.from("-------", "latin1");

/** Memory known to hold no run of seven hyphens (see vouchForBytes). */
interface VouchedRange {
  readonly store: ArrayBufferLike;
  readonly start: number;
  readonly end: number;
}
const vouched: VouchedRange[] = [];
/** A thread vouches for its few payload sources, not for data: more means misuse. */
const MAX_VOUCHED = 8;

/**
 * Scans `bytes` once and, when no run of seven hyphens occurs in them, remembers them: no
 * end-line (`-------<tid>` + flag) can then occur in any part of them, whatever the tid, so
 * `transactionIdOccursIn` answers for a view inside them without scanning it again. For memory
 * that is never written afterwards, such as a load generator's payload pattern, whose views are
 * sent chunk after chunk: scanning every chunk of a 50 MB message for its tid would read every
 * byte again each time (on text-like bytes Node's search for a needle that begins with a frequent
 * byte runs at ~4 GB/s, a quarter of a core at loopback speeds). Returns whether it vouched.
 */
export function vouchForBytes(bytes: Buffer): boolean {
  if (bytes.indexOf(SEVEN_HYPHENS) >= 0 || vouched.length >= MAX_VOUCHED) return false;
  vouched.push({ store: bytes.buffer, start: bytes.byteOffset, end: bytes.byteOffset + bytes.length });
  return true;
}

/** True when `body` lies inside memory vouched for (its end-line check is skipped). */
export function isVouchedFor(body: Buffer): boolean {
  for (let i = 0; i < vouched.length; i++) {
    const v = vouched[i]!;
    if (v.store === body.buffer && body.byteOffset >= v.start && body.byteOffset + body.length <= v.end) return true;
  }
  return false;
}

/** A random tid of LONG_TID_LENGTH characters (for large bodies: see LONG_TID_LENGTH). */
export function randomLongTransactionId(): string {
  return randomTransactionId(LONG_TID_LENGTH);
}

/** True when `-------<tid>` occurs in `body`, i.e. the body could fake an end-line for this tid. */
export function transactionIdOccursIn(tid: string, body: Buffer): boolean {
  if (body.length < 7 + tid.length || isVouchedFor(body)) return false;
  // Searched as a latin1 string: no Buffer is made per check (tids are made per chunk).
  return body.indexOf(`-------${tid}`, 0, "latin1") >= 0;
}

/**
 * A random tid whose end-line does not occur in `body`: of LONG_TID_LENGTH characters for a body of
 * LONG_TID_BODY_BYTES or more, else 16. `next` supplies candidates (tests inject a sequence); after
 * 64 collisions (which random ids never produce) candidates are random 32-character ids, for which
 * a collision is impossible in practice.
 */
export function pickTransactionId(body: Buffer, next?: () => string): string {
  next ??= body.length >= LONG_TID_BODY_BYTES ? randomLongTransactionId : randomTransactionId;
  let tid = next();
  for (let i = 0; i < 64 && transactionIdOccursIn(tid, body); i++) tid = next();
  for (let i = 0; i < 64 && transactionIdOccursIn(tid, body); i++) tid = randomLongTransactionId();
  return tid;
}
