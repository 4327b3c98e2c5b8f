import { test } from "node:test";
import assert from "node:assert/strict";
import { JitError } from "../../src/errors.ts";
import { lineage, run, SENSITIVE } from "./demo-schemas.ts";

const L = (sql: string) => lineage(run(sql));

test("aliases, functions, CAST, arithmetic and CASE carry every referenced column", () => {
  assert.deepEqual(L(`SELECT order_id AS k, CAST(amount AS STRING) AS a, amount * 2 + customer_id AS m,
    CASE WHEN status = 'paid' THEN amount ELSE 0 END AS p, IF(amount > 10, 'big', 'small') AS s FROM sales.orders`), {
    k: ["sales.orders.order_id"], a: ["sales.orders.amount"], m: ["sales.orders.amount", "sales.orders.customer_id"],
    p: ["sales.orders.amount", "sales.orders.status"], s: ["sales.orders.amount"],
  } as never);
});

test("unqualified columns resolve through the schema", () => {
  assert.deepEqual(L("SELECT order_id, status FROM sales.orders"), { order_id: ["sales.orders.order_id"], status: ["sales.orders.status"] });
});

test("SELECT * and t.* expand in schema order", () => {
  const a = run("SELECT * FROM sales.orders");
  assert.deepEqual(a.outputs.map((o) => o.name), ["order_id", "customer_id", "amount", "status", "created_at"]);
  assert.deepEqual(run("SELECT o.* FROM sales.orders o JOIN sales.customers c ON c.id = o.customer_id").outputs.length, 5);
});

test("* EXCEPT drops columns and * REPLACE swaps their sources", () => {
  assert.deepEqual(Object.keys(L("SELECT * EXCEPT (ssn, card_number, email) FROM sales.customers")), ["id", "full_name", "phone", "city", "signup_date"]);
  assert.deepEqual(L("SELECT * REPLACE (UPPER(status) AS status, 0 AS amount) FROM sales.orders").amount, []);
  assert.deepEqual(L("SELECT o.* REPLACE (UPPER(status) AS status) FROM sales.orders o").status, ["sales.orders.status"]);
});

test("JOIN USING: the merged column reads both sides; SELECT * over it is refused (engines order it differently)", () => {
  assert.deepEqual(L("SELECT email FROM sales.customers JOIN hr.employees USING (email)").email, ["hr.employees.email", "sales.customers.email"]);
  assert.equal(run("SELECT c.* FROM sales.customers c JOIN hr.employees USING (email)").outputs.length, 8);
  assert.throws(() => run("SELECT * FROM sales.customers JOIN hr.employees USING (email)"), (e: unknown) => e instanceof JitError && e.code === "denied");
});

test("set operations union sources position by position, names from the left", () => {
  assert.deepEqual(L("SELECT city AS c, id FROM sales.customers UNION ALL SELECT status, order_id FROM sales.orders"), {
    c: ["sales.customers.city", "sales.orders.status"], id: ["sales.customers.id", "sales.orders.order_id"],
  });
});

test("WITH applies to every operand of a set operation", () => {
  assert.deepEqual(L("WITH a AS (SELECT city FROM sales.customers) SELECT city FROM a UNION ALL SELECT city FROM a"), { city: ["sales.customers.city"] });
});

test("CTE chains, derived tables and scalar subqueries are followed", () => {
  assert.deepEqual(L(`WITH t AS (SELECT customer_id, SUM(amount) AS total FROM sales.orders GROUP BY 1),
      u AS (SELECT customer_id AS cid, total * 2 AS t2 FROM t)
    SELECT d.cid, (SELECT MAX(t2) FROM u) AS top FROM (SELECT cid FROM u) AS d`), {
    cid: ["sales.orders.customer_id"], top: ["sales.orders.amount"],
  });
});

test("correlated subqueries read outer columns", () => {
  assert.deepEqual(L("SELECT (SELECT COUNT(*) FROM sales.orders o WHERE o.customer_id = c.id) AS n, (SELECT c.city) AS city FROM sales.customers c"), {
    n: [], city: ["sales.customers.city"],
  });
});

test("UNNEST, array paths and WITH OFFSET derive from the array", () => {
  assert.deepEqual(L("SELECT w, i FROM sales.customers c, UNNEST(SPLIT(c.full_name, ' ')) AS w WITH OFFSET AS i"), {
    w: ["sales.customers.full_name"], i: ["sales.customers.full_name"],
  });
  assert.deepEqual(L("SELECT x FROM UNNEST([1, 2, 3]) AS x"), { x: [] });
});

test("STRUCT and ARRAY constructors and field access keep sources", () => {
  assert.deepEqual(L("SELECT STRUCT(city AS c, id) AS s, [city, full_name] AS a, STRUCT(city AS c).c AS f FROM sales.customers"), {
    s: ["sales.customers.city", "sales.customers.id"], a: ["sales.customers.city", "sales.customers.full_name"], f: ["sales.customers.city"],
  });
});

test("whole-row values read every column of the row", () => {
  for (const sql of ["SELECT TO_JSON_STRING(o) AS j FROM sales.orders o", "SELECT o FROM sales.orders o", "SELECT AS VALUE o FROM sales.orders o"]) {
    const srcs = run(sql).outputs[0]!.sources.map((s) => s.column).sort();
    assert.deepEqual(srcs, ["amount", "created_at", "customer_id", "order_id", "status"], sql);
  }
});

test("unnamed expressions get BigQuery's f0_, f1_ names", () => {
  assert.deepEqual(run("SELECT COUNT(*), MAX(amount), status FROM sales.orders GROUP BY status").outputs.map((o) => o.name), ["f0_", "f1_", "status"]);
});

test("date parts and interval units are not columns", () => {
  const a = L("SELECT DATE_TRUNC(signup_date, MONTH) AS m, EXTRACT(YEAR FROM signup_date) AS y, DATE_ADD(signup_date, INTERVAL 1 DAY) AS d, LAST_DAY(signup_date, WEEK(MONDAY)) AS w FROM sales.customers");
  for (const k of ["m", "y", "d", "w"]) assert.deepEqual(a[k], ["sales.customers.signup_date"]);
});

test("query parameters and literals carry no sources", () => {
  assert.deepEqual(L("SELECT @p AS a, 'x' AS b, DATE '2020-01-01' AS c FROM sales.orders WHERE status = @status"), { a: [], b: [], c: [] });
});

test("harmless analytics queries touch no sensitive column", () => {
  const harmless = [
    "SELECT city, COUNT(*) AS customers FROM sales.customers GROUP BY city ORDER BY customers DESC",
    "SELECT c.city, SUM(o.amount) AS revenue FROM sales.customers c JOIN sales.orders o ON o.customer_id = c.id WHERE o.status = 'paid' GROUP BY c.city",
    "SELECT DATE_TRUNC(DATE(created_at), MONTH) AS month, SUM(amount) AS revenue FROM sales.orders GROUP BY 1 ORDER BY 1",
    "SELECT department, AVG(salary) AS avg_salary FROM hr.employees GROUP BY department HAVING COUNT(*) > 2",
    "SELECT customer_id, amount, ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY created_at DESC) AS rn FROM sales.orders QUALIFY rn = 1",
    "WITH m AS (SELECT customer_id, COUNT(*) AS n FROM sales.orders GROUP BY 1) SELECT c.city, AVG(m.n) AS avg_orders FROM m JOIN sales.customers c ON c.id = m.customer_id GROUP BY 1",
    "SELECT * EXCEPT (ssn, card_number, email) FROM sales.customers WHERE signup_date >= '2023-01-01' LIMIT 10",
  ];
  for (const sql of harmless) {
    const a = run(sql);
    for (const o of a.outputs) for (const s of o.sources) assert.ok(!SENSITIVE.has(`${s.table}.${s.column}`), `${sql}: ${o.name} <- ${s.column}`);
    for (const u of a.uses) assert.ok(!SENSITIVE.has(`${u.column.table}.${u.column.column}`), `${sql}: ${u.construct} ${u.column.column}`);
  }
});

test("unknown, ambiguous and unresolvable names are denied", () => {
  const denied = (sql: string, re: RegExp) =>
    assert.throws(() => run(sql), (e: unknown) => e instanceof JitError && e.code === "denied" && re.test(e.message), sql);
  denied("SELECT nope FROM sales.customers", /unknown column nope/);
  denied("SELECT email FROM sales.customers, hr.employees", /ambiguous/);
  denied("SELECT x.* FROM sales.customers c", /x\.\*/);
  denied("SELECT 1 FROM sales.customers NATURAL JOIN sales.orders", /./);
  denied("SELECT * FROM sales.customers GROUP BY 9", /./);
});
