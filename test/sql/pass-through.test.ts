/** passThrough(): which outputs return a source column's value unchanged, so a partial mask (last4, email) is safe on them. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { passThrough } from "../../src/sql/analyze.ts";
import { run } from "./demo-schemas.ts";

const P = (sql: string): Record<string, boolean> => {
  const a = run(sql);
  const flags = passThrough(a);
  return Object.fromEntries(a.outputs.map((o, i) => [o.name, flags[i]!]));
};

test("bare references stay pass-through through aliases, *, t.*, EXCEPT, subqueries, CTEs and UNION", () => {
  assert.deepEqual(P("SELECT ssn, c.email, ssn AS x FROM sales.customers c"), { ssn: true, email: true, x: true });
  assert.ok(Object.values(P("SELECT * FROM sales.customers")).every(Boolean));
  assert.ok(Object.values(P("SELECT c.* EXCEPT (id) FROM sales.customers c JOIN sales.orders o ON o.customer_id = c.id")).every(Boolean));
  assert.deepEqual(P("SELECT s FROM (SELECT ssn AS s FROM sales.customers)"), { s: true });
  assert.deepEqual(P("WITH a AS (SELECT email FROM sales.customers) SELECT email FROM a UNION ALL SELECT email FROM hr.employees"), { email: true });
});

test("anything computed from a sensitive column is derived: its partial mask would keep a part the query chose", () => {
  assert.deepEqual(P("SELECT REVERSE(ssn) AS r, CONCAT('xxxxx', SUBSTR(ssn, 1, 3)) AS p, MAX(ssn) AS m, (SELECT ssn) AS s FROM sales.customers"),
    { r: false, p: false, m: false, s: false });
  assert.deepEqual(P("SELECT e FROM (SELECT CONCAT('x@', REPLACE(email, '@', '.')) AS e FROM sales.customers)"), { e: false });
  assert.deepEqual(P("SELECT city FROM sales.customers UNION ALL SELECT CONCAT('x', ssn) FROM sales.customers"), { city: false });
  assert.equal(P("SELECT * REPLACE (REVERSE(ssn) AS ssn) FROM sales.customers").ssn, false);
  assert.deepEqual(P("SELECT TO_JSON_STRING(c) AS j, c AS r FROM sales.customers c"), { j: false, r: false });
});

test("uncertain names count as derived (fail closed): USING-merged columns and UNNEST fields", () => {
  assert.deepEqual(P("SELECT email FROM sales.customers JOIN hr.employees USING (email)"), { email: false });
  assert.deepEqual(P("SELECT x FROM sales.customers, UNNEST([ssn]) AS x"), { x: false });
});

test("a statement that is not a query has no pass-through outputs", () => {
  assert.deepEqual(passThrough(run("DELETE FROM sales.customers WHERE TRUE")), []);
});
