/** FROM items for the BigQuery → DuckDB translation: tables (resolved and fully quoted), CTE names, joins, subqueries, UNNEST. */
import type { Translator, Visit } from "./duckdb-dialect.ts";
import { pathParts, quoteIdent, replaceWith, showTrim, unsupported, type N } from "./duckdb-syntax.ts";
import { WarehouseQueryError } from "./types.ts";

/** A table path: a CTE name stays one quoted part, anything else must resolve to a known table. */
const table: Visit = (tr, node) => {
  const parts = pathParts(node);
  if (!parts) return unsupported(`${node.type} in FROM`);
  if (parts.length === 1 && tr.cteNames.has(parts[0]!.toLowerCase())) {
    replaceWith(node, quoteIdent(parts[0]!));
    return;
  }
  if (parts.length === 1) {
    throw new WarehouseQueryError(`Table name "${parts[0]}" missing dataset while no default dataset is set in the request.`, { reason: "invalid" });
  }
  const ref = tr.resolveTable(parts);
  tr.tables.set(`${ref.project}.${ref.dataset}.${ref.table}`, ref);
  tr.rowNames.add(ref.table);
  replaceWith(node, [ref.project, ref.dataset, ref.table].map(quoteIdent).join("."));
};

/** UNNEST(a) AS v WITH OFFSET [AS o]: a lateral subquery numbering the elements from 0, as BigQuery does. */
function unnestWithOffset(tr: Translator, node: N, withOffset: N, offsetName: string): void {
  const inner: N = withOffset.unnest;
  if (inner.type !== "alias" || inner.expr.type !== "unnest_expr") return unsupported("UNNEST ... WITH OFFSET without an alias for the element (write UNNEST(x) AS name WITH OFFSET)");
  tr.visit(inner.expr.expr);
  const u = tr.fresh("__unnest");
  const sql = `(SELECT ${u}."v" AS ${quoteIdent(inner.alias.name)}, ${u}."o" - 1 AS ${quoteIdent(offsetName)} `
    + `FROM unnest(${showTrim(inner.expr.expr)}) WITH ORDINALITY AS ${u}("v", "o")) AS ${u}`;
  replaceWith(node, sql);
}

/** `item AS name`: UNNEST becomes a named one-column table; any other item keeps its alias, now a row name. */
const alias: Visit = (tr, node) => {
  if (node.expr.type === "unnest_with_offset_expr") return unnestWithOffset(tr, node, node.expr, node.alias.name);
  if (node.expr.type === "unnest_expr") {
    const name = quoteIdent(node.alias.name);
    tr.visit(node.expr.expr);
    replaceWith(node, `unnest(${showTrim(node.expr.expr)}) AS ${name}(${name})`);
    return;
  }
  tr.visitFrom(node.expr);
  tr.rowNames.add(String(node.alias.name).toLowerCase());
  replaceWith(node.alias, quoteIdent(node.alias.name));
};

/** FROM items by CST node type; any other type is refused. */
export const FROM_ITEMS: Record<string, Visit> = {
  join_expr(tr, node) {
    tr.visitFrom(node.left);
    tr.visitFrom(node.right);
    if (node.specification) tr.visit(node.specification);
  },
  alias,
  paren_expr(tr, node) {
    if (node.expr.type === "select_stmt" || node.expr.type === "compound_select_stmt") {
      tr.markTable(node.expr);
      tr.visit(node.expr);
    } else tr.visitFrom(node.expr);
  },
  identifier: table,
  member_expr: table,
  bigquery_quoted_member_expr: table,
  unnest_expr: () => unsupported("UNNEST in FROM without an alias (write UNNEST(x) AS name)"),
  unnest_with_offset_expr: (tr, node) => unnestWithOffset(tr, node, node, "offset"),
};
