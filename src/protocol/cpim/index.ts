/** CPIM (RFC 3862) codec and IMDN (RFC 5438) helpers for the payloads of CPM messages. */
export * from "./message.js";
export * from "./parser.js";
export * from "./serializer.js";
export * from "./imdn.js";
export { type XmlElement, type XmlResult, parseXml, escapeXml, childElement } from "./xml-lite.js";
