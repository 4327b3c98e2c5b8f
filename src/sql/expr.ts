/**
 * Expression lineage: the sources of an expression are every column it mentions, through any function,
 * operator, CASE branch or subquery. Tested positions (conditions, LIKE, window ordering...) are also
 * recorded as inference uses. A node type the analyser does not know is refused, never skipped.
 */
import { cannotAnalyse, childNodes, isNode, lc, pathParts, type Node } from "./parse.ts";
import { addAll, note, resolvePath, union, type Env, type Sources } from "./scope.ts";

// Nodes that carry no column reference.
const LEAF = new Set([
  "keyword", "string_literal", "number_literal", "blob_literal", "boolean_literal", "null_literal",
  "datetime_literal", "time_literal", "date_literal", "timestamp_literal", "json_literal", "numeric_literal",
  "bignumeric_literal", "parameter", "variable", "interval_unit", "interval_unit_range", "empty",
  "frame_bound_current_row", "frame_unbounded", "frame_exclusion", "sort_direction_asc", "sort_direction_desc",
  // Types hold no values (STRUCT<a INT64> names a field, not a column).
  "data_type_name", "parametric_data_type", "array_data_type", "generic_type_params", "array_type_param",
  "struct_type_param", "modified_data_type", "interval_data_type", "time_data_type", "array_bounds",
]);

// Nodes whose sources are the union of their children's.
const TRANSPARENT = new Set([
  "list_expr", "prefix_op_expr", "postfix_op_expr", "cast_arg", "cast_format", "cast_format_timezone",
  "extract_expr", "extract_from", "array_expr", "struct_expr", "typed_expr", "array_literal_expr",
  "interval_literal", "array_subscript", "array_subscript_specifier",
  "array_slice_specifier", "sort_specification", "frame_clause", "frame_between", "frame_bound_preceding",
  "frame_bound_following", "unnest_expr", "quantifier_expr", "week_expr", "limit_clause", "group_by_rollup",
  "group_by_cube", "group_by_grouping_sets",
]);

const COMPARISON = new Set(["=", "!=", "<>", "<", ">", "<=", ">=", "IS", "IS NOT", "IS DISTINCT FROM", "IS NOT DISTINCT FROM"]);
const PATTERN = new Set(["LIKE", "NOT LIKE"]);
const MEMBERSHIP = new Set(["IN", "NOT IN"]);

// Functions whose arguments are tested rather than returned.
const TESTS = new Set([
  "starts_with", "ends_with", "regexp_contains", "regexp_instr", "contains_substr", "search", "strpos", "instr",
  "nullif", "countif", "logical_and", "logical_or",
]);
// Functions that raise an error carrying their argument: what they see can leave through the error message.
const RAISES = new Set(["error", "parse_date", "parse_datetime", "parse_time", "parse_timestamp", "parse_numeric", "parse_bignumeric", "parse_json"]);
const NAMESPACES = new Set(["safe", "net", "keys", "aead", "hll_count", "kll_quantiles", "deterministic_encrypt"]);
const DATE_PARTS = new Set([
  "microsecond", "millisecond", "second", "minute", "hour", "day", "dayofweek", "dayofyear", "week", "isoweek",
  "month", "quarter", "year", "isoyear", "date", "time", "datetime", "sunday", "monday", "tuesday", "wednesday",
  "thursday", "friday", "saturday",
]);

/** The source columns an expression derives from; records inference uses as a side effect. */
export function exprSources(n: Node, env: Env): Sources {
  switch (n.type) {
    case "identifier":
      return identifier(n, env);
    case "member_expr":
    case "bigquery_quoted_member_expr":
      return member(n, env);
    case "paren_expr":
      return isQuery(n.expr) ? querySources(n.expr, env) : exprSources(n.expr, env);
    case "select_stmt":
    case "compound_select_stmt":
      return querySources(n, env);
    case "func_call":
      return funcCall(n, env);
    case "binary_expr":
      return binary(n, env);
    case "between_expr":
      return tested(children(n, env), env, "BETWEEN");
    case "case_expr":
      return caseExpr(n, env);
    case "cast_expr":
      return cast(n, env);
    case "alias":
      return exprSources(n.expr, env); // STRUCT(x AS name): the name is a label, not a column
    case "named_arg":
      return exprSources(n.value, env);
    case "all_columns":
      throw cannotAnalyse("* is only allowed in the select list and COUNT(*)");
    default:
      if (LEAF.has(n.type)) return new Set();
      if (TRANSPARENT.has(n.type)) return children(n, env);
      throw cannotAnalyse(`unsupported construct ${n.type}`);
  }
}

/** True for a node that is a query (a subquery when in expression position). */
export function isQuery(n: unknown): boolean {
  if (!isNode(n)) return false;
  if (n.type === "paren_expr") return isQuery(n.expr);
  return n.type === "select_stmt" || n.type === "compound_select_stmt";
}

function children(n: Node, env: Env): Sources {
  const out = new Set<string>();
  for (const c of childNodes(n)) addAll(out, exprSources(c, env));
  return out;
}

function tested(sources: Sources, env: Env, clause: string): Sources {
  note(env.ctx, sources, clause);
  return sources;
}

/** A subquery's value reveals every column of its output. */
function querySources(n: Node, env: Env): Sources {
  const rel = env.ctx.query(n, env);
  return union(...rel.columns.map((c) => c.sources));
}

function identifier(n: Node, env: Env): Sources {
  try {
    return resolvePath([n.name], env.scope);
  } catch (err) {
    // DATE_TRUNC(d, MONTH): date parts parse as identifiers. BigQuery rejects them anywhere a column is meant.
    if (DATE_PARTS.has(lc(n.name))) return new Set();
    throw err;
  }
}

function member(n: Node, env: Env): Sources {
  const parts = pathParts(n);
  if (parts) return resolvePath(parts, env.scope);
  if (n.type === "member_expr") {
    if (isNode(n.property) && n.property.type === "all_columns") throw cannotAnalyse("x.* is only allowed in the select list");
    // Field access or subscript on a computed value: the value's sources plus the subscript's.
    const out = exprSources(n.object, env);
    if (isNode(n.property) && n.property.type !== "identifier") addAll(out, exprSources(n.property, env));
    return out;
  }
  throw cannotAnalyse(`unsupported name ${n.type}`);
}

function operatorName(op: unknown): string {
  if (typeof op === "string") return op.toUpperCase();
  if (Array.isArray(op)) return op.map(operatorName).join(" ");
  if (isNode(op) && op.type === "keyword") return String(op.name).toUpperCase();
  return "?";
}

function binary(n: Node, env: Env): Sources {
  const op = operatorName(n.operator);
  const out = union(exprSources(n.left, env), exprSources(n.right, env));
  if (PATTERN.has(op)) note(env.ctx, out, "LIKE");
  else if (MEMBERSHIP.has(op)) note(env.ctx, out, "IN");
  else if (COMPARISON.has(op)) note(env.ctx, out, "comparison");
  return out;
}

function caseExpr(n: Node, env: Env): Sources {
  const out = new Set<string>();
  if (isNode(n.expr)) addAll(out, tested(exprSources(n.expr, env), env, "CASE WHEN"));
  for (const c of n.clauses as Node[]) {
    if (c.type === "case_when") {
      addAll(out, tested(exprSources(c.condition, env), env, "CASE WHEN"));
      addAll(out, exprSources(c.result, env));
    } else if (c.type === "case_else") {
      addAll(out, exprSources(c.result, env));
    } else {
      throw cannotAnalyse(`unsupported construct ${c.type}`);
    }
  }
  return out;
}

const NEVER_FAILS = new Set(["string", "bytes"]);

function cast(n: Node, env: Env): Sources {
  const arg = n.args.expr as Node;
  const out = exprSources(arg, env);
  // A failed CAST quotes the value in its error message; SAFE_CAST returns NULL instead. A CAST to STRING or
  // BYTES cannot fail on the value (STRING → BYTES is always valid UTF-8; other source types do not compile).
  const safe = lc(n.castKw.name) === "safe_cast";
  const target = arg.dataType?.type === "data_type_name" ? lc(String(arg.dataType.name?.name ?? "")) : "";
  if (!safe && !NEVER_FAILS.has(target)) note(env.ctx, out, "CAST");
  return out;
}

function funcCall(n: Node, env: Env): Sources {
  const parts = pathParts(n.name);
  if (!parts) throw cannotAnalyse("unsupported function name");
  const names = parts.map(lc);
  const fname = names[names.length - 1]!;
  if (names.length > 1 && !(names.length === 2 && NAMESPACES.has(names[0]!))) {
    throw cannotAnalyse(`user-defined function ${parts.join(".")} is not supported (its body is not visible to the broker)`);
  }
  if (fname === "external_query") throw cannotAnalyse("EXTERNAL_QUERY is not a query on BigQuery data");
  const safe = names[0] === "safe";
  const out = new Set<string>();
  const fargs = isNode(n.args) ? (n.args.expr as Node) : null;
  if (fargs && fargs.type !== "func_args") throw cannotAnalyse(`unsupported function arguments ${fargs.type}`);
  const items: Node[] = fargs ? (fargs.args.items as Node[]) : [];
  items.forEach((arg, i) => {
    if (arg.type === "all_columns") {
      if (fname !== "count") throw cannotAnalyse(`${parts.join(".")}(*) is not supported`);
      return;
    }
    const s = exprSources(arg, env);
    addAll(out, s);
    if ((fname === "if" || fname === "iif") && i === 0) note(env.ctx, s, "IF condition");
    if (TESTS.has(fname)) note(env.ctx, s, fname.toUpperCase());
    if (RAISES.has(fname) && !safe) note(env.ctx, s, fname === "error" ? "ERROR" : fname.toUpperCase());
  });
  if (fargs?.orderBy) addAll(out, tested(orderItems(fargs.orderBy, env), env, "AGGREGATE ORDER BY"));
  if (fargs?.limit) addAll(out, exprSources(fargs.limit, env));
  if (fargs?.having) addAll(out, tested(exprSources(fargs.having.expr, env), env, `HAVING ${operatorName(fargs.having.minMaxKw)}`));
  if (isNode(n.filter)) addAll(out, tested(exprSources(n.filter.where.expr.expr, env), env, "FILTER"));
  if (isNode(n.over)) addAll(out, windowSources(n.over.window, env));
  return out;
}

/** Sources of an ORDER BY list (sort specifications or bare names). */
export function orderItems(clause: Node, env: Env): Sources {
  const out = new Set<string>();
  for (const item of clause.specifications.items as Node[]) {
    addAll(out, exprSources(item.type === "sort_specification" ? item.expr : item, env));
  }
  return out;
}

/** Sources of an OVER window: a named window or an inline definition (recorded as inference uses). */
export function windowSources(w: Node, env: Env): Sources {
  if (w.type === "identifier") return namedWindow(w.name, env);
  const def = w.type === "paren_expr" ? (w.expr as Node) : w;
  if (def.type !== "window_definition") throw cannotAnalyse(`unsupported window ${def.type}`);
  const out = new Set<string>();
  if (isNode(def.baseWindowName)) addAll(out, namedWindow(def.baseWindowName.name, env));
  if (isNode(def.partitionBy)) {
    const s = new Set<string>();
    for (const e of def.partitionBy.specifications.items as Node[]) addAll(s, exprSources(e, env));
    addAll(out, tested(s, env, "WINDOW PARTITION BY"));
  }
  if (isNode(def.orderBy)) addAll(out, tested(orderItems(def.orderBy, env), env, "WINDOW ORDER BY"));
  if (isNode(def.frame)) addAll(out, exprSources(def.frame, env));
  return out;
}

function namedWindow(name: string, env: Env): Sources {
  for (let s = env.scope as Env["scope"] | null; s; s = s.parent) {
    const w = s.windows.get(lc(name));
    if (w) return new Set(w);
  }
  throw cannotAnalyse(`unknown window ${name}`);
}
