import { test } from "node:test";
import assert from "node:assert/strict";
import { statementTypeOf, translateToDuckDB } from "../../src/warehouse/duckdb-dialect.ts";
import { captureGroups } from "../../src/warehouse/duckdb-text-functions.ts";
import { bytesOfLiteral } from "../../src/warehouse/duckdb-syntax.ts";
import { WarehouseQueryError, type TableRef } from "../../src/warehouse/types.ts";

const KNOWN = new Set(["sales.customers", "sales.orders", "hr.employees"]);

function resolve(parts: string[]): TableRef {
  const lower = parts.map((p) => p.toLowerCase());
  const [project, dataset, table] = lower.length === 2 ? ["demo", ...lower] : lower;
  if (project !== "demo" || !KNOWN.has(`${dataset}.${table}`)) {
    throw new WarehouseQueryError(`Not found: Table ${parts.join(".")}`, { reason: "notFound" });
  }
  return { project, dataset: dataset!, table: table! };
}

const tr = (sql: string) => translateToDuckDB(sql, resolve);

function rejects(sql: string, pattern: RegExp): void {
  assert.throws(() => tr(sql), (err: unknown) => {
    assert.ok(err instanceof WarehouseQueryError, `expected WarehouseQueryError, got ${String(err)}`);
    assert.match(err.message, pattern);
    return true;
  });
}

test("backticked paths, dotted paths and two-part names become quoted three-part DuckDB names", () => {
  for (const from of ["`demo.sales.customers`", "`demo`.`sales`.`customers`", "`demo.sales`.customers", "demo.sales.customers", "sales.customers", "DEMO.Sales.Customers"]) {
    const t = tr(`SELECT id FROM ${from} AS c`);
    assert.equal(t.sql, `SELECT "id" FROM "demo"."sales"."customers" AS "c"`, from);
    assert.deepEqual(t.tables, [{ project: "demo", dataset: "sales", table: "customers" }]);
  }
  assert.equal(tr("SELECT `c`.`full_name`, `c.city` FROM sales.customers c").sql, `SELECT "c"."full_name", "c"."city" FROM "demo"."sales"."customers" "c"`);
});

test("unknown tables, single-part names and foreign projects are refused", () => {
  rejects("SELECT * FROM demo.sales.nope", /^Not found: Table demo\.sales\.nope$/);
  rejects("SELECT * FROM other.sales.customers", /Not found: Table other\.sales\.customers/);
  rejects("SELECT * FROM customers", /missing dataset/);
  rejects("SELECT * FROM demo.sales.INFORMATION_SCHEMA.TABLES", /Not found/);
});

test("CTE names are not tables; referenced tables are de-duplicated", () => {
  const t = tr("WITH o AS (SELECT * FROM demo.sales.orders), o2 AS (SELECT * FROM o JOIN `demo.sales.orders` x USING (order_id)) SELECT * FROM o2");
  assert.deepEqual(t.tables, [{ project: "demo", dataset: "sales", table: "orders" }]);
  assert.match(t.sql, /FROM "o" JOIN "demo"\."sales"\."orders" "x"/);
  assert.equal(t.statementType, "SELECT");
});

test("* EXCEPT becomes EXCLUDE, SAFE_CAST becomes TRY_CAST, BigQuery types map to DuckDB types", () => {
  assert.equal(tr("SELECT * EXCEPT (ssn, card_number) FROM demo.sales.customers").sql, `SELECT * EXCLUDE ("ssn", "card_number") FROM "demo"."sales"."customers"`);
  assert.equal(tr("SELECT c.* EXCEPT(ssn) FROM demo.sales.customers c").sql, `SELECT "c".* EXCLUDE("ssn") FROM "demo"."sales"."customers" "c"`);
  assert.equal(
    tr("SELECT SAFE_CAST(x AS INT64) a, CAST(y AS FLOAT64) b, CAST(z AS STRING) c, CAST(n AS NUMERIC) d, CAST(f AS BOOL) e, CAST(t AS TIMESTAMP) f").sql,
    `SELECT TRY_CAST("x" AS BIGINT) "a", CAST("y" AS DOUBLE) "b", CAST("z" AS VARCHAR) "c", CAST("n" AS DECIMAL(38,9)) "d", CAST("f" AS BOOLEAN) "e", CAST("t" AS TIMESTAMPTZ) "f"`,
  );
  assert.equal(tr("SELECT CAST(x AS ARRAY<STRUCT<a INT64, b STRING>>) v").sql, `SELECT CAST("x" AS STRUCT("a" BIGINT, "b" VARCHAR)[]) "v"`);
  assert.equal(tr("SELECT CAST(x AS NUMERIC(10, 2)) v").sql, `SELECT CAST("x" AS DECIMAL(10, 2)) "v"`);
  rejects("SELECT CAST(x AS BIGNUMERIC)", /type BIGNUMERIC/);
  rejects("SELECT CAST(x AS STRING FORMAT 'YYYY')", /FORMAT/);
});

test("date functions: argument order, date parts and format strings", () => {
  const one = (expr: string) => tr(`SELECT ${expr} AS v`).sql.replace(/^SELECT (.*) AS "v"$/, "$1");
  assert.equal(one("DATE_TRUNC(d, MONTH)"), `time_bucket(INTERVAL 1 MONTH, "d")`);
  assert.equal(one("DATE_TRUNC(d, WEEK)"), `time_bucket(INTERVAL 7 DAY, "d", INTERVAL '-1 day')`);
  assert.equal(one("DATE_TRUNC(d, WEEK(MONDAY))"), `time_bucket(INTERVAL 7 DAY, "d", INTERVAL '0 day')`);
  assert.equal(one("TIMESTAMP_TRUNC(ts, HOUR)"), `date_trunc('hour', "ts")`);
  assert.equal(one("FORMAT_DATE('%F %b', d)"), `strftime("d", '%Y-%m-%d %b')`);
  assert.equal(one("FORMAT_TIMESTAMP(\"%Y-%m-%dT%H:%M:%SZ\", ts, 'UTC')"), `strftime("ts", '%Y-%m-%dT%H:%M:%SZ')`);
  assert.equal(one("DATE_DIFF(a, b, DAY)"), `date_diff('day', "b", "a")`);
  assert.equal(one("TIMESTAMP_DIFF(a, b, MINUTE)"), `date_sub('minute', "b", "a")`);
  assert.equal(one("DATE_ADD(d, INTERVAL 3 DAY)"), `CAST(("d" + INTERVAL (3) DAY) AS DATE)`);
  assert.equal(one("EXTRACT(DAYOFWEEK FROM d)"), `(extract(dow FROM "d") + 1)`);
  assert.equal(one("EXTRACT(MONTH FROM d)"), `extract(month FROM "d")`);
  assert.equal(one("CURRENT_DATE()"), "current_date");
  assert.equal(one("CURRENT_DATE"), "current_date");
  rejects("SELECT FORMAT_DATE('%Q', d)", /format element %Q/);
  rejects("SELECT FORMAT_DATE(fmt, d)", /must be a string literal/);
  rejects("SELECT DATE_TRUNC(d, ISOYEAR)", /date part ISOYEAR/);
  rejects("SELECT TIMESTAMP_TRUNC(ts, DAY, 'America/New_York')", /time zone/);
  rejects("SELECT EXTRACT(WEEK(MONDAY) FROM d)", /EXTRACT/);
});

test("functions with DuckDB twins are renamed, keeping DISTINCT, ORDER BY and OVER", () => {
  assert.equal(tr("SELECT COUNTIF(x > 1) a, SAFE_DIVIDE(a, b) b, IFNULL(a, 0) c").sql, `SELECT count_if("x" > 1) "a", safe_divide("a", "b") "b", ifnull("a", 0) "c"`);
  assert.equal(tr("SELECT STRING_AGG(DISTINCT city, ', ' ORDER BY city) s").sql, `SELECT string_agg(DISTINCT "city", ', ' ORDER BY "city") "s"`);
  assert.equal(
    tr("SELECT ARRAY_AGG(x IGNORE NULLS ORDER BY y DESC LIMIT 3) a").sql,
    `SELECT list_slice(array_agg("x" ORDER BY "y" DESC) FILTER (WHERE ("x") IS NOT NULL), 1, 3) "a"`,
  );
  assert.equal(tr("SELECT SUM(x) OVER (PARTITION BY y ORDER BY z) s").sql, `SELECT sum("x") OVER (PARTITION BY "y" ORDER BY "z") "s"`);
  assert.equal(tr("SELECT CONCAT(a, '-', b) c").sql, `SELECT ("a" || '-' || "b") "c"`);
  assert.equal(tr("SELECT 1 IN UNNEST(arr) x").sql, `SELECT list_contains(("arr"), 1) "x"`);
  assert.equal(tr("SELECT arr[OFFSET(0)] a, arr[ORDINAL(1)] b").sql, `SELECT "arr"[(0) + 1] "a", "arr"[(1)] "b"`);
});

test("unnamed expression columns get BigQuery's f0_, f1_ names", () => {
  assert.equal(tr("SELECT id, COUNT(*), 1 + 1 AS two, MAX(id) FROM sales.orders").sql.split(" FROM")[0], `SELECT "id", count(*) AS "f0_", 1 + 1 AS "two", max("id") AS "f1_"`);
});

test("literals: double-quoted strings, raw strings, bytes, typed literals; comments are dropped", () => {
  assert.equal(tr(`SELECT "it's" a, r'\\d+' b, b'ab' c, NUMERIC '1.5' d, 2.5 e`).sql, `SELECT 'it''s' "a", '\\d+' "b", '\\x61\\x62'::BLOB "c", CAST('1.5' AS DECIMAL(38,9)) "d", CAST(2.5 AS DOUBLE) "e"`);
  // Comments are dropped: `#` means nothing to DuckDB, and DuckDB nests /* */ where BigQuery does not.
  assert.equal(tr("SELECT 1 AS x # trailing note\nFROM sales.orders").sql, `SELECT 1 AS "x" \n\nFROM "demo"."sales"."orders"`);
  assert.equal(tr("SELECT /* a /* b */ 1 AS x, -- c\n 2 y").sql, `SELECT   1 AS "x", \n\n 2 "y"`);
  assert.equal(tr("SELECT TIMESTAMP '2024-01-01 00:00:00 UTC' t").sql, `SELECT CAST('2024-01-01 00:00:00 UTC' AS TIMESTAMPTZ) "t"`);
});

test("anything without a faithful translation fails with a clear error", () => {
  rejects("SELECT read_csv('/etc/passwd')", /function READ_CSV/);
  rejects("SELECT * FROM read_csv('/etc/passwd')", /in FROM/);
  rejects("SELECT NET.HOST(url)", /function NET\.HOST/);
  rejects("SELECT SAFE.SUBSTR(s, 1)", /function SAFE\.SUBSTR/);
  rejects("SELECT 1 ^ 2", /operator \^/);
  rejects("SELECT AS STRUCT 1 a", /AS STRUCT/);
  rejects("SELECT * FROM UNNEST([1]) WITH OFFSET", /WITH OFFSET without an alias/);
  rejects("SELECT STRING_AGG(x LIMIT 2)", /LIMIT inside STRING_AGG/);
  rejects("DELETE FROM demo.sales.orders WHERE TRUE", /only queries run here, not DELETE/);
  rejects("SELECT 1; SELECT 2", /scripts/);
  rejects("SELEC 1", /Syntax Error/);
});

test("UNNEST ... WITH OFFSET numbers elements from 0 in a lateral subquery; the offset is named offset by default", () => {
  assert.equal(
    tr("SELECT x, o FROM sales.customers c, UNNEST(SPLIT(c.ssn, '-')) AS x WITH OFFSET AS o").sql,
    `SELECT "x", "o" FROM "demo"."sales"."customers" "c", (SELECT "__unnest_0"."v" AS "x", "__unnest_0"."o" - 1 AS "o" FROM unnest((string_split("c"."ssn", '-'))) WITH ORDINALITY AS "__unnest_0"("v", "o")) AS "__unnest_0"`,
  );
  assert.match(tr("SELECT x FROM UNNEST([1]) AS x WITH OFFSET").sql, /- 1 AS "offset" FROM/);
});

test("SELECT AS STRUCT in an expression subquery reads each row as one STRUCT; elsewhere it is refused", () => {
  assert.equal(
    tr("SELECT ARRAY(SELECT AS STRUCT id, c.city AS town FROM sales.customers c ORDER BY id LIMIT 2) AS a").sql,
    `SELECT ARRAY(SELECT "__struct_0" FROM (SELECT "id", "c"."city" AS "town" FROM "demo"."sales"."customers" "c" ORDER BY "id" LIMIT 2) AS "__struct_0") AS "a"`,
  );
  assert.match(tr("SELECT (SELECT AS STRUCT * FROM sales.orders LIMIT 1) AS s").sql, /^SELECT \(SELECT "__struct_0" FROM \(SELECT \* FROM/);
  rejects("SELECT AS STRUCT 1 AS a", /SELECT AS STRUCT outside an expression subquery/);
  rejects("SELECT * FROM (SELECT AS STRUCT 1 AS a)", /outside an expression subquery/);
  rejects("WITH t AS (SELECT AS STRUCT 1 AS a) SELECT * FROM t", /outside an expression subquery/);
  rejects("SELECT 1 AS a UNION ALL SELECT AS STRUCT 2 AS a", /outside an expression subquery/);
  rejects("SELECT ARRAY(SELECT AS STRUCT id + 1 FROM sales.orders) AS a", /fields without names/);
  rejects("SELECT ARRAY(SELECT AS STRUCT id, c.id FROM sales.customers c) AS a", /the field id twice/);
  rejects("SELECT ARRAY(SELECT AS VALUE 1) AS a", /AS VALUE/);
});

test("FORMAT compiles a literal format string; what it cannot mirror is refused before running", () => {
  assert.equal(tr("SELECT FORMAT('no specifiers, 100%%') AS f").sql, `SELECT ('no specifiers, 100%') AS "f"`);
  const sql = tr("SELECT FORMAT('%s-%05d', city, id) AS f FROM sales.customers").sql;
  assert.match(sql, /typeof\(__format_0\) IN \('"NULL"', 'VARCHAR'\)/);
  assert.match(sql, /printf\('%05d', __format_1\)/);
  assert.equal(
    tr("SELECT FORMAT('%T', STRUCT(email)) AS f FROM sales.customers").sql,
    `SELECT (('STRUCT(' || list_transform(["email"], lambda __format_0: bq_format_value(__format_0, true))[1] || ')')) AS "f" FROM "demo"."sales"."customers"`,
  );
  rejects("SELECT FORMAT(fmt, 1) AS f", /format string must be a string literal/);
  rejects("SELECT FORMAT('%s %s', 'a') AS f", /fewer arguments/);
  rejects("SELECT FORMAT('%s', 'a', 'b') AS f", /2 arguments after the format string, but the format string uses 1/);
  rejects("SELECT FORMAT('%*d', 5, 1) AS f", /\* width or precision/);
  rejects("SELECT FORMAT(\"%'d\", 1) AS f", /grouping flag/);
  rejects("SELECT FORMAT('%u', 1) AS f", /format specifier %u/);
  rejects("SELECT FORMAT('%05s', 'a') AS f", /%s with the flags "0"/);
  rejects("SELECT FORMAT('50%', 1) AS f", /invalid format specifier/);
});

test("REGEXP_EXTRACT, JSON_VALUE, JSON_OBJECT, GENERATE_DATE_ARRAY, DIV and friends translate or refuse clearly", () => {
  const one = (expr: string) => tr(`SELECT ${expr} AS v`).sql.replace(/^SELECT (.*) AS "v"$/, "$1");
  assert.equal(one("REGEXP_EXTRACT(email, r'@(.+)$')"), `bq_regexp_extract("email", '@(.+)$', 1)`);
  assert.equal(one("REGEXP_EXTRACT_ALL(phone, r'\\d+')"), `regexp_extract_all("phone", '\\d+', 0)`);
  assert.equal(one("JSON_VALUE(j, '$.a[0].b')"), `bq_json_value("j", '$.a[0].b')`);
  assert.equal(one("JSON_OBJECT('k', email, 'n', 1)"), `json_object('k', "email", 'n', 1)`);
  assert.equal(one("GENERATE_DATE_ARRAY(d, e, INTERVAL 2 WEEK)"), `bq_generate_date_array(CAST("d" AS DATE), CAST("e" AS DATE), (2) * 7, false)`);
  assert.equal(one("DIV(a, b)"), `bq_div("a", "b")`);
  assert.equal(one("SHA256(s)"), `unhex(sha256("s"))`);
  assert.equal(one("FROM_HEX(h)"), `bq_from_hex("h")`);
  rejects("SELECT REGEXP_EXTRACT(s, '(a)(b)')", /more than 1 capturing group/);
  rejects("SELECT REGEXP_EXTRACT(s, 'a', 2)", /position or occurrence/);
  rejects("SELECT REGEXP_EXTRACT(s, re)", /must be a string literal/);
  rejects("SELECT JSON_VALUE(j, '$[\"a\"]')", /JSON path/);
  rejects("SELECT JSON_VALUE(j, '$.*')", /JSON path/);
  rejects("SELECT JSON_OBJECT('k', 1, 'k', 2)", /key "k" twice/);
  rejects("SELECT JSON_OBJECT(['k'], [1])", /JSON_OBJECT argument 1 must be a string literal/);
  rejects("SELECT JSON_OBJECT('k')", /key, value pairs/);
  rejects("SELECT GENERATE_DATE_ARRAY(d, e, INTERVAL 1 HOUR)", /not HOUR/);
  rejects("SELECT SHA512(s)", /function SHA512/);
});

test("capture groups are counted as RE2 does; bytes literals keep \\xNN as one byte", () => {
  assert.equal(captureGroups("a(b)c"), 1);
  assert.equal(captureGroups("(?:a)(?i)b"), 0);
  assert.equal(captureGroups("(?P<x>a)[(]\\(b"), 1);
  assert.equal(captureGroups("[^]()](a)"), 1);
  assert.equal(captureGroups("(a)|(b)"), 2);
  assert.deepEqual(bytesOfLiteral("b'\\xab\\x01é'"), [0xab, 0x01, 0xc3, 0xa9]);
  assert.deepEqual(bytesOfLiteral("rb'\\x'"), [0x5c, 0x78]);
  assert.deepEqual(bytesOfLiteral('B"""a\\n\\101"""'), [0x61, 0x0a, 0x41]);
  assert.equal(tr("SELECT b'\\xde\\xad' AS v").sql, `SELECT '\\xde\\xad'::BLOB AS "v"`);
  rejects("SELECT b'\\u00e9' AS v", /escape \\u/);
});

test("statementTypeOf names the BigQuery statement type", () => {
  assert.equal(statementTypeOf("WITH a AS (SELECT 1) SELECT * FROM a"), "SELECT");
  assert.equal(statementTypeOf("SELECT 1 UNION ALL SELECT 2"), "SELECT");
  assert.equal(statementTypeOf("INSERT INTO demo.sales.orders (order_id) VALUES (1)"), "INSERT");
  assert.equal(statementTypeOf("DROP TABLE demo.sales.orders"), "DROP_TABLE");
  assert.equal(statementTypeOf("SELECT 1; SELECT 2;"), "SCRIPT");
});
