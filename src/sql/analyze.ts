/** Entry point of SQL analysis: statement kind, tables, per-output lineage and every non-projection use of a column. */
import type { Analysis, ColumnRef, SchemaMap, StatementKind } from "./types.ts";
import { classify, type KindInfo } from "./kind.ts";
import { resolveQuery } from "./lineage.ts";
import { mentionsOf } from "./mentions.ts";
import { parseSql, statementsOf } from "./parse.ts";
import { newScope, type Ctx } from "./scope.ts";
import { collectTables } from "./tables.ts";

export { referencedSources, referencedTables, type ReferencedSources } from "./tables.ts";
export { expandWildcard, type WildcardRef } from "./wildcard.ts";
export type { InfoSchemaRef } from "./information-schema.ts";

/** The statement kind of `sql`, from its syntax alone (no schema): what guardrails decide before anything is looked up. */
export function statementKind(sql: string): KindInfo {
  return classify(parseSql(sql));
}

export type { KindInfo, StatementKind };

export interface AnalyzeOptions {
  defaultProject: string;
  /** Schemas of every concrete table read, wildcard matches included. */
  schemas: SchemaMap;
  /**
   * Each wildcard table's matches: WildcardRef.key ("project.dataset.prefix*", lower-case) → the matching tables'
   * "project.dataset.table" keys (lower-case), e.g. from expandWildcard. A wildcard missing here is refused.
   */
  wildcards?: Map<string, string[]>;
}

/**
 * Analyses one BigQuery statement. For a query: every output column with the source columns it derives
 * from, and every source column used where its value could be inferred. Throws `denied` for SQL it
 * cannot parse or resolve with certainty (unknown or ambiguous columns, tables without a schema, ...).
 */
export function analyze(sql: string, opts: AnalyzeOptions): Analysis {
  const program = parseSql(sql);
  const { kind, statementType, kinds } = classify(program);
  if (kind !== "query") {
    return { kind, statementType, kinds, tables: collectTables(program, opts.defaultProject), outputs: [], uses: [], mentions: mentionsOf(program) };
  }
  const ctx: Ctx = {
    defaultProject: opts.defaultProject,
    schemas: opts.schemas,
    wildcards: opts.wildcards ?? new Map(),
    tables: new Map(),
    uses: new Map(),
    hoisted: new Set(),
    query: (node, env) => resolveQuery(node, env),
  };
  const rel = resolveQuery(statementsOf(program)[0]!, { ctx, scope: newScope(null), ctes: new Map() });
  return {
    kind,
    statementType,
    kinds,
    tables: [...ctx.tables.values()],
    outputs: rel.columns.map((c) => ({ name: c.name, sources: [...c.sources].sort().map(toRef), direct: c.direct === true })),
    uses: [...ctx.uses.values()].sort((a, b) => rank(a.construct) - rank(b.construct)),
    mentions: mentionsOf(program),
  };
}

// Query clauses first, so the first use a caller reports is the one a person recognises ("WHERE", not "comparison").
const CLAUSE_ORDER = [
  "WHERE", "JOIN ON", "JOIN USING", "GROUP BY", "HAVING", "QUALIFY", "ORDER BY", "LIMIT", "DISTINCT", "UNION DISTINCT",
  "INTERSECT DISTINCT", "EXCEPT DISTINCT", "UNION ALL", "UNNEST", "WINDOW PARTITION BY", "WINDOW ORDER BY",
];
const rank = (clause: string): number => {
  const i = CLAUSE_ORDER.indexOf(clause);
  return i === -1 ? CLAUSE_ORDER.length : i;
};

function toRef(key: string): ColumnRef {
  const dot = key.lastIndexOf(".");
  return { table: key.slice(0, dot), column: key.slice(dot + 1) };
}
