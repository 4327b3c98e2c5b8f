/** Typed reads of YAML nodes that record every problem with its line and column instead of stopping at the first. */
import { isAlias, isMap, isScalar, isSeq, type LineCounter, type YAMLMap } from "yaml";
import { tryParseBytes } from "./bytes.ts";
import { tryParseDuration } from "./duration.ts";
import { didYouMean, type PolicyIssue } from "./issues.ts";

export interface Position {
  line: number;
  column: number;
}

/** The present keys of one mapping: value nodes by key (a key written with no value maps to a null scalar). */
export interface Fields {
  node: YAMLMap;
  path: string;
  values: Map<string, unknown>;
}

/** Appends a key or index to a model path: join("datasets", 0) → "datasets[0]". */
export function join(path: string, key: string | number): string {
  if (typeof key === "number") return `${path}[${key}]`;
  return path === "" ? key : `${path}.${key}`;
}

/** Collects errors while reading; `positions` maps every model path seen to where it was written (for warnings). */
export class Reader {
  readonly file: string;
  readonly errors: PolicyIssue[] = [];
  readonly positions = new Map<string, Position>();
  private readonly lines: LineCounter;

  constructor(file: string, lines: LineCounter) {
    this.file = file;
    this.lines = lines;
    this.positions.set("", { line: 1, column: 1 });
  }

  /** Where a node starts; 1:1 when it has no source range. */
  pos(node: unknown): Position {
    const range = (node as { range?: [number, number, number] | null } | null)?.range;
    if (!range) return { line: 1, column: 1 };
    const { line, col } = this.lines.linePos(range[0]);
    return { line, column: col };
  }

  /** Records an issue at a node's position, or at an explicit position. */
  error(at: unknown, path: string, message: string): void {
    this.errors.push(this.issue(at, path, message));
  }

  /** An issue without recording it (warnings are built this way). */
  issue(at: unknown, path: string, message: string): PolicyIssue {
    const p = isPosition(at) ? at : this.pos(at);
    return { file: this.file, line: p.line, column: p.column, path, message };
  }

  /** A mapping with only `allowed` keys; unknown keys are errors with a did-you-mean. */
  map(node: unknown, path: string, allowed: readonly string[]): Fields | undefined {
    if (!this.usable(node, path)) return undefined;
    if (!isMap(node)) return this.wrongType(node, path, "a mapping (key: value lines)");
    const values = new Map<string, unknown>();
    for (const pair of node.items) {
      const key = pair.key;
      if (!isScalar(key) || typeof key.value !== "string") {
        this.error(key, path, `keys must be plain names, got ${describe(key)}`);
        continue;
      }
      const name = key.value;
      if (!allowed.includes(name)) {
        const expected = `expected one of ${allowed.join(", ")}`;
        this.error(key, join(path, name), `unknown key${didYouMean(name, allowed) || `; ${expected}`}`);
        continue;
      }
      this.positions.set(join(path, name), this.pos(key));
      values.set(name, pair.value ?? null);
    }
    return { node, path, values };
  }

  /** Errors when a required key is absent; returns its node otherwise. */
  required(fields: Fields, key: string, what: string): unknown {
    if (fields.values.has(key)) return fields.values.get(key);
    this.error(fields.node, fields.path, `missing required key ${JSON.stringify(key)} (${what})`);
    return undefined;
  }

  /** The items of a list, each position recorded. */
  list(node: unknown, path: string): unknown[] | undefined {
    if (!this.usable(node, path)) return undefined;
    if (!isSeq(node)) return this.wrongType(node, path, "a list");
    node.items.forEach((item, i) => this.positions.set(join(path, i), this.pos(item ?? node)));
    return node.items;
  }

  /** A non-empty string. */
  string(node: unknown, path: string): string | undefined {
    if (!this.usable(node, path)) return undefined;
    if (!isScalar(node) || typeof node.value !== "string") return this.wrongType(node, path, "a string");
    if (node.value.trim() === "") return this.wrongType(node, path, "a non-empty string");
    return node.value;
  }

  /** A list of non-empty strings, without duplicates. */
  strings(node: unknown, path: string, opts: { nonEmpty: boolean }): string[] | undefined {
    const items = this.list(node, path);
    if (!items) return undefined;
    if (opts.nonEmpty && items.length === 0) return this.wrongType(node, path, "a non-empty list");
    const out: string[] = [];
    items.forEach((item, i) => {
      const s = this.string(item, join(path, i));
      if (s === undefined) return;
      if (out.includes(s)) this.error(item, join(path, i), `${JSON.stringify(s)} is listed twice`);
      else out.push(s);
    });
    return out.length === items.length ? out : undefined;
  }

  /** One of a fixed set of words, with a did-you-mean. */
  oneOf<T extends string>(node: unknown, path: string, options: readonly T[]): T | undefined {
    if (!this.usable(node, path)) return undefined;
    const v = isScalar(node) ? node.value : undefined;
    if (typeof v === "string" && (options as readonly string[]).includes(v)) return v as T;
    const hint = typeof v === "string" ? didYouMean(v, options) : "";
    this.error(node, path, `expected ${options.join(" | ")}, got ${describe(node)}${hint}`);
    return undefined;
  }

  /** An integer within [min, max]. */
  int(node: unknown, path: string, min: number, max: number): number | undefined {
    if (!this.usable(node, path)) return undefined;
    const v = isScalar(node) ? node.value : undefined;
    if (typeof v !== "number" || !Number.isSafeInteger(v)) return this.wrongType(node, path, "a whole number");
    if (v < min || v > max) return this.wrongType(node, path, `a whole number from ${min} to ${max}`);
    return v;
  }

  /** true or false. */
  bool(node: unknown, path: string): boolean | undefined {
    if (!this.usable(node, path)) return undefined;
    const v = isScalar(node) ? node.value : undefined;
    return typeof v === "boolean" ? v : this.wrongType(node, path, "true or false");
  }

  /** A duration such as 8h or 1h30m, in milliseconds. */
  duration(node: unknown, path: string): number | undefined {
    if (!this.usable(node, path)) return undefined;
    const v = isScalar(node) ? node.value : undefined;
    const ms = typeof v === "string" ? tryParseDuration(v) : undefined;
    return ms ?? this.wrongType(node, path, "a positive duration with a unit d, h, m or s (e.g. 45s, 90m, 1h30m, 8h, 2d)");
  }

  /** A byte size such as 10GB, 500MB, 1TiB or a number of bytes; null means no limit. */
  bytes(node: unknown, path: string): number | null | undefined {
    if (!this.usable(node, path)) return undefined;
    const v = isScalar(node) ? node.value : undefined;
    if (v === null) return null;
    const bytes = typeof v === "string" || typeof v === "number" ? tryParseBytes(v) : undefined;
    return bytes ?? this.wrongType(node, path, "a positive size such as 500MB, 10GB or 1TiB (or null for no limit)");
  }

  private wrongType(node: unknown, path: string, expected: string): undefined {
    this.error(node, path, `expected ${expected}, got ${describe(node)}`);
    return undefined;
  }

  // Aliases are refused: a policy is reviewed as written, and expanding them invites alias bombs.
  private usable(node: unknown, path: string): boolean {
    if (!isAlias(node)) return true;
    this.error(node, path, "YAML aliases (*name) are not allowed in a policy; write the value out");
    return false;
  }
}

/** How a value reads in an error message: "sometimes" (quoted), 3, null, a list, a mapping. */
export function describe(node: unknown): string {
  if (isMap(node)) return "a mapping";
  if (isSeq(node)) return "a list";
  if (isAlias(node)) return "an alias";
  if (isScalar(node)) {
    const v = node.value;
    if (v === null || v === undefined) return "nothing";
    return typeof v === "string" ? JSON.stringify(v) : String(v);
  }
  return "nothing";
}

function isPosition(x: unknown): x is Position {
  return typeof x === "object" && x !== null && "line" in x && "column" in x && !("range" in x);
}
