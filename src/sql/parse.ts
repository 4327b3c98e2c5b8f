/** Parsing BigQuery SQL into sql-parser-cst's concrete syntax tree, and small helpers over its nodes. */
import { parse } from "sql-parser-cst";
import { JitError } from "../errors.ts";

/** A CST node as the walkers see it: a `type` tag and named children. */
// The CST's own union has ~650 members; the walkers dispatch on `type`, so a loose shape reads better.
export type Node = { type: string; [key: string]: any };
export type Program = Node & { type: "program"; statements: Node[] };

// The broker reads one statement several times (tables for the grant check, then full analysis), and parsing is most
// of the cost: keep the last few trees. The walkers never modify a tree, so sharing one is safe.
const CACHE_ENTRIES = 32;
const CACHE_MAX_CHARS = 32_768;
const cache = new Map<string, Program>();

/** Parses `sql` with the BigQuery dialect; a parser failure is a `denied` error, never a pass-through. Callers must not modify the tree. */
export function parseSql(sql: string): Program {
  const hit = cache.get(sql);
  if (hit) {
    cache.delete(sql);
    cache.set(sql, hit);
    return hit;
  }
  const program = parseUncached(sql);
  if (sql.length <= CACHE_MAX_CHARS) {
    cache.set(sql, program);
    if (cache.size > CACHE_ENTRIES) cache.delete(cache.keys().next().value!);
  }
  return program;
}

function parseUncached(sql: string): Program {
  try {
    return parse(sql, { dialect: "bigquery", paramTypes: ["@name", "@`name`", "?"] }) as unknown as Program;
  } catch (err) {
    const text = err instanceof Error ? err.message : String(err);
    const first = text.split("\n")[0] ?? "syntax error";
    // The parser reads a wildcard table only in backticks (BigQuery's documented form).
    const star = first.includes('Unexpected "*"');
    // "--> undefined:2:34": where the parser stopped (1-based line and column), so a client can point at the spot.
    // It is `position`, not `column`: details.column names a masked column in the broker's other refusals.
    const at = /^--> .*:(\d+):(\d+)$/m.exec(text);
    const where = at ? { position: { line: Number(at[1]), column: Number(at[2]) } } : {};
    throw new JitError("denied", `the broker cannot analyse this SQL: ${first}${at ? ` at line ${at[1]}, column ${at[2]}` : ""}`, {
      hint: star ? "write a wildcard table in backticks: `dataset.prefix*`"
        : at ? `fix the statement near line ${at[1]}, column ${at[2]}, or simplify it: one statement in BigQuery standard SQL`
        : "simplify the query: one SELECT statement in BigQuery standard SQL",
      details: { reason: "unanalysable", ...where },
    });
  }
}

/** The non-empty statements of a program (a trailing `;` leaves an `empty` one). */
export function statementsOf(program: Program): Node[] {
  return program.statements.filter((s) => s.type !== "empty");
}

/** A `denied` error for SQL the analyser cannot resolve with certainty (details.reason "unanalysable"). */
export function cannotAnalyse(reason: string, hint = "simplify the query: name the tables as dataset.table and the columns explicitly"): JitError {
  return new JitError("denied", `the broker cannot analyse this SQL: ${reason}`, { hint, details: { reason: "unanalysable" } });
}

/** True for objects that are CST nodes. */
export function isNode(v: unknown): v is Node {
  return typeof v === "object" && v !== null && typeof (v as { type?: unknown }).type === "string";
}

const SKIP_KEYS = new Set(["type", "range", "leading", "trailing", "text", "name", "value"]);

/** Every child node of `node` (flattening arrays), in source order of its fields. */
export function childNodes(node: Node): Node[] {
  const out: Node[] = [];
  for (const key of Object.keys(node)) {
    if (SKIP_KEYS.has(key)) {
      // `name` and `value` hold strings on identifiers and literals but nodes elsewhere (func_call.name, named_arg.value).
      if ((key === "name" || key === "value") && isNode(node[key])) out.push(node[key]);
      continue;
    }
    collect(node[key], out);
  }
  return out;
}

function collect(v: unknown, out: Node[]): void {
  if (Array.isArray(v)) for (const x of v) collect(x, out);
  else if (isNode(v)) out.push(v);
}

/**
 * The dotted parts of a name (`a.b.c`, `` `a.b`.c ``, `` `a.b.c` ``), or null when the node is not a plain path.
 * Dots inside backticks separate parts, as BigQuery reads table paths.
 */
export function pathParts(node: Node): string[] | null {
  switch (node.type) {
    case "identifier":
      return String(node.name).split(".");
    case "bigquery_quoted_member_expr":
      return pathParts(node.expr);
    case "member_expr": {
      if (!isNode(node.property)) return null;
      const left = pathParts(node.object);
      const right = pathParts(node.property);
      return left && right ? [...left, ...right] : null;
    }
    default:
      return null;
  }
}

/** Lower-cased identifier text. */
export const lc = (s: string): string => s.toLowerCase();
