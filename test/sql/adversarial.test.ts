/**
 * Queries that try to get a sensitive value out without it being masked, classified by the analysis the way the
 * broker uses it (masked means opaque): a PROJECTION carries the column unchanged to an output (direct, no use
 * recorded), so the broker masks it; every other query is REFUSED: the analysis records a use of the column (a
 * function, operator, clause, set operation...), derives a non-projected output from it, or cannot analyse it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { JitError } from "../../src/errors.ts";
import { run } from "./demo-schemas.ts";

const SSN = "demo.sales.customers.ssn";
const CARD = "demo.sales.customers.card_number";
const EMAIL = "demo.sales.customers.email";
const HR_SSN = "demo.hr.employees.ssn";

const SMUGGLE: Array<[string, string]> = [
  ["SELECT ssn FROM sales.customers", SSN],
  ["SELECT ssn AS harmless FROM sales.customers", SSN],
  ["SELECT c.ssn AS city FROM sales.customers AS c", SSN],
  ["SELECT customers.ssn FROM demo.sales.customers", SSN],
  ["SELECT REVERSE(ssn) AS r FROM sales.customers", SSN],
  ["SELECT SUBSTR(ssn, 1, 3) AS a, SUBSTR(ssn, 5, 2) AS b FROM sales.customers", SSN],
  ["SELECT TO_BASE64(CAST(ssn AS BYTES)) AS b FROM sales.customers", SSN],
  ["SELECT TO_HEX(CAST(card_number AS BYTES)) AS h FROM sales.customers", CARD],
  ["SELECT FORMAT('%s', ssn) AS f FROM sales.customers", SSN],
  ["SELECT FORMAT('%T', STRUCT(email)) AS f FROM sales.customers", EMAIL],
  ["SELECT CAST(ssn AS BYTES) AS b FROM sales.customers", SSN],
  ["SELECT SAFE_CAST(REPLACE(ssn, '-', '') AS INT64) + 1 AS n FROM sales.customers", SSN],
  ["SELECT CAST(REPLACE(card_number, ' ', '') AS NUMERIC) * 2 AS n FROM sales.customers", CARD],
  ["SELECT CONCAT('x', ssn, 'y') AS s FROM sales.customers", SSN],
  ["SELECT 'x' || card_number AS s FROM sales.customers", CARD],
  ["SELECT UPPER(LOWER(TRIM(email))) AS e FROM sales.customers", EMAIL],
  ["SELECT SPLIT(email, '@')[OFFSET(0)] AS user FROM sales.customers", EMAIL],
  ["SELECT SPLIT(ssn, '-')[SAFE_ORDINAL(1)] AS part FROM sales.customers", SSN],
  ["SELECT ASCII(SUBSTR(ssn, 1, 1)) AS d FROM sales.customers", SSN],
  ["SELECT TO_CODE_POINTS(ssn) AS cp FROM sales.customers", SSN],
  ["SELECT CODE_POINTS_TO_STRING(TO_CODE_POINTS(ssn)) AS s FROM sales.customers", SSN],
  ["SELECT MD5(ssn) AS h FROM sales.customers", SSN],
  ["SELECT CASE WHEN TRUE THEN ssn END AS s FROM sales.customers", SSN],
  ["SELECT IF(id > 0, ssn, NULL) AS s FROM sales.customers", SSN],
  ["SELECT COALESCE(NULL, ssn) AS s FROM sales.customers", SSN],
  ["SELECT IFNULL(card_number, city) AS s FROM sales.customers", CARD],
  ["SELECT GREATEST(ssn, city) AS s FROM sales.customers", SSN],
  ["SELECT (SELECT ssn) AS s FROM sales.customers", SSN],
  ["SELECT (SELECT MAX(ssn) FROM sales.customers) AS s", SSN],
  ["SELECT (SELECT c.ssn FROM sales.orders o WHERE o.customer_id = c.id LIMIT 1) AS s FROM sales.customers c", SSN],
  ["SELECT o.order_id, (SELECT ssn FROM sales.customers c WHERE c.id = o.customer_id) AS s FROM sales.orders o", SSN],
  ["SELECT ARRAY(SELECT ssn FROM sales.customers) AS a", SSN],
  ["SELECT ARRAY(SELECT AS STRUCT ssn, city FROM sales.customers) AS a", SSN],
  ["SELECT s FROM (SELECT ssn AS s FROM sales.customers)", SSN],
  ["SELECT * FROM (SELECT ssn AS city FROM sales.customers)", SSN],
  ["SELECT t.city FROM (SELECT card_number AS city FROM sales.customers) AS t", CARD],
  ["WITH x AS (SELECT ssn AS s FROM sales.customers) SELECT s FROM x", SSN],
  ["WITH a AS (SELECT ssn AS v FROM sales.customers), b AS (SELECT REVERSE(v) AS w FROM a), c AS (SELECT UPPER(w) AS city FROM b) SELECT city FROM c", SSN],
  ["WITH customers AS (SELECT ssn AS city FROM demo.sales.customers) SELECT city FROM customers", SSN],
  ["SELECT city FROM sales.customers UNION ALL SELECT ssn FROM sales.customers", SSN],
  ["SELECT 'a' AS k, city FROM sales.customers UNION DISTINCT SELECT 'b', card_number FROM sales.customers", CARD],
  ["SELECT city FROM sales.customers INTERSECT DISTINCT SELECT email FROM sales.customers", EMAIL],
  ["SELECT city FROM sales.customers EXCEPT DISTINCT SELECT ssn FROM hr.employees", HR_SSN],
  ["(SELECT city FROM sales.customers) UNION ALL (SELECT ssn FROM sales.customers) ORDER BY 1", SSN],
  ["WITH u AS (SELECT city FROM sales.customers UNION ALL SELECT ssn FROM sales.customers) SELECT * FROM u", SSN],
  ["SELECT TO_JSON_STRING(c) AS j FROM sales.customers AS c", SSN],
  ["SELECT TO_JSON(c) AS j FROM sales.customers c", CARD],
  ["SELECT c AS row FROM sales.customers c", SSN],
  ["SELECT customers FROM sales.customers", SSN],
  ["SELECT TO_JSON_STRING(STRUCT(ssn AS a)) AS j FROM sales.customers", SSN],
  ["SELECT STRUCT(ssn AS city).city AS city FROM sales.customers", SSN],
  ["SELECT s.x FROM (SELECT STRUCT(ssn AS x) AS s FROM sales.customers)", SSN],
  ["SELECT [ssn, city] AS arr FROM sales.customers", SSN],
  ["SELECT JSON_OBJECT('k', email) AS j FROM sales.customers", EMAIL],
  ["SELECT JSON_VALUE(TO_JSON_STRING(t), '$.ssn') AS v FROM sales.customers t", SSN],
  ["SELECT AS STRUCT ssn, city FROM sales.customers", SSN],
  ["SELECT AS VALUE STRUCT(card_number AS n) FROM sales.customers", CARD],
  ["SELECT STRING_AGG(ssn, ',') AS all_ssn FROM sales.customers", SSN],
  ["SELECT ARRAY_AGG(email ORDER BY id) AS e FROM sales.customers", EMAIL],
  ["SELECT city, ARRAY_AGG(STRUCT(ssn, id)) AS s FROM sales.customers GROUP BY city", SSN],
  ["SELECT MAX(card_number) AS m FROM sales.customers", CARD],
  ["SELECT ANY_VALUE(ssn) AS v FROM sales.customers", SSN],
  ["SELECT APPROX_TOP_COUNT(ssn, 10) AS t FROM sales.customers", SSN],
  ["SELECT FIRST_VALUE(ssn) OVER (ORDER BY id) AS v FROM sales.customers", SSN],
  ["SELECT LAG(card_number) OVER (PARTITION BY city ORDER BY id) AS v FROM sales.customers", CARD],
  ["SELECT x FROM sales.customers, UNNEST([ssn]) AS x", SSN],
  ["SELECT part FROM sales.customers c, UNNEST(SPLIT(c.ssn, '-')) AS part", SSN],
  ["SELECT p FROM sales.customers c CROSS JOIN UNNEST(SPLIT(c.card_number, '')) AS p WITH OFFSET AS pos", CARD],
  ["SELECT pos FROM sales.customers c, UNNEST(SPLIT(c.ssn, '')) AS p WITH OFFSET AS pos", SSN],
  ["SELECT * EXCEPT (id) FROM sales.customers", SSN],
  ["SELECT * EXCEPT (ssn) FROM sales.customers", CARD],
  ["SELECT * REPLACE (ssn AS city) FROM sales.customers", SSN],
  ["SELECT c.* FROM sales.customers c JOIN sales.orders o ON o.customer_id = c.id", SSN],
  ["SELECT * FROM sales.customers JOIN sales.orders ON TRUE", SSN],
  ["SELECT * FROM sales.customers c JOIN hr.employees e USING (email)", EMAIL],
  ["SELECT /* comment */ `ssn` -- trailing\n FROM `demo.sales.customers`", SSN],
  ["select\tSsN\nfrom\n\tSALES.CUSTOMERS", SSN],
  ["SELECT\n  c.`card_number`\nFROM `demo`.`sales`.`customers` AS c # hash comment", CARD],
  ["SELECT ssn FROM sales.customers WHERE id = 1 -- ' \"", SSN],
  ["SELECT LENGTH(ssn) AS n, STARTS_WITH(ssn, '1') AS b FROM sales.customers", SSN],
  ["SELECT ssn = '123-45-6789' AS hit FROM sales.customers", SSN],
  ["SELECT COUNTIF(ssn LIKE '1%') AS n FROM sales.customers", SSN],
  ["SELECT SUM(CAST(SUBSTR(ssn, 1, 1) AS INT64)) AS digits FROM sales.customers", SSN],
  ["SELECT DATE_ADD(signup_date, INTERVAL CAST(SUBSTR(ssn, 1, 3) AS INT64) DAY) AS d FROM sales.customers", SSN],
  ["SELECT NET.HOST(CONCAT('http://', email)) AS h FROM sales.customers", EMAIL],
  ["SELECT SAFE.SUBSTR(card_number, 1, 4) AS bin FROM sales.customers", CARD],
  ["SELECT e.ssn FROM hr.employees e", HR_SSN],
  ["SELECT ssn FROM hr.employees UNION ALL SELECT ssn FROM sales.customers", HR_SSN],
  ["WITH RECURSIVE r AS (SELECT id, city AS v FROM sales.customers UNION ALL SELECT r.id, c.ssn FROM r JOIN sales.customers c ON c.id = r.id WHERE FALSE) SELECT v FROM r", SSN],
];

/** The smuggling queries above that are pure projections of the sensitive column; all the others must be refused. */
const PROJECTIONS = new Set([
  "SELECT ssn FROM sales.customers",
  "SELECT ssn AS harmless FROM sales.customers",
  "SELECT c.ssn AS city FROM sales.customers AS c",
  "SELECT customers.ssn FROM demo.sales.customers",
  "SELECT s FROM (SELECT ssn AS s FROM sales.customers)",
  "SELECT * FROM (SELECT ssn AS city FROM sales.customers)",
  "SELECT t.city FROM (SELECT card_number AS city FROM sales.customers) AS t",
  "WITH x AS (SELECT ssn AS s FROM sales.customers) SELECT s FROM x",
  "WITH customers AS (SELECT ssn AS city FROM demo.sales.customers) SELECT city FROM customers",
  "SELECT ANY_VALUE(ssn) AS v FROM sales.customers",
  "SELECT * EXCEPT (id) FROM sales.customers",
  "SELECT * EXCEPT (ssn) FROM sales.customers",
  "SELECT * REPLACE (ssn AS city) FROM sales.customers",
  "SELECT c.* FROM sales.customers c JOIN sales.orders o ON o.customer_id = c.id",
  "SELECT * FROM sales.customers JOIN sales.orders ON TRUE",
  "SELECT /* comment */ `ssn` -- trailing\n FROM `demo.sales.customers`",
  "select\tSsN\nfrom\n\tSALES.CUSTOMERS",
  "SELECT\n  c.`card_number`\nFROM `demo`.`sales`.`customers` AS c # hash comment",
  "SELECT ssn FROM sales.customers WHERE id = 1 -- ' \"",
  "SELECT e.ssn FROM hr.employees e",
]);

type Verdict = "projected" | "refused";

/** How the broker treats `sensitive` in `sql`, from the analysis alone. */
function verdict(sql: string, sensitive: string): Verdict {
  let a;
  try {
    a = run(sql);
  } catch (e) {
    assert.ok(e instanceof JitError && e.code === "denied", `unexpected error ${String(e)}`);
    return "refused";
  }
  const key = (c: { table: string; column: string }) => `${c.table}.${c.column}`;
  const reaches = a.outputs.filter((o) => o.sources.some((s) => key(s) === sensitive));
  const used = a.uses.some((u) => key(u.column) === sensitive);
  assert.ok(used || reaches.length > 0, `${sensitive} is neither used nor among the outputs' sources: ${JSON.stringify(a.outputs)}`);
  return used || reaches.some((o) => !o.direct) ? "refused" : "projected";
}

for (const [sql, sensitive] of SMUGGLE) {
  const expected: Verdict = PROJECTIONS.has(sql) ? "projected" : "refused";
  test(`smuggle (${expected}): ${sql.replace(/\s+/g, " ")}`, () => {
    assert.equal(verdict(sql, sensitive), expected);
  });
}

test("every listed projection is in the smuggling list, and most smuggling attempts are refused", () => {
  const sqls = new Set(SMUGGLE.map(([sql]) => sql));
  for (const p of PROJECTIONS) assert.ok(sqls.has(p), p);
  assert.ok(SMUGGLE.length >= 60);
  assert.ok(SMUGGLE.length - PROJECTIONS.size >= 60, "at least 60 queries that must be refused");
});

const REFUSED: string[] = [
  "SELECT ssn FROM customers",
  "SELECT full_name FROM sales.customers, hr.employees",
  "SELECT nope FROM sales.customers",
  "SELECT c.nope FROM sales.customers c",
  "SELECT sales.my_udf(ssn) AS x FROM sales.customers",
  "SELECT * FROM ML.PREDICT(MODEL sales.m, TABLE sales.customers)",
  "SELECT * FROM sales.customers PIVOT (MAX(ssn) FOR city IN ('Paris'))",
  "SELECT * FROM sales.customers c, UNNEST(SPLIT(c.ssn, '-')) AS p",
  "SELECT * FROM `demo.sales.cust*`",
  "SELECT ssn FROM sales.customers WHERE",
  "SELECT a FROM (SELECT 1 AS a, 2 AS b) UNION ALL SELECT 1, 2",
];

for (const sql of REFUSED) {
  test(`refused: ${sql}`, () => {
    assert.throws(() => run(sql), (e: unknown) => e instanceof JitError && e.code === "denied");
  });
}
