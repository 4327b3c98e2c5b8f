import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { openDemoWarehouse } from "../../src/warehouse/duckdb.ts";
import { WarehouseQueryError, type Field, type Row, type Warehouse } from "../../src/warehouse/types.ts";
import { countBy, DATA_DIR, demo, money, expectedRevenueByCity, expectedTopCustomerPerCity } from "../fixtures/demo-data.ts";
import { SALES_ANALYTICS } from "../fixtures/analytics-queries.ts";

const GENERATOR = fileURLToPath(new URL("../../scripts/generate-demo-data.ts", import.meta.url));
const FILES = ["customers.csv", "orders.csv", "employees.csv"];

const { customers, orders, employees } = demo;

function validSsn(ssn: string): boolean {
  const m = /^(\d{3})-(\d{2})-(\d{4})$/.exec(ssn);
  if (!m) return false;
  const area = Number(m[1]);
  return area !== 0 && area !== 666 && area < 900 && m[2] !== "00" && m[3] !== "0000";
}

function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) d *= 2;
    sum += d > 9 ? d - 9 : d;
  }
  return sum % 10 === 0;
}

let wh: Warehouse;
before(async () => { wh = await openDemoWarehouse(); });
after(async () => { await wh?.close(); });

async function all(sql: string, maxRows = 100_000): Promise<{ rows: Row[]; truncated: boolean; schema: Field[] }> {
  const result = await wh.run(sql, { maxRows });
  const rows: Row[] = [];
  for await (const row of result.rows) rows.push(row);
  const { truncated } = await result.done();
  return { rows, truncated, schema: result.schema };
}


/** Typical BigQuery analytics queries over the demo tables; every one must run on the DuckDB demo warehouse. */
const CORPUS: Record<string, string> = {
  ...SALES_ANALYTICS,
  union_all: "SELECT 'customer' AS kind, email FROM `demo.sales.customers` WHERE city = 'Boston' UNION ALL SELECT 'employee', email FROM `demo.hr.employees` WHERE department = 'Sales'",
  salary_by_department: "SELECT department, COUNT(*) AS headcount, AVG(salary) AS avg_salary, MAX(salary) AS top FROM `demo.hr.employees` GROUP BY department ORDER BY avg_salary DESC",
  email_domains: "SELECT SPLIT(email, '@')[OFFSET(1)] AS domain, COUNT(*) AS n FROM `demo.sales.customers` GROUP BY domain ORDER BY n DESC",
  regex_filter: "SELECT COUNT(*) AS n FROM `demo.sales.customers` WHERE REGEXP_CONTAINS(phone, r'^\\+1-555-')",
};

test("the committed CSVs have the promised sizes, and the warehouse loads all of them", async () => {
  assert.equal(customers.length, 600);
  assert.equal(orders.length, 6000);
  assert.equal(employees.length, 60);
  for (const [table, n] of [["demo.sales.customers", 600], ["demo.sales.orders", 6000], ["demo.hr.employees", 60]] as const) {
    const { rows } = await all(`SELECT COUNT(*) AS n FROM \`${table}\``);
    assert.deepEqual(rows, [{ n }], table);
  }
});

test("demo data is valid: SSN rules, Luhn cards in both spellings, phones, orders after signup", () => {
  for (const p of [...customers, ...employees]) assert.ok(validSsn(p.ssn!), `invalid SSN ${p.ssn}`);
  const plain = customers.filter((c) => /^\d{16}$/.test(c.card_number!)).length;
  const separated = customers.filter((c) => /^\d{4}([ -])\d{4}\1\d{4}\1\d{4}$/.test(c.card_number!)).length;
  assert.equal(plain + separated, customers.length, "every card is 16 digits, with or without separators");
  assert.ok(plain > 200 && separated > 200, `about half each: ${plain} plain, ${separated} separated`);
  assert.ok(customers.some((c) => c.card_number!.includes(" ")) && customers.some((c) => c.card_number!.includes("-")));
  for (const c of customers) assert.ok(luhnValid(c.card_number!.replace(/\D/g, "")), `not Luhn-valid: ${c.card_number}`);
  for (const c of customers) assert.match(c.phone!, /^(\+1-555-\d{3}-\d{4}|\(555\) \d{3}-\d{4})$/);
  for (const p of [...customers, ...employees]) assert.match(p.email!, /^[a-z]+\.[a-z]+\d*@(example\.com|example\.org|mail\.example\.net|corp\.example\.com)$/);
  assert.equal(new Set(customers.map((c) => c.city)).size, 20);
  assert.ok(customers.some((c) => c.city === "Washington, DC"), "a quoted field round-trips");
  const signup = new Map(customers.map((c) => [c.id, c.signup_date!]));
  for (const o of orders) {
    assert.ok(signup.has(o.customer_id), `order ${o.order_id} has a customer`);
    assert.ok(o.created_at! > signup.get(o.customer_id)! && o.created_at! >= "2024-01-01" && o.created_at! < "2026-01-01", `order ${o.order_id} date`);
    assert.match(o.amount!, /^\d+\.\d{2}$/);
    assert.ok(["completed", "refunded", "pending", "cancelled"].includes(o.status!));
  }
});

test("the generator is deterministic: two runs into temp dirs equal the committed files byte for byte", () => {
  const dirs = [mkdtempSync(join(tmpdir(), "jit-demo-a-")), mkdtempSync(join(tmpdir(), "jit-demo-b-"))];
  try {
    for (const dir of dirs) execFileSync(process.execPath, [GENERATOR, dir], { stdio: "pipe", timeout: 30_000 });
    for (const file of FILES) {
      const committed = readFileSync(join(DATA_DIR, file));
      for (const dir of dirs) assert.ok(readFileSync(join(dir, file)).equals(committed), `${file} differs in ${dir}`);
    }
  } finally {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }
});

test(`a corpus of ${Object.keys(CORPUS).length} typical BigQuery analytics queries runs`, async () => {
  assert.ok(Object.keys(CORPUS).length >= 30);
  for (const [name, sql] of Object.entries(CORPUS)) {
    const { rows } = await all(sql).catch((err: Error) => assert.fail(`${name}: ${err.message}`));
    assert.ok(rows.length > 0, `${name} returned rows`);
  }
});

test("revenue by city matches the CSV", async () => {
  const expected = expectedRevenueByCity();
  const { rows, schema } = await all(CORPUS.revenue_by_city!);
  assert.deepEqual(schema.map((f) => f.type), ["STRING", "NUMERIC"]);
  assert.deepEqual(new Map(rows.map((r) => [r.city as string, r.revenue])), new Map([...expected].map(([k, v]) => [k, money(v)])));
  assert.equal(rows[0]!.city, [...expected].sort((a, b) => b[1] - a[1])[0]![0]);
});

test("orders per month (FORMAT_TIMESTAMP) and signup cohorts (DATE_TRUNC + FORMAT_DATE) match the CSV", async () => {
  const perMonth = await all(CORPUS.orders_per_month_ts!);
  assert.deepEqual(new Map(perMonth.rows.map((r) => [r.month, r.n])), countBy(orders, (o) => o.created_at!.slice(0, 7)));
  assert.equal(perMonth.rows.length, 24);
  const cohorts = await all(CORPUS.signup_cohorts!);
  assert.deepEqual(new Map(cohorts.rows.map((r) => [r.cohort, r.customers])), countBy(customers, (c) => c.signup_date!.slice(0, 7)));
});

test("SAFE_DIVIDE and COUNTIF give the refund rate; NOT EXISTS finds customers without orders", async () => {
  const { rows } = await all(CORPUS.refund_rate!);
  const refunded = orders.filter((o) => o.status === "refunded").length;
  assert.ok(Math.abs((rows[0]!.refund_rate as number) - refunded / orders.length) < 1e-12);
  assert.equal(rows[0]!.cancelled, orders.filter((o) => o.status === "cancelled").length);
  const buyers = new Set(orders.map((o) => o.customer_id));
  assert.deepEqual((await all(CORPUS.never_ordered!)).rows, [{ n: customers.filter((c) => !buyers.has(c.id)).length }]);
  assert.deepEqual((await all("SELECT SAFE_DIVIDE(1, 0) AS z, SAFE_DIVIDE(3, 2) AS h")).rows, [{ z: null, h: 1.5 }]);
});

test("QUALIFY with ROW_NUMBER picks the top customer per city", async () => {
  const { rows } = await all(CORPUS.top_customer_per_city!);
  assert.deepEqual(rows, expectedTopCustomerPerCity());
});

test("EXTRACT(DAYOFWEEK) counts Sunday as 1; DATE_TRUNC(…, WEEK) starts weeks on Sunday", async () => {
  const { rows } = await all(CORPUS.weekday_mix!);
  const expected = countBy(orders, (o) => String(new Date(o.created_at!).getUTCDay() + 1));
  assert.deepEqual(new Map(rows.map((r) => [String(r.dow), r.n])), expected);
  assert.equal(rows[0]!.day_name, "Sunday");
  const weeks = await all(CORPUS.weekly_orders!);
  for (const r of weeks.rows) assert.equal(new Date(`${r.week as string}T00:00:00Z`).getUTCDay(), 0, `${r.week as string} is a Sunday`);
  assert.equal(weeks.rows.reduce((s, r) => s + (r.n as number), 0), 6000);
});

test("date arithmetic follows BigQuery: boundaries for DATE_DIFF, whole units for TIMESTAMP_DIFF", async () => {
  const { rows } = await all(`SELECT
    DATE_DIFF(DATE '2024-03-10', DATE '2024-03-09', WEEK) AS sat_to_sun,
    DATE_DIFF(DATE '2024-03-11', DATE '2024-03-10', WEEK) AS sun_to_mon,
    DATE_DIFF(DATE '2024-03-11', DATE '2024-03-10', ISOWEEK) AS iso_sun_to_mon,
    DATE_DIFF(DATE '2024-02-01', DATE '2024-01-31', MONTH) AS months,
    TIMESTAMP_DIFF(TIMESTAMP '2024-01-01 01:59:00', TIMESTAMP '2024-01-01 01:01:00', HOUR) AS hours,
    DATE_TRUNC(DATE '2024-03-07', WEEK) AS week_start, DATE_TRUNC(DATE '2024-03-07', ISOWEEK) AS iso_week_start,
    DATE_TRUNC(DATE '2024-05-20', QUARTER) AS q, DATE_ADD(DATE '2024-01-31', INTERVAL 1 MONTH) AS next_month,
    EXTRACT(DAYOFWEEK FROM DATE '2024-03-10') AS sunday, FORMAT_DATE('%F', DATE '2024-03-07') AS f`);
  assert.deepEqual(rows, [{
    sat_to_sun: 1, sun_to_mon: 0, iso_sun_to_mon: 1, months: 1, hours: 0, week_start: "2024-03-03",
    iso_week_start: "2024-03-04", q: "2024-04-01", next_month: "2024-02-29", sunday: 1, f: "2024-03-07",
  }]);
});

test("days to first order, e-mail domains and ARRAY_AGG ... LIMIT match the CSV", async () => {
  const first = new Map<string, string>();
  for (const o of orders) if (!first.has(o.customer_id!) || o.created_at! < first.get(o.customer_id!)!) first.set(o.customer_id!, o.created_at!);
  const { rows } = await all(CORPUS.days_to_first_order!);
  for (const r of rows.slice(0, 20)) {
    const c = customers.find((x) => Number(x.id) === r.id)!;
    const days = (Date.parse(first.get(c.id!)!.slice(0, 10)) - Date.parse(c.signup_date!)) / 86_400_000;
    assert.equal(r.days, days, `customer ${c.id}`);
  }
  const domains = await all(CORPUS.email_domains!);
  assert.deepEqual(new Map(domains.rows.map((r) => [r.domain, r.n])), countBy(customers, (c) => c.email!.split("@")[1]!));
  const latest = await all(CORPUS.array_agg_latest!);
  const r0 = latest.rows[0]!;
  const mine = orders.filter((o) => Number(o.customer_id) === r0.customer_id).sort((a, b) => (a.created_at! < b.created_at! ? 1 : -1));
  assert.deepEqual(r0.latest, mine.slice(0, 3).map((o) => Number(o.order_id)));
  const salaries = await all(CORPUS.salary_by_department!);
  assert.deepEqual(new Map(salaries.rows.map((r) => [r.department, r.headcount])), countBy(employees, (e) => e.department!));
});

test("every BigQuery type maps to its name and JSON form", async () => {
  const { rows, schema } = await all(`SELECT
    9007199254740993 AS big, -9007199254740993 AS neg_big, 42 AS small, SUM(customer_id) AS summed, 1.5 AS f,
    amount, NUMERIC '12.5' AS n, created_at, TIMESTAMP '2024-05-01 12:00:00.123456 UTC' AS micro, DATE '2024-01-02' AS d,
    b'ab' AS bytes, NULL AS nothing, TRUE AS yes, 'x' AS s, [1, 2] AS arr, STRUCT(1 AS a, 'b' AS b) AS st,
    [STRUCT(1 AS a, [DATE '2024-01-01'] AS ds)] AS nested, INTERVAL 3 DAY AS i
    FROM \`demo.sales.orders\` WHERE order_id = 100001 GROUP BY amount, created_at`);
  assert.deepEqual(Object.fromEntries(schema.map((f) => [f.name, f.type])), {
    big: "INT64", neg_big: "INT64", small: "INT64", summed: "INT64", f: "FLOAT64", amount: "NUMERIC", n: "NUMERIC",
    created_at: "TIMESTAMP", micro: "TIMESTAMP", d: "DATE", bytes: "BYTES", nothing: "INT64", yes: "BOOL", s: "STRING",
    arr: "ARRAY", st: "STRUCT", nested: "ARRAY", i: "INTERVAL",
  });
  assert.deepEqual(schema.find((f) => f.name === "arr")!.fields, [{ name: "element", type: "INT64" }]);
  assert.deepEqual(schema.find((f) => f.name === "st")!.fields, [{ name: "a", type: "INT64" }, { name: "b", type: "STRING" }]);
  const first = orders[0]!;
  assert.deepEqual(rows, [{
    big: "9007199254740993", neg_big: "-9007199254740993", small: 42, summed: Number(first.customer_id), f: 1.5,
    amount: first.amount, n: "12.500000000", created_at: first.created_at, micro: "2024-05-01T12:00:00.123456Z",
    d: "2024-01-02", bytes: "YWI=", nothing: null, yes: true, s: "x", arr: [1, 2], st: { a: 1, b: "b" },
    nested: [{ a: 1, ds: ["2024-01-01"] }], i: "0-0 3 0:0:0",
  }]);
  assert.match(first.created_at!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
});

test("maxRows caps the rows, sets truncated only when more existed, and stops fetching early", async () => {
  let r = await all("SELECT order_id FROM `demo.sales.orders` ORDER BY order_id", 10);
  assert.equal(r.rows.length, 10);
  assert.equal(r.truncated, true);
  assert.deepEqual(r.rows[0], { order_id: 100001 });
  r = await all("SELECT order_id FROM `demo.sales.orders`", 6000);
  assert.equal(r.rows.length, 6000);
  assert.equal(r.truncated, false);
  r = await all("SELECT order_id FROM `demo.sales.orders` LIMIT 2048", 2048);
  assert.equal(r.truncated, false, "exactly one full chunk");
  r = await all("SELECT 1 AS x", 0);
  assert.deepEqual([r.rows.length, r.truncated], [0, true]);
  const started = performance.now();
  r = await all("SELECT a.order_id, b.order_id AS other FROM `demo.sales.orders` a CROSS JOIN `demo.sales.orders` b", 5);
  assert.equal(r.rows.length, 5);
  assert.equal(r.truncated, true);
  assert.ok(performance.now() - started < 5_000, "36M-row cross join was not materialised");
});

test("run reports a job id and a bytes estimate from the columns it reads", async () => {
  const narrow = await wh.run("SELECT order_id FROM `demo.sales.orders`", { maxRows: 1 });
  for await (const _ of narrow.rows) { /* drain */ }
  const n = await narrow.done();
  assert.match(n.jobId, /^duckdb_[0-9a-f-]{36}$/);
  assert.equal(n.bytesProcessed, 6000 * 8);
  const wide = await wh.run("SELECT * FROM `demo.sales.orders`", { maxRows: 1 });
  for await (const _ of wide.rows) { /* drain */ }
  const wideBytes = (await wide.done()).bytesProcessed;
  assert.ok(wideBytes > n.bytesProcessed);
  assert.equal((await wh.dryRun("SELECT TO_JSON_STRING(o) AS j FROM `demo.sales.orders` o")).bytesProcessed, wideBytes, "a whole-row reference reads every column");
  assert.equal((await wh.dryRun("SELECT COUNT(*) AS n FROM `demo.sales.orders`")).bytesProcessed, 0);
});

test("an aborted signal stops a query before or while it streams", async () => {
  const before = new AbortController();
  before.abort();
  await assert.rejects(wh.run("SELECT 1 AS x", { maxRows: 1, signal: before.signal }), { name: "WarehouseQueryError", reason: "stopped" });
  const during = new AbortController();
  const r = await wh.run("SELECT a.order_id FROM `demo.sales.orders` a CROSS JOIN `demo.sales.orders` b", { maxRows: 1_000_000, signal: during.signal });
  await assert.rejects(async () => {
    for await (const _ of r.rows) during.abort();
  }, { name: "WarehouseQueryError", reason: "stopped" });
});

test("queries the warehouse rejects become WarehouseQueryError with DuckDB's message", async () => {
  await assert.rejects(wh.run("SELECT nope FROM `demo.sales.orders`", { maxRows: 10 }), (err: unknown) => {
    assert.ok(err instanceof WarehouseQueryError);
    assert.match(err.message, /nope/);
    assert.match(err.jobId ?? "", /^duckdb_/);
    return true;
  });
  await assert.rejects(wh.run("SELECT * FROM demo.sales.x", { maxRows: 10 }), { name: "WarehouseQueryError", message: "Not found: Table demo.sales.x" });
  await assert.rejects(wh.run("SELECT read_csv('/etc/passwd')", { maxRows: 10 }), { name: "WarehouseQueryError" });
  await assert.rejects(wh.run("DELETE FROM demo.sales.orders WHERE TRUE", { maxRows: 10 }), { name: "WarehouseQueryError" });
  await assert.rejects(wh.dryRun("SELECT CAST('x' AS INT64) + nope FROM sales.orders"), { name: "WarehouseQueryError" });
  // A failure at execution time surfaces from run() or from the row iterator, as the same error type.
  await assert.rejects(async () => {
    const r = await wh.run("SELECT CAST(CONCAT('x', CAST(order_id AS STRING)) AS INT64) AS bad FROM `demo.sales.orders`", { maxRows: 10 });
    for await (const _ of r.rows) { /* drain */ }
  }, { name: "WarehouseQueryError", message: /Could not convert/ });
  assert.deepEqual((await all("SELECT COUNT(*) AS n FROM demo.sales.orders")).rows, [{ n: 6000 }], "still usable afterwards");
});

test("dryRun gives the statement type, referenced tables without CTEs, a bytes estimate and the schema, without running", async () => {
  const d = await wh.dryRun(CORPUS.cohort_retention!);
  assert.equal(d.statementType, "SELECT");
  assert.deepEqual(d.referencedTables, [{ project: "demo", dataset: "sales", table: "orders" }]);
  assert.ok(d.bytesProcessed > 0);
  assert.deepEqual(d.schema, [{ name: "cohort", type: "DATE" }, { name: "months_since", type: "INT64" }, { name: "active", type: "INT64" }]);
  const j = await wh.dryRun("SELECT c.email, SUM(o.amount) FROM Sales.Customers c JOIN `demo.sales.orders` o ON o.customer_id = c.id GROUP BY 1");
  assert.deepEqual(j.referencedTables.map((t) => `${t.project}.${t.dataset}.${t.table}`), ["demo.sales.customers", "demo.sales.orders"]);
  assert.deepEqual(j.schema, [{ name: "email", type: "STRING" }, { name: "f0_", type: "NUMERIC" }]);
});

test("catalogue: datasets, tables and schemas in BigQuery type names, case-insensitive", async () => {
  assert.deepEqual(await wh.listDatasets(), ["demo.hr", "demo.sales"]);
  assert.deepEqual(await wh.listTables("demo.sales"), ["customers", "orders"]);
  assert.deepEqual(await wh.listTables("DEMO.HR"), ["employees"]);
  await assert.rejects(wh.listTables("demo.nope"), { name: "WarehouseQueryError" });
  assert.deepEqual(await wh.tableSchema({ project: "demo", dataset: "sales", table: "orders" }), [
    { name: "order_id", type: "INT64" }, { name: "customer_id", type: "INT64" }, { name: "amount", type: "NUMERIC" },
    { name: "status", type: "STRING" }, { name: "created_at", type: "TIMESTAMP" },
  ]);
  assert.equal((await wh.tableSchema({ project: "Demo", dataset: "HR", table: "Employees" })).length, 6);
  await assert.rejects(wh.tableSchema({ project: "demo", dataset: "sales", table: "x" }), { name: "WarehouseQueryError", message: "Not found: Table demo.sales.x" });
});

test("a data directory without the CSV files fails to open with a clear error", async () => {
  const empty = mkdtempSync(join(tmpdir(), "jit-demo-empty-"));
  try {
    await assert.rejects(openDemoWarehouse({ dataDir: empty }), { name: "WarehouseQueryError", message: /Loading the demo warehouse failed: .*customers\.csv/ });
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
});

test("concurrent queries do not interleave", async () => {
  const statuses = ["completed", "refunded", "pending", "cancelled"];
  const results = await Promise.all(
    Array.from({ length: 12 }, (_, i) => all(`SELECT order_id, status FROM \`demo.sales.orders\` WHERE status = '${statuses[i % 4]}' ORDER BY order_id`)),
  );
  results.forEach((r, i) => {
    const expected = orders.filter((o) => o.status === statuses[i % 4]).map((o) => ({ order_id: Number(o.order_id), status: o.status }));
    assert.deepEqual(r.rows, expected);
  });
});
