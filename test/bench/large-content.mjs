/**
 * What the large-message benchmarks send, and the same bytes for their raw TCP anchors.
 *
 * - `clientLargeMessage`: exactly what a virtual client's `largeMessage` step sends (CPIM head,
 *   then payload bytes from the seeded 1 MiB pattern, src/client/message-stamp.ts): the same
 *   `cpimHead` and `patternStream` the client uses, cut into pieces of the chunk size as the
 *   client does. This is the tool's own large-message path.
 * - `randomBytesMessage`: one Buffer of random bytes (what a compressed file or an image looks
 *   like), in main memory rather than the CPU's cache: the sender scans every chunk of it for its
 *   end-line (RFC 4975 §7.1) the slow way, as it must for content it did not make.
 *
 * Each has `totalBytes`, `source(chunkSize)` (what to give MsrpSession.send, with totalBytes) and
 * `pieces(pieceBytes)` (the same bytes for a plain socket).
 */
import { randomFillSync } from "node:crypto";

const MB = 1e6;

/** `mb` MB of payload behind the CPIM head a client writes (sizes as in the scenario's `size`). */
export async function clientLargeMessage(mb, distDir) {
  const stamp = await import(new URL("client/message-stamp.js", distDir).href);
  const size = Math.round(mb * MB);
  const head = stamp.cpimHead(
    {
      from: "sip:alice@bench.test",
      to: "sip:bob@bench.test",
      messageId: "benchLargeMessage01",
      dateMs: Date.now(),
      stamp: { sentAtNs: 1 },
      contentType: "application/octet-stream",
    },
    size,
  );
  // Any offset: the client draws one per message from its seeded PRNG.
  const offset = 123_457;
  return {
    name: "the client's large-message content (CPIM head + payload pattern)",
    totalBytes: head.length + size,
    source: (chunkSize) => stamp.patternStream(head, size, offset, chunkSize),
    pieces: (pieceBytes) => stamp.patternStream(head, size, offset, pieceBytes),
  };
}

/** One Buffer of `mb` MB of random bytes. */
export function randomBytesMessage(mb) {
  const body = randomFillSync(Buffer.allocUnsafe(Math.round(mb * MB)));
  return {
    name: "random bytes in one Buffer",
    totalBytes: body.length,
    body,
    source: () => body,
    *pieces(pieceBytes) {
      for (let off = 0; off < body.length; off += pieceBytes) yield body.subarray(off, off + pieceBytes);
    },
  };
}
