/** Entry point of SQL analysis: statement kind, tables, per-output lineage and inference uses. */
import type { Analysis, ColumnRef, SchemaMap } from "./types.ts";
import { classify } from "./kind.ts";
import { resolveQuery } from "./lineage.ts";
import { parseSql, statementsOf } from "./parse.ts";
import { newScope, type Ctx } from "./scope.ts";
import { collectTables } from "./tables.ts";

export { referencedTables } from "./tables.ts";

export interface AnalyzeOptions {
  defaultProject: string;
  schemas: SchemaMap;
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
    return { kind, statementType, kinds, tables: collectTables(program, opts.defaultProject), outputs: [], inferenceUses: [] };
  }
  const ctx: Ctx = {
    defaultProject: opts.defaultProject,
    schemas: opts.schemas,
    tables: new Map(),
    inference: new Map(),
    hoisted: new Set(),
    query: (node, env) => resolveQuery(node, env),
  };
  const rel = resolveQuery(statementsOf(program)[0]!, { ctx, scope: newScope(null), ctes: new Map() });
  return {
    kind,
    statementType,
    kinds,
    tables: [...ctx.tables.values()],
    outputs: rel.columns.map((c) => ({ name: c.name, sources: [...c.sources].sort().map(toRef) })),
    inferenceUses: [...ctx.inference.values()].sort((a, b) => rank(a.clause) - rank(b.clause)),
  };
}

// Query clauses first, so the first use a caller reports is the one a person recognises ("WHERE", not "comparison").
const CLAUSE_ORDER = ["WHERE", "JOIN ON", "JOIN USING", "GROUP BY", "HAVING", "QUALIFY", "ORDER BY", "WINDOW PARTITION BY", "WINDOW ORDER BY"];
const rank = (clause: string): number => {
  const i = CLAUSE_ORDER.indexOf(clause);
  return i === -1 ? CLAUSE_ORDER.length : i;
};

function toRef(key: string): ColumnRef {
  const dot = key.lastIndexOf(".");
  return { table: key.slice(0, dot), column: key.slice(dot + 1) };
}
