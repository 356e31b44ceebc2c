/**
 * What a CPM client says about itself on the wire (PROTOCOL.md "Conventions on every CPM
 * request"): its User-Agent, and in its Contact the `+sip.instance` and the CPM ICSI feature tags.
 */
import { createHash } from "node:crypto";

export const CPM_USER_AGENT = "CPM-client/OMA1.0";

/** The OMA CPM communication service identifiers (ICSI) a client supports. */
export const CPM_ICSIS = [
  "msg",
  "largemsg",
  "deferred",
  "session",
  "session.group",
  "msg.group",
  "filetransfer",
  "systemmsg",
].map((s) => `urn:urn-7:3gpp-service.ims.icsi.oma.cpm.${s}`);

/** `+g.3gpp.icsi-ref` value: the ICSIs percent-encoded (":" → %3A) and comma-joined, quoted. */
export const CPM_ICSI_REF_PARAM = `+g.3gpp.icsi-ref="${CPM_ICSIS.map((i) => i.replaceAll(":", "%3A")).join(",")}"`;

/**
 * A stable RFC 4122 UUID (name-based, SHA-1, version 5 layout) for client `index` under `seed`: the
 * same client keeps its `+sip.instance` across runs with the same seed (RFC 5626 4.1 asks for a
 * stable instance id per device).
 */
export function instanceUuid(index: number, seed: number): string {
  const h = createHash("sha1").update(`cpm-load:${seed}:${index}`).digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const hex = h.subarray(0, 16).toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** Contact parameters a CPM client adds when it registers. */
export function cpmContactParams(index: number, seed: number): string[] {
  return [`+sip.instance="<urn:uuid:${instanceUuid(index, seed)}>"`, CPM_ICSI_REF_PARAM];
}
