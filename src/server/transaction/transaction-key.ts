/**
 * Server transaction matching (RFC 3261 §17.2.3): top Via branch + sent-by + method, where an ACK
 * matches its INVITE and a CANCEL has its own transaction (it finds the INVITE it cancels by the
 * same branch and sent-by with method INVITE). Requests without an RFC 3261 branch (no "z9hG4bK"
 * cookie, RFC 2543 peers) fall back to Call-ID + CSeq number + From tag + sent-by.
 */
import type { Via } from "../../protocol/sip/headers.js";

const MAGIC_COOKIE = "z9hG4bK";

export interface KeyInputs {
  via: Via;
  method: string;
  callId: string;
  cseq: number;
  fromTag: string | undefined;
}

/** Key of the transaction a request belongs to (ACK → its INVITE). */
export function transactionKey(inputs: KeyInputs): string {
  return keyFor(inputs, inputs.method === "ACK" ? "INVITE" : inputs.method);
}

/** Key of the INVITE transaction a CANCEL (or ACK) refers to. */
export function inviteKeyFor(inputs: KeyInputs): string {
  return keyFor(inputs, "INVITE");
}

function keyFor(inputs: KeyInputs, method: string): string {
  const { via } = inputs;
  const sentBy = via.port === undefined ? via.host : `${via.host}:${via.port}`;
  const branch = via.params.branch;
  if (branch && branch.startsWith(MAGIC_COOKIE)) return `${branch}|${sentBy}|${method}`;
  return `2543|${inputs.callId}|${inputs.cseq}|${inputs.fromTag ?? ""}|${sentBy}|${method}`;
}
