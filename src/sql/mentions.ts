/**
 * What a statement could make the warehouse read, from its syntax alone: the warehouse counts the stored bytes of
 * every column a statement references, also where the analysis finds no use (a column a CTE passes on and nothing
 * reads, a whole row in a subquery COUNT(*) discards). Deliberately coarse: it may say "could read" of a column the
 * warehouse prunes, never the other way round.
 */
import { childNodes, isNode, lc, pathParts, type Node, type Program } from "./parse.ts";

/** Every name the statement mentions (lower-case, each part of a path), and whether it reads all columns somewhere (a star, a whole row). */
export interface Mentions {
  names: string[];
  all: boolean;
}

/** Whether a statement with these mentions could make the warehouse read one of `columns` (lower-case names). */
export function couldRead(m: Mentions, columns: ReadonlySet<string>): boolean {
  return columns.size > 0 && (m.all || m.names.some((n) => columns.has(n)));
}

/** What `program` mentions: by name, through a star, or as part of a whole row. */
export function mentionsOf(program: Program): Mentions {
  const relations = new Set<string>();
  const values: string[] = [];
  const names = new Set<string>();
  let all = false;
  // Every name in a path (`t.col`, `project.dataset.table`, a quoted `dataset.table`) counts.
  const named = (parts: readonly string[]) => {
    for (const p of parts) names.add(lc(p));
  };

  const visit = (node: Node, tablePos: boolean): void => {
    switch (node.type) {
      case "all_columns":
        all = true;
        return;
      case "func_call":
        // COUNT(*) counts rows and reads no column; its name is not a value.
        if (isCountStar(node)) return;
        for (const child of childNodes(node)) if (child !== node.name) visit(child, false);
        return;
      case "identifier":
      case "member_expr":
      case "bigquery_quoted_member_expr": {
        const parts = pathParts(node);
        if (parts) {
          named(parts);
          // A table path names a relation by its last part; a lone name used as a value may be a whole row.
          if (tablePos) relations.add(lc(parts[parts.length - 1]!));
          else if (parts.length === 1) values.push(lc(parts[0]!));
          return;
        }
        break; // `a.b[0].c`, `f(x).y`: walk its parts
      }
      case "alias":
        if (tablePos && isNode(node.alias) && node.alias.type === "identifier") relations.add(lc(node.alias.name));
        if (isNode(node.expr)) visit(node.expr, tablePos);
        return;
      case "common_table_expr":
        if (isNode(node.table) && node.table.type === "identifier") relations.add(lc(node.table.name));
        for (const child of childNodes(node)) if (child !== node.table) visit(child, false);
        return;
      case "from_clause":
        if (isNode(node.expr)) visit(node.expr, true);
        return;
      case "join_expr":
        if (isNode(node.left)) visit(node.left, tablePos);
        if (isNode(node.right)) visit(node.right, tablePos);
        if (isNode(node.specification)) visit(node.specification, false);
        return;
      case "paren_expr":
        // `FROM (a JOIN b)` keeps table positions; `FROM (SELECT ...)` starts a query of its own.
        if (isNode(node.expr)) visit(node.expr, tablePos && TABLE_NODES.has(node.expr.type));
        return;
    }
    for (const child of childNodes(node)) visit(child, false);
  };

  for (const statement of program.statements) visit(statement, false);
  // A relation's name used as a value is its whole row: every column of it.
  return { names: [...names].sort(), all: all || values.some((v) => relations.has(v)) };
}

const TABLE_NODES = new Set(["join_expr", "identifier", "member_expr", "bigquery_quoted_member_expr", "alias", "paren_expr"]);

function isCountStar(call: Node): boolean {
  if (!isNode(call.name) || call.name.type !== "identifier" || lc(call.name.name) !== "count") return false;
  const args = call.args?.expr?.args?.items;
  return Array.isArray(args) && args.length === 1 && isNode(args[0]) && args[0].type === "all_columns";
}
