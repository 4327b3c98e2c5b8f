/** OutputColumn.direct: which outputs project a source column's value unchanged, the only way a masked column may be returned. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { run } from "./demo-schemas.ts";

const P = (sql: string): Record<string, boolean> => Object.fromEntries(run(sql).outputs.map((o) => [o.name, o.direct]));

test("bare references stay pass-through through aliases, *, t.*, EXCEPT, subqueries, CTEs and UNION", () => {
  assert.deepEqual(P("SELECT ssn, c.email, ssn AS x FROM sales.customers c"), { ssn: true, email: true, x: true });
  assert.ok(Object.values(P("SELECT * FROM sales.customers")).every(Boolean));
  assert.ok(Object.values(P("SELECT c.* EXCEPT (id) FROM sales.customers c JOIN sales.orders o ON o.customer_id = c.id")).every(Boolean));
  assert.deepEqual(P("SELECT s FROM (SELECT ssn AS s FROM sales.customers)"), { s: true });
  assert.deepEqual(P("WITH a AS (SELECT email FROM sales.customers) SELECT email FROM a UNION ALL SELECT email FROM sales.customers"), { email: true });
  assert.deepEqual(P("SELECT ssn FROM sales.customers UNION ALL SELECT NULL"), { ssn: true });
  assert.deepEqual(P("SELECT city, ANY_VALUE(ssn) AS s, ANY_VALUE((ssn)) AS t FROM sales.customers GROUP BY city"), { city: true, s: true, t: true });
});

test("UNION ALL of different columns, or of a column and a literal, is not a projection of either", () => {
  assert.deepEqual(P("SELECT email FROM sales.customers UNION ALL SELECT email FROM hr.employees"), { email: false });
  assert.deepEqual(P("SELECT ssn FROM sales.customers UNION ALL SELECT '757-41-4575'"), { ssn: false });
  assert.deepEqual(P("SELECT ssn FROM sales.customers UNION DISTINCT SELECT ssn FROM sales.customers"), { ssn: false });
});

test("anything computed from a sensitive column is derived: its partial mask would keep a part the query chose", () => {
  assert.deepEqual(P("SELECT REVERSE(ssn) AS r, CONCAT('xxxxx', SUBSTR(ssn, 1, 3)) AS p, MAX(ssn) AS m, (SELECT ssn) AS s FROM sales.customers"),
    { r: false, p: false, m: false, s: false });
  assert.deepEqual(P("SELECT e FROM (SELECT CONCAT('x@', REPLACE(email, '@', '.')) AS e FROM sales.customers)"), { e: false });
  assert.deepEqual(P("SELECT city FROM sales.customers UNION ALL SELECT CONCAT('x', ssn) FROM sales.customers"), { city: false });
  assert.equal(P("SELECT * REPLACE (REVERSE(ssn) AS ssn) FROM sales.customers").ssn, false);
  assert.equal(P("SELECT * REPLACE (ssn AS city) FROM sales.customers").city, true, "a bare column put in another's place is still a projection");
  assert.deepEqual(P("SELECT TO_JSON_STRING(c) AS j, c AS r FROM sales.customers c"), { j: false, r: false });
  assert.deepEqual(P("SELECT ANY_VALUE(ssn) OVER () AS w, ANY_VALUE(DISTINCT ssn) AS d FROM sales.customers"), { w: false, d: false });
});

test("uncertain names count as derived (fail closed): USING-merged columns and UNNEST fields", () => {
  assert.deepEqual(P("SELECT email FROM sales.customers JOIN hr.employees USING (email)"), { email: false });
  assert.deepEqual(P("SELECT x FROM sales.customers, UNNEST([ssn]) AS x"), { x: false });
});

test("a statement that is not a query has no pass-through outputs", () => {
  assert.deepEqual(run("DELETE FROM sales.customers WHERE TRUE").outputs, []);
});
