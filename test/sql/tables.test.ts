import { test } from "node:test";
import assert from "node:assert/strict";
import { referencedTables } from "../../src/sql/analyze.ts";
import { JitError } from "../../src/errors.ts";
import { run } from "./demo-schemas.ts";

const names = (sql: string) => referencedTables(sql, "demo").map((t) => `${t.project}.${t.dataset}.${t.table}`).sort();

test("2-part names take the default project; 3-part names keep theirs", () => {
  assert.deepEqual(names("SELECT 1 FROM sales.customers JOIN other.hr.employees ON TRUE"), ["demo.sales.customers", "other.hr.employees"]);
});

test("every backtick form names the same table, lower-cased", () => {
  for (const from of ["`demo.sales.customers`", "`demo`.sales.customers", "`demo`.`sales`.`customers`", "`demo.sales`.customers", "demo.`sales.customers`", "DEMO.Sales.CUSTOMERS", "`sales.customers`"]) {
    assert.deepEqual(names(`SELECT 1 FROM ${from}`), ["demo.sales.customers"], from);
  }
});

test("dashed project ids parse unquoted and quoted", () => {
  assert.deepEqual(names("SELECT 1 FROM my-project.sales.t1, `my-project.sales.t2`"), ["my-project.sales.t1", "my-project.sales.t2"]);
});

test("CTE names are not tables; CTE bodies are read", () => {
  assert.deepEqual(names("WITH c AS (SELECT * FROM sales.customers), o AS (SELECT * FROM c) SELECT * FROM o"), ["demo.sales.customers"]);
});

test("tables in subqueries, joins, set operations and parenthesised joins are all found", () => {
  const sql = `SELECT (SELECT MAX(amount) FROM sales.orders) FROM sales.customers c
    JOIN (hr.employees e JOIN other.x.y USING (id)) ON TRUE
    WHERE c.id IN (SELECT customer_id FROM sales.orders2) UNION ALL SELECT 1 FROM sales.t3`;
  assert.deepEqual(names(sql), ["demo.hr.employees", "demo.sales.customers", "demo.sales.orders", "demo.sales.orders2", "demo.sales.t3", "other.x.y"]);
});

test("an array path from a range variable is not a table", () => {
  assert.deepEqual(names("SELECT 1 FROM sales.customers c, c.tags AS t"), ["demo.sales.customers"]);
});

test("an alias equal to the project does not hide its own table", () => {
  assert.deepEqual(names("SELECT 1 FROM demo.sales.customers AS demo"), ["demo.sales.customers"]);
});

test("1-part table names and 4-part paths are denied (wildcards and INFORMATION_SCHEMA: see their own tests)", () => {
  for (const sql of ["SELECT 1 FROM customers", "SELECT 1 FROM a.b.c.d"]) {
    assert.throws(() => names(sql), (e: unknown) => e instanceof JitError && e.code === "denied", sql);
  }
});

test("analyze() reports the tables it resolved; a table without a schema is denied", () => {
  assert.deepEqual(run("SELECT c.id FROM sales.customers c JOIN sales.orders o ON o.customer_id = c.id").tables.map((t) => t.table).sort(), ["customers", "orders"]);
  assert.throws(() => run("SELECT * FROM sales.unknown_table"), (e: unknown) => e instanceof JitError && e.code === "denied" && /no schema/.test(e.message));
});

test("DML and DDL targets are listed", () => {
  assert.deepEqual(names("DELETE FROM sales.orders WHERE TRUE"), ["demo.sales.orders"]);
  assert.deepEqual(names("MERGE sales.a T USING sales.b S ON T.id = S.id WHEN MATCHED THEN DELETE"), ["demo.sales.a", "demo.sales.b"]);
  assert.deepEqual(names("DROP TABLE sales.x"), ["demo.sales.x"]);
  assert.deepEqual(names("CREATE TABLE sales.copy AS SELECT * FROM hr.employees"), ["demo.hr.employees", "demo.sales.copy"]);
});
