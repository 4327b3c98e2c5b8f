/** Name resolution for the lineage analyser: range variables, columns, correlated scopes. */
import type { TableRef } from "../warehouse/types.ts";
import type { ColumnUse, SchemaMap } from "./types.ts";
import { cannotAnalyse, type Node } from "./parse.ts";

/** Source columns as "project.dataset.table.column" keys (lower-case). */
export type Sources = Set<string>;

export interface Col {
  /** As written (alias or schema name). */
  name: string;
  /** Lower-case, for matching: BigQuery column names are case-insensitive. */
  key: string;
  sources: Sources;
  /** True when the value is a source column's own value, unchanged (a table column, or a bare reference to one). */
  direct?: boolean;
  /** True for a NULL literal: a UNION ALL branch may supply NULL beside a projected column and keep it projected. */
  nullLiteral?: boolean;
}

export interface Relation {
  columns: Col[];
}

/** A FROM item visible under `alias`: a table, CTE, derived table, or a value of unknown shape (UNNEST). */
export interface RangeVar {
  alias: string | null;
  columns: Col[];
  /** Set for UNNEST and array paths: any field of the element resolves to these sources. */
  opaque: Sources | null;
  /** Pseudo columns (a wildcard's _TABLE_SUFFIX): found by name, never part of `*` or the whole row. */
  pseudo?: Col[];
}

export interface Scope {
  vars: RangeVar[];
  parent: Scope | null;
  /** Columns merged by JOIN ... USING, in order. */
  using: Array<{ key: string; name: string; vars: RangeVar[] }>;
  /** Select-list outputs, visible by name in GROUP BY, HAVING, QUALIFY and ORDER BY. */
  aliases: Col[] | null;
  /** Named windows (WINDOW w AS (...)) and the sources they order or partition by. */
  windows: Map<string, Sources>;
}

export interface Ctx {
  defaultProject: string;
  schemas: SchemaMap;
  /** Wildcard tables' matches: "project.dataset.prefix*" → "project.dataset.table" keys (AnalyzeOptions.wildcards). */
  wildcards: Map<string, string[]>;
  tables: Map<string, TableRef>;
  /** Every non-projection use of a source column, keyed "source|construct" (see note()). */
  uses: Map<string, ColumnUse>;
  /** WITH clauses already applied by an enclosing set operation. */
  hoisted: Set<Node>;
  /** Resolves a query in an environment (set by the lineage module; breaks an import cycle). */
  query: (node: Node, env: Env) => Relation;
}

export interface Env {
  ctx: Ctx;
  scope: Scope;
  ctes: Map<string, Relation>;
}

/** A column named `name` deriving from `sources`; `direct` when it holds one source column's value unchanged. */
export const col = (name: string, sources: Sources, direct = false): Col => ({ name, key: name.toLowerCase(), sources, direct });

/** A fresh scope nested in `parent`. */
export function newScope(parent: Scope | null, vars: RangeVar[] = []): Scope {
  return { vars, parent, using: [], aliases: null, windows: new Map() };
}

/** Adds every element of `from` to `into`. */
export function addAll(into: Sources, from: Iterable<string>): Sources {
  for (const s of from) into.add(s);
  return into;
}

/** The union of a list of source sets. */
export function union(...sets: Iterable<string>[]): Sources {
  const out = new Set<string>();
  for (const s of sets) addAll(out, s);
  return out;
}

/** Every source of a range variable: what using it as a whole-row value (`TO_JSON_STRING(t)`) reveals. */
export function wholeRow(v: RangeVar): Sources {
  const out = union(...v.columns.map((c) => c.sources));
  if (v.opaque) addAll(out, v.opaque);
  return out;
}

function columnsNamed(v: RangeVar, key: string): Col[] {
  const cols = v.columns.filter((c) => c.key === key);
  return cols.length || !v.pseudo ? cols : v.pseudo.filter((c) => c.key === key);
}

/** Records that `sources` were used in `construct` rather than projected (deduplicated). */
export function note(ctx: Ctx, sources: Iterable<string>, construct: string): void {
  for (const s of sources) {
    const id = `${s}|${construct}`;
    if (ctx.uses.has(id)) continue;
    const dot = s.lastIndexOf(".");
    ctx.uses.set(id, { column: { table: s.slice(0, dot), column: s.slice(dot + 1) }, construct });
  }
}

const unknown = (name: string) =>
  cannotAnalyse(`unknown column ${name}`, "check the column name with: jit describe TABLE");

/**
 * Resolves a dotted name (`col`, `t.col`, `t`, `col.field`) to the source columns it reads,
 * searching the nearest scope first. Ambiguity and unknown names are refused.
 */
export function resolvePath(parts: string[], scope: Scope): Sources {
  const keys = parts.map((p) => p.toLowerCase());
  // Fields of UNNESTed values are only "maybe" matches: keep looking outward and union what is found.
  const maybe = new Set<string>();
  let anyMaybe = false;
  for (let s: Scope | null = scope; s; s = s.parent) {
    const found = resolveIn(keys, s);
    if (found.opaque) {
      addAll(maybe, found.opaque);
      anyMaybe = true;
    }
    if (found.definite) return addAll(found.definite, maybe);
  }
  if (anyMaybe) return maybe;
  throw unknown(parts.join("."));
}

/**
 * The one column a bare path (`col`, `t.col`) names in the nearest scope that knows it, or null when that is not
 * certain (ambiguity, USING-merged columns, UNNEST fields, select aliases, STRUCT fields, whole rows).
 */
export function pathColumn(parts: string[], scope: Scope): Col | null {
  const keys = parts.map((p) => p.toLowerCase());
  if (keys.length > 2) return null;
  for (let s: Scope | null = scope; s; s = s.parent) {
    if (s.aliases?.some((a) => a.key === keys[0] || a.key === keys[keys.length - 1])) return null;
    if (s.vars.some((v) => v.opaque)) return null;
    const byAlias = s.vars.filter((v) => v.alias === keys[0]);
    if (keys.length === 2) {
      if (byAlias.length === 0) continue;
      const cols = byAlias.length === 1 ? columnsNamed(byAlias[0]!, keys[1]!) : [];
      return cols.length === 1 ? cols[0]! : null;
    }
    if (byAlias.length) return null;
    const cols = s.vars.flatMap((v) => columnsNamed(v, keys[0]!));
    if (cols.length === 0) continue;
    return cols.length === 1 && !s.using.some((u) => u.key === keys[0]) ? cols[0]! : null;
  }
  return null;
}

/** True when `name` is a range variable or a column somewhere in the scope chain. */
export function isVisibleName(name: string, scope: Scope): boolean {
  const key = name.toLowerCase();
  for (let s: Scope | null = scope; s; s = s.parent) {
    if (s.vars.some((v) => v.alias === key || columnsNamed(v, key).length > 0)) return true;
  }
  return false;
}

function resolveIn(keys: string[], s: Scope): { definite: Sources | null; opaque: Sources | null } {
  const [head, ...rest] = keys as [string, ...string[]];
  const out = new Set<string>();
  let hit = false;
  let wholeRowOnly = false;
  // Range variable first: `t` is the whole row, `t.col` a column of t.
  for (const v of s.vars) {
    if (v.alias !== head) continue;
    if (rest.length === 0) {
      addAll(out, wholeRow(v));
      hit = wholeRowOnly = true;
      continue;
    }
    const cols = columnsNamed(v, rest[0]!);
    if (cols.length) for (const c of cols) addAll(out, c.sources);
    else if (v.opaque) addAll(out, v.opaque);
    else throw unknown(keys.join("."));
    hit = true;
  }
  // Column (or a field of a STRUCT column): unions every candidate, refusing true ambiguity.
  const known = s.vars.filter((v) => columnsNamed(v, head).length > 0);
  if (known.length > 1 && !s.using.some((u) => u.key === head)) {
    throw cannotAnalyse(`column ${head} is ambiguous`, `qualify it with its table alias, e.g. t.${head}`);
  }
  for (const v of known) for (const c of columnsNamed(v, head)) addAll(out, c.sources);
  if (known.length) {
    hit = true;
    wholeRowOnly = false;
  }
  // An UNNEST of STRUCTs exposes fields we cannot list: any unqualified name may be one of them. A qualified name
  // whose head is a range variable here (`c.id`) is that variable's column, never such a field.
  let opaque: Sources | null = null;
  const qualifiedByVar = rest.length > 0 && s.vars.some((v) => v.alias === head);
  for (const v of s.vars) {
    if (v.opaque && v.alias !== head && !qualifiedByVar) opaque = addAll(opaque ?? new Set(), v.opaque);
  }
  const alias = s.aliases?.filter((a) => a.key === head) ?? [];
  if (alias.length) {
    // `SELECT COUNT(*) AS customers FROM sales.customers ORDER BY customers`: the select alias, not the row
    // (BigQuery cannot order by a whole row). A column of the same name is kept too (fail closed).
    if (wholeRowOnly && rest.length === 0) out.clear();
    for (const a of alias) addAll(out, a.sources);
    hit = true;
  }
  return { definite: hit ? out : null, opaque };
}
