/** Statement kind (for guardrails) and BigQuery's statementType name, from the parsed program. */
import type { StatementKind } from "./types.ts";
import { childNodes, isNode, lc, pathParts, statementsOf, type Node, type Program } from "./parse.ts";

const DML = new Set(["insert_stmt", "update_stmt", "delete_stmt", "merge_stmt", "load_data_stmt"]);
const SCRIPT = new Set([
  "declare_stmt", "set_stmt", "block_stmt", "if_stmt", "case_stmt", "loop_stmt", "while_stmt", "repeat_stmt",
  "for_stmt", "for_loop_stmt", "foreach_stmt", "while_loop_stmt", "break_stmt", "continue_stmt", "call_stmt",
  "execute_immediate_stmt", "execute_stmt", "prepare_stmt", "raise_stmt", "return_stmt", "assert_stmt",
  "labeled_stmt", "assignment_stmt", "start_transaction_stmt", "commit_transaction_stmt",
  "rollback_transaction_stmt", "savepoint_stmt", "release_savepoint_stmt",
]);
const DDL_PREFIX = /^(create|alter|drop|rename|truncate|grant|revoke|comment|refresh)_/;

// Most severe first: the single `kind` is the most severe kind found anywhere in the input.
const SEVERITY: StatementKind[] = ["external_query", "export", "script", "ddl", "dml", "other", "query"];

export interface KindInfo {
  kind: StatementKind;
  statementType: string;
  /** Every kind found anywhere, e.g. a script holding an EXPORT DATA lists both. */
  kinds: StatementKind[];
}

/** Classifies a program: one SELECT is `query`; several statements are a `script`; EXTERNAL_QUERY anywhere wins. */
export function classify(program: Program): KindInfo {
  const statements = statementsOf(program);
  const kinds = new Set<StatementKind>();
  walk(program, (n) => {
    const k = nodeKind(n);
    if (k) kinds.add(k);
  });
  if (statements.length > 1) kinds.add("script");
  if (kinds.size === 0) kinds.add("other");
  const kind = SEVERITY.find((k) => kinds.has(k)) ?? "other";
  const only = statements.length === 1 ? statements[0]! : null;
  const statementType = kinds.has("script") || !only ? "SCRIPT" : statementTypeOf(only);
  return { kind, statementType, kinds: SEVERITY.filter((k) => kinds.has(k)) };
}

function nodeKind(n: Node): StatementKind | null {
  if (n.type === "func_call" && isNode(n.name) && lc(pathParts(n.name)?.pop() ?? "") === "external_query") return "external_query";
  if (!n.type.endsWith("_stmt")) return null;
  if (n.type === "select_stmt" || n.type === "compound_select_stmt") return "query";
  if (n.type === "export_data_stmt") return "export";
  if (DML.has(n.type)) return "dml";
  if (SCRIPT.has(n.type)) return "script";
  if (n.type === "create_function_stmt" && !isSqlFunction(n)) return "script";
  if (DDL_PREFIX.test(n.type)) return "ddl";
  return "other";
}

// A function body in another language (JavaScript, Python) runs arbitrary code on the data: treat as a script.
function isSqlFunction(n: Node): boolean {
  const lang = (n.clauses as Node[]).find((c) => c.type === "language_clause");
  return !lang || lc(String(lang.name?.name ?? "")) === "sql";
}

function statementTypeOf(s: Node): string {
  switch (s.type) {
    case "select_stmt":
    case "compound_select_stmt":
      return "SELECT";
    case "export_data_stmt":
      return "EXPORT_DATA";
    case "truncate_stmt":
      return "TRUNCATE_TABLE";
    case "create_table_stmt":
      return (s.clauses as Node[] | undefined)?.some((c) => c.type === "as_clause") ? "CREATE_TABLE_AS_SELECT" : "CREATE_TABLE";
    case "create_schema_stmt":
      return "CREATE_SCHEMA";
    case "grant_privilege_stmt":
      return "GRANT";
    case "revoke_privilege_stmt":
      return "REVOKE";
    default:
      return s.type.replace(/_stmt$/, "").toUpperCase();
  }
}

function walk(node: Node, visit: (n: Node) => void): void {
  visit(node);
  for (const c of childNodes(node)) walk(c, visit);
}
