/**
 * The virtual client as the called party (terminating user) of a CPM session, per the
 * population's AnswerPlan:
 * - an offer it cannot use (no MSRP media, no common type…) is refused with the SDP error's
 *   status (488) before SIP.js would turn the failure into a 480;
 * - with probability `rejectProbability` (drawn from the client's seeded PRNG, one draw per
 *   INVITE) the INVITE is rejected with `rejectStatus`;
 * - otherwise it is accepted after `delayMs` (with a 180 Ringing first when there is a delay; a
 *   CANCEL meanwhile ends it, counted as `session.incoming.canceled`);
 * - chat sessions then follow the reply behaviour (`echo` sends every message back: cpm-session.ts);
 *   large-message sessions (largemsg ICSI) keep no bodies unless the client is told to.
 *
 * Counters: session.incoming.accepted / rejected / canceled, session.incoming.failures.status.<code>
 * (488 for unusable offers, 480 when the client has no MSRP endpoint, `accept` when SIP.js failed
 * to send the 200).
 */
import type { Invitation } from "sip.js/lib/api/invitation.js";
import { SessionState } from "sip.js/lib/api/session-state.js";
import { Counter } from "../metrics/names.js";
import type { AnswerPlan } from "../scenario/plan.js";
import { CpmSession, isLargeMessageRequest, type SessionHost } from "./cpm-session.js";
import { checkMsrpOffer } from "./msrp-sdh-factory.js";

export interface TerminatingHost extends SessionHost {
  readonly answer: AnswerPlan;
  /** The client's seeded PRNG (reject draws). */
  readonly random: () => number;
  /** False when the client has no MSRP endpoint (sessions cannot be answered). */
  readonly canAnswer: boolean;
  /** Keep the bytes of received large messages (tests); default false. */
  readonly keepLargeMessageBodies: boolean;
}

export const DEFAULT_ANSWER: AnswerPlan = { delayMs: 0, rejectProbability: 0, rejectStatus: 486, reply: "none" };

export function answerInvitation(host: TerminatingHost, invitation: Invitation): void {
  const { metrics, clock } = host;
  const refuse = (status: number, counter: string): void => {
    metrics.count(counter);
    invitation.reject({ statusCode: status }).catch(() => undefined);
  };
  if (!host.canAnswer) return refuse(480, `${Counter.sessionIncomingFailures}.status.480`);
  const problem = checkMsrpOffer(invitation.body ?? "");
  if (problem !== undefined) return refuse(problem.sipStatus, `${Counter.sessionIncomingFailures}.status.${problem.sipStatus}`);
  const plan = host.answer;
  if (plan.rejectProbability > 0 && host.random() < plan.rejectProbability) {
    return refuse(plan.rejectStatus, Counter.sessionIncomingRejected);
  }
  const req = invitation.request;
  const services = [
    ...req.getHeaders("P-Asserted-Service"),
    ...req.getHeaders("P-Preferred-Service"),
    ...req.getHeaders("Accept-Contact"),
  ];
  const kind = isLargeMessageRequest(services) ? "large" : "chat";
  const peer = invitation.remoteIdentity.uri.toString();
  const session = new CpmSession(host, invitation, "callee", kind, peer, {}, kind === "chat" || host.keepLargeMessageBodies);

  const accept = (): void => {
    if (invitation.state !== SessionState.Initial && invitation.state !== SessionState.Establishing) return;
    invitation.accept().then(
      () => metrics.count(Counter.sessionIncomingAccepted),
      () => {
        metrics.count(`${Counter.sessionIncomingFailures}.accept`);
        session.abandon();
      },
    );
  };
  if (plan.delayMs <= 0) return accept();
  invitation.progress().catch(() => undefined);
  let fired = false;
  const timer = clock.after(plan.delayMs, () => {
    fired = true;
    invitation.stateChange.removeListener(onState);
    accept();
  });
  const onState = (state: SessionState): void => {
    if (state !== SessionState.Terminated) return;
    invitation.stateChange.removeListener(onState);
    if (fired) return;
    timer.cancel();
    metrics.count(Counter.sessionIncomingCanceled);
  };
  invitation.stateChange.addListener(onState);
}
