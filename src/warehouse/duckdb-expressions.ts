/**
 * Expressions, clauses and statements for the BigQuery → DuckDB translation, one small function per CST node type.
 * Types without an entry here are either pass-through syntax (duckdb-dialect.ts) or refused.
 */
import type { Translator, Visit } from "./duckdb-dialect.ts";
import { extractPart, FUNCTIONS, type Call } from "./duckdb-functions.ts";
import { formatSql } from "./duckdb-format.ts";
import { literalText, opText, pathParts, quoteIdent, replaceWith, showTrim, typeText, unsupported, type N } from "./duckdb-syntax.ts";

/** Select-list items that carry their own output name (replaced identifiers are already quoted text). */
const NAMED_COLUMN = new Set(["alias", "identifier", "bigquery_quoted_member_expr", "all_columns", "except_columns", "replace_columns"]);

const BINARY_OPERATORS = new Set([
  "+", "-", "*", "/", "||", "=", "!=", "<>", "<", ">", "<=", ">=", "&", "|", "<<", ">>", "AND", "OR", "IS",
  "IS NOT", "IN", "NOT IN", "LIKE", "NOT LIKE", "IS DISTINCT FROM", "IS NOT DISTINCT FROM",
]);

const INTERVAL_UNITS = new Set(["YEAR", "QUARTER", "MONTH", "WEEK", "DAY", "HOUR", "MINUTE", "SECOND", "MILLISECOND", "MICROSECOND"]);

/** FORMAT compiles its literal format string; see duckdb-format.ts. */
function format(tr: Translator, node: N): void {
  const fargs: N | undefined = node.args?.expr;
  const items: N[] = fargs?.args?.items ?? [];
  if (node.over || fargs?.distinctKw || fargs?.orderBy || fargs?.limit || fargs?.nullHandlingKw) return unsupported("FORMAT with DISTINCT, ORDER BY, LIMIT or OVER");
  if (items[0]?.type !== "string_literal") return unsupported("FORMAT's format string must be a string literal");
  const fail = (message: string): never => unsupported(`FORMAT: ${message}`);
  replaceWith(node, formatSql(String(items[0].value), items.slice(1), (n) => (tr.visit(n), showTrim(n)), fail));
}

/**
 * SELECT AS STRUCT in an expression subquery: each row becomes one STRUCT value, which is DuckDB's
 * row-as-struct reference to a derived table. Fields need names: BigQuery's anonymous fields have no DuckDB twin.
 */
function selectAsStruct(tr: Translator, node: N, clause: N, at: number): void {
  if (tr.tableQueries.has(node)) return unsupported("SELECT AS STRUCT outside an expression subquery such as ARRAY(SELECT AS STRUCT ...)");
  const names = new Set<string>();
  for (const item of clause.columns.items as N[]) {
    if (item.type === "all_columns" || item.type === "except_columns" || item.type === "replace_columns" || item.property?.type === "all_columns") continue;
    const name = item.type === "alias" ? item.alias.name : pathParts(item)?.at(-1);
    if (!name) return unsupported("SELECT AS STRUCT fields without names (write expr AS name)");
    if (names.has(String(name).toLowerCase())) return unsupported(`SELECT AS STRUCT with the field ${name} twice`);
    names.add(String(name).toLowerCase());
  }
  clause.modifiers.splice(at, 1);
  tr.visitChildren(node);
  const row = tr.fresh("__struct");
  replaceWith(node, `SELECT ${row} FROM (${showTrim(node)}) AS ${row}`);
}

/** A call of a function in duckdb-functions.ts: a rename keeps the call's shape, a rewrite gets its arguments on demand. */
function call(tr: Translator, node: N): void {
  const parts = pathParts(node.name);
  if (!parts || parts.length !== 1) return unsupported(`the function ${showTrim(node.name)}`);
  const name = parts[0]!.toUpperCase();
  const handler = FUNCTIONS[name];
  if (handler === undefined) return unsupported(`the function ${name}`);
  const fargs: N | undefined = node.args?.expr;
  const items: N[] = fargs?.args?.items ?? [];
  if (typeof handler === "string") return renamed(tr, node, handler, name, fargs);
  if (node.over || fargs?.distinctKw || fargs?.orderBy || fargs?.limit || fargs?.nullHandlingKw || node.filter) {
    return unsupported(`${name} with DISTINCT, ORDER BY, LIMIT, IGNORE NULLS or OVER`);
  }
  const done = new Map<number, string>();
  const c: Call = {
    name,
    argc: items.length,
    sql(i) {
      if (!done.has(i)) { tr.visit(items[i]!); done.set(i, showTrim(items[i]!)); }
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
      tr.visit(arg.value);
      return { value: showTrim(arg.value), unit: opText(arg.unit.unitKw) };
    },
    fail: (message) => unsupported(`${name}: ${message}`),
  };
  replaceWith(node, handler(c));
}

/** A DuckDB function with the same arguments: keep DISTINCT, ORDER BY and OVER as written. */
function renamed(tr: Translator, node: N, duckName: string, name: string, fargs: N | undefined): void {
  if (fargs?.limit && name !== "ARRAY_AGG") return unsupported(`LIMIT inside ${name}`);
  if (fargs?.nullHandlingKw && !node.over) return unsupported(`IGNORE/RESPECT NULLS in ${name} outside a window`);
  replaceWith(node.name, duckName);
  const star = tr.selectsStar;
  if (node.args) tr.visit(node.args);
  if (name === "COUNT") tr.selectsStar = star; // COUNT(*) reads no column
  if (node.over) tr.visit(node.over);
}

function arrayAgg(tr: Translator, node: N): void {
  const fargs: N | undefined = node.args?.expr;
  const items: N[] = fargs?.args?.items ?? [];
  if (items.length !== 1 || node.over) return unsupported("ARRAY_AGG takes one argument and no OVER here");
  const ignoreNulls = opText(fargs?.nullHandlingKw ?? "").startsWith("IGNORE");
  const limit: N | undefined = fargs?.limit;
  delete fargs!.nullHandlingKw;
  delete fargs!.limit;
  tr.visit(items[0]!);
  const value = showTrim(items[0]!);
  if (fargs!.orderBy) tr.visit(fargs!.orderBy);
  let text = `array_agg(${fargs!.distinctKw ? "DISTINCT " : ""}${showTrim(fargs!.args)}${fargs!.orderBy ? ` ${showTrim(fargs!.orderBy)}` : ""})`;
  if (ignoreNulls) text += ` FILTER (WHERE (${value}) IS NOT NULL)`;
  if (limit) {
    if (limit.count?.type !== "number_literal" || limit.offset) return unsupported("ARRAY_AGG ... LIMIT takes one integer");
    text = `list_slice(${text}, 1, ${Number(limit.count.value)})`;
  }
  replaceWith(node, text);
}

/** `a.b`, `t.*` and array subscripts; BigQuery arrays are 0-based under OFFSET (and a bare index), 1-based under ORDINAL, like DuckDB's. */
const member: Visit = (tr, node) => {
  if (node.object.type === "identifier") {
    tr.identifiers.add(String(node.object.name).toLowerCase());
    replaceWith(node.object, quoteIdent(node.object.name));
  } else tr.visit(node.object);
  const prop: N = node.property;
  if (prop.type === "all_columns") { tr.selectsStar = true; return; }
  if (prop.type === "identifier") return tr.visit(prop);
  if (prop.type !== "array_subscript") return unsupported(`${prop.type} access`);
  const sub: N = prop.expr;
  const array = showTrim(node.object);
  if (sub.type !== "array_subscript_specifier") { tr.visit(sub); return replaceWith(node, `${array}[(${showTrim(sub)}) + 1]`); }
  tr.visit(sub.args);
  const kw = opText(sub.specifierKw);
  return replaceWith(node, kw.endsWith("ORDINAL") ? `${array}[${showTrim(sub.args)}]` : `${array}[${showTrim(sub.args)} + 1]`);
};

const literal: Visit = (_tr, node) => replaceWith(node, literalText(node) ?? showTrim(node));

/** Typed constructors: ARRAY<T>[...] as a cast, STRUCT(...) with named fields as struct_pack. */
const typed: Visit = (tr, node) => {
  const kw = opText(node.dataType.typeKw ?? "");
  if (kw === "ARRAY" && node.expr.type === "array_expr") {
    const type = typeText(node.dataType);
    tr.visit(node.expr);
    return replaceWith(node, `CAST(${showTrim(node.expr)} AS ${type})`);
  }
  if (kw === "STRUCT" && !node.dataType.params && node.expr.type === "struct_expr") {
    const fields = (node.expr.expr.items as N[]).map((item) => {
      const named = item.type === "alias" ? item.alias.name : pathParts(item)?.at(-1);
      if (!named) return unsupported("STRUCT fields without names (write expr AS name)");
      const value = item.type === "alias" ? item.expr : item;
      tr.visit(value);
      return `${quoteIdent(named)} := ${showTrim(value)}`;
    });
    return replaceWith(node, `struct_pack(${fields.join(", ")})`);
  }
  return unsupported(`typed ${kw} constructors`);
};

/** Expressions, clauses and statements by CST node type. */
export const EXPRESSIONS: Record<string, Visit> = {
  identifier(tr, node) {
    tr.identifiers.add(String(node.name).toLowerCase());
    tr.bareNames.add(String(node.name).toLowerCase());
    replaceWith(node, quoteIdent(node.name));
  },
  bigquery_quoted_member_expr(tr, node) {
    const parts = pathParts(node)!;
    parts.forEach((p) => tr.identifiers.add(p.toLowerCase()));
    replaceWith(node, parts.map(quoteIdent).join("."));
  },
  member_expr: member,
  all_columns(tr) {
    tr.selectsStar = true;
  },
  except_columns(tr, node) {
    tr.visit(node.expr);
    node.exceptKw.text = "EXCLUDE";
    tr.visit(node.columns);
  },
  from_clause: (tr, node) => tr.visitFrom(node.expr),
  join_expr: () => unsupported("a join outside FROM"),
  func_call(tr, node) {
    const name = pathParts(node.name)?.join(".").toUpperCase();
    return name === "ARRAY_AGG" ? arrayAgg(tr, node) : name === "FORMAT" ? format(tr, node) : call(tr, node);
  },
  binary_expr(tr, node) {
    const op = opText(node.operator);
    if (!BINARY_OPERATORS.has(op)) return unsupported(`the operator ${op}`);
    tr.visit(node.left);
    if ((op === "IN" || op === "NOT IN") && node.right.type === "unnest_expr") {
      tr.visit(node.right.expr);
      const test = `list_contains(${showTrim(node.right.expr)}, ${showTrim(node.left)})`;
      return replaceWith(node, op === "IN" ? test : `NOT ${test}`);
    }
    return tr.visit(node.right);
  },
  string_literal: literal, number_literal: literal, blob_literal: literal, numeric_literal: literal, date_literal: literal,
  time_literal: literal, datetime_literal: literal, timestamp_literal: literal, json_literal: literal,
  interval_literal(tr, node) {
    if (node.unit?.type !== "interval_unit") return unsupported("interval ranges such as YEAR TO MONTH");
    const unit = opText(node.unit.unitKw);
    if (!INTERVAL_UNITS.has(unit)) return unsupported(`the interval unit ${unit}`);
    tr.visit(node.value);
    return replaceWith(node, `INTERVAL (${showTrim(node.value)}) ${unit}`);
  },
  cast_expr(tr, node) {
    const kw = opText(node.castKw);
    const arg: N = node.args.expr;
    if (arg.type !== "cast_arg" || arg.format) return unsupported(`${kw} with FORMAT`);
    tr.visit(arg.expr);
    return replaceWith(node, `${kw === "SAFE_CAST" ? "TRY_CAST" : "CAST"}(${showTrim(arg.expr)} AS ${typeText(arg.dataType)})`);
  },
  extract_expr(tr, node) {
    const from: N = node.args.expr;
    const extra = Object.keys(from).filter((k) => !["type", "unit", "fromKw", "expr", "leading", "trailing", "range"].includes(k));
    if (from.type !== "extract_from" || from.unit?.type !== "interval_unit" || extra.length) return unsupported("this form of EXTRACT");
    tr.visit(from.expr);
    return replaceWith(node, extractPart(opText(from.unit.unitKw), showTrim(from.expr), (m) => unsupported(m)));
  },
  array_expr(tr, node) {
    tr.visit(node.expr);
    replaceWith(node, `[${showTrim(node.expr)}]`);
  },
  typed_expr: typed,
  select_stmt(tr, node) {
    const clause = (node.clauses as N[]).find((c) => c.type === "select_clause");
    const at = (clause?.modifiers as N[] | undefined)?.findIndex((m) => m.type === "select_as_struct") ?? -1;
    return at >= 0 ? selectAsStruct(tr, node, clause!, at) : tr.visitChildren(node);
  },
  /** BigQuery names unnamed expression columns f0_, f1_, ...; DuckDB would name them after the expression text. */
  select_clause(tr, node) {
    if ((node.modifiers as N[]).some((m) => /as_(struct|value)/.test(m.type))) return unsupported("SELECT AS STRUCT / AS VALUE");
    const items = node.columns.items as N[];
    const unnamed = items.filter((item) => !NAMED_COLUMN.has(item.type) && !(item.type === "member_expr" && item.property?.type !== "array_subscript"));
    tr.visitChildren(node);
    unnamed.forEach((item, i) => replaceWith(item, `${showTrim(item)} AS "f${i}_"`));
  },
};
