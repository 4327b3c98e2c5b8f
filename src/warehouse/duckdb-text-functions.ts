/** BigQuery string, BYTES, regular-expression and JSON functions for the demo warehouse, as DuckDB SQL. */
import type { Call, Handler } from "./duckdb-functions.ts";
import { arity, sqlString } from "./duckdb-syntax.ts";

/** DuckDB macros these functions rely on; created once per warehouse. */
export const TEXT_MACROS: readonly string[] = [
  // FROM_HEX reads an odd number of digits as if led by a 0.
  "CREATE MACRO bq_from_hex(s) AS unhex(CASE WHEN length(s) % 2 = 1 THEN '0' || s ELSE s END)",
  // No match is NULL in BigQuery, '' in DuckDB.
  "CREATE MACRO bq_regexp_extract(s, re, g) AS CASE WHEN regexp_matches(s, re) THEN regexp_extract(s, re, g) END",
  // Unicode code points of a STRING, byte values of BYTES.
  `CREATE MACRO bq_to_code_points(x) AS CASE
    WHEN typeof(x) = 'BLOB' THEN list_transform(range(octet_length(CAST(x AS BLOB))), lambda i: CAST('0x' || substr(hex(CAST(x AS BLOB)), 2 * i + 1, 2) AS BIGINT))
    ELSE list_transform(range(length(CAST(x AS VARCHAR))), lambda i: CAST(unicode(substr(CAST(x AS VARCHAR), i + 1, 1)) AS BIGINT)) END`,
  "CREATE MACRO bq_code_points_to_string(a) AS CASE WHEN list_bool_or(list_transform(a, lambda c: c IS NULL)) THEN NULL ELSE array_to_string(list_transform(a, lambda c: chr(CAST(c AS INTEGER))), '') END",
  // JSON_VALUE selects scalars only: an object or an array is NULL.
  "CREATE MACRO bq_json_value(j, p) AS CASE WHEN json_type(j, p) IN ('OBJECT', 'ARRAY') THEN NULL ELSE json_extract_string(j, p) END",
];

/** BYTES-only functions: BigQuery refuses a STRING where DuckDB would read it as bytes. */
function bytesOnly(fn: (arg: string) => string) {
  return (c: Call): string => {
    arity(c, 1);
    const v = c.sql(0);
    return fn(`CASE WHEN typeof(${v}) IN ('BLOB', '"NULL"') THEN CAST(${v} AS BLOB) ELSE error('No matching signature for function ${c.name} for argument types: ' || typeof(${v})) END`);
  };
}

/** Capturing groups in an RE2 pattern: `(` outside classes and escapes, not `(?:`, but `(?P<name>` and `(?<name>`. */
export function captureGroups(re: string): number {
  let groups = 0;
  let inClass = false;
  for (let i = 0; i < re.length; i++) {
    const ch = re[i];
    if (ch === "\\") { i++; continue; }
    if (inClass) { if (ch === "]") inClass = false; continue; }
    if (ch === "[") {
      inClass = true;
      if (re[i + 1] === "^") i++;
      if (re[i + 1] === "]") i++;
    } else if (ch === "(" && (re[i + 1] !== "?" || /^\?P?<(?![=!])/.test(re.slice(i + 1)))) groups++;
  }
  return groups;
}

function regexpExtract(all: boolean) {
  return (c: Call): string => {
    if (c.argc !== 2) c.fail(`${c.name} with a position or occurrence argument`);
    const re = c.str(1);
    if (/\\[QE]/.test(re)) c.fail(`${c.name} with \\Q...\\E in the regular expression`);
    const groups = captureGroups(re);
    if (groups > 1) c.fail("Regular expressions passed into extraction functions must not have more than 1 capturing group");
    return `${all ? "regexp_extract_all" : "bq_regexp_extract"}(${c.sql(0)}, ${sqlString(re)}, ${groups})`;
  };
}

/** JSONPath as both engines read it alike: $, .name and [index] steps. */
function jsonValue(c: Call): string {
  arity(c, 1, 2);
  const path = c.argc === 2 ? c.str(1) : "$";
  if (!/^\$(\.[A-Za-z_][A-Za-z0-9_]*|\[\d+\])*$/.test(path)) c.fail(`${c.name} with the JSON path ${path} (only $, .name and [index] steps)`);
  return `bq_json_value(${c.sql(0)}, ${sqlString(path)})`;
}

function jsonObject(c: Call): string {
  if (c.argc % 2 !== 0) c.fail("JSON_OBJECT takes key, value pairs (the two-array form is not supported)");
  const keys = new Set<string>();
  const pairs: string[] = [];
  for (let i = 0; i < c.argc; i += 2) {
    const key = c.str(i);
    if (keys.has(key)) c.fail(`JSON_OBJECT with the key "${key}" twice`);
    keys.add(key);
    pairs.push(`${sqlString(key)}, ${c.sql(i + 1)}`);
  }
  return `json_object(${pairs.join(", ")})`;
}

/** Keyed by upper-case BigQuery name. */
export const TEXT_FUNCTIONS: Record<string, Handler> = {
  REGEXP_EXTRACT: regexpExtract(false), REGEXP_SUBSTR: regexpExtract(false), REGEXP_EXTRACT_ALL: regexpExtract(true),
  TO_HEX: bytesOnly((b) => `lower(hex(${b}))`),
  FROM_HEX: (c) => (arity(c, 1), `bq_from_hex(${c.sql(0)})`),
  TO_BASE64: bytesOnly((b) => `to_base64(${b})`),
  FROM_BASE64: (c) => (arity(c, 1), `from_base64(${c.sql(0)})`),
  TO_CODE_POINTS: (c) => (arity(c, 1), `bq_to_code_points(${c.sql(0)})`),
  CODE_POINTS_TO_STRING: (c) => (arity(c, 1), `bq_code_points_to_string(${c.sql(0)})`),
  // Hashes are BYTES in BigQuery, hex text in DuckDB.
  MD5: (c) => (arity(c, 1), `unhex(md5(${c.sql(0)}))`),
  SHA1: (c) => (arity(c, 1), `unhex(sha1(${c.sql(0)}))`),
  SHA256: (c) => (arity(c, 1), `unhex(sha256(${c.sql(0)}))`),
  TO_JSON: (c) => (arity(c, 1), `to_json(${c.sql(0)})`),
  JSON_VALUE: jsonValue, JSON_EXTRACT_SCALAR: jsonValue,
  JSON_OBJECT: jsonObject,
};
