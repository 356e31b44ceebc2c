/**
 * Maps a path in the loaded data (JSON-pointer segments, as ajv reports them) back to the YAML
 * node it came from, so every error can name line and column.
 */
import { isAlias, isMap, isPair, isScalar, isSeq, type Document, type LineCounter, type Node } from "yaml";

export interface Position {
  line: number;
  col: number;
}

/** "/scenarios/0/steps" → ["scenarios", "0", "steps"] (RFC 6901 unescaping). */
export function pointerSegments(pointer: string): string[] {
  if (pointer === "") return [];
  return pointer
    .slice(1)
    .split("/")
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
}

/** Human path for messages: ["scenarios","0","steps"] → "scenarios[0].steps". */
export function displayPath(segments: readonly string[]): string {
  let out = "";
  for (const segment of segments) {
    if (/^\d+$/.test(segment)) out += `[${segment}]`;
    else out += out === "" ? segment : `.${segment}`;
  }
  return out;
}

export class YamlLocator {
  constructor(
    private readonly doc: Document.Parsed,
    private readonly lines: LineCounter,
  ) {}

  position(offset: number): Position {
    return this.lines.linePos(offset);
  }

  /** Where the key of the map entry at `segments` (the last segment is the key) starts. */
  keyPosition(segments: readonly string[]): Position {
    return this.keyOf(segments) ?? this.valuePosition(segments.slice(0, -1));
  }

  /**
   * Where the value at `segments` starts. For a missing value, the key that should hold it, else
   * the nearest existing ancestor (a missing `population.clients` points at `population:`).
   */
  valuePosition(segments: readonly string[]): Position {
    const exact = this.nodeAt(segments);
    if (exact?.range) return this.position(exact.range[0]);
    const key = segments.length > 0 ? this.keyOf(segments) : null;
    if (key) return key;
    for (let n = segments.length - 1; n >= 0; n--) {
      const ancestor = this.nodeAt(segments.slice(0, n));
      if (ancestor?.range) return this.entryPosition(segments.slice(0, n));
    }
    return { line: 1, col: 1 };
  }

  /** Like valuePosition, but a mapping or list held by a key is pointed at by its key. */
  entryPosition(segments: readonly string[]): Position {
    const node = this.nodeAt(segments);
    const last = segments[segments.length - 1];
    if ((isMap(node) || isSeq(node)) && last !== undefined && !/^\d+$/.test(last)) {
      const key = this.keyOf(segments);
      if (key) return key;
    }
    if (node?.range) return this.position(node.range[0]);
    return segments.length === 0 ? { line: 1, col: 1 } : this.valuePosition(segments);
  }

  private keyOf(segments: readonly string[]): Position | null {
    const parent = this.nodeAt(segments.slice(0, -1));
    const key = segments[segments.length - 1];
    if (!isMap(parent)) return null;
    const pair = parent.items.find((p) => isPair(p) && scalarKey(p.key) === key);
    const keyNode = pair?.key as Node | undefined;
    return keyNode?.range ? this.position(keyNode.range[0]) : null;
  }

  /** The node at the path, or null when some segment does not exist. */
  private nodeAt(segments: readonly string[]): Node | null {
    let node = this.resolve(this.doc.contents as Node | null);
    for (const segment of segments) {
      const next = this.child(node, segment);
      if (next === undefined) return null;
      node = next;
    }
    return node;
  }

  private child(node: Node | null, segment: string): Node | null | undefined {
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && scalarKey(p.key) === segment);
      return pair ? this.resolve(pair.value as Node | null) : undefined;
    }
    if (isSeq(node) && /^\d+$/.test(segment)) {
      const item = node.items[Number(segment)];
      return item === undefined ? undefined : this.resolve(item as Node | null);
    }
    return undefined;
  }

  private resolve(node: Node | null): Node | null {
    // An alias (*name) stands for the anchored node: report where the value is actually written.
    if (isAlias(node)) return (node.resolve(this.doc) as Node | undefined) ?? node;
    return node;
  }
}

function scalarKey(key: unknown): string | undefined {
  return isScalar(key) ? String(key.value) : undefined;
}
