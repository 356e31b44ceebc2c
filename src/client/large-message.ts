/**
 * Large message mode (§7.3.2): an INVITE with the largemsg ICSI and an MSRP offer saying
 * `a=sendonly` and `a=max-size`, exactly one CPIM message over MSRP in chunks, then BYE.
 *
 * The message is never built in memory: its CPIM headers are followed by views of the seeded
 * payload pattern (message-stamp.ts `patternStream`), which the MSRP chunker cuts into
 * `chunkSize` chunks paced by the socket's backpressure. It asks for a success REPORT, so the
 * message counts as delivered only when the receiving client confirmed the whole range.
 *
 * With `failureReport: partial` no chunk is answered 200 (only errors are, at any hop): the success
 * REPORT alone confirms the message, which is how bulk senders spare every hop a transaction per
 * chunk.
 *
 * Metric `large_message`: INVITE sent → message answered (last chunk 200 and the REPORT) and BYE
 * sent; from the step's intended start (corrected) and from the INVITE (service). The message
 * also records msrp_send, and the receiver records message_delivery for it.
 * Counters: large_message.attempts, .successes, .failures.<why> (session reasons as in
 * cpm-session.ts, or `msrp` when the message itself failed: msrp_send.failures says how).
 */
import type { UserAgent } from "sip.js/lib/api/user-agent.js";
import { Counter, Latency } from "../metrics/names.js";
import type { LargeMessageStepPlan } from "../scenario/plan.js";
import { originate, type SessionHost } from "./cpm-session.js";
import type { IterationContext } from "./iteration-context.js";
import { drawSize, payloadOffset } from "./message-stamp.js";

/** Room for the CPIM headers in `a=max-size` (they are ~300 bytes). */
const HEAD_ALLOWANCE = 1024;

export async function runLargeMessage(
  host: SessionHost,
  ua: UserAgent | undefined,
  step: LargeMessageStepPlan,
  intendedNs: number,
  ctx: IterationContext,
): Promise<boolean> {
  const { metrics, clock } = host;
  const fail = (why: string): false => {
    // A session abandoned at the end of the run (dispose) is not a failure.
    if (why === "aborted" && host.stopping) return false;
    metrics.count(`${Counter.largeMessageFailures}.${why === "aborted" ? "transport" : why}`);
    return false;
  };
  metrics.count(Counter.largeMessageAttempts);
  const target = ctx.peerUri(step.to);
  if (target === null) return fail("no_peer");
  if (ua === undefined) return fail("transport");
  const size = drawSize(step.size, ctx.random);
  const offset = payloadOffset(ctx.random);
  const opened = await originate(host, ua, {
    target,
    kind: "large",
    callOptions: { direction: "sendonly", maxSize: size + HEAD_ALLOWANCE },
    keepBodies: false,
  });
  if (!opened.ok) return fail(opened.failure);
  const session = opened.session;
  const sent = await session.send({
    contentType: step.contentType,
    stream: { size, offset },
    chunkSize: step.chunkSize,
    successReport: true,
    failureReport: step.failureReport,
  });
  const byeNs = clock.nowNs();
  const bye = session.bye();
  if (!sent.ok) {
    await bye;
    return host.stopping ? false : fail("msrp");
  }
  metrics.latency(Latency.largeMessage, Math.max(0, (byeNs - intendedNs) / 1000), Math.max(0, (byeNs - opened.sentNs) / 1000));
  metrics.count(Counter.largeMessageSuccesses);
  await bye;
  return true;
}
