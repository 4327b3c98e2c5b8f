import { test } from "node:test";
import assert from "node:assert/strict";
import { run } from "./demo-schemas.ts";

// Sanity checks, not benchmarks: timings are reported as diagnostics, never asserted.
test("repeated analysis of a typical query gives the same answer (timing reported)", (t) => {
  const sql = `WITH m AS (SELECT customer_id, DATE_TRUNC(DATE(created_at), MONTH) AS month, SUM(amount) AS total
      FROM demo.sales.orders WHERE status = 'paid' GROUP BY 1, 2)
    SELECT c.city, m.month, SUM(m.total) AS revenue, COUNT(DISTINCT c.id) AS buyers
    FROM m JOIN demo.sales.customers c ON c.id = m.customer_id
    GROUP BY 1, 2 QUALIFY ROW_NUMBER() OVER (PARTITION BY c.city ORDER BY revenue DESC) <= 3 ORDER BY 1, 2`;
  const first = JSON.stringify(run(sql));
  for (let i = 0; i < 50; i++) run(sql);
  const n = 200;
  const start = performance.now();
  for (let i = 0; i < n; i++) assert.equal(JSON.stringify(run(sql)), first);
  t.diagnostic(`analyze: ${((performance.now() - start) / n).toFixed(3)} ms per query (target <= 5 ms)`);
});

test("wide and deep queries are analysed without blowing up", () => {
  const union = Array.from({ length: 200 }, (_, i) => `SELECT ${i} AS n, city FROM sales.customers`).join(" UNION ALL ");
  assert.equal(run(union).outputs.length, 2);
  let nested = "SELECT ssn AS v FROM sales.customers";
  for (let i = 0; i < 40; i++) nested = `SELECT v FROM (${nested})`;
  assert.deepEqual(run(nested).outputs[0]!.sources.map((s) => s.column), ["ssn"]);
});

test("the parse cache returns one tree per SQL text, never caches failures, and analysis does not alter a shared tree", async () => {
  const { parseSql } = await import("../../src/sql/parse.ts");
  const { referencedTables } = await import("../../src/sql/analyze.ts");
  const sql = "SELECT c.city, COUNT(*) AS n FROM sales.customers c JOIN sales.orders o ON o.customer_id = c.id GROUP BY 1";
  const tree = JSON.stringify(parseSql(sql));
  assert.equal(parseSql(sql), parseSql(sql));
  assert.notEqual(parseSql(sql), parseSql(`${sql} `));
  referencedTables(sql, "demo");
  const a = JSON.stringify(run(sql));
  assert.equal(JSON.stringify(parseSql(sql)), tree, "walkers left the cached tree as it was");
  assert.equal(JSON.stringify(run(sql)), a);
  for (let i = 0; i < 2; i++) assert.throws(() => parseSql("SELECT FROM WHERE"), { code: "denied" });
  for (let i = 0; i < 40; i++) parseSql(`SELECT ${i} AS n`);
  assert.ok(parseSql(sql) !== undefined, "an evicted entry is parsed again");
});
