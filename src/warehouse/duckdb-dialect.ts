/**
 * BigQuery standard SQL → DuckDB SQL for the demo warehouse. The query is parsed with
 * sql-parser-cst (bigquery), rewritten in place and printed with show(). Only an allow-list of
 * syntax and functions passes; anything else fails with a WarehouseQueryError, never a guess.
 */
import { parse, show } from "sql-parser-cst";
import type { TableRef } from "./types.ts";
import { WarehouseQueryError } from "./types.ts";
import { extractPart, FUNCTIONS, type Call } from "./duckdb-functions.ts";
import { formatSql } from "./duckdb-format.ts";
import { literalText, opText, quoteIdent, replaceWith, showTrim, typeText, unsupported, type N } from "./duckdb-syntax.ts";

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

/** Syntax and node types that mean the same in both dialects once their children are translated. */
const PASS_THROUGH = new Set([
  "compound_select_stmt", "select_clause", "select_distinct", "select_all", "where_clause",
  "group_by_clause", "group_by_rollup", "group_by_all", "having_clause", "qualify_clause", "order_by_clause",
  "limit_clause", "window_clause", "named_window", "with_clause", "common_table_expr", "join_on_specification",
  "join_using_specification", "paren_expr", "list_expr", "prefix_op_expr", "between_expr", "case_expr",
  "case_when", "case_else", "sort_specification", "sort_direction_asc", "sort_direction_desc", "over_arg",
  "window_definition", "partition_by_clause", "frame_clause", "frame_between", "frame_bound_preceding",
  "frame_bound_following", "frame_bound_current_row", "frame_unbounded", "boolean_literal", "null_literal",
  "keyword", "all_columns", "empty", "replace_columns", "alias", "func_args", "cast_arg",
]);

/** Select-list items that carry their own output name (replaced identifiers are already quoted text). */
const NAMED_COLUMN = new Set(["alias", "identifier", "bigquery_quoted_member_expr", "all_columns", "except_columns", "replace_columns"]);

const BINARY_OPERATORS = new Set([
  "+", "-", "*", "/", "||", "=", "!=", "<>", "<", ">", "<=", ">=", "&", "|", "<<", ">>", "AND", "OR", "IS",
  "IS NOT", "IN", "NOT IN", "LIKE", "NOT LIKE", "IS DISTINCT FROM", "IS NOT DISTINCT FROM",
]);

const STATEMENT_TYPES: Record<string, string> = {
  select_stmt: "SELECT", compound_select_stmt: "SELECT", insert_stmt: "INSERT", update_stmt: "UPDATE",
  delete_stmt: "DELETE", merge_stmt: "MERGE", truncate_stmt: "TRUNCATE_TABLE", create_table_stmt: "CREATE_TABLE",
  create_view_stmt: "CREATE_VIEW", drop_table_stmt: "DROP_TABLE", drop_view_stmt: "DROP_VIEW",
  alter_table_stmt: "ALTER_TABLE", create_function_stmt: "CREATE_FUNCTION", export_data_stmt: "EXPORT_DATA",
};

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

/** The identifier parts of a (possibly backticked) dotted path, or undefined when the node is not a path. */
function pathParts(node: N): string[] | undefined {
  if (node.type === "identifier") return [node.name as string];
  if (node.type === "bigquery_quoted_member_expr") return pathParts(node.expr);
  if (node.type === "member_expr" && node.property?.type === "identifier") {
    const head = pathParts(node.object);
    return head && [...head, node.property.name as string];
  }
  return undefined;
}

/** Translates one BigQuery query to DuckDB SQL; throws WarehouseQueryError for anything it cannot translate faithfully. */
export function translateToDuckDB(sql: string, resolveTable: TableResolver): Translation {
  const statements = parseProgram(sql);
  if (statements.length !== 1) unsupported(statements.length === 0 ? "an empty query" : "scripts (several statements)");
  const root = statements[0]!;
  const statementType = STATEMENT_TYPES[root.type] ?? root.type.replace(/_stmt$/, "").toUpperCase();
  if (statementType !== "SELECT") unsupported(`only queries run here, not ${statementType}`);

  const cteNames = new Set<string>();
  const tables = new Map<string, TableRef>();
  const identifiers = new Set<string>();
  let selectsStar = false;
  // A bare table name or alias used as a value (`SELECT t FROM ... t`, `TO_JSON_STRING(t)`) reads the whole row.
  const bareNames = new Set<string>();
  const rowNames = new Set<string>();

  // Queries whose rows form a table (the statement, FROM subqueries, CTE bodies): SELECT AS STRUCT is refused there.
  const tableQueries = new Set<N>();
  const markTable = (n: N | undefined): void => {
    if (!n) return;
    if (n.type === "paren_expr") return markTable(n.expr);
    tableQueries.add(n);
    if (n.type === "compound_select_stmt") { markTable(n.left); markTable(n.right); }
  };
  markTable(root);

  const collectCtes = (node: unknown): void => {
    if (!node || typeof node !== "object") return;
    const n = node as N;
    if (n.type === "common_table_expr") {
      cteNames.add(String(n.table?.name ?? "").toLowerCase());
      markTable(n.expr);
    }
    for (const [key, value] of Object.entries(n)) if (key !== "leading" && key !== "trailing") collectCtes(value);
  };
  collectCtes(root);

  const visitChildren = (node: N): void => {
    for (const [key, value] of Object.entries(node)) {
      if (key === "leading" || key === "trailing" || key === "range") continue;
      if (Array.isArray(value)) value.forEach((v) => v && typeof v === "object" && visit(v as N));
      else if (value && typeof value === "object") visit(value as N);
    }
  };

  /**
   * Comments never reach DuckDB: `#` is not a comment there, and DuckDB nests block comments
   * where BigQuery does not, so a comment could hide or reveal different code on each side.
   */
  const fixComments = (node: N): void => {
    for (const side of ["leading", "trailing"] as const) {
      for (const ws of (node[side] ?? []) as N[]) {
        if (ws.type === "line_comment") Object.assign(ws, { type: "newline", text: "\n" });
        else if (ws.type === "block_comment") Object.assign(ws, { type: "space", text: " " });
      }
    }
  };

  const visitTable = (node: N): void => {
    const parts = pathParts(node);
    if (!parts) return unsupported(`${node.type} in FROM`);
    if (parts.length === 1 && cteNames.has(parts[0]!.toLowerCase())) {
      replaceWith(node, quoteIdent(parts[0]!));
      return;
    }
    if (parts.length === 1) {
      throw new WarehouseQueryError(`Table name "${parts[0]}" missing dataset while no default dataset is set in the request.`, { reason: "invalid" });
    }
    const ref = resolveTable(parts);
    tables.set(`${ref.project}.${ref.dataset}.${ref.table}`, ref);
    rowNames.add(ref.table);
    replaceWith(node, [ref.project, ref.dataset, ref.table].map(quoteIdent).join("."));
  };

  /** FROM items: tables, joins, subqueries and UNNEST. */
  const visitFrom = (node: N): void => {
    fixComments(node);
    switch (node.type) {
      case "join_expr":
        visitFrom(node.left);
        visitFrom(node.right);
        if (node.specification) visit(node.specification);
        return;
      case "alias":
        if (node.expr.type === "unnest_with_offset_expr") return visitUnnestWithOffset(node, node.expr, node.alias.name);
        if (node.expr.type === "unnest_expr") {
          const name = quoteIdent(node.alias.name);
          visit(node.expr.expr);
          replaceWith(node, `unnest(${showTrim(node.expr.expr)}) AS ${name}(${name})`);
          return;
        }
        visitFrom(node.expr);
        rowNames.add(String(node.alias.name).toLowerCase());
        replaceWith(node.alias, quoteIdent(node.alias.name));
        return;
      case "paren_expr":
        if (node.expr.type === "select_stmt" || node.expr.type === "compound_select_stmt") {
          markTable(node.expr);
          visit(node.expr);
        } else visitFrom(node.expr);
        return;
      case "identifier": case "member_expr": case "bigquery_quoted_member_expr":
        return visitTable(node);
      case "unnest_expr": return unsupported("UNNEST in FROM without an alias (write UNNEST(x) AS name)");
      case "unnest_with_offset_expr": return visitUnnestWithOffset(node, node, "offset");
      default: return unsupported(`${node.type.replace(/_/g, " ")} in FROM`);
    }
  };

  /** UNNEST(a) AS v WITH OFFSET [AS o]: a lateral subquery numbering the elements from 0, as BigQuery does. */
  let generated = 0; // names for generated aliases
  const visitUnnestWithOffset = (node: N, withOffset: N, offsetName: string): void => {
    const inner: N = withOffset.unnest;
    if (inner.type !== "alias" || inner.expr.type !== "unnest_expr") return unsupported("UNNEST ... WITH OFFSET without an alias for the element (write UNNEST(x) AS name WITH OFFSET)");
    visit(inner.expr.expr);
    const u = quoteIdent(`__unnest_${generated++}`);
    const sql = `(SELECT ${u}."v" AS ${quoteIdent(inner.alias.name)}, ${u}."o" - 1 AS ${quoteIdent(offsetName)} `
      + `FROM unnest(${showTrim(inner.expr.expr)}) WITH ORDINALITY AS ${u}("v", "o")) AS ${u}`;
    replaceWith(node, sql);
  };

  /** FORMAT compiles its literal format string; see duckdb-format.ts. */
  const visitFormat = (node: N): void => {
    const fargs: N | undefined = node.args?.expr;
    const items: N[] = fargs?.args?.items ?? [];
    if (node.over || fargs?.distinctKw || fargs?.orderBy || fargs?.limit || fargs?.nullHandlingKw) return unsupported("FORMAT with DISTINCT, ORDER BY, LIMIT or OVER");
    if (items[0]?.type !== "string_literal") return unsupported("FORMAT's format string must be a string literal");
    const fail = (message: string): never => unsupported(`FORMAT: ${message}`);
    replaceWith(node, formatSql(String(items[0].value), items.slice(1), (n) => (visit(n), showTrim(n)), fail));
  };

  /**
   * SELECT AS STRUCT in an expression subquery: each row becomes one STRUCT value, which is DuckDB's
   * row-as-struct reference to a derived table. Fields need names: BigQuery's anonymous fields have no DuckDB twin.
   */
  const visitSelectAsStruct = (node: N, clause: N, at: number): void => {
    if (tableQueries.has(node)) return unsupported("SELECT AS STRUCT outside an expression subquery such as ARRAY(SELECT AS STRUCT ...)");
    const names = new Set<string>();
    for (const item of clause.columns.items as N[]) {
      if (item.type === "all_columns" || item.type === "except_columns" || item.type === "replace_columns" || item.property?.type === "all_columns") continue;
      const name = item.type === "alias" ? item.alias.name : pathParts(item)?.at(-1);
      if (!name) return unsupported("SELECT AS STRUCT fields without names (write expr AS name)");
      if (names.has(String(name).toLowerCase())) return unsupported(`SELECT AS STRUCT with the field ${name} twice`);
      names.add(String(name).toLowerCase());
    }
    clause.modifiers.splice(at, 1);
    visitChildren(node);
    const row = quoteIdent(`__struct_${generated++}`);
    replaceWith(node, `SELECT ${row} FROM (${showTrim(node)}) AS ${row}`);
  };

  const visitFunc = (node: N): void => {
    const parts = pathParts(node.name);
    if (!parts || parts.length !== 1) return unsupported(`the function ${showTrim(node.name)}`);
    const name = parts[0]!.toUpperCase();
    const handler = FUNCTIONS[name];
    if (handler === undefined) return unsupported(`the function ${name}`);
    const fargs: N | undefined = node.args?.expr;
    const items: N[] = fargs?.args?.items ?? [];
    if (typeof handler === "string") return visitRenamed(node, handler, name, fargs);
    if (node.over || fargs?.distinctKw || fargs?.orderBy || fargs?.limit || fargs?.nullHandlingKw || node.filter) {
      return unsupported(`${name} with DISTINCT, ORDER BY, LIMIT, IGNORE NULLS or OVER`);
    }
    const done = new Map<number, string>();
    const call: Call = {
      name,
      argc: items.length,
      sql(i) {
        if (!done.has(i)) { visit(items[i]!); done.set(i, showTrim(items[i]!)); }
        return done.get(i)!;
      },
      part(i) {
        const arg = items[i];
        if (arg?.type === "identifier") return String(arg.name).toUpperCase();
        if (arg?.type === "func_call" && arg.args?.expr?.args?.items?.length === 1) {
          return `${String(arg.name.name).toUpperCase()}(${String(arg.args.expr.args.items[0].name).toUpperCase()})`;
        }
        return unsupported(`${name} argument ${i + 1} must be a date part such as MONTH`);
      },
      str(i) {
        const arg = items[i];
        if (arg?.type !== "string_literal") return unsupported(`${name} argument ${i + 1} must be a string literal`);
        return String(arg.value);
      },
      interval(i) {
        const arg = items[i];
        if (arg?.type !== "interval_literal" || arg.unit?.type !== "interval_unit") return unsupported(`${name} argument ${i + 1} must be an interval such as INTERVAL 1 DAY`);
        visit(arg.value);
        return { value: showTrim(arg.value), unit: opText(arg.unit.unitKw) };
      },
      fail: (message) => unsupported(`${name}: ${message}`),
    };
    replaceWith(node, handler(call));
  };

  /** A DuckDB function with the same arguments: keep DISTINCT, ORDER BY and OVER as written. */
  const visitRenamed = (node: N, duckName: string, name: string, fargs: N | undefined): void => {
    if (fargs?.limit && name !== "ARRAY_AGG") return unsupported(`LIMIT inside ${name}`);
    if (fargs?.nullHandlingKw && !node.over) return unsupported(`IGNORE/RESPECT NULLS in ${name} outside a window`);
    replaceWith(node.name, duckName);
    const star = selectsStar;
    if (node.args) visit(node.args);
    if (name === "COUNT") selectsStar = star; // COUNT(*) reads no column
    if (node.over) visit(node.over);
  };

  const visitArrayAgg = (node: N): void => {
    const fargs: N | undefined = node.args?.expr;
    const items: N[] = fargs?.args?.items ?? [];
    if (items.length !== 1 || node.over) return unsupported("ARRAY_AGG takes one argument and no OVER here");
    const ignoreNulls = opText(fargs?.nullHandlingKw ?? "").startsWith("IGNORE");
    const limit: N | undefined = fargs?.limit;
    delete fargs!.nullHandlingKw;
    delete fargs!.limit;
    visit(items[0]!);
    const value = showTrim(items[0]!);
    if (fargs!.orderBy) visit(fargs!.orderBy);
    let text = `array_agg(${fargs!.distinctKw ? "DISTINCT " : ""}${showTrim(fargs!.args)}${fargs!.orderBy ? ` ${showTrim(fargs!.orderBy)}` : ""})`;
    if (ignoreNulls) text += ` FILTER (WHERE (${value}) IS NOT NULL)`;
    if (limit) {
      if (limit.count?.type !== "number_literal" || limit.offset) return unsupported("ARRAY_AGG ... LIMIT takes one integer");
      text = `list_slice(${text}, 1, ${Number(limit.count.value)})`;
    }
    replaceWith(node, text);
  };

  /** BigQuery names unnamed expression columns f0_, f1_, ...; DuckDB would name them after the expression text. */
  const visitSelectList = (node: N): void => {
    if ((node.modifiers as N[]).some((m) => /as_(struct|value)/.test(m.type))) return unsupported("SELECT AS STRUCT / AS VALUE");
    const items = node.columns.items as N[];
    const unnamed = items.filter((item) => !NAMED_COLUMN.has(item.type) && !(item.type === "member_expr" && item.property?.type !== "array_subscript"));
    visitChildren(node);
    unnamed.forEach((item, i) => replaceWith(item, `${showTrim(item)} AS "f${i}_"`));
  };

  const visit = (node: N): void => {
    fixComments(node);
    switch (node.type) {
      case "identifier":
        identifiers.add(String(node.name).toLowerCase());
        bareNames.add(String(node.name).toLowerCase());
        return replaceWith(node, quoteIdent(node.name));
      case "bigquery_quoted_member_expr": {
        const parts = pathParts(node)!;
        parts.forEach((p) => identifiers.add(p.toLowerCase()));
        return replaceWith(node, parts.map(quoteIdent).join("."));
      }
      case "member_expr": {
        if (node.object.type === "identifier") {
          identifiers.add(String(node.object.name).toLowerCase());
          replaceWith(node.object, quoteIdent(node.object.name));
        } else visit(node.object);
        const prop: N = node.property;
        if (prop.type === "all_columns") { selectsStar = true; return; }
        if (prop.type === "identifier") return visit(prop);
        if (prop.type !== "array_subscript") return unsupported(`${prop.type} access`);
        // BigQuery arrays are 0-based under OFFSET (and a bare index), 1-based under ORDINAL, like DuckDB's.
        const sub: N = prop.expr;
        const array = showTrim(node.object);
        if (sub.type !== "array_subscript_specifier") { visit(sub); return replaceWith(node, `${array}[(${showTrim(sub)}) + 1]`); }
        visit(sub.args);
        const kw = opText(sub.specifierKw);
        return replaceWith(node, kw.endsWith("ORDINAL") ? `${array}[${showTrim(sub.args)}]` : `${array}[${showTrim(sub.args)} + 1]`);
      }
      case "all_columns": selectsStar = true; return;
      case "except_columns":
        visit(node.expr);
        node.exceptKw.text = "EXCLUDE";
        return visit(node.columns);
      case "from_clause": return visitFrom(node.expr);
      case "join_expr": return unsupported("a join outside FROM");
      case "func_call": {
        const name = pathParts(node.name)?.join(".").toUpperCase();
        return name === "ARRAY_AGG" ? visitArrayAgg(node) : name === "FORMAT" ? visitFormat(node) : visitFunc(node);
      }
      case "binary_expr": {
        const op = opText(node.operator);
        if (!BINARY_OPERATORS.has(op)) return unsupported(`the operator ${op}`);
        visit(node.left);
        if ((op === "IN" || op === "NOT IN") && node.right.type === "unnest_expr") {
          visit(node.right.expr);
          const test = `list_contains(${showTrim(node.right.expr)}, ${showTrim(node.left)})`;
          return replaceWith(node, op === "IN" ? test : `NOT ${test}`);
        }
        return visit(node.right);
      }
      case "string_literal": case "number_literal": case "blob_literal": case "numeric_literal": case "date_literal":
      case "time_literal": case "datetime_literal": case "timestamp_literal": case "json_literal":
        return replaceWith(node, literalText(node) ?? showTrim(node));
      case "interval_literal": {
        if (node.unit?.type !== "interval_unit") return unsupported("interval ranges such as YEAR TO MONTH");
        const unit = opText(node.unit.unitKw);
        if (!["YEAR", "QUARTER", "MONTH", "WEEK", "DAY", "HOUR", "MINUTE", "SECOND", "MILLISECOND", "MICROSECOND"].includes(unit)) {
          return unsupported(`the interval unit ${unit}`);
        }
        visit(node.value);
        return replaceWith(node, `INTERVAL (${showTrim(node.value)}) ${unit}`);
      }
      case "cast_expr": {
        const kw = opText(node.castKw);
        const arg: N = node.args.expr;
        if (arg.type !== "cast_arg" || arg.format) return unsupported(`${kw} with FORMAT`);
        visit(arg.expr);
        return replaceWith(node, `${kw === "SAFE_CAST" ? "TRY_CAST" : "CAST"}(${showTrim(arg.expr)} AS ${typeText(arg.dataType)})`);
      }
      case "extract_expr": {
        const from: N = node.args.expr;
        const extra = Object.keys(from).filter((k) => !["type", "unit", "fromKw", "expr", "leading", "trailing", "range"].includes(k));
        if (from.type !== "extract_from" || from.unit?.type !== "interval_unit" || extra.length) return unsupported("this form of EXTRACT");
        visit(from.expr);
        return replaceWith(node, extractPart(opText(from.unit.unitKw), showTrim(from.expr), (m) => unsupported(m)));
      }
      case "array_expr":
        visit(node.expr);
        return replaceWith(node, `[${showTrim(node.expr)}]`);
      case "typed_expr": {
        const kw = opText(node.dataType.typeKw ?? "");
        if (kw === "ARRAY" && node.expr.type === "array_expr") {
          const type = typeText(node.dataType);
          visit(node.expr);
          return replaceWith(node, `CAST(${showTrim(node.expr)} AS ${type})`);
        }
        if (kw === "STRUCT" && !node.dataType.params && node.expr.type === "struct_expr") {
          const fields = (node.expr.expr.items as N[]).map((item) => {
            const named = item.type === "alias" ? item.alias.name : pathParts(item)?.at(-1);
            if (!named) return unsupported("STRUCT fields without names (write expr AS name)");
            const value = item.type === "alias" ? item.expr : item;
            visit(value);
            return `${quoteIdent(named)} := ${showTrim(value)}`;
          });
          return replaceWith(node, `struct_pack(${fields.join(", ")})`);
        }
        return unsupported(`typed ${kw} constructors`);
      }
      case "select_stmt": {
        const clause = (node.clauses as N[]).find((c) => c.type === "select_clause");
        const at = (clause?.modifiers as N[] | undefined)?.findIndex((m) => m.type === "select_as_struct") ?? -1;
        return at >= 0 ? visitSelectAsStruct(node, clause!, at) : visitChildren(node);
      }
      default:
        if (!PASS_THROUGH.has(node.type)) return unsupported(node.type.replace(/_/g, " "));
        if (node.type === "select_clause") return visitSelectList(node);
        return visitChildren(node);
    }
  };

  visit(root);
  if ([...bareNames].some((n) => rowNames.has(n))) selectsStar = true;
  return { sql: show(root as never).trim(), statementType, tables: [...tables.values()], identifiers, selectsStar };
}
