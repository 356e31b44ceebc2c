/**
 * Typed access to the ordered lines of a session or media section. Attribute names compare
 * case-insensitively (stacks differ in case; no two SDP attributes differ only in case).
 */
import type { SdpConnection, SdpLineHolder, SdpMedia, SessionDescription } from "./message.js";
import { parseConnection } from "./parser.js";

function sameName(a: string, b: string): boolean {
  return a === b || a.toLowerCase() === b.toLowerCase();
}

/** First value of an attribute: its text, null for a flag, undefined when absent. */
export function getAttribute(holder: SdpLineHolder, name: string): string | null | undefined {
  for (const line of holder.lines) {
    if (line.kind === "attribute" && sameName(line.name, name)) return line.value;
  }
  return undefined;
}

/** Every value of an attribute, in order (null for flags). */
export function getAttributes(holder: SdpLineHolder, name: string): Array<string | null> {
  const out: Array<string | null> = [];
  for (const line of holder.lines) {
    if (line.kind === "attribute" && sameName(line.name, name)) out.push(line.value);
  }
  return out;
}

export function hasAttribute(holder: SdpLineHolder, name: string): boolean {
  return getAttribute(holder, name) !== undefined;
}

/** Appends an attribute line. */
export function addAttribute(holder: SdpLineHolder, name: string, value: string | null = null): void {
  holder.lines.push({ kind: "attribute", name, value });
}

/** Replaces the first attribute of that name in place (dropping the others), or appends it. */
export function setAttribute(holder: SdpLineHolder, name: string, value: string | null = null): void {
  const i = holder.lines.findIndex((l) => l.kind === "attribute" && sameName(l.name, name));
  if (i < 0) {
    addAttribute(holder, name, value);
    return;
  }
  holder.lines[i] = { kind: "attribute", name, value };
  holder.lines = holder.lines.filter((l, j) => j <= i || l.kind !== "attribute" || !sameName(l.name, name));
}

export function removeAttribute(holder: SdpLineHolder, name: string): void {
  holder.lines = holder.lines.filter((l) => l.kind !== "attribute" || !sameName(l.name, name));
}

/** First value of a non-attribute line type (`c`, `t`, `b`…), undefined when absent. */
export function getField(holder: SdpLineHolder, type: string): string | undefined {
  for (const line of holder.lines) {
    if (line.kind === "field" && line.type === type) return line.value;
  }
  return undefined;
}

/** The connection data that applies to a media section: its own `c=`, else the session's. */
export function getConnection(sdp: SessionDescription, media?: SdpMedia): SdpConnection | undefined {
  const text = (media && getField(media, "c")) ?? getField(sdp, "c");
  return text === undefined ? undefined : (parseConnection(text) ?? undefined);
}

/** An attribute of a media section, falling back to the session level (e.g. direction, setup). */
export function getMediaAttribute(sdp: SessionDescription, media: SdpMedia, name: string): string | null | undefined {
  const own = getAttribute(media, name);
  return own !== undefined ? own : getAttribute(sdp, name);
}
