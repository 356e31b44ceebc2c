/**
 * Media-type lists of `a=accept-types` / `a=accept-wrapped-types` (RFC 4975 §8.6): `*`,
 * `type/*` and `type/subtype[;params]`. Types compare case-insensitively without parameters.
 */

const ITEM = /^(\*|[A-Za-z0-9!#$&^_.+-]+\/(\*|[A-Za-z0-9!#$&^_.+-]+)(;.*)?)$/;

/** Splits an accept list; null when an item is not `*`, `type/*` or `type/subtype`. */
export function parseMediaTypeList(value: string): string[] | null {
  const items = value.split(/[ \t]+/).filter((t) => t.length > 0);
  return items.every((t) => ITEM.test(t)) ? items : null;
}

/** `type/subtype` lower-cased, parameters dropped. */
function bare(t: string): string {
  const semi = t.indexOf(";");
  return (semi < 0 ? t : t.slice(0, semi)).trim().toLowerCase();
}

/** Whether `pattern` (possibly `*` or `type/*`) covers the concrete or wildcard `type`. */
export function mediaTypeCovers(pattern: string, type: string): boolean {
  const p = bare(pattern);
  const t = bare(type);
  if (p === "*" || p === t) return true;
  if (p.endsWith("/*")) return t !== "*" && t.startsWith(p.slice(0, -1));
  return false;
}

/** Whether a Content-Type is allowed by an accept list (for 415 decisions). */
export function acceptsMediaType(accept: readonly string[], contentType: string): boolean {
  return accept.some((p) => mediaTypeCovers(p, contentType));
}

/**
 * The types both sides accept, in `ours` order, each as the narrower of the two matching
 * entries (ours `*` with theirs `message/cpim` gives `message/cpim`), without duplicates.
 */
export function intersectMediaTypes(ours: readonly string[], theirs: readonly string[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const add = (t: string): void => {
    const key = bare(t);
    if (!seen.has(key)) {
      seen.add(key);
      out.push(t);
    }
  };
  for (const a of ours) {
    for (const b of theirs) {
      if (mediaTypeCovers(a, b)) add(b);
      else if (mediaTypeCovers(b, a)) add(a);
    }
  }
  return out;
}
