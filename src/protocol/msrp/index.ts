/**
 * MSRP (RFC 4975): the codec (message model, framer, serializer, URIs, chunking, reassembly) and
 * the networking layer on top of it (endpoint with listener and connection pool, connections,
 * sessions with binding/transactions/reports, chunk-by-chunk relay between two sessions).
 */
export * from "./message.js";
export * from "./byte-range.js";
export * from "./uri.js";
export * from "./transaction-id.js";
export * from "./framer.js";
export * from "./chunk-stream.js";
export * from "./serializer.js";
export * from "./response.js";
export * from "./chunker.js";
export * from "./reassembler.js";
export * from "./session-error.js";
export * from "./connection.js";
export * from "./session.js";
export * from "./endpoint.js";
export * from "./forwarder.js";
export * from "./relay.js";
