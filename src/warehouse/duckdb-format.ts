/**
 * BigQuery's FORMAT() for the demo warehouse. The format string must be a literal: it is compiled here into
 * DuckDB SQL, one piece per specifier. Argument types are only known to DuckDB, so each piece checks the type
 * at run time and fails with BigQuery's complaint (or "not supported") instead of printing something else.
 */
import { sqlString, type N } from "./duckdb-syntax.ts";

const INT_TYPES = ["TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT"];
const typeIn = (v: string, types: string[]): string => `typeof(${v}) IN (${['"NULL"', ...types].map(sqlString).join(", ")})`;
const notSupported = (what: string): string => sqlString(`Not supported by the demo warehouse (DuckDB): ${what}`);

/** DuckDB macros FORMAT relies on; created once per warehouse. */
export const FORMAT_MACROS: readonly string[] = [
  // C-style escapes as ZetaSQL's ToStringLiteral writes them; other control characters would need \x escapes.
  `CREATE MACRO bq_escape(s) AS replace(replace(replace(replace(s, '\\', '\\\\'), chr(10), '\\n'), chr(13), '\\r'), chr(9), '\\t')`,
  `CREATE MACRO bq_string_literal(s) AS CASE
    WHEN regexp_matches(s, '[\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\x7F]') THEN error(${notSupported("FORMAT %T of a string with control characters")})
    WHEN contains(s, '"') AND NOT contains(s, '''') THEN '''' || bq_escape(s) || ''''
    ELSE '"' || replace(bq_escape(s), '"', '\\"') || '"' END`,
  // %t (literal = false) and %T (literal = true) of one scalar value; DuckDB types BigQuery prints differently are refused.
  `CREATE MACRO bq_format_value(v, literal) AS CASE
    WHEN v IS NULL THEN 'NULL'
    WHEN typeof(v) = 'VARCHAR' THEN CASE WHEN literal THEN bq_string_literal(CAST(v AS VARCHAR)) ELSE CAST(v AS VARCHAR) END
    WHEN typeof(v) IN (${INT_TYPES.map(sqlString).join(", ")}) OR typeof(v) = 'BOOLEAN' THEN CAST(v AS VARCHAR)
    WHEN typeof(v) = 'DATE' THEN CASE WHEN literal THEN 'DATE "' || CAST(v AS VARCHAR) || '"' ELSE CAST(v AS VARCHAR) END
    WHEN typeof(v) IN ('TIMESTAMP WITH TIME ZONE', 'TIMESTAMP') AND contains(CAST(v AS VARCHAR), '.') THEN error(${notSupported("FORMAT %t/%T of a timestamp with fractional seconds")})
    WHEN typeof(v) = 'TIMESTAMP WITH TIME ZONE' THEN CASE WHEN literal THEN 'TIMESTAMP "' || CAST(v AS VARCHAR) || '"' ELSE CAST(v AS VARCHAR) END
    WHEN typeof(v) = 'TIMESTAMP' THEN CASE WHEN literal THEN 'DATETIME "' || CAST(v AS VARCHAR) || '"' ELSE CAST(v AS VARCHAR) END
    ELSE error(${notSupported("FORMAT %t/%T of a value of DuckDB type ")} || typeof(v)) END`,
];

/** One conversion specification: %[flags][width][.precision]conversion. */
const SPEC = /%([-+ #0']*)(\d+|\*)?(?:\.(\d*|\*))?([a-zA-Z%])/y;

/** Translates one FORMAT(format, args...) call; `sql` translates an argument node, `fail` refuses the call. */
export function formatSql(format: string, args: N[], sql: (node: N) => string, fail: (message: string) => never): string {
  const pieces: string[] = [];
  let text = "";
  let argIndex = 0;
  let lambdas = 0;
  // Reads an argument once, however often the piece needs it (a volatile argument must not be evaluated twice).
  const bind = (expr: string, body: (v: string) => string): string => {
    const v = `__format_${lambdas++}`;
    return `list_transform([${expr}], lambda ${v}: ${body(v)})[1]`;
  };
  const nextArg = (): N => args[argIndex++] ?? fail("FORMAT has fewer arguments than its format string needs");

  for (let i = 0; i < format.length; i++) {
    if (format[i] !== "%") { text += format[i]; continue; }
    SPEC.lastIndex = i;
    const m = SPEC.exec(format);
    if (!m) return fail(`invalid format specifier at position ${i + 1} of "${format}"`);
    const [whole, flags = "", width, precision, conversion = ""] = m;
    i += whole.length - 1;
    if (conversion === "%") {
      if (whole !== "%%") return fail(`invalid format specifier "${whole}"`);
      text += "%";
      continue;
    }
    if (width === "*" || precision === "*") return fail("FORMAT with * width or precision");
    if (flags.includes("'")) return fail("FORMAT with the ' grouping flag");
    if (text) pieces.push(sqlString(text));
    text = "";
    const n = argIndex + 2; // BigQuery counts the format string as argument 1
    const arg = nextArg();
    const typeError = (expected: string, v: string): string =>
      `error('Invalid type for argument ${n} to FORMAT; Expected ${expected}; Got ' || typeof(${v}))`;
    switch (conversion) {
      case "d": case "i": case "o": case "x": case "X": {
        const spec = sqlString(`%${flags}${width ?? ""}${precision !== undefined ? `.${precision}` : ""}${conversion === "i" ? "d" : conversion}`);
        const signed = conversion === "d" || conversion === "i";
        pieces.push(bind(sql(arg), (v) => `CASE WHEN NOT ${typeIn(v, INT_TYPES)} THEN ${typeError("INT64", v)} `
          + (signed ? "" : `WHEN ${v} < 0 THEN error('Negative values are not allowed for %${conversion} in FORMAT') `)
          + `ELSE printf(${spec}, ${v}) END`));
        break;
      }
      case "f": case "F": case "e": case "E": case "g": case "G": {
        const spec = sqlString(whole);
        pieces.push(bind(sql(arg), (v) => `CASE WHEN typeof(${v}) LIKE 'DECIMAL%' THEN error(${notSupported(`FORMAT %${conversion} of NUMERIC (CAST it to FLOAT64)`)}) `
          + `WHEN NOT ${typeIn(v, ["DOUBLE", "FLOAT"])} THEN ${typeError("FLOAT64", v)} ELSE printf(${spec}, ${v}) END`));
        break;
      }
      case "s": case "t": case "T": {
        if (/[^-]/.test(flags)) return fail(`FORMAT %${conversion} with the flags "${flags}"`);
        let piece = conversion === "s"
          ? bind(sql(arg), (v) => `CASE WHEN ${typeIn(v, ["VARCHAR"])} THEN CAST(${v} AS VARCHAR) ELSE ${typeError("STRING", v)} END`)
          : printable(arg, conversion === "T", sql, bind, fail);
        if (precision !== undefined) piece = `left(${piece}, ${Number(precision)})`;
        if (width !== undefined) {
          piece = bind(piece, (v) => `${flags.includes("-") ? "rpad" : "lpad"}(${v}, CAST(greatest(${Number(width)}, length(${v})) AS INTEGER), ' ')`);
        }
        pieces.push(piece);
        break;
      }
      default:
        return fail(`the format specifier %${conversion}`);
    }
  }
  if (argIndex !== args.length) return fail(`FORMAT has ${args.length} arguments after the format string, but the format string uses ${argIndex}`);
  if (text) pieces.push(sqlString(text));
  return pieces.length === 0 ? "''" : `(${pieces.join(" || ")})`;
}

/** %t / %T: STRUCT(...) and [...] constructors written in the query are printed field by field; other values by type. */
function printable(arg: N, literal: boolean, sql: (node: N) => string, bind: (e: string, b: (v: string) => string) => string, fail: (m: string) => never): string {
  const join = (parts: string[]): string => parts.length ? parts.join(" || ', ' || ") : "''";
  if (arg.type === "typed_expr" && arg.dataType?.typeKw?.name?.toUpperCase() === "STRUCT" && !arg.dataType.params && arg.expr?.type === "struct_expr") {
    const fields = (arg.expr.expr.items as N[]).map((item) => printable(item.type === "alias" ? item.expr : item, literal, sql, bind, fail));
    const open = literal && fields.length <= 1 ? "STRUCT(" : "(";
    return `(${sqlString(open)} || ${join(fields)} || ')')`;
  }
  if (arg.type === "array_expr") {
    const items = (arg.expr?.items ?? []) as N[];
    if (items.length === 0) return fail("FORMAT %t/%T of an empty array literal");
    return `('[' || ${join(items.map((item) => printable(item, literal, sql, bind, fail)))} || ']')`;
  }
  return bind(sql(arg), (v) => `bq_format_value(${v}, ${literal ? "true" : "false"})`);
}
