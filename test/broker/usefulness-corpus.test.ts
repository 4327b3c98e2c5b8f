/**
 * Real analytics through the real dev broker on the demo data: the guardrails must not get in the way. Every query
 * is answered (not refused), and a good part of them are checked against values computed here from the CSVs.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { cents, countBy, money, expectedRevenueByCity, expectedTopCustomerPerCity } from "../fixtures/demo-data.ts";
import { type CorpusBroker, demo, forbiddenStrings, indexForbidden, leaksIn, type QueryAnswer, startCorpusBroker } from "./corpus-harness.ts";
import { SALES_ANALYTICS } from "../fixtures/analytics-queries.ts";

const { customers, orders, employees } = demo;

/** Typical analytics over orders and customers (alice) and HR (bob, marked `hr:`). */
const CORPUS: Record<string, string> = {
  ...SALES_ANALYTICS,
  customer_contacts: "SELECT id, full_name, email, city FROM `demo.sales.customers` WHERE city = 'Boston' ORDER BY id",
  orders_with_customer: "SELECT o.order_id, o.amount, c.full_name, c.city FROM demo.sales.orders o JOIN demo.sales.customers c ON c.id = o.customer_id WHERE o.amount > 850 ORDER BY o.order_id",
  avg_order_by_status_city: "WITH j AS (SELECT c.city, o.status, o.amount FROM demo.sales.orders o JOIN demo.sales.customers c ON c.id = o.customer_id) SELECT city, status, COUNT(*) AS n, ROUND(AVG(amount), 2) AS avg_amount FROM j GROUP BY city, status ORDER BY city, status",
  repeat_buyers: "SELECT COUNTIF(n > 1) AS repeat_buyers, COUNT(*) AS buyers FROM (SELECT customer_id, COUNT(*) AS n FROM demo.sales.orders GROUP BY customer_id)",
  "hr:headcount": "SELECT department, COUNT(*) AS headcount FROM `demo.hr.employees` GROUP BY department ORDER BY department",
  "hr:salary_by_department": "SELECT department, COUNT(*) AS headcount, ANY_VALUE(salary) AS a_salary FROM `demo.hr.employees` GROUP BY department ORDER BY department",
  "hr:directory": "SELECT employee_id, full_name, email, department FROM demo.hr.employees ORDER BY employee_id",
  "hr:emails_everywhere": "SELECT 'Houston' AS kind, email FROM `demo.sales.customers` WHERE city = 'Houston' UNION ALL SELECT 'Denver', email FROM `demo.sales.customers` WHERE city = 'Denver'",
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
    const expected = expectedRevenueByCity();
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
    assert.deepEqual(rows("top_customer_per_city"), expectedTopCustomerPerCity());
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
      assert.equal(r.a_salary, null);
    }
  });
});
