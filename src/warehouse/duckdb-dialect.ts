/**
 * BigQuery standard SQL → DuckDB SQL for the demo warehouse. The query is parsed with
 * sql-parser-cst (bigquery), rewritten in place and printed with show(). Only an allow-list of
 * syntax and functions passes; anything else fails with a WarehouseQueryError, never a guess.
 * Each construct has its own small function: FROM items in duckdb-from.ts, expressions and clauses in
 * duckdb-expressions.ts; this file holds what they share (the Translator) and the entry points.
 */
import { parse, show } from "sql-parser-cst";
import type { TableRef } from "./types.ts";
import { WarehouseQueryError } from "./types.ts";
import { EXPRESSIONS } from "./duckdb-expressions.ts";
import { FROM_ITEMS } from "./duckdb-from.ts";
import { quoteIdent, unsupported, type N } from "./duckdb-syntax.ts";

export { quoteIdent };

export interface Translation {
  /** The query as DuckDB SQL. */
  sql: string;
  /** BigQuery statement type: "SELECT" for queries. */
  statementType: string;
  /** Every table read, resolved and de-duplicated (CTE names excluded). */
  tables: TableRef[];
  /** Lower-case names of every identifier in the query, for a bytes estimate. */
  identifiers: Set<string>;
  /** Whether the query selects `*` or `t.*` somewhere. */
  selectsStar: boolean;
}

/** Resolves a table path (1 to n parts as written) to a known table, or throws "Not found". */
export type TableResolver = (parts: string[]) => TableRef;

/** Rewrites one node (and its children) in place. */
export type Visit = (tr: Translator, node: N) => void;

/** Syntax and node types that mean the same in both dialects once their children are translated. */
const PASS_THROUGH = new Set([
  "compound_select_stmt", "select_distinct", "select_all", "where_clause",
  "group_by_clause", "group_by_rollup", "group_by_all", "having_clause", "qualify_clause", "order_by_clause",
  "limit_clause", "window_clause", "named_window", "with_clause", "common_table_expr", "join_on_specification",
  "join_using_specification", "paren_expr", "list_expr", "prefix_op_expr", "between_expr", "case_expr",
  "case_when", "case_else", "sort_specification", "sort_direction_asc", "sort_direction_desc", "over_arg",
  "window_definition", "partition_by_clause", "frame_clause", "frame_between", "frame_bound_preceding",
  "frame_bound_following", "frame_bound_current_row", "frame_unbounded", "boolean_literal", "null_literal",
  "keyword", "all_columns", "empty", "replace_columns", "alias", "func_args", "cast_arg",
]);

const STATEMENT_TYPES: Record<string, string> = {
  select_stmt: "SELECT", compound_select_stmt: "SELECT", insert_stmt: "INSERT", update_stmt: "UPDATE",
  delete_stmt: "DELETE", merge_stmt: "MERGE", truncate_stmt: "TRUNCATE_TABLE", create_table_stmt: "CREATE_TABLE",
  create_view_stmt: "CREATE_VIEW", drop_table_stmt: "DROP_TABLE", drop_view_stmt: "DROP_VIEW",
  alter_table_stmt: "ALTER_TABLE", create_function_stmt: "CREATE_FUNCTION", export_data_stmt: "EXPORT_DATA",
};

/** What one translation has learnt so far, and the walk that rewrites the tree. */
export class Translator {
  readonly resolveTable: TableResolver;
  /** Lower-case CTE names: a one-part FROM name among them is the CTE, not a table. */
  readonly cteNames = new Set<string>();
  readonly tables = new Map<string, TableRef>();
  readonly identifiers = new Set<string>();
  selectsStar = false;
  // A bare table name or alias used as a value (`SELECT t FROM ... t`, `TO_JSON_STRING(t)`) reads the whole row.
  readonly bareNames = new Set<string>();
  readonly rowNames = new Set<string>();
  /** Queries whose rows form a table (the statement, FROM subqueries, CTE bodies): SELECT AS STRUCT is refused there. */
  readonly tableQueries = new Set<N>();
  #generated = 0;

  constructor(resolveTable: TableResolver) {
    this.resolveTable = resolveTable;
  }

  /** A name for a generated alias, unique within this statement. */
  fresh(prefix: string): string {
    return quoteIdent(`${prefix}_${this.#generated++}`);
  }

  markTable(n: N | undefined): void {
    if (!n) return;
    if (n.type === "paren_expr") return this.markTable(n.expr);
    this.tableQueries.add(n);
    if (n.type === "compound_select_stmt") { this.markTable(n.left); this.markTable(n.right); }
  }

  collectCtes(node: unknown): void {
    if (!node || typeof node !== "object") return;
    const n = node as N;
    if (n.type === "common_table_expr") {
      this.cteNames.add(String(n.table?.name ?? "").toLowerCase());
      this.markTable(n.expr);
    }
    for (const [key, value] of Object.entries(n)) if (key !== "leading" && key !== "trailing") this.collectCtes(value);
  }

  /** An expression, clause or statement: its own function when it has one, else pass-through syntax or refused. */
  visit(node: N): void {
    fixComments(node);
    if (Object.hasOwn(EXPRESSIONS, node.type)) return EXPRESSIONS[node.type]!(this, node);
    if (!PASS_THROUGH.has(node.type)) return unsupported(node.type.replace(/_/g, " "));
    return this.visitChildren(node);
  }

  /** A FROM item: tables, joins, subqueries and UNNEST. */
  visitFrom(node: N): void {
    fixComments(node);
    if (!Object.hasOwn(FROM_ITEMS, node.type)) return unsupported(`${node.type.replace(/_/g, " ")} in FROM`);
    return FROM_ITEMS[node.type]!(this, node);
  }

  visitChildren(node: N): void {
    for (const [key, value] of Object.entries(node)) {
      if (key === "leading" || key === "trailing" || key === "range") continue;
      if (Array.isArray(value)) value.forEach((v) => v && typeof v === "object" && this.visit(v as N));
      else if (value && typeof value === "object") this.visit(value as N);
    }
  }
}

/**
 * Comments never reach DuckDB: `#` is not a comment there, and DuckDB nests block comments
 * where BigQuery does not, so a comment could hide or reveal different code on each side.
 */
function fixComments(node: N): void {
  for (const side of ["leading", "trailing"] as const) {
    for (const ws of (node[side] ?? []) as N[]) {
      if (ws.type === "line_comment") Object.assign(ws, { type: "newline", text: "\n" });
      else if (ws.type === "block_comment") Object.assign(ws, { type: "space", text: " " });
    }
  }
}

function parseProgram(sql: string): N[] {
  let program: N;
  try {
    program = parse(sql, { dialect: "bigquery", includeSpaces: true, includeNewlines: true, includeComments: true }) as N;
  } catch (err) {
    const first = err instanceof Error ? err.message.split("\n").slice(0, 1).join("") : String(err);
    const where = err instanceof Error ? /--> [^:]*:(\d+:\d+)/.exec(err.message)?.[1] : undefined;
    throw new WarehouseQueryError(`${first}${where ? ` at [${where}]` : ""}`, { reason: "invalidQuery" });
  }
  return (program.statements as N[]).filter((s) => s.type !== "empty");
}

/** The BigQuery statement type of one SQL text ("SELECT", "INSERT", ..., "SCRIPT" for several statements). */
export function statementTypeOf(sql: string): string {
  const statements = parseProgram(sql);
  if (statements.length !== 1) return statements.length === 0 ? "EMPTY" : "SCRIPT";
  const type = statements[0]!.type;
  return STATEMENT_TYPES[type] ?? type.replace(/_stmt$/, "").toUpperCase();
}

/** Translates one BigQuery query to DuckDB SQL; throws WarehouseQueryError for anything it cannot translate faithfully. */
export function translateToDuckDB(sql: string, resolveTable: TableResolver): Translation {
  const statements = parseProgram(sql);
  if (statements.length !== 1) unsupported(statements.length === 0 ? "an empty query" : "scripts (several statements)");
  const root = statements[0]!;
  const statementType = STATEMENT_TYPES[root.type] ?? root.type.replace(/_stmt$/, "").toUpperCase();
  if (statementType !== "SELECT") unsupported(`only queries run here, not ${statementType}`);

  const tr = new Translator(resolveTable);
  tr.markTable(root);
  tr.collectCtes(root);
  tr.visit(root);
  const selectsStar = tr.selectsStar || [...tr.bareNames].some((n) => tr.rowNames.has(n));
  return { sql: show(root as never).trim(), statementType, tables: [...tr.tables.values()], identifiers: tr.identifiers, selectsStar };
}
