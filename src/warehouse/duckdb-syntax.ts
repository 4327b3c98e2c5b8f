/** CST helpers for the BigQuery → DuckDB translation: node rewriting, literals and type names. */
import { show } from "sql-parser-cst";
import type { Node } from "../sql/parse.ts";
import { WarehouseQueryError } from "./types.ts";

/** A CST node, the same loose shape the analysis walks (src/sql/parse.ts); the translator rewrites its own tree in place. */
export type N = Node;

/** Fails like BigQuery does for SQL it will not run. */
export function unsupported(message: string): never {
  throw new WarehouseQueryError(`Not supported by the demo warehouse (DuckDB): ${message}`, { reason: "invalidQuery" });
}

/** Fails a function call whose argument count is outside min..max. */
export function arity(c: { name: string; argc: number; fail(message: string): never }, min: number, max = min): void {
  if (c.argc < min || c.argc > max) c.fail(`${c.name} expects ${min === max ? min : `${min} to ${max}`} arguments, got ${c.argc}`);
}

/** Double-quotes one identifier part for DuckDB. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** A DuckDB string literal; DuckDB reads backslashes literally, so only quotes need doubling. */
export const sqlString = (s: string): string => `'${s.replace(/'/g, "''")}'`;

/**
 * The identifier parts of a (possibly backticked) dotted path, or undefined when the node is not a path. Unlike
 * src/sql/parse.ts's pathParts, one identifier stays one part even with a dot in it: the translator quotes parts as
 * they come, and a name it cannot resolve fails ("Not found") rather than being read another way.
 */
export function pathParts(node: N): string[] | undefined {
  if (node.type === "identifier") return [node.name as string];
  if (node.type === "bigquery_quoted_member_expr") return pathParts(node.expr);
  if (node.type === "member_expr" && node.property?.type === "identifier") {
    const head = pathParts(node.object);
    return head && [...head, node.property.name as string];
  }
  return undefined;
}

/** Turns a node into raw DuckDB text, keeping its surrounding whitespace. */
export function replaceWith(node: N, text: string): void {
  const { leading, trailing } = node;
  for (const key of Object.keys(node)) delete node[key];
  Object.assign(node, { type: "identifier", text, name: text }, leading ? { leading } : {}, trailing ? { trailing } : {});
}

/** The node printed back as SQL, without its surrounding whitespace. */
export const showTrim = (node: N): string => show(node as never).trim();

/** Upper-case text of an operator or keyword (one keyword node, several, or a plain string). */
export const opText = (op: unknown): string =>
  (Array.isArray(op) ? op.map((k: N) => k.name).join(" ") : typeof op === "string" ? op : (op as N).name).toUpperCase();

/** DuckDB text for a BigQuery literal node, or undefined when it can stay as written. */
export function literalText(node: N): string | undefined {
  switch (node.type) {
    case "string_literal": return sqlString(String(node.value));
    case "number_literal": {
      const text = String(node.text);
      if (/^0x/i.test(text)) return BigInt(text).toString();
      // BigQuery types 1.5 and 1e3 as FLOAT64; DuckDB would make 1.5 a DECIMAL.
      return /[.eE]/.test(text) ? `CAST(${text} AS DOUBLE)` : undefined;
    }
    case "blob_literal":
      return `'${bytesOfLiteral(String(node.text)).map((b) => `\\x${b.toString(16).padStart(2, "0")}`).join("")}'::BLOB`;
    case "numeric_literal": return `CAST(${sqlString(node.string.value)} AS DECIMAL(38,9))`;
    case "date_literal": return `DATE ${sqlString(node.string.value)}`;
    case "time_literal": return `TIME ${sqlString(node.string.value)}`;
    case "datetime_literal": return `CAST(${sqlString(node.string.value)} AS TIMESTAMP)`;
    case "timestamp_literal": return `CAST(${sqlString(node.string.value)} AS TIMESTAMPTZ)`;
    case "json_literal": return `CAST(${sqlString(node.string.value)} AS JSON)`;
    default: return unsupported(node.type.replace(/_/g, " "));
  }
}

const SIMPLE_ESCAPES: Record<string, number> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, "\\": 92, "?": 63, '"': 34, "'": 39, "`": 96 };

/**
 * The bytes of a BigQuery bytes literal (b'...', rb"...", b"""..."""). Read here because the parser takes \xAB
 * for the character U+00AB and stores its two UTF-8 bytes, where BYTES mean the one byte 0xAB.
 */
export function bytesOfLiteral(text: string): number[] {
  const m = /^([bB][rR]?|[rR][bB])('''|"""|'|")([\s\S]*)\2$/.exec(text);
  if (!m) return unsupported(`the bytes literal ${text}`);
  const body = m[3]!;
  if (/r/i.test(m[1]!)) return [...Buffer.from(body, "utf8")];
  const out: number[] = [];
  for (let i = 0; i < body.length; i++) {
    const ch = String.fromCodePoint(body.codePointAt(i)!);
    if (ch !== "\\") { out.push(...Buffer.from(ch, "utf8")); i += ch.length - 1; continue; }
    const next = body[++i] ?? "";
    if (next in SIMPLE_ESCAPES) out.push(SIMPLE_ESCAPES[next]!);
    else if (/[xX]/.test(next) && /^[0-9a-fA-F]{2}$/.test(body.slice(i + 1, i + 3))) { out.push(parseInt(body.slice(i + 1, i + 3), 16)); i += 2; }
    else if (/^[0-3][0-7]{2}$/.test(body.slice(i, i + 3))) { out.push(parseInt(body.slice(i, i + 3), 8)); i += 2; }
    else return unsupported(`the escape \\${next} in the bytes literal ${text}`);
  }
  return out;
}

const TYPE_NAMES: Record<string, string> = {
  INT64: "BIGINT", INT: "BIGINT", INTEGER: "BIGINT", BIGINT: "BIGINT", SMALLINT: "BIGINT", TINYINT: "BIGINT",
  BYTEINT: "BIGINT", FLOAT64: "DOUBLE", NUMERIC: "DECIMAL(38,9)", DECIMAL: "DECIMAL(38,9)", STRING: "VARCHAR",
  BYTES: "BLOB", BOOL: "BOOLEAN", BOOLEAN: "BOOLEAN", DATE: "DATE", DATETIME: "TIMESTAMP",
  TIMESTAMP: "TIMESTAMPTZ", TIME: "TIME", JSON: "JSON", INTERVAL: "INTERVAL",
};

/** DuckDB spelling of a BigQuery data type node (INT64 → BIGINT, ARRAY<T> → T[], STRUCT<a T> → STRUCT("a" T)). */
export function typeText(node: N): string {
  switch (node.type) {
    case "data_type_name": {
      const name = opText(node.name);
      return TYPE_NAMES[name] ?? unsupported(`the type ${name}`);
    }
    case "modified_data_type": {
      const base = typeText(node.dataType);
      if (base.startsWith("DECIMAL")) return `DECIMAL${showTrim(node.modifiers)}`;
      if (base === "VARCHAR" || base === "BLOB") return base; // STRING(n)/BYTES(n): DuckDB has no length limits
      return unsupported(`the type ${showTrim(node)}`);
    }
    case "parametric_data_type": {
      const kw = opText(node.typeKw);
      const params: N[] = node.params?.params?.items ?? [];
      if (kw === "ARRAY" && params.length === 1) return `${typeText(params[0]!.dataType)}[]`;
      if (kw === "STRUCT" && params.length > 0 && params.every((p) => p.name)) {
        return `STRUCT(${params.map((p) => `${quoteIdent(p.name.name)} ${typeText(p.dataType)}`).join(", ")})`;
      }
      return unsupported(`the type ${showTrim(node)}`);
    }
    default:
      return unsupported(`the type ${showTrim(node)}`);
  }
}
