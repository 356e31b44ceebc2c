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

  /** The node at the path, or the deepest existing ancestor (e.g. for a missing key). */
  node(segments: readonly string[]): Node | null {
    let node = this.resolve(this.doc.contents as Node | null);
    for (const segment of segments) {
      const next = this.child(node, segment);
      if (next === undefined) break;
      node = next;
    }
    return node;
  }

  /** Where the key of the map entry at `segments` (last one the key) starts. */
  keyPosition(segments: readonly string[]): Position {
    const parent = this.node(segments.slice(0, -1));
    const key = segments[segments.length - 1];
    if (isMap(parent)) {
      const pair = parent.items.find((p) => isPair(p) && scalarKey(p.key) === key);
      const keyNode = pair?.key as Node | undefined;
      if (keyNode?.range) return this.position(keyNode.range[0]);
    }
    return this.valuePosition(segments.slice(0, -1));
  }

  /**
   * Where the value at `segments` starts. For a missing value, the key that should hold it (a
   * missing `population.clients` points at `population:`), else the document start.
   */
  valuePosition(segments: readonly string[]): Position {
    const exact = this.exactNode(segments);
    if (exact?.range) return this.position(exact.range[0]);
    if (segments.length > 0) {
      const keyPos = this.keyOf(segments);
      if (keyPos) return keyPos;
    }
    const nearest = this.node(segments);
    return nearest?.range ? this.position(nearest.range[0]) : { line: 1, col: 1 };
  }

  /** Position of the value for a map entry, pointing at the entry's key when the value is a map/list. */
  entryPosition(segments: readonly string[]): Position {
    const node = this.exactNode(segments);
    if ((isMap(node) || isSeq(node)) && segments.length > 0 && !/^\d+$/.test(segments[segments.length - 1]!)) {
      const keyPos = this.keyOf(segments);
      if (keyPos) return keyPos;
    }
    return this.valuePosition(segments);
  }

  private keyOf(segments: readonly string[]): Position | null {
    const parent = this.exactNode(segments.slice(0, -1));
    const key = segments[segments.length - 1];
    if (!isMap(parent)) return null;
    const pair = parent.items.find((p) => isPair(p) && scalarKey(p.key) === key);
    const keyNode = pair?.key as Node | undefined;
    return keyNode?.range ? this.position(keyNode.range[0]) : null;
  }

  private exactNode(segments: readonly string[]): Node | null {
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
    // Aliases (*anchor) point at the anchored node: report the anchor's position, where the value is written.
    if (isAlias(node)) return (node.resolve(this.doc) as Node | undefined) ?? node;
    return node;
  }
}

function scalarKey(key: unknown): string | undefined {
  if (isScalar(key)) return String(key.value);
  return undefined;
}
