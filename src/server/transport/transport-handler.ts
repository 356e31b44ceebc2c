/**
 * What a transport hands up to the SIP core: parsed messages with the flow they came on, and
 * parse failures (with whatever partial data the parser recovered, so a 400 can still be formed).
 */
import type { SipMessage, SipParseError, SipRequest } from "../../protocol/sip/message.js";
import type { Flow } from "./flow.js";

export interface TransportHandler {
  onMessage(message: SipMessage, flow: Flow): void;
  onParseError(error: SipParseError, flow: Flow, partial: Partial<SipRequest> | undefined): void;
}
