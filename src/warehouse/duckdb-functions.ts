/** BigQuery functions the demo warehouse understands, as DuckDB SQL. Anything not listed here is refused. */
import { FORMAT_MACROS } from "./duckdb-format.ts";
import { arity } from "./duckdb-syntax.ts";
import { TEXT_FUNCTIONS, TEXT_MACROS } from "./duckdb-text-functions.ts";

/** One BigQuery function call being translated; its arguments are translated on demand. */
export interface Call {
  /** Upper-case BigQuery function name. */
  readonly name: string;
  readonly argc: number;
  /** Argument i translated to DuckDB SQL. */
  sql(i: number): string;
  /** Argument i read as a date part: "MONTH", "WEEK(MONDAY)", ... */
  part(i: number): string;
  /** Argument i read as a string literal. */
  str(i: number): string;
  /** Argument i read as an interval literal (`INTERVAL n DAY`): its value translated, its unit upper-case. */
  interval(i: number): { value: string; unit: string };
  fail(message: string): never;
}

/** A plain rename (same arguments, DISTINCT/ORDER BY/OVER kept) or a rewrite of the whole call. */
export type Handler = string | ((c: Call) => string);

/** DuckDB macros the rename table relies on; created once per warehouse. */
export const MACROS: readonly string[] = [
  "CREATE MACRO safe_divide(a, b) AS CASE WHEN b = 0 THEN NULL ELSE a / b END",
  "CREATE MACRO safe_multiply(a, b) AS a * b",
  "CREATE MACRO safe_add(a, b) AS a + b",
  "CREATE MACRO safe_subtract(a, b) AS a - b",
  "CREATE MACRO safe_negate(a) AS -a",
  // BigQuery's DIV truncates INT64s towards zero and fails on a zero divisor, where DuckDB's // returns NULL.
  `CREATE MACRO bq_div(x, y) AS CASE
    WHEN NOT (typeof(x) IN ('"NULL"', 'TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'HUGEINT') AND typeof(y) IN ('"NULL"', 'TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'HUGEINT'))
      THEN error('Not supported by the demo warehouse (DuckDB): DIV of ' || typeof(x) || ' and ' || typeof(y) || ' (INT64 only)')
    WHEN y = 0 THEN error('division by zero: ' || CAST(x AS VARCHAR) || ' / 0')
    ELSE x // y END`,
  // Stepping by months from after the 28th clamps, and how BigQuery steps from there is not pinned down here.
  `CREATE MACRO bq_generate_date_array(s, e, n, months) AS CASE
    WHEN n = 0 THEN error('Sequence step cannot be 0.')
    WHEN months AND day(s) > 28 THEN error('Not supported by the demo warehouse (DuckDB): GENERATE_DATE_ARRAY stepping by months from after the 28th')
    ELSE CAST(generate_series(CAST(s AS TIMESTAMP), CAST(e AS TIMESTAMP), CASE WHEN months THEN to_months(CAST(n AS INTEGER)) ELSE to_days(CAST(n AS INTEGER)) END) AS DATE[]) END`,
  ...TEXT_MACROS,
  ...FORMAT_MACROS,
];

const sqlString = (s: string): string => `'${s.replace(/'/g, "''")}'`;


function utcOnly(c: Call, i: number): void {
  if (c.argc > i && c.str(i).toUpperCase() !== "UTC") c.fail(`${c.name} with a time zone other than "UTC" is not supported`);
}

const WEEKDAYS = ["SUNDAY", "MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY"];

/** time_bucket keeps the input's type (DATE stays DATE), which DuckDB's date_trunc does not. */
function truncate(c: Call, expr: string, part: string): string {
  const week = /^WEEK(?:\((\w+)\))?$/.exec(part);
  if (week) {
    // time_bucket's day buckets start on Monday 2000-01-03; shift to the requested weekday.
    const day = WEEKDAYS.indexOf(week[1] ?? "SUNDAY");
    if (day < 0) c.fail(`unknown weekday in ${part}`);
    const shift = day === 0 ? -1 : day - 1;
    return `time_bucket(INTERVAL 7 DAY, ${expr}, INTERVAL '${shift} day')`;
  }
  switch (part) {
    case "ISOWEEK": return `time_bucket(INTERVAL 7 DAY, ${expr})`;
    case "DAY": return `time_bucket(INTERVAL 1 DAY, ${expr})`;
    case "MONTH": return `time_bucket(INTERVAL 1 MONTH, ${expr})`;
    case "QUARTER": return `time_bucket(INTERVAL 3 MONTH, ${expr})`;
    case "YEAR": return `time_bucket(INTERVAL 1 YEAR, ${expr})`;
    case "HOUR": case "MINUTE": case "SECOND": case "MILLISECOND": case "MICROSECOND":
      return `date_trunc('${part.toLowerCase()}', ${expr})`;
    default: return c.fail(`${c.name} does not support the date part ${part}`);
  }
}

function trunc(c: Call): string {
  arity(c, 2, 3);
  utcOnly(c, 2);
  return truncate(c, c.sql(0), c.part(1));
}

/** BigQuery counts week boundaries; DuckDB's date_diff('week') counts whole weeks, so diff the week starts. */
function dateDiff(c: Call): string {
  arity(c, 3);
  const [end, start, part] = [c.sql(0), c.sql(1), c.part(2)];
  if (part.startsWith("WEEK") || part === "ISOWEEK") {
    return `(date_diff('day', ${truncate(c, start, part)}, ${truncate(c, end, part)}) // 7)`;
  }
  if (!["DAY", "MONTH", "QUARTER", "YEAR", "HOUR", "MINUTE", "SECOND", "MILLISECOND", "MICROSECOND"].includes(part)) {
    c.fail(`${c.name} does not support the date part ${part}`);
  }
  return `date_diff('${part.toLowerCase()}', ${start}, ${end})`;
}

/** TIMESTAMP_DIFF counts whole elapsed units, which is DuckDB's date_sub, not date_diff. */
function timestampDiff(c: Call): string {
  arity(c, 3);
  const part = c.part(2);
  if (!["DAY", "HOUR", "MINUTE", "SECOND", "MILLISECOND", "MICROSECOND"].includes(part)) {
    c.fail(`${c.name} does not support the date part ${part}`);
  }
  return `date_sub('${part.toLowerCase()}', ${c.sql(1)}, ${c.sql(0)})`;
}

function addInterval(op: "+" | "-", cast?: string) {
  return (c: Call): string => {
    arity(c, 2);
    const sum = `(${c.sql(0)} ${op} ${c.sql(1)})`;
    return cast ? `CAST(${sum} AS ${cast})` : sum;
  };
}

/** BigQuery format elements → DuckDB strftime; elements whose output would differ are refused. */
const FORMAT_ELEMENTS: Record<string, string> = {
  "%A": "%A", "%a": "%a", "%B": "%B", "%b": "%b", "%h": "%b", "%d": "%d", "%H": "%H", "%I": "%I",
  "%j": "%j", "%M": "%M", "%m": "%m", "%p": "%p", "%S": "%S", "%U": "%U", "%u": "%u", "%W": "%W",
  "%w": "%w", "%Y": "%Y", "%y": "%y", "%G": "%G", "%V": "%V", "%%": "%%", "%F": "%Y-%m-%d",
  "%T": "%H:%M:%S", "%D": "%m/%d/%y", "%R": "%H:%M", "%x": "%m/%d/%y", "%X": "%H:%M:%S",
  "%E4Y": "%Y", "%E3S": "%S.%g", "%E6S": "%S.%f", "%Z": "UTC", "%z": "+0000", "%n": "\n", "%t": "\t",
};

/** Translates a BigQuery FORMAT_* / PARSE_* format string to DuckDB's strftime dialect. */
export function translateFormat(format: string, fail: (message: string) => never): string {
  return format.replace(/%(E\d[YS]|E\*S|.)/gs, (element) => {
    const mapped = FORMAT_ELEMENTS[element];
    return mapped ?? fail(`the format element ${element} is not supported`);
  });
}

function formatTime(c: Call): string {
  arity(c, 2, 3);
  utcOnly(c, 2);
  return `strftime(${c.sql(1)}, ${sqlString(translateFormat(c.str(0), c.fail))})`;
}

function parseTime(cast: string) {
  return (c: Call): string => {
    arity(c, 2);
    return `CAST(strptime(${c.sql(1)}, ${sqlString(translateFormat(c.str(0), c.fail))}) AS ${cast})`;
  };
}

function castTo(type: string) {
  return (c: Call): string => {
    if (c.argc === 2) utcOnly(c, 1);
    else arity(c, 1);
    return `CAST(${c.sql(0)} AS ${type})`;
  };
}

function noArgs(sql: string) {
  return (c: Call): string => {
    arity(c, 0, 1);
    utcOnly(c, 0);
    return sql;
  };
}

/** GREATEST/LEAST are NULL when any argument is; DuckDB's skip NULLs. */
function nullStrict(fn: string) {
  return (c: Call): string => {
    if (c.argc < 1) c.fail(`${c.name} expects at least one argument`);
    const args = Array.from({ length: c.argc }, (_, i) => c.sql(i));
    return `CASE WHEN ${args.map((a) => `(${a}) IS NULL`).join(" OR ")} THEN NULL ELSE ${fn}(${args.join(", ")}) END`;
  };
}

const DATE_STEPS: Record<string, [number, boolean]> = { DAY: [1, false], WEEK: [7, false], MONTH: [1, true], QUARTER: [3, true], YEAR: [12, true] };

function generateDateArray(c: Call): string {
  arity(c, 2, 3);
  const step = c.argc === 3 ? c.interval(2) : { value: "1", unit: "DAY" };
  const [factor, months] = DATE_STEPS[step.unit] ?? c.fail(`GENERATE_DATE_ARRAY steps by DAY, WEEK, MONTH, QUARTER or YEAR, not ${step.unit}`);
  return `bq_generate_date_array(CAST(${c.sql(0)} AS DATE), CAST(${c.sql(1)} AS DATE), (${step.value}) * ${factor}, ${months})`;
}

function args(c: Call): string[] {
  return Array.from({ length: c.argc }, (_, i) => c.sql(i));
}

/** Keyed by upper-case BigQuery name. */
export const FUNCTIONS: Record<string, Handler> = {
  // Aggregates and window functions with DuckDB twins.
  COUNT: "count", SUM: "sum", AVG: "avg", MIN: "min", MAX: "max", ANY_VALUE: "any_value",
  COUNTIF: "count_if", LOGICAL_AND: "bool_and", LOGICAL_OR: "bool_or", STRING_AGG: "string_agg",
  STDDEV: "stddev_samp", STDDEV_SAMP: "stddev_samp", STDDEV_POP: "stddev_pop", VARIANCE: "var_samp",
  VAR_SAMP: "var_samp", VAR_POP: "var_pop", CORR: "corr", COVAR_POP: "covar_pop", COVAR_SAMP: "covar_samp",
  APPROX_COUNT_DISTINCT: "approx_count_distinct", BIT_AND: "bit_and", BIT_OR: "bit_or", BIT_XOR: "bit_xor",
  ROW_NUMBER: "row_number", RANK: "rank", DENSE_RANK: "dense_rank", PERCENT_RANK: "percent_rank",
  CUME_DIST: "cume_dist", NTILE: "ntile", LAG: "lag", LEAD: "lead", FIRST_VALUE: "first_value",
  LAST_VALUE: "last_value", NTH_VALUE: "nth_value",
  // Conditionals and maths.
  COALESCE: "coalesce", IFNULL: "ifnull", NULLIF: "nullif", IF: "if",
  ABS: "abs", SIGN: "sign", ROUND: "round", CEIL: "ceil", CEILING: "ceil", FLOOR: "floor", TRUNC: "trunc",
  DIV: (c) => (arity(c, 2), `bq_div(${c.sql(0)}, ${c.sql(1)})`),
  SQRT: "sqrt", POW: "pow", POWER: "pow", EXP: "exp", LN: "ln", LOG10: "log10", MOD: "mod", RAND: "random",
  SAFE_DIVIDE: "safe_divide", SAFE_MULTIPLY: "safe_multiply", SAFE_ADD: "safe_add",
  SAFE_SUBTRACT: "safe_subtract", SAFE_NEGATE: "safe_negate",
  IEEE_DIVIDE: (c) => (arity(c, 2), `(${c.sql(0)} / ${c.sql(1)})`),
  LOG: (c) => (arity(c, 1, 2), c.argc === 1 ? `ln(${c.sql(0)})` : `(ln(${c.sql(0)}) / ln(${c.sql(1)}))`),
  GREATEST: nullStrict("greatest"), LEAST: nullStrict("least"),
  // Strings.
  LOWER: "lower", UPPER: "upper", LENGTH: "length", CHAR_LENGTH: "length", CHARACTER_LENGTH: "length",
  TRIM: "trim", LTRIM: "ltrim", RTRIM: "rtrim", SUBSTR: "substr", SUBSTRING: "substr", REPLACE: "replace",
  REVERSE: "reverse", STRPOS: "strpos", STARTS_WITH: "starts_with", ENDS_WITH: "ends_with", LEFT: "left",
  RIGHT: "right", REPEAT: "repeat", ASCII: "ascii", CHR: "chr", REGEXP_CONTAINS: "regexp_matches",
  CONCAT: (c) => `(${args(c).join(" || ")})`,
  LPAD: (c) => (arity(c, 2, 3), `lpad(${c.sql(0)}, ${c.sql(1)}, ${c.argc === 3 ? c.sql(2) : "' '"})`),
  RPAD: (c) => (arity(c, 2, 3), `rpad(${c.sql(0)}, ${c.sql(1)}, ${c.argc === 3 ? c.sql(2) : "' '"})`),
  SPLIT: (c) => (arity(c, 1, 2), `string_split(${c.sql(0)}, ${c.argc === 2 ? c.sql(1) : "','"})`),
  REGEXP_REPLACE: (c) => (arity(c, 3), `regexp_replace(${c.sql(0)}, ${c.sql(1)}, ${c.sql(2)}, 'g')`),
  GENERATE_UUID: (c) => (arity(c, 0), "CAST(uuid() AS VARCHAR)"),
  ...TEXT_FUNCTIONS,
  // Arrays and JSON.
  ARRAY: (c) => (arity(c, 1), `ARRAY(${c.sql(0)})`),
  ARRAY_LENGTH: "len", ARRAY_TO_STRING: "array_to_string", ARRAY_REVERSE: "list_reverse",
  ARRAY_CONCAT: (c) => args(c).reduce((acc, a) => `list_concat(${acc}, ${a})`),
  GENERATE_ARRAY: "generate_series", GENERATE_DATE_ARRAY: generateDateArray,
  TO_JSON_STRING: (c) => (arity(c, 1), `CAST(to_json(${c.sql(0)}) AS VARCHAR)`),
  // Dates and times. DuckDB runs in UTC, as BigQuery does by default.
  CURRENT_DATE: noArgs("current_date"),
  CURRENT_TIMESTAMP: noArgs("current_timestamp"),
  CURRENT_DATETIME: noArgs("CAST(current_timestamp AS TIMESTAMP)"),
  DATE: (c) => (c.argc === 3 ? `make_date(${args(c).join(", ")})` : castTo("DATE")(c)),
  TIMESTAMP: castTo("TIMESTAMPTZ"),
  DATETIME: castTo("TIMESTAMP"),
  DATE_TRUNC: trunc,
  TIMESTAMP_TRUNC: trunc,
  DATETIME_TRUNC: trunc,
  DATE_ADD: addInterval("+", "DATE"), DATE_SUB: addInterval("-", "DATE"),
  TIMESTAMP_ADD: addInterval("+"), TIMESTAMP_SUB: addInterval("-"),
  DATETIME_ADD: addInterval("+", "TIMESTAMP"), DATETIME_SUB: addInterval("-", "TIMESTAMP"),
  DATE_DIFF: dateDiff, DATETIME_DIFF: dateDiff, TIMESTAMP_DIFF: timestampDiff,
  FORMAT_DATE: formatTime, FORMAT_TIMESTAMP: formatTime, FORMAT_DATETIME: formatTime,
  PARSE_DATE: parseTime("DATE"), PARSE_TIMESTAMP: parseTime("TIMESTAMPTZ"), PARSE_DATETIME: parseTime("TIMESTAMP"),
  UNIX_SECONDS: (c) => (arity(c, 1), `CAST(floor(epoch(${c.sql(0)})) AS BIGINT)`),
  UNIX_MILLIS: (c) => (arity(c, 1), `epoch_ms(${c.sql(0)})`),
  TIMESTAMP_SECONDS: (c) => (arity(c, 1), `to_timestamp(${c.sql(0)})`),
  LAST_DAY: (c) => {
    arity(c, 1, 2);
    if (c.argc === 2 && c.part(1) !== "MONTH") c.fail("LAST_DAY supports only the MONTH date part");
    return `last_day(${c.sql(0)})`;
  },
};

/** EXTRACT parts whose DuckDB spelling or numbering differs from BigQuery's. */
export function extractPart(part: string, expr: string, fail: (message: string) => never): string {
  switch (part) {
    case "YEAR": case "QUARTER": case "MONTH": case "DAY": case "HOUR": case "MINUTE": case "SECOND":
      return `extract(${part.toLowerCase()} FROM ${expr})`;
    case "DAYOFYEAR": return `extract(doy FROM ${expr})`;
    case "DAYOFWEEK": return `(extract(dow FROM ${expr}) + 1)`; // BigQuery: Sunday = 1
    case "ISOWEEK": return `extract(week FROM ${expr})`;
    case "ISOYEAR": return `extract(isoyear FROM ${expr})`;
    case "WEEK": return `CAST(strftime(${expr}, '%U') AS BIGINT)`; // weeks start on Sunday
    case "MILLISECOND": return `(extract(millisecond FROM ${expr}) % 1000)`;
    case "MICROSECOND": return `(extract(microsecond FROM ${expr}) % 1000000)`;
    case "DATE": return `CAST(${expr} AS DATE)`;
    case "TIME": return `CAST(${expr} AS TIME)`;
    case "DATETIME": return `CAST(${expr} AS TIMESTAMP)`;
    default: return fail(`EXTRACT does not support the date part ${part}`);
  }
}
