/** SDP codec (RFC 8866) and the MSRP media offer/answer of CPM sessions (RFC 4975, 6135, 6714). */
export * from "./message.js";
export { parseSdp, parseOrigin, parseConnection, type SdpParseOptions } from "./parser.js";
export { serializeSdp, formatOrigin, formatMediaLine } from "./serializer.js";
export * from "./lines.js";
export * from "./media-types.js";
export * from "./msrp-media.js";
export { sdpFromBody, isSdpBodyType } from "./body.js";
