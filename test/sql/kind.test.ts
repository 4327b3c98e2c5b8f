import { test } from "node:test";
import assert from "node:assert/strict";
import { analyze } from "../../src/sql/analyze.ts";
import { JitError } from "../../src/errors.ts";
import { schemas } from "./demo-schemas.ts";

const kindOf = (sql: string) => analyze(sql, { defaultProject: "demo", schemas });

const CASES: Array<[string, string, string]> = [
  ["SELECT 1", "query", "SELECT"],
  ["SELECT id FROM sales.customers;", "query", "SELECT"],
  ["WITH a AS (SELECT 1 AS x) SELECT x FROM a", "query", "SELECT"],
  ["SELECT 1 AS x UNION ALL SELECT 2", "query", "SELECT"],
  ["(SELECT 1) INTERSECT DISTINCT (SELECT 1)", "query", "SELECT"],
  ["INSERT INTO sales.orders (order_id) VALUES (1)", "dml", "INSERT"],
  ["UPDATE sales.orders SET amount = 0 WHERE TRUE", "dml", "UPDATE"],
  ["DELETE FROM sales.orders WHERE TRUE", "dml", "DELETE"],
  ["MERGE sales.orders T USING sales.orders S ON T.order_id = S.order_id WHEN MATCHED THEN DELETE", "dml", "MERGE"],
  ["CREATE TABLE sales.copy AS SELECT * FROM sales.customers", "ddl", "CREATE_TABLE_AS_SELECT"],
  ["CREATE TABLE sales.t (a INT64)", "ddl", "CREATE_TABLE"],
  ["CREATE VIEW sales.v AS SELECT 1 AS a", "ddl", "CREATE_VIEW"],
  ["ALTER TABLE sales.orders ADD COLUMN c STRING", "ddl", "ALTER_TABLE"],
  ["DROP TABLE sales.orders", "ddl", "DROP_TABLE"],
  ["TRUNCATE TABLE sales.orders", "ddl", "TRUNCATE_TABLE"],
  ["CREATE TEMP FUNCTION f(x INT64) AS (x + 1)", "ddl", "CREATE_FUNCTION"],
  ["CREATE TEMP FUNCTION f(x STRING) RETURNS STRING LANGUAGE js AS 'return x'", "script", "SCRIPT"],
  ["DECLARE x INT64", "script", "SCRIPT"],
  ["SET x = 5", "script", "SCRIPT"],
  ["BEGIN SELECT 1; END", "script", "SCRIPT"],
  ["IF TRUE THEN SELECT 1; END IF", "script", "SCRIPT"],
  ["LOOP BREAK; END LOOP", "script", "SCRIPT"],
  ["EXECUTE IMMEDIATE 'SELECT ssn FROM sales.customers'", "script", "SCRIPT"],
  ["CALL sales.proc()", "script", "SCRIPT"],
  ["SELECT 1; SELECT 2", "script", "SCRIPT"],
  ["SELECT id FROM sales.customers; DROP TABLE sales.customers", "script", "SCRIPT"],
  ["EXPORT DATA OPTIONS (uri = 'gs://b/*.csv', format = 'CSV') AS SELECT ssn FROM sales.customers", "export", "EXPORT_DATA"],
  ["SELECT * FROM EXTERNAL_QUERY('us.conn', 'SELECT * FROM users')", "external_query", "SELECT"],
  ["SELECT (SELECT x FROM EXTERNAL_QUERY('c', 'SELECT 1 AS x')) AS y", "external_query", "SELECT"],
];

for (const [sql, kind, statementType] of CASES) {
  test(`kind: ${sql}`, () => {
    const a = kindOf(sql);
    assert.equal(a.kind, kind);
    assert.equal(a.statementType, statementType);
    if (kind !== "query") assert.deepEqual(a.outputs, []);
  });
}

test("a script that holds an EXPORT DATA lists both kinds, most severe first", () => {
  const a = kindOf("DECLARE x INT64 DEFAULT 1; EXPORT DATA OPTIONS (uri = 'gs://b/*.csv', format = 'CSV') AS SELECT 1 AS a");
  assert.equal(a.kind, "export");
  assert.deepEqual(a.kinds, ["export", "script", "query"]);
});

test("EXTERNAL_QUERY inside a script still reports external_query", () => {
  assert.equal(kindOf("BEGIN SELECT * FROM EXTERNAL_QUERY('c', 'SELECT 1'); END").kind, "external_query");
});

test("non-query statements still name the tables they touch", () => {
  const a = kindOf("INSERT INTO sales.orders SELECT * FROM hr.employees");
  assert.deepEqual(a.tables.map((t) => `${t.project}.${t.dataset}.${t.table}`).sort(), ["demo.hr.employees", "demo.sales.orders"]);
});

test("a parse failure is denied with the parser's message and a hint", () => {
  assert.throws(() => kindOf("SELEC ssn FROM sales.customers"), (e: unknown) => {
    assert.ok(e instanceof JitError);
    assert.equal(e.code, "denied");
    assert.match(e.message, /^the broker cannot analyse this SQL: /);
    assert.match(e.hint ?? "", /simplify/);
    return true;
  });
});
