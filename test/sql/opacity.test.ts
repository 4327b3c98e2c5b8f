/**
 * Every use of a column other than projecting it is recorded with the construct that uses it: the broker refuses
 * any such use of a masked column, because the answer (its values, its row count, whether it fails) would then
 * depend on the hidden value. Projections (bare references, ANY_VALUE, matching UNION ALL branches) are not uses.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { run, uses } from "./demo-schemas.ts";

const SSN = "sales.customers.ssn";

// [query, construct that must be recorded for customers.ssn]: one per family of use.
const CASES: Array<[string, string]> = [
  // Predicates and clauses.
  ["SELECT id FROM sales.customers WHERE ssn LIKE '1%'", "WHERE"],
  ["SELECT id FROM sales.customers WHERE ssn LIKE '1%'", "operator LIKE"],
  ["SELECT id FROM sales.customers WHERE REGEXP_CONTAINS(ssn, r'^1')", "REGEXP_CONTAINS()"],
  ["SELECT id FROM sales.customers WHERE STARTS_WITH(ssn, '1')", "WHERE"],
  ["SELECT id FROM sales.customers WHERE ssn BETWEEN '100' AND '200'", "BETWEEN"],
  ["SELECT id FROM sales.customers WHERE ssn IN ('123-45-6789')", "operator IN"],
  ["SELECT id FROM sales.customers WHERE ssn IS NOT NULL", "operator IS NOT"],
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
  // Functions, operators, casts and constructors in the select list: the value a query computes is its own choice.
  ["SELECT CASE WHEN ssn LIKE '1%' THEN 'a' ELSE 'b' END AS k FROM sales.customers", "CASE"],
  ["SELECT CASE ssn WHEN '123-45-6789' THEN 1 END AS k FROM sales.customers", "CASE"],
  ["SELECT IF(ssn > '5', 1, 0) AS k FROM sales.customers", "IF()"],
  ["SELECT NULLIF(ssn, '123-45-6789') AS k FROM sales.customers", "NULLIF()"],
  ["SELECT COUNTIF(ssn LIKE '9%') AS n FROM sales.customers", "COUNTIF()"],
  ["SELECT ssn = '123-45-6789' AS hit FROM sales.customers", "operator ="],
  ["SELECT ssn || 'x' AS s FROM sales.customers", "operator ||"],
  ["SELECT CAST(ssn AS INT64) AS n FROM sales.customers", "CAST"],
  ["SELECT SAFE_CAST(ssn AS INT64) AS n FROM sales.customers", "SAFE_CAST"],
  ["SELECT CAST(ssn AS STRING) AS n FROM sales.customers", "CAST"],
  ["SELECT ERROR(ssn) AS e FROM sales.customers", "ERROR()"],
  ["SELECT CONCAT(SUBSTR(ssn, 1, 0), '7') AS guess FROM sales.customers", "SUBSTR()"],
  ["SELECT ASCII(SUBSTR(ssn, 1, 1)) AS d FROM sales.customers", "ASCII()"],
  ["SELECT DIV(1, ASCII(SUBSTR(ssn, 1, 1)) - 55) AS d FROM sales.customers WHERE id = 1", "operator -"],
  ["SELECT LENGTH(ssn) AS n FROM sales.customers", "LENGTH()"],
  ["SELECT COALESCE(ssn, 'x') AS s FROM sales.customers", "COALESCE()"],
  ["SELECT SPLIT(ssn, '757') AS s FROM sales.customers", "SPLIT()"],
  ["SELECT STRUCT(ssn AS s) AS st FROM sales.customers", "STRUCT"],
  ["SELECT [ssn] AS a FROM sales.customers", "ARRAY"],
  ["SELECT EXTRACT(YEAR FROM signup_date) AS y, TO_JSON_STRING(STRUCT(ssn)) AS j FROM sales.customers", "STRUCT"],
  // Aggregates other than a projecting ANY_VALUE compare or count values.
  ["SELECT COUNT(ssn) AS n FROM sales.customers", "COUNT()"],
  ["SELECT COUNT(DISTINCT ssn) AS n FROM sales.customers", "COUNT()"],
  ["SELECT MIN(ssn) AS m FROM sales.customers", "MIN()"],
  ["SELECT ARRAY_AGG(ssn) AS a FROM sales.customers", "ARRAY_AGG()"],
  ["SELECT ANY_VALUE(ssn) OVER (ORDER BY id) AS a FROM sales.customers", "ANY_VALUE()"],
  // Row counts made from a value, DISTINCT and set operations.
  ["SELECT id, (SELECT COUNT(*) FROM UNNEST(GENERATE_ARRAY(1, SAFE_CAST(SUBSTR(c.ssn, 1, 1) AS INT64)))) AS d1 FROM sales.customers c", "UNNEST"],
  ["SELECT x FROM sales.customers, UNNEST([ssn]) AS x", "UNNEST"],
  ["SELECT DISTINCT ssn FROM sales.customers", "DISTINCT"],
  ["SELECT id, ssn FROM sales.customers INTERSECT DISTINCT SELECT 1, '757-41-4575'", "INTERSECT DISTINCT"],
  ["SELECT id, ssn FROM sales.customers EXCEPT DISTINCT SELECT 1, '757-41-4575'", "EXCEPT DISTINCT"],
  ["SELECT ssn FROM sales.customers UNION DISTINCT SELECT ssn FROM sales.customers", "UNION DISTINCT"],
  ["SELECT ssn FROM sales.customers UNION ALL SELECT '757-41-4575'", "UNION ALL"],
  ["SELECT ssn FROM sales.customers UNION ALL SELECT ssn FROM hr.employees", "UNION ALL"],
  ["SELECT AS STRUCT id, ssn FROM sales.customers", "SELECT AS STRUCT"],
  // Subqueries whose value is the column, and correlated conditions.
  ["SELECT (SELECT ssn) AS s FROM sales.customers", "subquery"],
  ["SELECT (SELECT COUNT(*) FROM hr.employees e WHERE e.ssn = c.ssn) AS n FROM sales.customers c", "WHERE"],
  ["SELECT id FROM sales.customers c WHERE TO_JSON_STRING(c) LIKE '%123%'", "WHERE"],
  ["SELECT TO_JSON_STRING(c) AS j FROM sales.customers c", "TO_JSON_STRING()"],
];

for (const [sql, construct] of CASES) {
  test(`use in ${construct}: ${sql}`, () => {
    const found = uses(run(sql));
    assert.ok(found.includes(`${construct}: ${SSN}`), `${construct} use of ssn missing from ${JSON.stringify(found)}`);
  });
}

test("query clauses are listed before operator-level uses", () => {
  assert.deepEqual(uses(run("SELECT id FROM sales.customers WHERE ssn LIKE '1%'")), [`WHERE: ${SSN}`, `operator LIKE: ${SSN}`]);
});

test("projections are not uses: bare references, aliases, *, CTEs, derived tables, ANY_VALUE, matching UNION ALL", () => {
  const projections = [
    "SELECT ssn, c.email AS e FROM sales.customers c LIMIT 5",
    "SELECT * FROM sales.customers",
    "SELECT t.* EXCEPT (id) FROM (SELECT * FROM sales.customers) t",
    "WITH x AS (SELECT ssn AS s FROM sales.customers) SELECT s FROM x",
    "SELECT ANY_VALUE(ssn) AS s FROM sales.customers",
    "SELECT ssn FROM sales.customers UNION ALL SELECT ssn FROM sales.customers",
    "SELECT ssn FROM sales.customers UNION ALL SELECT NULL",
    "SELECT (ssn) AS s FROM sales.customers",
  ];
  for (const sql of projections) assert.deepEqual(uses(run(sql)).filter((u) => u.endsWith(".ssn")), [], sql);
});

test("a select alias that shadows the table's name does not drag in every column", () => {
  assert.deepEqual(uses(run("SELECT city, COUNT(*) AS customers FROM sales.customers GROUP BY city ORDER BY customers DESC")), [
    "GROUP BY: sales.customers.city",
  ]);
});

test("an alias named like a sensitive column is resolved to both (fail closed)", () => {
  assert.ok(uses(run("SELECT city AS ssn FROM sales.customers ORDER BY ssn")).includes(`ORDER BY: ${SSN}`));
});

test("a whole row is not a projection of its masked fields", () => {
  const a = run("SELECT c FROM sales.customers c");
  assert.equal(a.outputs[0]!.direct, false);
  assert.ok(a.outputs[0]!.sources.some((s) => s.column === "ssn"));
});

test("a qualified name of a table next to an UNNEST is that table's column, not a field of the UNNEST's rows", () => {
  const found = uses(run("SELECT c.id, COUNT(*) AS n FROM sales.customers c, UNNEST(SPLIT(c.ssn, '')) AS ch GROUP BY c.id"));
  assert.ok(found.includes(`UNNEST: ${SSN}`), JSON.stringify(found));
  assert.ok(!found.includes(`GROUP BY: ${SSN}`), JSON.stringify(found));
  // An unqualified name may still be a field of the unnested rows (fail closed).
  assert.ok(uses(run("SELECT c.id FROM sales.customers c, UNNEST([STRUCT(c.ssn AS s)]) AS u WHERE s = 'x'")).includes(`WHERE: ${SSN}`));
});
