/** FROM clause resolution: tables, CTEs, derived tables, joins and UNNEST become range variables in scope. */
import { exprSources, isQuery } from "./expr.ts";
import { cannotAnalyse, isNode, lc, pathParts, type Node } from "./parse.ts";
import { col, isVisibleName, note, union, wholeRow, type Env, type RangeVar } from "./scope.ts";
import { infoSchemaFields } from "./information-schema.ts";
import { resolveTable, tableKey } from "./tables.ts";
import { wildcardVar } from "./wildcard.ts";

/** Adds the FROM items of a table expression to the scope being built. */
export function addFrom(n: Node, env: Env): void {
  if (n.type === "join_expr") {
    addFrom(n.left, env);
    const before = env.scope.vars.length;
    addFrom(n.right, env);
    if ([n.operator].flat().some((k) => isNode(k) && lc(String(k.name)) === "natural")) throw cannotAnalyse("NATURAL JOIN is not supported");
    const spec = n.specification as Node | undefined;
    if (spec?.type === "join_on_specification") note(env.ctx, exprSources(spec.expr, env), "JOIN ON");
    else if (spec?.type === "join_using_specification") joinUsing(spec, before, env);
    else if (spec) throw cannotAnalyse(`unsupported join ${spec.type}`);
    return;
  }
  if (n.type === "alias") {
    if (n.columnAliases) throw cannotAnalyse("unsupported table column aliases");
    addItem(n.expr, lc(n.alias.name), env);
    return;
  }
  addItem(n, null, env);
}

function joinUsing(spec: Node, before: number, env: Env): void {
  const vars = env.scope.vars;
  for (const id of spec.expr.expr.items as Node[]) {
    const key = lc(id.name);
    const has = (v: RangeVar) => v.opaque !== null || v.columns.some((c) => c.key === key);
    const left = vars.slice(0, before).filter(has);
    const right = vars.slice(before).filter(has);
    if (!left.length || !right.length) throw cannotAnalyse(`unknown column ${id.name} in USING`);
    const sources = union(...[...left, ...right].map((v) => (v.opaque ? v.opaque : union(...v.columns.filter((c) => c.key === key).map((c) => c.sources)))));
    note(env.ctx, sources, "JOIN USING");
    env.scope.using.push({ key, name: id.name, vars: [...left, ...right] });
  }
}

function addItem(n: Node, alias: string | null, env: Env): void {
  const vars = env.scope.vars;
  switch (n.type) {
    case "identifier":
    case "member_expr":
    case "bigquery_quoted_member_expr": {
      const parts = pathParts(n);
      if (!parts) throw cannotAnalyse("unsupported table name");
      const last = lc(parts[parts.length - 1]!);
      const cte = parts.length === 1 ? env.ctes.get(lc(parts[0]!)) : undefined;
      if (cte) {
        vars.push({ alias: alias ?? last, columns: cte.columns.map((c) => ({ ...c })), opaque: null });
      } else if (parts.length >= 2 && isVisibleName(parts[0]!, env.scope)) {
        // `FROM t, t.items`: an implicit UNNEST of an array reached from a range variable; how many rows it makes
        // depends on the array's value.
        const sources = exprSources(n, env);
        note(env.ctx, sources, "UNNEST");
        vars.push({ alias: alias ?? last, columns: [], opaque: sources });
      } else {
        vars.push(tableVar(parts, alias, env));
      }
      return;
    }
    case "paren_expr":
      if (isQuery(n.expr)) {
        vars.push({ alias, columns: env.ctx.query(n.expr, env).columns.map((c) => ({ ...c })), opaque: null });
      } else {
        if (alias) throw cannotAnalyse("an alias on a parenthesised join is not supported");
        addFrom(n.expr, env);
      }
      return;
    case "unnest_expr": {
      // Rows made from a value (UNNEST(GENERATE_ARRAY(1, x)) has x rows): the row count carries the value.
      const sources = exprSources(n.expr, env);
      note(env.ctx, sources, "UNNEST");
      vars.push({ alias, columns: [], opaque: sources });
      return;
    }
    case "unnest_with_offset_expr": {
      const before = vars.length;
      addFrom(n.unnest, env);
      const arr = union(...vars.slice(before).map(wholeRow));
      const name = alias ?? "offset";
      vars.push({ alias: null, columns: [col(name, arr)], opaque: null });
      return;
    }
    case "tablesample_expr":
      addFrom(n.left, env);
      return;
    case "for_system_time_as_of_expr":
      addFrom(n.left, env);
      note(env.ctx, exprSources(n.expr, env), "FOR SYSTEM_TIME AS OF");
      return;
    case "func_call":
      throw cannotAnalyse(`table function ${pathParts(n.name)?.join(".") ?? ""} is not supported`);
    default:
      throw cannotAnalyse(`unsupported FROM item ${n.type}`);
  }
}

function tableVar(parts: string[], alias: string | null, env: Env): RangeVar {
  const source = resolveTable(parts, env.ctx.defaultProject);
  if (source.kind === "wildcard") return wildcardVar(source.wildcard, alias, env);
  const ref = source.ref;
  const key = tableKey(ref);
  env.ctx.tables.set(key, ref);
  if (source.kind === "info_schema") {
    // Metadata of a dataset the caller holds a grant on: no column of it is a source column.
    return { alias: alias ?? lc(source.view.view), columns: infoSchemaFields(source.view.view).map((f) => col(f.name, new Set())), opaque: null };
  }
  const fields = env.ctx.schemas.get(key);
  if (!fields) {
    throw cannotAnalyse(`no schema for table ${key}`, `check the table name with: jit tables ${ref.project}.${ref.dataset}`);
  }
  return {
    alias: alias ?? ref.table,
    columns: fields.map((f) => col(f.name, new Set([`${key}.${lc(f.name)}`]), true)),
    opaque: null,
  };
}
