/** Query lineage: the output columns of a query and the source columns each derives from. */
import { exprSources, isQuery, projectingAggregate, windowSources } from "./expr.ts";
import { cannotAnalyse, isNode, lc, pathParts, type Node } from "./parse.ts";
import { addFrom } from "./from.ts";
import { addAll, col, newScope, note, pathColumn, union, type Col, type Env, type RangeVar, type Relation, type Sources } from "./scope.ts";

const MAX_RECURSION_ROUNDS = 20;

/** Resolves any query node (SELECT, set operation, parenthesised query) to its output columns. */
export function resolveQuery(node: Node, env: Env): Relation {
  switch (node.type) {
    case "paren_expr":
      return resolveQuery(node.expr, env);
    case "select_stmt":
      return resolveSelect(node, env, false);
    case "compound_select_stmt":
      return resolveCompound(node, env);
    default:
      throw cannotAnalyse(`unsupported query ${node.type}`);
  }
}

const TAIL = new Set(["order_by_clause", "limit_clause"]);

function resolveCompound(node: Node, env: Env): Relation {
  // `WITH a AS (...) SELECT .. UNION ALL SELECT ..`: the parser hangs WITH on the first operand; it scopes over all.
  let e = env;
  const first = leftmost(node);
  const w = first?.clauses?.[0];
  if (isNode(w) && w.type === "with_clause" && !env.ctx.hoisted.has(w)) {
    e = { ...env, ctes: withCtes(w, env) };
    env.ctx.hoisted.add(w);
  }
  const left = resolveQuery(node.left, e);
  // `... UNION ALL SELECT b FROM t ORDER BY 1 LIMIT 5`: the tail is parsed into the last operand but orders the whole.
  const right = node.right as Node;
  const rightTail = right.type === "select_stmt" && (right.clauses as Node[]).some((c) => c.type === "select_clause")
    ? (right.clauses as Node[]).filter((c) => TAIL.has(c.type))
    : [];
  const r = right.type === "select_stmt" ? resolveSelect(right, e, rightTail.length > 0) : resolveQuery(right, e);
  if (left.columns.length !== r.columns.length) {
    throw cannotAnalyse(`the two sides of ${opName(node.operator)} have different numbers of columns`);
  }
  const op = setOperator(node.operator);
  const rel: Relation = { columns: left.columns.map((c, i) => combine(c, r.columns[i]!, op, e)) };
  applyTail(rightTail, rel, e);
  return rel;
}

/**
 * One output column of a set operation. UNION ALL keeps a projected column projected when both branches supply the
 * same source column (or one supplies NULL): its rows are each branch's own rows. Any other combination is a use:
 * INTERSECT, EXCEPT and UNION DISTINCT compare values to decide which rows survive, and a UNION ALL of a masked
 * column with a literal or another column would mask a value the query chose as if it were the column's.
 */
function combine(l: Col, r: Col, op: string, env: Env): Col {
  const sources = union(l.sources, r.sources);
  const same = l.sources.size === 1 && r.sources.size === 1 && [...l.sources][0] === [...r.sources][0];
  const direct = op === "UNION ALL" &&
    ((l.direct === true && r.direct === true && same) || (l.direct === true && r.nullLiteral === true) || (l.nullLiteral === true && r.direct === true));
  if (!direct) note(env.ctx, sources, op);
  return { name: l.name, key: l.key, sources, direct, nullLiteral: l.nullLiteral === true && r.nullLiteral === true };
}

// "UNION ALL", "UNION DISTINCT", "INTERSECT DISTINCT", "EXCEPT DISTINCT" (BigQuery requires the quantifier).
function setOperator(op: unknown): string {
  return [op].flat().map((k) => (isNode(k) ? String(k.name).toUpperCase() : "")).filter(Boolean).join(" ") || "set operation";
}

function opName(op: unknown): string {
  const kw = Array.isArray(op) ? op[0] : op;
  return isNode(kw) ? String(kw.name) : "a set operation";
}

function leftmost(node: Node): Node | null {
  let n: Node = node;
  while (n.type === "compound_select_stmt" || n.type === "paren_expr") n = n.type === "paren_expr" ? n.expr : n.left;
  return n.type === "select_stmt" ? n : null;
}

/** ORDER BY / LIMIT over a finished relation (after a set operation or a parenthesised body). */
function applyTail(clauses: Node[], rel: Relation, env: Env): void {
  if (!clauses.length) return;
  const scope = newScope(env.scope, [{ alias: null, columns: rel.columns, opaque: null }]);
  const inner: Env = { ...env, scope };
  for (const c of clauses) {
    if (c.type === "order_by_clause") note(env.ctx, ordered(c, rel.columns, inner), "ORDER BY");
    else note(env.ctx, exprSources(c, inner), "LIMIT");
  }
}

function resolveSelect(node: Node, env: Env, skipTail: boolean): Relation {
  let ctes = env.ctes;
  const by = new Map<string, Node>();
  let body: Node | null = null;
  for (const c of node.clauses as Node[]) {
    if (c.type === "with_clause") {
      if (!env.ctx.hoisted.has(c)) ctes = withCtes(c, { ...env, ctes });
    } else if (c.type === "paren_expr" || c.type === "compound_select_stmt") {
      body = c;
    } else if (KNOWN_CLAUSES.has(c.type) && !by.has(c.type)) {
      by.set(c.type, c);
    } else {
      throw cannotAnalyse(`unsupported clause ${c.type}`);
    }
  }
  if (body) {
    const rel = resolveQuery(body, { ...env, ctes });
    if (by.has("select_clause")) throw cannotAnalyse("unexpected query shape");
    applyTail([...by.values()].filter((c) => TAIL.has(c.type)), rel, { ...env, ctes });
    return rel;
  }
  const select = by.get("select_clause");
  if (!select) throw cannotAnalyse("a query without a select list");
  const scope = newScope(env.scope);
  const inner: Env = { ctx: env.ctx, scope, ctes };
  const from = by.get("from_clause");
  if (from) addFrom(from.expr, inner);
  const windows = by.get("window_clause");
  if (windows) {
    for (const w of windows.namedWindows.items as Node[]) scope.windows.set(lc(w.name.name), windowSources(w.window, inner));
  }
  const where = by.get("where_clause");
  if (where) note(env.ctx, exprSources(where.expr, inner), "WHERE");

  let outputs = selectList(select, inner);
  scope.aliases = outputs;
  const group = by.get("group_by_clause");
  if (group) note(env.ctx, grouped(group.columns.items, outputs, inner), "GROUP BY");
  const having = by.get("having_clause");
  if (having) note(env.ctx, exprSources(having.expr, inner), "HAVING");
  const qualify = by.get("qualify_clause");
  if (qualify) note(env.ctx, exprSources(qualify.expr, inner), "QUALIFY");
  if (!skipTail) {
    const order = by.get("order_by_clause");
    if (order) note(env.ctx, ordered(order, outputs, inner), "ORDER BY");
    const limit = by.get("limit_clause");
    if (limit) note(env.ctx, exprSources(limit, inner), "LIMIT");
  }
  const modifiers = select.modifiers as Node[];
  for (const m of modifiers) {
    // DISTINCT compares the values of every output to decide which rows survive; AS STRUCT/AS VALUE wrap them.
    const construct = MODIFIERS[m.type];
    if (construct === undefined) throw cannotAnalyse(`unsupported modifier ${m.type}`);
    if (construct !== null) note(env.ctx, union(...outputs.map((o) => o.sources)), construct);
    if (m.type === "select_as_value") outputs = [{ name: outputs[0]?.name ?? "f0_", key: "f0_", sources: union(...outputs.map((o) => o.sources)), direct: false }];
  }
  return { columns: outputs };
}

const MODIFIERS: Record<string, string | null> = {
  select_all: null, select_distinct: "DISTINCT", select_as_struct: "SELECT AS STRUCT", select_as_value: "SELECT AS VALUE",
};

const KNOWN_CLAUSES = new Set([
  "select_clause", "from_clause", "where_clause", "group_by_clause", "having_clause", "window_clause",
  "qualify_clause", "order_by_clause", "limit_clause",
]);

/** ORDER BY items: an ordinal names an output column; anything else is an expression. */
function ordered(clause: Node, outputs: Col[], env: Env): Sources {
  const out = new Set<string>();
  for (const item of clause.specifications.items as Node[]) {
    const expr = item.type === "sort_specification" ? (item.expr as Node) : item;
    addAll(out, expr.type === "number_literal" ? ordinal(expr, outputs) : exprSources(expr, env));
  }
  return out;
}

// GROUP BY items: ordinals (also inside ROLLUP, CUBE and GROUPING SETS), ALL, or expressions.
function grouped(items: unknown[], outputs: Col[], env: Env): Sources {
  const out = new Set<string>();
  for (const item of items.flat(2)) {
    if (!isNode(item)) continue;
    if (item.type === "number_literal") addAll(out, ordinal(item, outputs));
    else if (item.type === "group_by_all") addAll(out, union(...outputs.map((o) => o.sources)));
    else if (GROUPING.has(item.type)) addAll(out, grouped(item.columns.expr.items, outputs, env));
    // Grouping-set tuples parse as (expr), (list) or STRUCT-like (a, b): an ordinal inside is still an ordinal.
    else if (item.type === "paren_expr") addAll(out, grouped(item.expr?.type === "list_expr" ? item.expr.items : [item.expr], outputs, env));
    else if (item.type === "struct_expr") addAll(out, grouped(item.expr.items, outputs, env));
    else addAll(out, exprSources(item, env));
  }
  return out;
}

const GROUPING = new Set(["group_by_rollup", "group_by_cube", "group_by_grouping_sets"]);

function ordinal(n: Node, outputs: Col[]): Sources {
  const col = outputs[Number(n.value) - 1];
  if (!col) throw cannotAnalyse(`column position ${n.value} is out of range`);
  return col.sources;
}

function withCtes(w: Node, env: Env): Map<string, Relation> {
  const ctes = new Map(env.ctes);
  const recursive = isNode(w.recursiveKw);
  for (const cte of w.tables.items as Node[]) {
    if (cte.columns || cte.search || cte.cycle) throw cannotAnalyse("unsupported WITH clause options");
    const name = lc(cte.table.name);
    const query = cte.expr.expr as Node;
    if (!isQuery(query)) throw cannotAnalyse("WITH must hold a query");
    if (recursive && mentions(query, name)) ctes.set(name, fixpoint(name, query, { ...env, ctes }));
    else ctes.set(name, resolveQuery(query, { ...env, ctes }));
  }
  return ctes;
}

// A recursive CTE: grow each column's sources until they stop changing.
function fixpoint(name: string, query: Node, env: Env): Relation {
  const base = leftmost(query);
  if (!base || query.type !== "compound_select_stmt") throw cannotAnalyse("unsupported recursive WITH");
  let current = resolveQuery(query.left, env);
  for (let round = 0; round < MAX_RECURSION_ROUNDS; round++) {
    const ctes = new Map(env.ctes).set(name, current);
    const next = resolveQuery(query, { ...env, ctes });
    const grown = next.columns.some((c, i) => [...c.sources].some((s) => !current.columns[i]?.sources.has(s)));
    current = { columns: next.columns.map((c, i) => ({ ...c, sources: union(c.sources, current.columns[i]?.sources ?? []) })) };
    if (!grown) return current;
  }
  throw cannotAnalyse("recursive WITH did not settle");
}

function mentions(node: unknown, name: string): boolean {
  if (Array.isArray(node)) return node.some((n) => mentions(n, name));
  if (!isNode(node)) return false;
  if (node.type === "identifier" && lc(String(node.name)) === name) return true;
  return Object.entries(node).some(([k, v]) => k !== "range" && typeof v === "object" && mentions(v, name));
}

function selectList(select: Node, env: Env): Col[] {
  const out: Col[] = [];
  let anonymous = 0;
  for (const item of (select.columns?.items ?? []) as Node[]) {
    switch (item.type) {
      case "empty":
        break; // trailing comma
      case "all_columns":
        out.push(...star(env));
        break;
      case "except_columns": {
        const drop = new Set((item.columns.expr.items as Node[]).map((i) => lc(i.name)));
        out.push(...expand(item.expr, env).filter((c) => !drop.has(c.key)));
        break;
      }
      case "replace_columns": {
        // `* REPLACE (expr AS name)`: the named column now holds expr, a projection only when expr is one.
        const repl = new Map<string, Col>();
        for (const a of item.columns.expr.items as Node[]) repl.set(lc(a.alias.name), output(a.alias.name, a.expr, env));
        out.push(...expand(item.expr, env).map((c) => {
          const r = repl.get(c.key);
          return r ? { ...c, sources: r.sources, direct: r.direct, nullLiteral: r.nullLiteral } : c;
        }));
        break;
      }
      case "alias":
        if (item.columnAliases) throw cannotAnalyse("unsupported column alias list");
        out.push(output(item.alias.name, item.expr, env));
        break;
      default: {
        if (item.type === "member_expr" && isNode(item.property) && item.property.type === "all_columns") {
          out.push(...expand(item, env));
          break;
        }
        out.push(output(implicitName(item) ?? `f${anonymous++}_`, item, env));
      }
    }
  }
  return out;
}

function output(name: string, expr: Node, env: Env): Col {
  const c = col(name, exprSources(expr, env), isDirect(expr, env));
  if (unwrap(expr).type === "null_literal") c.nullLiteral = true;
  return c;
}

// Parentheses around a value change nothing.
function unwrap(expr: Node): Node {
  return expr.type === "paren_expr" && !isQuery(expr.expr) ? unwrap(expr.expr) : expr;
}

// A bare column reference (or a projecting ANY_VALUE of one) passes its column's value through unchanged; any
// expression around it does not.
function isDirect(expr: Node, env: Env): boolean {
  const e = unwrap(expr);
  const arg = projectingAggregate(e);
  if (arg) return isDirect(arg, env);
  const parts = e.type === "identifier" || e.type === "member_expr" || e.type === "bigquery_quoted_member_expr" ? pathParts(e) : null;
  return parts !== null && pathColumn(parts, env.scope)?.direct === true;
}

function implicitName(item: Node): string | null {
  if (item.type === "identifier") return item.name;
  if (item.type === "member_expr" && isNode(item.property) && item.property.type === "identifier") return item.property.name;
  return null;
}

function expand(n: Node, env: Env): Col[] {
  if (n.type === "all_columns") return star(env);
  if (n.type === "member_expr") {
    const parts = pathParts(n.object);
    if (parts?.length === 1) {
      for (let s: Env["scope"] | null = env.scope; s; s = s.parent) {
        const v = s.vars.find((x) => x.alias === lc(parts[0]!));
        if (v) return columnsOf(v, `${parts[0]}.*`);
      }
    }
  }
  throw cannotAnalyse("x.* is supported for table aliases only");
}

// Copies of a range variable's columns for * expansion; an UNNEST's fields are unknown, so refused.
function columnsOf(v: RangeVar, what: string): Col[] {
  if (v.opaque) throw cannotAnalyse(`${what} over UNNEST or an array path is not supported; list the fields`);
  return v.columns.map((c) => ({ ...c }));
}

function star(env: Env): Col[] {
  // Engines disagree on where JOIN ... USING puts the merged column (BigQuery and the SQL standard: first;
  // DuckDB: in the left table's place), and the broker maps masks to result columns by position.
  if (env.scope.using.length) throw cannotAnalyse("SELECT * over JOIN ... USING is not supported; list the columns or use t.*");
  return env.scope.vars.flatMap((v) => columnsOf(v, "SELECT *"));
}
