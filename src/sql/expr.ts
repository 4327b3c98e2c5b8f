/**
 * Expression lineage: the sources of an expression are every column it mentions, through any function,
 * operator, CASE branch or subquery. Every node that does more than pass a value on (a function, an operator,
 * a cast, a constructor, a subquery) records its sources as used in that construct: a masked column may reach
 * the caller only as a projection, so any such use of one is refused by the broker. A node type the analyser
 * does not know is refused, never skipped.
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

// Nodes whose sources are the union of their children's, and the construct each is named by in a refusal
// (null: the node passes its children's values on unchanged, and its parent names the use).
const COMPOSITE: Record<string, string | null> = {
  list_expr: null, sort_specification: null, cast_arg: null, case_when: null, case_else: null,
  prefix_op_expr: "operator", postfix_op_expr: "operator", cast_format: "CAST FORMAT", cast_format_timezone: "CAST FORMAT",
  extract_expr: "EXTRACT", extract_from: "EXTRACT", array_expr: "ARRAY", array_literal_expr: "ARRAY", struct_expr: "STRUCT",
  typed_expr: "STRUCT", interval_literal: "INTERVAL", array_subscript: "array subscript",
  array_subscript_specifier: "array subscript", array_slice_specifier: "array subscript", frame_clause: "window frame",
  frame_between: "window frame", frame_bound_preceding: "window frame", frame_bound_following: "window frame",
  unnest_expr: "UNNEST", quantifier_expr: "ANY/SOME/ALL", week_expr: "WEEK", limit_clause: "LIMIT",
  group_by_rollup: "GROUP BY", group_by_cube: "GROUP BY", group_by_grouping_sets: "GROUP BY",
};

const NAMESPACES = new Set(["safe", "net", "keys", "aead", "hll_count", "kll_quantiles", "deterministic_encrypt"]);
const DATE_PARTS = new Set([
  "microsecond", "millisecond", "second", "minute", "hour", "day", "dayofweek", "dayofyear", "week", "isoweek",
  "month", "quarter", "year", "isoyear", "date", "time", "datetime", "sunday", "monday", "tuesday", "wednesday",
  "thursday", "friday", "saturday",
]);

/**
 * The source columns an expression derives from. As a side effect, records them as used in this node's construct
 * unless the node only passes a value on (a column reference, parentheses, a label, a projecting ANY_VALUE).
 */
export function exprSources(n: Node, env: Env): Sources {
  const sources = sourcesOf(n, env);
  if (sources.size > 0) {
    const construct = constructOf(n);
    if (construct !== null) note(env.ctx, sources, construct);
  }
  return sources;
}

function sourcesOf(n: Node, env: Env): Sources {
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
      return union(exprSources(n.left, env), exprSources(n.right, env));
    case "between_expr":
    case "case_expr":
      return children(n, env);
    case "cast_expr":
      return exprSources(n.args.expr as Node, env);
    case "alias":
      return exprSources(n.expr, env); // STRUCT(x AS name): the name is a label, not a column
    case "named_arg":
      return exprSources(n.value, env);
    case "all_columns":
      throw cannotAnalyse("* is only allowed in the select list and COUNT(*)");
    default:
      if (LEAF.has(n.type)) return new Set();
      if (n.type in COMPOSITE) return children(n, env);
      throw cannotAnalyse(`unsupported construct ${n.type}`);
  }
}

/** How a refusal names the construct `n` uses its sources in; null where `n` passes a value on unchanged. */
function constructOf(n: Node): string | null {
  switch (n.type) {
    case "identifier":
    case "bigquery_quoted_member_expr":
    case "alias":
    case "named_arg":
      return null;
    case "member_expr":
      return pathParts(n) ? null : "field access";
    case "paren_expr":
      return isQuery(n.expr) ? "subquery" : null;
    case "select_stmt":
    case "compound_select_stmt":
      return "subquery";
    case "func_call":
      return projectingAggregate(n) ? null : `${(pathParts(n.name) ?? ["function"]).join(".").toUpperCase()}()`;
    case "binary_expr":
    case "prefix_op_expr":
    case "postfix_op_expr":
      return `operator ${operatorName(n.operator)}`;
    case "between_expr":
      return "BETWEEN";
    case "case_expr":
      return "CASE";
    case "cast_expr":
      return String(n.castKw?.name ?? "CAST").toUpperCase();
    default:
      return n.type in COMPOSITE ? COMPOSITE[n.type]! : n.type;
  }
}

/**
 * ANY_VALUE(x) with nothing else: it returns one row's x unchanged (BigQuery picks the row without looking at the
 * value beyond NULL, which stays visible as NULL in a masked cell), so it projects x like a bare reference.
 */
export function projectingAggregate(n: Node): Node | null {
  if (n.type !== "func_call" || isNode(n.over) || isNode(n.filter)) return null;
  const parts = pathParts(n.name);
  if (!parts || parts.length !== 1 || lc(parts[0]!) !== "any_value") return null;
  const fargs = isNode(n.args) ? (n.args.expr as Node) : null;
  if (!fargs || fargs.type !== "func_args" || fargs.distinctKw || fargs.orderBy || fargs.limit || fargs.having) return null;
  const items = fargs.args.items as Node[];
  return items.length === 1 ? items[0]! : null;
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

function funcCall(n: Node, env: Env): Sources {
  const parts = pathParts(n.name);
  if (!parts) throw cannotAnalyse("unsupported function name");
  const names = parts.map(lc);
  const fname = names[names.length - 1]!;
  if (names.length > 1 && !(names.length === 2 && NAMESPACES.has(names[0]!))) {
    throw cannotAnalyse(`user-defined function ${parts.join(".")} is not supported (its body is not visible to the broker)`);
  }
  if (fname === "external_query") throw cannotAnalyse("EXTERNAL_QUERY is not a query on BigQuery data");
  const out = new Set<string>();
  const fargs = isNode(n.args) ? (n.args.expr as Node) : null;
  if (fargs && fargs.type !== "func_args") throw cannotAnalyse(`unsupported function arguments ${fargs.type}`);
  const items: Node[] = fargs ? (fargs.args.items as Node[]) : [];
  items.forEach((arg) => {
    if (arg.type === "all_columns") {
      if (fname !== "count") throw cannotAnalyse(`${parts.join(".")}(*) is not supported`);
      return;
    }
    addAll(out, exprSources(arg, env));
  });
  if (fargs?.orderBy) addAll(out, tested(orderItems(fargs.orderBy, env), env, "AGGREGATE ORDER BY"));
  if (fargs?.limit) addAll(out, tested(exprSources(fargs.limit, env), env, "AGGREGATE LIMIT"));
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
