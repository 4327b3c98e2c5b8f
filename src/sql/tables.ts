/** Which tables a statement touches: a scope-light walk used before schemas are known. */
import type { TableRef } from "../warehouse/types.ts";
import { isInfoSchemaPath, resolveInfoSchema, type InfoSchemaRef } from "./information-schema.ts";
import { cannotAnalyse, childNodes, isNode, lc, parseSql, pathParts, type Node } from "./parse.ts";
import { isWildcardPath, resolveWildcard, type WildcardRef } from "./wildcard.ts";

/** "project.dataset.table", lower-cased. */
export const tableKey = (t: TableRef): string => `${t.project}.${t.dataset}.${t.table}`;

/**
 * What a table path names. `ref` always yields the dataset read (for grant checks): for a wildcard its table is
 * "prefix*", for an INFORMATION_SCHEMA view "information_schema.<view>"; neither has a schema of its own.
 */
export type TableSource =
  | { kind: "table"; ref: TableRef }
  | { kind: "wildcard"; ref: TableRef; wildcard: WildcardRef }
  | { kind: "info_schema"; ref: TableRef; view: InfoSchemaRef };

/** Everything a statement reads, by kind: what the broker needs to fetch schemas and expand wildcards. */
export interface ReferencedSources {
  /** Concrete tables (fetch their schemas). */
  tables: TableRef[];
  /** Wildcard tables (expand each with expandWildcard over its dataset's tables, then fetch the matches' schemas). */
  wildcards: WildcardRef[];
  /** Dataset-level INFORMATION_SCHEMA views (fixed schemas: nothing to fetch, but a grant on the dataset is needed). */
  infoSchema: InfoSchemaRef[];
}

/** Resolves a 2- or 3-part table path (or a wildcard, or a dataset's INFORMATION_SCHEMA view); anything else is refused. */
export function resolveTable(parts: string[], defaultProject: string): TableSource {
  if (isInfoSchemaPath(parts)) {
    const view = resolveInfoSchema(parts, defaultProject);
    return { kind: "info_schema", view, ref: { project: view.project, dataset: view.dataset, table: `information_schema.${lc(view.view)}` } };
  }
  if (isWildcardPath(parts)) {
    const wildcard = resolveWildcard(parts, defaultProject);
    return { kind: "wildcard", wildcard, ref: { project: wildcard.project, dataset: wildcard.dataset, table: `${wildcard.prefix}*` } };
  }
  const p = parts.map(lc);
  if (p.some((x) => x === "")) throw cannotAnalyse(`table name ${parts.join(".")} is not supported`);
  if (p.length === 2) return { kind: "table", ref: { project: lc(defaultProject), dataset: p[0]!, table: p[1]! } };
  if (p.length === 3) return { kind: "table", ref: { project: p[0]!, dataset: p[1]!, table: p[2]! } };
  if (p.length === 1) throw cannotAnalyse(`table name ${parts[0]} must be qualified with its dataset (dataset.table)`);
  throw cannotAnalyse(`table name ${parts.join(".")} is not supported`);
}

/**
 * Every table a statement reads or writes (CTE names excluded), lower-cased and fully qualified. Wildcards and
 * INFORMATION_SCHEMA views are included as their `TableSource.ref`, so the datasets of the result are every dataset
 * read; use referencedSources to know which entries have schemas to fetch.
 */
export function referencedTables(sql: string, defaultProject: string): TableRef[] {
  return collectSources(parseSql(sql), defaultProject).map((s) => s.ref);
}

/** Every table, wildcard table and INFORMATION_SCHEMA view a statement reads, by kind (CTE names excluded). */
export function referencedSources(sql: string, defaultProject: string): ReferencedSources {
  const out: ReferencedSources = { tables: [], wildcards: [], infoSchema: [] };
  for (const s of collectSources(parseSql(sql), defaultProject)) {
    if (s.kind === "table") out.tables.push(s.ref);
    else if (s.kind === "wildcard") out.wildcards.push(s.wildcard);
    else out.infoSchema.push(s.view);
  }
  return out;
}

/** Table references of any statement tree as TableRefs; shared by referencedTables and non-query analysis. */
export function collectTables(root: Node, defaultProject: string): TableRef[] {
  return collectSources(root, defaultProject).map((s) => s.ref);
}

// Statement fields that name a table being written, created or dropped.
const TARGET_KEYS = ["table", "tables", "target", "source"];

function collectSources(root: Node, defaultProject: string): TableSource[] {
  const cteNames = new Set<string>();
  // Names a range variable may have: explicit aliases and the last part of every table path.
  const rangeNames = new Map<string, number>();
  const own = new Map<Node, string[]>();
  const count = (name: string, entity: Node | null) => {
    rangeNames.set(name, (rangeNames.get(name) ?? 0) + 1);
    if (entity) own.set(entity, [...(own.get(entity) ?? []), name]);
  };
  walk(root, (n) => {
    if (n.type === "common_table_expr") cteNames.add(lc(n.table.name));
    if (n.type === "alias" && isNode(n.alias)) count(lc(n.alias.name), isNode(n.expr) ? n.expr : null);
    if (n.type === "from_clause" || n.type === "join_expr") {
      for (const f of tableFactors(n)) {
        const parts = pathParts(f);
        if (parts) count(lc(parts[parts.length - 1]!), f);
      }
    }
  });
  const isRangeName = (name: string, entity: Node) => {
    const mine = (own.get(entity) ?? []).filter((x) => x === name).length;
    return (rangeNames.get(name) ?? 0) > mine;
  };
  const found = new Map<string, TableSource>();
  const add = (entity: Node) => {
    const parts = pathParts(entity);
    if (!parts) return;
    if (parts.length === 1 && cteNames.has(lc(parts[0]!))) return;
    // `FROM t, t.items`: a path that starts at a range variable is an array, not a table.
    if (parts.length >= 2 && isRangeName(lc(parts[0]!), entity)) return;
    const source = resolveTable(parts, defaultProject);
    found.set(tableKey(source.ref), source);
  };
  walk(root, (n) => {
    if (n.type === "from_clause" || n.type === "join_expr") for (const f of tableFactors(n)) add(f);
    if (n.type.endsWith("_stmt") || n.type.endsWith("_clause")) {
      for (const key of TARGET_KEYS) for (const f of tableFactors(n[key])) add(f);
      if (/table|view/.test(n.type) && isNode(n.name)) add(n.name);
    }
  });
  return [...found.values()];
}

/** The entity names directly in a table position (through aliases, lists and table operators). */
function tableFactors(v: unknown): Node[] {
  if (Array.isArray(v)) return v.flatMap(tableFactors);
  if (!isNode(v)) return [];
  switch (v.type) {
    case "identifier":
    case "member_expr":
    case "bigquery_quoted_member_expr":
      return [v];
    case "alias":
      return tableFactors(v.expr);
    case "list_expr":
      return tableFactors(v.items);
    case "from_clause":
    case "paren_expr":
      return tableFactors(v.expr);
    case "join_expr":
      return [...tableFactors(v.left), ...tableFactors(v.right)];
    case "tablesample_expr":
    case "for_system_time_as_of_expr":
    case "pivot_expr":
    case "unpivot_expr":
      return tableFactors(v.left);
    case "indexed_table":
    case "not_indexed_table":
    case "partitioned_table":
    case "table_with_inheritance":
    case "table_without_inheritance":
      return tableFactors(v.table);
    default:
      return [];
  }
}

function walk(node: Node, visit: (n: Node) => void): void {
  visit(node);
  for (const c of childNodes(node)) walk(c, visit);
}
