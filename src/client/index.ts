/**
 * Virtual CPM clients and their SIP connections (see ARCHITECTURE.md "Connection models" and
 * "SIP.js seam").
 */
export { createConnectionProvider, type ConnectionProviderOptions } from "./connection-provider.js";
export { VirtualClient, type VirtualClientOptions } from "./virtual-client.js";
export { type IterationContext, standaloneIterationContext } from "./iteration-context.js";
export { TransportError, type ClientLink, type ConnectionProvider, type LinkEndpoint, type LinkOwner } from "./link.js";
export { CPM_ICSIS, CPM_ICSI_REF_PARAM, CPM_USER_AGENT, instanceUuid } from "./identity.js";
export { installSipJsRuntime } from "../protocol/sip/sipjs-runtime.js";
export { type ReceivedCpmMessage, SESSION_ICSI, LARGEMSG_ICSI } from "./cpm-session.js";
export { CONTROL_CONTENT_TYPE, CPMLOAD_NS_URN, type MessageStamp } from "./message-stamp.js";
