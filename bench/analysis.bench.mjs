// SQL analysis latency: what the broker computes in-process before the warehouse sees a query, as
// src/broker/query.ts does it (referencedTables for the grant check, again in analyseStatement, then analyze: parse,
// statement kind, lineage, inference uses), per typical query after warm-up. Each run appends a unique comment, so
// every statement is new text (the parse cache only helps within one request, as in the broker).
// Run: . scripts/node-env.sh && node bench/analysis.bench.mjs [--rounds 200]
import { analyze, referencedTables } from "../src/sql/analyze.ts";

const rounds = Number(process.argv[process.argv.indexOf("--rounds") + 1]) || 200;
const f = (name, type) => ({ name, type });
const schemas = new Map([
  ["demo.sales.customers", [f("id", "INT64"), f("full_name", "STRING"), f("email", "STRING"), f("phone", "STRING"), f("ssn", "STRING"),
    f("card_number", "STRING"), f("city", "STRING"), f("signup_date", "DATE")]],
  ["demo.sales.orders", [f("order_id", "INT64"), f("customer_id", "INT64"), f("amount", "NUMERIC"), f("status", "STRING"), f("created_at", "TIMESTAMP")]],
  ["demo.hr.employees", [f("employee_id", "INT64"), f("full_name", "STRING"), f("email", "STRING"), f("ssn", "STRING"), f("department", "STRING"), f("salary", "NUMERIC")]],
]);

const QUERIES = {
  point: "SELECT id, full_name, email, city FROM demo.sales.customers WHERE id = 42",
  star: "SELECT * FROM `demo.sales.customers` LIMIT 100",
  revenue_by_city: "SELECT c.city, SUM(o.amount) AS revenue FROM `demo.sales.orders` o JOIN `demo.sales.customers` c ON c.id = o.customer_id WHERE o.status = 'completed' GROUP BY c.city ORDER BY revenue DESC",
  revenue_by_month: "SELECT FORMAT_DATE('%Y-%m', DATE_TRUNC(DATE(created_at), MONTH)) AS month, SUM(amount) AS revenue, COUNT(*) AS orders FROM `demo.sales.orders` WHERE status = 'completed' GROUP BY month ORDER BY month",
  refund_rate: "SELECT SAFE_DIVIDE(COUNTIF(status = 'refunded'), COUNT(*)) AS refund_rate, COUNTIF(status = 'cancelled') AS cancelled FROM `demo.sales.orders`",
  cohort_retention: `WITH first_orders AS (SELECT customer_id, MIN(created_at) AS first_at FROM \`demo.sales.orders\` GROUP BY customer_id),
    cohorts AS (SELECT customer_id, DATE_TRUNC(DATE(first_at), MONTH) AS cohort FROM first_orders)
    SELECT c.cohort, DATE_DIFF(DATE_TRUNC(DATE(o.created_at), MONTH), c.cohort, MONTH) AS months_since, COUNT(DISTINCT o.customer_id) AS active
    FROM cohorts c JOIN \`demo.sales.orders\` o USING (customer_id) GROUP BY 1, 2 ORDER BY 1, 2`,
  qualify_top: "SELECT c.city, c.id, SUM(o.amount) AS spent FROM `demo.sales.customers` c JOIN `demo.sales.orders` o ON o.customer_id = c.id WHERE o.status = 'completed' GROUP BY c.city, c.id QUALIFY ROW_NUMBER() OVER (PARTITION BY c.city ORDER BY SUM(o.amount) DESC, c.id) = 1 ORDER BY c.city",
  except: "SELECT * EXCEPT (ssn, card_number, phone) FROM `demo.sales.customers` ORDER BY id LIMIT 20",
  lag_growth: "WITH m AS (SELECT DATE_TRUNC(DATE(created_at), MONTH) AS month, SUM(amount) AS revenue FROM `demo.sales.orders` GROUP BY 1) SELECT month, revenue, SAFE_DIVIDE(revenue - LAG(revenue) OVER (ORDER BY month), LAG(revenue) OVER (ORDER BY month)) AS growth FROM m ORDER BY month",
  array_agg: "SELECT customer_id, ARRAY_AGG(order_id ORDER BY created_at DESC LIMIT 3) AS latest FROM `demo.sales.orders` GROUP BY customer_id ORDER BY customer_id",
  correlated: "SELECT o.order_id, (SELECT c.email FROM demo.sales.customers c WHERE c.id = o.customer_id) AS e FROM demo.sales.orders o LIMIT 50",
  union_hr: "SELECT 'customer' AS kind, email FROM `demo.sales.customers` WHERE city = 'Boston' UNION ALL SELECT 'employee', email FROM `demo.hr.employees` WHERE department = 'Sales'",
};

let serial = 0;
const once = (base) => {
  const sql = `${base}\n-- run ${serial++}`;
  referencedTables(sql, "demo");
  referencedTables(sql, "demo");
  return analyze(sql, { defaultProject: "demo", schemas });
};

for (let i = 0; i < 50; i++) for (const sql of Object.values(QUERIES)) once(sql);
const rows = [];
for (const [name, sql] of Object.entries(QUERIES)) {
  const times = [];
  for (let i = 0; i < rounds; i++) {
    const t = performance.now();
    once(sql);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  const mean = times.reduce((s, x) => s + x, 0) / times.length;
  rows.push({ name, chars: sql.length, mean, p50: times[Math.floor(times.length / 2)], p95: times[Math.floor(times.length * 0.95)], max: times[times.length - 1] });
}
const fmt = (x) => x.toFixed(3);
console.log(`Node ${process.version}, ${rounds} rounds per query after 50 warm-up rounds; ms per new statement (2 × referencedTables + analyze, as the broker calls them)\n`);
console.log("| query | chars | mean | p50 | p95 | max |\n|---|---|---|---|---|---|");
for (const r of rows) console.log(`| ${r.name} | ${r.chars} | ${fmt(r.mean)} | ${fmt(r.p50)} | ${fmt(r.p95)} | ${fmt(r.max)} |`);
const overall = rows.reduce((s, r) => s + r.mean, 0) / rows.length;
const worstMean = Math.max(...rows.map((r) => r.mean));
const worstP95 = Math.max(...rows.map((r) => r.p95));
console.log(`\nmean over queries: ${fmt(overall)} ms; slowest query's mean: ${fmt(worstMean)} ms; worst p95: ${fmt(worstP95)} ms`);
console.log(`target ≤ 5 ms per typical query (mean): ${worstMean <= 5 ? "met" : "NOT met"}`);
