/**
 * Real analytics through the real dev broker on the demo data: the guardrails must not get in the way. Every query
 * is answered (not refused), and a good part of them are checked against values computed here from the CSVs.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { cents, countBy, money } from "../fixtures/demo-data.ts";
import { type CorpusBroker, demo, forbiddenStrings, indexForbidden, leaksIn, type QueryAnswer, startCorpusBroker } from "./corpus-harness.ts";

const { customers, orders, employees } = demo;

/** Typical analytics over orders and customers (alice) and HR (bob, marked `hr:`). */
const CORPUS: Record<string, string> = {
  revenue_by_city: "SELECT c.city, SUM(o.amount) AS revenue FROM `demo.sales.orders` o JOIN `demo.sales.customers` c ON c.id = o.customer_id WHERE o.status = 'completed' GROUP BY c.city ORDER BY revenue DESC",
  revenue_by_month: "SELECT FORMAT_DATE('%Y-%m', DATE_TRUNC(DATE(created_at), MONTH)) AS month, SUM(amount) AS revenue, COUNT(*) AS orders FROM `demo.sales.orders` WHERE status = 'completed' GROUP BY month ORDER BY month",
  revenue_by_city_month: "SELECT c.city, DATE_TRUNC(DATE(o.created_at), MONTH) AS month, ROUND(SUM(o.amount), 2) AS revenue FROM demo.sales.orders AS o INNER JOIN demo.sales.customers AS c ON o.customer_id = c.id GROUP BY 1, 2 ORDER BY 2, 3 DESC",
  orders_per_month_ts: "SELECT FORMAT_TIMESTAMP('%Y-%m', created_at) AS month, COUNT(*) AS n FROM `demo`.`sales`.`orders` GROUP BY month ORDER BY month",
  status_mix: "SELECT status, COUNT(*) AS n, ROUND(100 * COUNT(*) / SUM(COUNT(*)) OVER (), 2) AS pct FROM sales.orders GROUP BY status ORDER BY n DESC",
  refund_rate: "SELECT SAFE_DIVIDE(COUNTIF(status = 'refunded'), COUNT(*)) AS refund_rate, COUNTIF(status = 'cancelled') AS cancelled FROM `demo.sales.orders`",
  refund_rate_by_city: "SELECT c.city, SAFE_DIVIDE(COUNTIF(o.status = 'refunded'), COUNT(o.order_id)) AS refund_rate FROM `demo.sales.customers` c LEFT JOIN `demo.sales.orders` o ON o.customer_id = c.id GROUP BY c.city ORDER BY refund_rate DESC",
  signup_cohorts: "SELECT FORMAT_DATE('%Y-%m', DATE_TRUNC(signup_date, MONTH)) AS cohort, COUNT(*) AS customers FROM `demo.sales.customers` GROUP BY cohort ORDER BY cohort",
  cohort_retention: `WITH first_orders AS (
      SELECT customer_id, MIN(created_at) AS first_at FROM \`demo.sales.orders\` GROUP BY customer_id
    ), cohorts AS (
      SELECT customer_id, DATE_TRUNC(DATE(first_at), MONTH) AS cohort FROM first_orders
    )
    SELECT c.cohort, DATE_DIFF(DATE_TRUNC(DATE(o.created_at), MONTH), c.cohort, MONTH) AS months_since,
           COUNT(DISTINCT o.customer_id) AS active
    FROM cohorts c JOIN \`demo.sales.orders\` o USING (customer_id)
    GROUP BY 1, 2 ORDER BY 1, 2`,
  top_customer_per_city: "SELECT c.city, c.id, SUM(o.amount) AS spent FROM `demo.sales.customers` c JOIN `demo.sales.orders` o ON o.customer_id = c.id WHERE o.status = 'completed' GROUP BY c.city, c.id QUALIFY ROW_NUMBER() OVER (PARTITION BY c.city ORDER BY SUM(o.amount) DESC, c.id) = 1 ORDER BY c.city",
  latest_order_per_customer: "SELECT * FROM `demo.sales.orders` QUALIFY ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY created_at DESC) = 1",
  rank_cities: "SELECT city, COUNT(*) AS n, RANK() OVER (ORDER BY COUNT(*) DESC) AS rnk, DENSE_RANK() OVER (ORDER BY COUNT(*) DESC) AS drnk FROM demo.sales.customers GROUP BY city",
  except_pii: "SELECT * EXCEPT (ssn, card_number, phone) FROM `demo.sales.customers` ORDER BY id LIMIT 20",
  except_alias: "SELECT c.* EXCEPT(ssn), o.amount FROM `demo.sales.customers` AS c JOIN `demo.sales.orders` AS o ON c.id = o.customer_id LIMIT 10",
  running_total: "SELECT DATE(created_at) AS day, SUM(amount) AS revenue, SUM(SUM(amount)) OVER (ORDER BY DATE(created_at) ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS running FROM `demo.sales.orders` GROUP BY day ORDER BY day",
  moving_avg: "SELECT day, AVG(revenue) OVER (ORDER BY day ROWS BETWEEN 6 PRECEDING AND CURRENT ROW) AS avg7 FROM (SELECT DATE(created_at) AS day, SUM(amount) AS revenue FROM demo.sales.orders GROUP BY 1)",
  lag_growth: "WITH m AS (SELECT DATE_TRUNC(DATE(created_at), MONTH) AS month, SUM(amount) AS revenue FROM `demo.sales.orders` GROUP BY 1) SELECT month, revenue, SAFE_DIVIDE(revenue - LAG(revenue) OVER (ORDER BY month), LAG(revenue) OVER (ORDER BY month)) AS growth FROM m ORDER BY month",
  weekday_mix: "SELECT EXTRACT(DAYOFWEEK FROM created_at) AS dow, FORMAT_TIMESTAMP('%A', created_at) AS day_name, COUNT(*) AS n FROM `demo.sales.orders` GROUP BY 1, 2 ORDER BY 1",
  hour_of_day: "SELECT EXTRACT(HOUR FROM created_at) AS hour, COUNT(*) AS n FROM `demo.sales.orders` GROUP BY hour ORDER BY hour",
  days_to_first_order: "SELECT c.id, DATE_DIFF(DATE(MIN(o.created_at)), c.signup_date, DAY) AS days FROM `demo.sales.customers` c JOIN `demo.sales.orders` o ON o.customer_id = c.id GROUP BY c.id, c.signup_date ORDER BY c.id",
  ifnull_left_join: "SELECT c.id, IFNULL(SUM(o.amount), 0) AS spent, COUNT(o.order_id) AS orders FROM `demo.sales.customers` c LEFT JOIN `demo.sales.orders` o ON o.customer_id = c.id GROUP BY c.id ORDER BY spent DESC LIMIT 25",
  never_ordered: "SELECT COUNT(*) AS n FROM `demo.sales.customers` c WHERE NOT EXISTS (SELECT 1 FROM `demo.sales.orders` o WHERE o.customer_id = c.id)",
  in_subquery: "SELECT city, COUNT(*) AS n FROM `demo.sales.customers` WHERE id IN (SELECT customer_id FROM `demo.sales.orders` WHERE amount > 500) GROUP BY city",
  string_agg_statuses: "SELECT customer_id, STRING_AGG(DISTINCT status, ',' ORDER BY status) AS statuses FROM `demo.sales.orders` GROUP BY customer_id ORDER BY customer_id LIMIT 10",
  array_agg_latest: "SELECT customer_id, ARRAY_AGG(order_id ORDER BY created_at DESC LIMIT 3) AS latest FROM `demo.sales.orders` GROUP BY customer_id ORDER BY customer_id",
  array_agg_struct: "SELECT city, ARRAY_AGG(STRUCT(id AS id, full_name AS name) ORDER BY id LIMIT 2) AS people FROM demo.sales.customers GROUP BY city ORDER BY city",
  unnest_array: "SELECT x, x * 2 AS doubled FROM UNNEST([1, 2, 3]) AS x ORDER BY x",
  safe_cast: "SELECT SAFE_CAST('12x' AS INT64) AS bad, SAFE_CAST('12' AS INT64) AS good, CAST(amount AS FLOAT64) AS f, CAST(order_id AS STRING) AS s FROM `demo.sales.orders` LIMIT 3",
  case_buckets: "SELECT CASE WHEN amount < 20 THEN 'small' WHEN amount < 100 THEN 'medium' ELSE 'large' END AS bucket, COUNT(*) AS n, AVG(amount) AS avg_amount FROM `demo.sales.orders` GROUP BY bucket ORDER BY n DESC",
  quarter_revenue: "SELECT EXTRACT(YEAR FROM created_at) AS y, EXTRACT(QUARTER FROM created_at) AS q, SUM(amount) AS revenue FROM `demo.sales.orders` GROUP BY y, q ORDER BY y, q",
  weekly_orders: "SELECT DATE_TRUNC(DATE(created_at), WEEK) AS week, COUNT(*) AS n FROM `demo.sales.orders` GROUP BY week ORDER BY week",
  timestamp_trunc_day: "SELECT TIMESTAMP_TRUNC(created_at, DAY) AS day, COUNT(*) AS n FROM `demo.sales.orders` GROUP BY day ORDER BY day DESC LIMIT 7",
  recent_window: "SELECT COUNT(*) AS n FROM `demo.sales.orders` WHERE created_at >= TIMESTAMP_SUB(TIMESTAMP '2025-12-31 00:00:00 UTC', INTERVAL 30 DAY)",
  date_between: "SELECT COUNT(*) AS n FROM `demo.sales.customers` WHERE signup_date BETWEEN DATE '2024-01-01' AND DATE_SUB(DATE '2025-01-01', INTERVAL 1 DAY)",
  union_distinct: "SELECT city FROM `demo.sales.customers` UNION DISTINCT SELECT 'Nowhere' ORDER BY city",
  ntile_spend: "SELECT customer_id, spent, NTILE(4) OVER (ORDER BY spent) AS quartile FROM (SELECT customer_id, SUM(amount) AS spent FROM demo.sales.orders GROUP BY customer_id)",
  percentile_like: "SELECT city, MIN(amount) AS lo, MAX(amount) AS hi, STDDEV(amount) AS sd FROM `demo.sales.orders` o JOIN `demo.sales.customers` c ON c.id = o.customer_id GROUP BY city HAVING COUNT(*) > 100",
  concat_upper: "SELECT CONCAT(UPPER(SUBSTR(full_name, 1, 1)), '. ', city) AS label, LENGTH(full_name) AS len FROM `demo.sales.customers` ORDER BY id LIMIT 5",
  current_date_diff: "SELECT DATE_DIFF(CURRENT_DATE(), MAX(signup_date), DAY) >= 0 AS ok FROM `demo.sales.customers`",
  customer_contacts: "SELECT id, full_name, email, city FROM `demo.sales.customers` WHERE city = 'Boston' ORDER BY id",
  orders_with_customer: "SELECT o.order_id, o.amount, c.full_name, c.city FROM demo.sales.orders o JOIN demo.sales.customers c ON c.id = o.customer_id WHERE o.amount > 850 ORDER BY o.order_id",
  avg_order_by_status_city: "WITH j AS (SELECT c.city, o.status, o.amount FROM demo.sales.orders o JOIN demo.sales.customers c ON c.id = o.customer_id) SELECT city, status, COUNT(*) AS n, ROUND(AVG(amount), 2) AS avg_amount FROM j GROUP BY city, status ORDER BY city, status",
  repeat_buyers: "SELECT COUNTIF(n > 1) AS repeat_buyers, COUNT(*) AS buyers FROM (SELECT customer_id, COUNT(*) AS n FROM demo.sales.orders GROUP BY customer_id)",
  "hr:headcount": "SELECT department, COUNT(*) AS headcount FROM `demo.hr.employees` GROUP BY department ORDER BY department",
  "hr:salary_by_department": "SELECT department, COUNT(*) AS headcount, AVG(salary) AS avg_salary, MAX(salary) AS top FROM `demo.hr.employees` GROUP BY department ORDER BY department",
  "hr:directory": "SELECT employee_id, full_name, email, department FROM demo.hr.employees ORDER BY employee_id",
  "hr:emails_everywhere": "SELECT 'customer' AS kind, email FROM `demo.sales.customers` WHERE city = 'Boston' UNION ALL SELECT 'employee', email FROM `demo.hr.employees` WHERE department = 'Sales'",
};

describe("usefulness corpus through the broker", { timeout: 60_000 }, () => {
  let b: CorpusBroker;
  const answers = new Map<string, QueryAnswer>();
  before(async () => {
    b = await startCorpusBroker();
    for (const [name, sql] of Object.entries(CORPUS)) answers.set(name, await (name.startsWith("hr:") ? b.bob : b.alice).query(sql));
  });
  after(async () => { await b?.close(); });
  const rows = (name: string): Array<Record<string, any>> => answers.get(name)!.body.rows;

  test("the corpus is big enough", () => {
    assert.ok(Object.keys(CORPUS).length >= 40, `${Object.keys(CORPUS).length} queries`);
  });

  for (const name of Object.keys(CORPUS)) {
    test(`answered, with rows: ${name}`, () => {
      const r = answers.get(name)!;
      assert.equal(r.status, 200, `${name}: HTTP ${r.status} ${r.text.slice(0, 300)}`);
      assert.ok(r.body.row_count > 0, `${name} returned rows`);
    });
  }

  test("no answer carries a sensitive value or a transform of one", () => {
    const forbidden = indexForbidden(forbiddenStrings());
    for (const [name, r] of answers) assert.deepEqual(leaksIn(r.text, forbidden).slice(0, 3), [], name);
  });

  test("revenue by city matches the CSV, highest first", () => {
    const city = new Map(customers.map((c) => [c.id, c.city!]));
    const expected = new Map<string, number>();
    for (const o of orders) if (o.status === "completed") expected.set(city.get(o.customer_id)!, (expected.get(city.get(o.customer_id)!) ?? 0) + cents(o.amount!));
    assert.deepEqual(new Map(rows("revenue_by_city").map((r) => [r.city, r.revenue])), new Map([...expected].map(([k, v]) => [k, money(v)])));
    assert.equal(rows("revenue_by_city")[0]!.city, [...expected].sort((a, b) => b[1] - a[1])[0]![0]);
    assert.equal(answers.get("revenue_by_city")!.body.masked_cells, 0);
  });

  test("revenue by month (DATE_TRUNC + FORMAT_DATE) and orders per month match the CSV", () => {
    const completed = orders.filter((o) => o.status === "completed");
    const revenue = new Map<string, number>();
    for (const o of completed) revenue.set(o.created_at!.slice(0, 7), (revenue.get(o.created_at!.slice(0, 7)) ?? 0) + cents(o.amount!));
    assert.deepEqual(rows("revenue_by_month").map((r) => [r.month, r.revenue, r.orders]),
      [...revenue].sort().map(([m, c]) => [m, money(c), completed.filter((o) => o.created_at!.startsWith(m)).length]));
    assert.deepEqual(new Map(rows("orders_per_month_ts").map((r) => [r.month, r.n])), countBy(orders, (o) => o.created_at!.slice(0, 7)));
  });

  test("signup cohorts and the status mix match the CSV", () => {
    assert.deepEqual(new Map(rows("signup_cohorts").map((r) => [r.cohort, r.customers])), countBy(customers, (c) => c.signup_date!.slice(0, 7)));
    assert.deepEqual(new Map(rows("status_mix").map((r) => [r.status, r.n])), countBy(orders, (o) => o.status!));
  });

  test("SAFE_DIVIDE and COUNTIF give the refund rate; NOT EXISTS finds customers without orders", () => {
    const refunded = orders.filter((o) => o.status === "refunded").length;
    assert.ok(Math.abs(rows("refund_rate")[0]!.refund_rate - refunded / orders.length) < 1e-12);
    assert.equal(rows("refund_rate")[0]!.cancelled, orders.filter((o) => o.status === "cancelled").length);
    const buyers = new Set(orders.map((o) => o.customer_id));
    assert.deepEqual(rows("never_ordered"), [{ n: customers.filter((c) => !buyers.has(c.id)).length }]);
    const perCustomer = countBy(orders, (o) => o.customer_id!);
    assert.deepEqual(rows("repeat_buyers"), [{ repeat_buyers: [...perCustomer.values()].filter((n) => n > 1).length, buyers: perCustomer.size }]);
  });

  test("QUALIFY with ROW_NUMBER picks the top customer per city", () => {
    const spent = new Map<string, number>();
    for (const o of orders) if (o.status === "completed") spent.set(o.customer_id!, (spent.get(o.customer_id!) ?? 0) + cents(o.amount!));
    const best = new Map<string, { id: number; c: number }>();
    for (const c of customers) {
      const s = spent.get(c.id!);
      if (s === undefined) continue;
      const cur = best.get(c.city!);
      if (!cur || s > cur.c || (s === cur.c && Number(c.id) < cur.id)) best.set(c.city!, { id: Number(c.id), c: s });
    }
    assert.deepEqual(rows("top_customer_per_city"), [...best].sort(([a], [b]) => (a < b ? -1 : 1)).map(([city, { id, c }]) => ({ city, id, spent: money(c) })));
  });

  test("window ranks over city sizes match the CSV", () => {
    const sizes = countBy(customers, (c) => c.city!);
    for (const r of rows("rank_cities")) {
      assert.equal(r.n, sizes.get(r.city));
      assert.equal(r.rnk, 1 + [...sizes.values()].filter((n) => n > r.n).length);
    }
  });

  test("* EXCEPT keeps the useful columns in clear and masks the e-mail, keeping its domain", () => {
    const r = answers.get("except_pii")!;
    assert.deepEqual(r.body.columns.map((c: { name: string; masked: boolean }) => `${c.name}${c.masked ? "*" : ""}`), ["id", "full_name", "email*", "city", "signup_date"]);
    assert.deepEqual(rows("except_pii"), customers.slice(0, 20).map((c) => ({
      id: Number(c.id), full_name: c.full_name, email: `XXXXX@${c.email!.split("@")[1]}`, city: c.city, signup_date: c.signup_date,
    })));
  });

  test("e-mail domains can be counted from the masked e-mails", () => {
    const masked = rows("hr:directory").map((r) => r.email as string);
    assert.ok(masked.every((e) => /^XXXXX@/.test(e)));
    assert.deepEqual(countBy(masked, (e) => e.split("@")[1]!), countBy(employees, (e) => e.email!.split("@")[1]!));
    assert.deepEqual(rows("customer_contacts").map((r) => r.id), customers.filter((c) => c.city === "Boston").map((c) => Number(c.id)));
  });

  test("days to first order, IN (subquery), STRING_AGG and ARRAY_AGG ... LIMIT match the CSV", () => {
    const first = new Map<string, string>();
    for (const o of orders) if (!first.has(o.customer_id!) || o.created_at! < first.get(o.customer_id!)!) first.set(o.customer_id!, o.created_at!);
    for (const r of rows("days_to_first_order").slice(0, 30)) {
      const c = customers.find((x) => Number(x.id) === r.id)!;
      assert.equal(r.days, (Date.parse(first.get(c.id!)!.slice(0, 10)) - Date.parse(c.signup_date!)) / 86_400_000, `customer ${c.id}`);
    }
    const big = new Set(orders.filter((o) => Number(o.amount) > 500).map((o) => o.customer_id));
    assert.deepEqual(new Map(rows("in_subquery").map((r) => [r.city, r.n])), countBy(customers.filter((c) => big.has(c.id)), (c) => c.city!));
    for (const r of rows("string_agg_statuses")) {
      assert.equal(r.statuses, [...new Set(orders.filter((o) => Number(o.customer_id) === r.customer_id).map((o) => o.status!))].sort().join(","));
    }
    const r0 = rows("array_agg_latest")[0]!;
    const mine = orders.filter((o) => Number(o.customer_id) === r0.customer_id).sort((a, b) => (a.created_at! < b.created_at! ? 1 : -1));
    assert.deepEqual(r0.latest, mine.slice(0, 3).map((o) => Number(o.order_id)));
  });

  test("joins on ids return the right orders with their customers", () => {
    const byId = new Map(customers.map((c) => [c.id, c]));
    assert.deepEqual(rows("orders_with_customer"), orders.filter((o) => Number(o.amount) > 850).map((o) => ({
      order_id: Number(o.order_id), amount: o.amount, full_name: byId.get(o.customer_id)!.full_name, city: byId.get(o.customer_id)!.city,
    })));
  });

  test("hr: headcount per department is right; salary comes back NULL (its mask), the department in clear", () => {
    assert.deepEqual(new Map(rows("hr:headcount").map((r) => [r.department, r.headcount])), countBy(employees, (e) => e.department!));
    for (const r of rows("hr:salary_by_department")) {
      assert.equal(r.headcount, employees.filter((e) => e.department === r.department).length);
      assert.equal(r.avg_salary, null);
      assert.equal(r.top, null);
    }
  });
});
