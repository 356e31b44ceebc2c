/**
 * A small, total XML reader for the short machine-written documents of CPIM payloads (IMDN).
 *
 * It builds an element tree with namespace resolution (xmlns / xmlns:p scoping), decodes the five
 * predefined entities and character references, keeps CDATA as text, and skips the prolog,
 * comments and processing instructions. DOCTYPE is refused outright: no entity expansion, no
 * external fetches. Nesting depth is bounded and the reader is iterative, so hostile input costs
 * linear time and cannot overflow the stack. Bad input gives an error result, never a throw.
 *
 * fast-xml-parser would do as well; this keeps IMDN free of a dependency for ~150 lines.
 */
export interface XmlElement {
  /** Qualified name as written (`i:status`). */
  name: string;
  /** Local part (`status`). */
  local: string;
  /** Resolved namespace URI, undefined when none applies. */
  ns?: string;
  /** Attributes by qualified name (xmlns declarations included). */
  attrs: Record<string, string>;
  children: XmlElement[];
  /** Concatenated character data directly inside this element (not trimmed). */
  text: string;
}

export type XmlResult = { ok: true; root: XmlElement } | { ok: false; error: string; offset: number };

const MAX_DEPTH = 64;
const NAME = /[A-Za-z_:][A-Za-z0-9_.:\-]*/y;
const ATTR = /\s+([A-Za-z_:][A-Za-z0-9_.:\-]*)\s*=\s*(?:"([^"<]*)"|'([^'<]*)')/y;
const PREDEFINED: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };

function decodeEntities(s: string): string | null {
  if (!s.includes("&")) return s;
  let bad = false;
  const out = s.replace(/&([^;&\s]{0,10});?/g, (whole, body: string) => {
    if (!whole.endsWith(";")) {
      bad = true;
      return whole;
    }
    if (body.startsWith("#")) {
      const code = body[1] === "x" || body[1] === "X" ? Number.parseInt(body.slice(2), 16) : Number.parseInt(body.slice(1), 10);
      if (!Number.isInteger(code) || code < 1 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) {
        bad = true;
        return whole;
      }
      return String.fromCodePoint(code);
    }
    const v = PREDEFINED[body];
    if (v === undefined) bad = true;
    return v ?? whole;
  });
  return bad ? null : out;
}

interface Frame {
  el: XmlElement;
  scope: Map<string, string>;
}

export function parseXml(input: string): XmlResult {
  let i = input.charCodeAt(0) === 0xfeff ? 1 : 0;
  const stack: Frame[] = [];
  let root: XmlElement | undefined;
  const fail = (error: string): XmlResult => ({ ok: false, error, offset: i });

  while (i < input.length) {
    const lt = input.indexOf("<", i);
    const textEnd = lt < 0 ? input.length : lt;
    if (textEnd > i) {
      const raw = input.slice(i, textEnd);
      const top = stack[stack.length - 1];
      if (top) {
        const decoded = decodeEntities(raw);
        if (decoded === null) return fail("bad entity reference");
        top.el.text += decoded;
      } else if (raw.trim() !== "") {
        return fail("text outside the root element");
      }
      i = textEnd;
      if (lt < 0) break;
    }
    if (input.startsWith("<!--", i)) {
      const end = input.indexOf("-->", i + 4);
      if (end < 0) return fail("unterminated comment");
      i = end + 3;
    } else if (input.startsWith("<![CDATA[", i)) {
      const end = input.indexOf("]]>", i + 9);
      if (end < 0) return fail("unterminated CDATA");
      const top = stack[stack.length - 1];
      if (!top) return fail("CDATA outside the root element");
      top.el.text += input.slice(i + 9, end);
      i = end + 3;
    } else if (input.startsWith("<?", i)) {
      const end = input.indexOf("?>", i + 2);
      if (end < 0) return fail("unterminated processing instruction");
      i = end + 2;
    } else if (input.startsWith("<!", i)) {
      return fail("DOCTYPE and other declarations are not accepted");
    } else if (input.startsWith("</", i)) {
      NAME.lastIndex = i + 2;
      const m = NAME.exec(input);
      const top = stack.pop();
      if (!m || !top || m[0] !== top.el.name) return fail("mismatched end tag");
      i = NAME.lastIndex;
      while (i < input.length && /\s/.test(input[i]!)) i++;
      if (input[i] !== ">") return fail("malformed end tag");
      i++;
    } else {
      if (root && stack.length === 0) return fail("more than one root element");
      NAME.lastIndex = i + 1;
      const m = NAME.exec(input);
      if (!m) return fail("malformed start tag");
      i = NAME.lastIndex;
      const attrs: Record<string, string> = {};
      for (;;) {
        ATTR.lastIndex = i;
        const a = ATTR.exec(input);
        if (!a) break;
        const value = decodeEntities(a[2] ?? a[3] ?? "");
        if (value === null) return fail("bad entity reference in an attribute");
        if (Object.hasOwn(attrs, a[1]!)) return fail("duplicate attribute");
        attrs[a[1]!] = value;
        i = ATTR.lastIndex;
      }
      while (i < input.length && /\s/.test(input[i]!)) i++;
      const selfClosing = input.startsWith("/>", i);
      if (!selfClosing && input[i] !== ">") return fail("malformed start tag");
      i += selfClosing ? 2 : 1;

      const parentScope = stack[stack.length - 1]?.scope;
      let scope = parentScope ?? new Map<string, string>();
      for (const [k, v] of Object.entries(attrs)) {
        if (k === "xmlns" || k.startsWith("xmlns:")) {
          if (scope === parentScope) scope = new Map(parentScope);
          scope.set(k === "xmlns" ? "" : k.slice(6), v);
        }
      }
      const name = m[0];
      const colon = name.indexOf(":");
      const prefix = colon < 0 ? "" : name.slice(0, colon);
      const el: XmlElement = { name, local: colon < 0 ? name : name.slice(colon + 1), attrs, children: [], text: "" };
      const ns = scope.get(prefix);
      if (ns !== undefined && ns !== "") el.ns = ns;
      else if (prefix !== "") return fail(`undeclared namespace prefix ${prefix}`);
      const parent = stack[stack.length - 1];
      if (parent) parent.el.children.push(el);
      else root = el;
      if (!selfClosing) {
        if (stack.length >= MAX_DEPTH) return fail("elements nested too deeply");
        stack.push({ el, scope });
      }
    }
  }
  if (stack.length > 0) return fail("unclosed element");
  if (!root) return fail("no root element");
  return { ok: true, root };
}

/** First child with that local name (and namespace, when given). */
export function childElement(el: XmlElement, local: string, ns?: string): XmlElement | undefined {
  return el.children.find((c) => c.local === local && (ns === undefined || c.ns === ns));
}

const ESCAPES: Record<string, string> = { "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;" };

/**
 * Escapes text for element content and attribute values. Control characters that XML 1.0 cannot
 * carry at all are dropped, since no escaping could make the document well-formed otherwise.
 */
export function escapeXml(s: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: these are exactly the ones to drop
  return s.replace(/[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]/g, "").replace(/[<>&"']/g, (c) => ESCAPES[c]!);
}
