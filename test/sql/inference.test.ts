import { test } from "node:test";
import assert from "node:assert/strict";
import { run, uses } from "./demo-schemas.ts";

const SSN = "sales.customers.ssn";

// Each query tests ssn somewhere other than the select list's returned value.
const CASES: Array<[string, string]> = [
  ["SELECT id FROM sales.customers WHERE ssn LIKE '1%'", "WHERE"],
  ["SELECT id FROM sales.customers WHERE ssn LIKE '1%'", "LIKE"],
  ["SELECT id FROM sales.customers WHERE REGEXP_CONTAINS(ssn, r'^1')", "REGEXP_CONTAINS"],
  ["SELECT id FROM sales.customers WHERE STARTS_WITH(ssn, '1')", "WHERE"],
  ["SELECT id FROM sales.customers WHERE ssn BETWEEN '100' AND '200'", "BETWEEN"],
  ["SELECT id FROM sales.customers WHERE ssn IN ('123-45-6789')", "IN"],
  ["SELECT id FROM sales.customers WHERE ssn IS NOT NULL", "WHERE"],
  ["SELECT id FROM sales.customers WHERE EXISTS (SELECT 1 FROM hr.employees e WHERE e.ssn = customers.ssn)", "WHERE"],
  ["SELECT id FROM sales.customers WHERE id IN (SELECT id FROM sales.customers WHERE ssn > '5')", "WHERE"],
  ["SELECT id FROM sales.customers ORDER BY ssn", "ORDER BY"],
  ["SELECT id, ssn FROM sales.customers ORDER BY 2", "ORDER BY"],
  ["SELECT id FROM sales.customers ORDER BY SUBSTR(ssn, 1, 1) DESC", "ORDER BY"],
  ["SELECT city FROM sales.customers UNION ALL SELECT ssn FROM sales.customers ORDER BY 1", "ORDER BY"],
  ["SELECT c.id FROM sales.customers c JOIN hr.employees e ON c.ssn = e.ssn", "JOIN ON"],
  ["SELECT c.id FROM sales.customers c JOIN hr.employees e USING (ssn)", "JOIN USING"],
  ["SELECT COUNT(*) AS n FROM sales.customers GROUP BY ssn", "GROUP BY"],
  ["SELECT SUBSTR(ssn, 1, 3) AS area, COUNT(*) AS n FROM sales.customers GROUP BY 1", "GROUP BY"],
  ["SELECT SUBSTR(ssn, 1, 3) AS area, COUNT(*) AS n FROM sales.customers GROUP BY area", "GROUP BY"],
  ["SELECT city, COUNT(*) AS n FROM sales.customers GROUP BY city HAVING MAX(ssn) > '5'", "HAVING"],
  ["SELECT id FROM sales.customers QUALIFY ROW_NUMBER() OVER (ORDER BY ssn) = 1", "QUALIFY"],
  ["SELECT id, RANK() OVER (ORDER BY ssn) AS r FROM sales.customers", "WINDOW ORDER BY"],
  ["SELECT id, COUNT(*) OVER (PARTITION BY ssn) AS n FROM sales.customers", "WINDOW PARTITION BY"],
  ["SELECT id, COUNT(*) OVER w AS n FROM sales.customers WINDOW w AS (PARTITION BY SUBSTR(ssn, 1, 1))", "WINDOW PARTITION BY"],
  ["SELECT STRING_AGG(city ORDER BY ssn) AS s FROM sales.customers", "AGGREGATE ORDER BY"],
  ["SELECT ANY_VALUE(city HAVING MAX ssn) AS s FROM sales.customers", "HAVING MAX"],
  ["SELECT CASE WHEN ssn LIKE '1%' THEN 'a' ELSE 'b' END AS k FROM sales.customers", "CASE WHEN"],
  ["SELECT CASE ssn WHEN '123-45-6789' THEN 1 END AS k FROM sales.customers", "CASE WHEN"],
  ["SELECT IF(ssn > '5', 1, 0) AS k FROM sales.customers", "IF condition"],
  ["SELECT NULLIF(ssn, '123-45-6789') AS k FROM sales.customers", "NULLIF"],
  ["SELECT COUNTIF(ssn LIKE '9%') AS n FROM sales.customers", "COUNTIF"],
  ["SELECT ssn = '123-45-6789' AS hit FROM sales.customers", "comparison"],
  ["SELECT CAST(ssn AS INT64) AS n FROM sales.customers", "CAST"],
  ["SELECT ERROR(ssn) AS e FROM sales.customers", "ERROR"],
  ["SELECT (SELECT COUNT(*) FROM hr.employees e WHERE e.ssn = c.ssn) AS n FROM sales.customers c", "WHERE"],
  ["SELECT id FROM sales.customers c WHERE TO_JSON_STRING(c) LIKE '%123%'", "WHERE"],
];

for (const [sql, clause] of CASES) {
  test(`inference ${clause}: ${sql}`, () => {
    assert.ok(uses(run(sql)).includes(`${clause}: ${SSN}`), `${clause} use of ssn missing from ${JSON.stringify(uses(run(sql)))}`);
  });
}

test("query clauses are listed before operator-level uses", () => {
  assert.deepEqual(uses(run("SELECT id FROM sales.customers WHERE ssn LIKE '1%'")), [`WHERE: ${SSN}`, `LIKE: ${SSN}`]);
});

test("LIMIT and the select list's returned values are not inference uses", () => {
  assert.deepEqual(uses(run("SELECT ssn, UPPER(email) AS e FROM sales.customers LIMIT 5")), []);
});

test("SAFE_CAST and CAST to STRING cannot fail with the value, so they are not uses", () => {
  assert.deepEqual(uses(run("SELECT SAFE_CAST(ssn AS INT64) AS a, CAST(ssn AS STRING) AS b FROM sales.customers")), []);
});

test("CAST to BYTES cannot fail with the value either; to BYTES(n) or STRING(n) it can (length check)", () => {
  assert.deepEqual(uses(run("SELECT CAST(ssn AS BYTES) AS a, TO_BASE64(CAST(card_number AS BYTES)) AS b FROM sales.customers")), []);
  assert.deepEqual(uses(run("SELECT CAST(ssn AS BYTES(4)) AS a, CAST(ssn AS STRING(3)) AS b FROM sales.customers")), [`CAST: ${SSN}`]);
});

test("a select alias that shadows the table's name does not drag in every column", () => {
  assert.deepEqual(uses(run("SELECT city, COUNT(*) AS customers FROM sales.customers GROUP BY city ORDER BY customers DESC")), [
    "GROUP BY: sales.customers.city",
  ]);
});

test("an alias named like a sensitive column is resolved to both (fail closed)", () => {
  assert.ok(uses(run("SELECT city AS ssn FROM sales.customers ORDER BY ssn")).includes(`ORDER BY: ${SSN}`));
});
