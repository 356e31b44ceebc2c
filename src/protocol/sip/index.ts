/** The SIP codec: parse, frame, serialize, headers, URIs, digest auth, responses. */
export * from "./message.js";
export * from "./parser.js";
export * from "./serializer.js";
export * from "./headers.js";
export * from "./response.js";
export * from "./uri.js";
export * from "./digest.js";
