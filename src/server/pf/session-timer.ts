/**
 * RFC 4028 session timers, the minimum a B2BUA needs: read Session-Expires / Min-SE, and decide
 * what the 2xx to the caller says.
 *
 * The PF never sends refreshes itself: it passes every refresh (re-INVITE or UPDATE) from one leg
 * to the other, so whichever client refreshes keeps both legs alive. It tells the caller to be the
 * refresher (`refresher=uac`) unless the caller asked otherwise, and tears a session down only once
 * it has expired without any refresh passing through (checked by a sweep, not a timer per session).
 */
import { parseParams } from "../../protocol/sip/headers.js";

/** RFC 4028 §5: 90 s is the smallest Session-Expires a UA must accept. */
export const DEFAULT_MIN_SE = 90;

export interface SessionExpires {
  deltaS: number;
  refresher?: "uac" | "uas";
}

/** `Session-Expires: 1800;refresher=uac` (also the compact `x`); null when absent or malformed. */
export function parseSessionExpires(value: string | undefined): SessionExpires | null {
  if (value === undefined) return null;
  const semi = value.indexOf(";");
  const delta = (semi < 0 ? value : value.slice(0, semi)).trim();
  if (!/^\d{1,10}$/.test(delta)) return null;
  const out: SessionExpires = { deltaS: Number(delta) };
  if (semi >= 0) {
    const params = parseParams(value, semi);
    const r = params?.refresher?.toLowerCase();
    if (r === "uac" || r === "uas") out.refresher = r;
  }
  return out;
}

/** `Min-SE: 90`; null when absent or malformed. */
export function parseMinSe(value: string | undefined): number | null {
  if (value === undefined) return null;
  const semi = value.indexOf(";");
  const delta = (semi < 0 ? value : value.slice(0, semi)).trim();
  return /^\d{1,10}$/.test(delta) ? Number(delta) : null;
}

/** True when an option tag list (Supported / Require lines) names `tag`. */
export function hasOptionTag(lines: readonly string[], tag: string): boolean {
  for (const line of lines) {
    for (const t of line.split(",")) if (t.trim().toLowerCase() === tag) return true;
  }
  return false;
}
