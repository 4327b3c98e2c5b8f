/**
 * Access before knowledge on every path that takes SQL: a person without a rule (or without a grant) for a dataset
 * gets the same answer for tables and columns that exist and ones that do not, and statement-kind guardrails are
 * decided from the SQL alone, before any table is looked up.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { devSignIn } from "../../src/demo/sign-in.ts";
import { type DevBroker, startDevBroker } from "../../src/broker/dev.ts";

let broker: DevBroker;
let dir: string;
const tokens = new Map<string, string>();
let lookups = 0;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "jit-abk-"));
  broker = await startDevBroker({ port: 0, dataDir: dir });
  for (const u of ["alice", "carol"]) tokens.set(u, (await devSignIn(broker.url, broker.issuer, u)).idToken);
  // Count every metadata lookup the broker makes of the warehouse: a refused probe must make none.
  const w = broker.deps.warehouse;
  const schema = w.tableSchema.bind(w);
  const list = w.listTables.bind(w);
  w.tableSchema = (t) => (lookups++, schema(t));
  w.listTables = (d) => (lookups++, list(d));
});
after(async () => {
  await broker?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function post(user: string, path: string, body: unknown) {
  const res = await fetch(`${broker.url}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${tokens.get(user)}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, text: await res.text() };
}

const HR_PROBES = [
  "SELECT employee_id FROM demo.hr.employees",
  "SELECT no_such_column FROM demo.hr.employees",
  "SELECT x FROM demo.hr.no_such_table",
  "SELECT ssn, salary FROM demo.hr.employees WHERE salary > 100000",
];

test("carol (no rule for demo.hr): the same refusal for existing and missing tables and columns, with nothing looked up", async () => {
  const before = lookups;
  const answers = [];
  for (const sql of HR_PROBES) {
    for (const dry of [false, true]) answers.push(await post("carol", "/v1/query", { sql, dry_run: dry }));
  }
  for (const a of answers) {
    assert.equal(a.status, 403, a.text);
    assert.equal(a.text, answers[0]!.text, "every probe answers alike");
  }
  const err = JSON.parse(answers[0]!.text).error;
  assert.equal(err.code, "denied");
  assert.match(err.message, /no rule of the policy gives you access to demo\.hr/);
  assert.doesNotMatch(answers[0]!.text, /employee_id|salary|ssn|data-owners|analysts|masked/, "no column, mask or group is named");
  assert.equal(lookups, before, "no schema or table list was read for a refused probe");
});

test("carol's own policy explain of demo.hr says only that no rule gives access, and ignores groups she claims", async () => {
  const answers = [];
  for (const sql of HR_PROBES) {
    answers.push(await post("carol", "/v1/policy/explain", { as: "carol", groups: [], sql }));
  }
  for (const a of answers) {
    assert.equal(a.status, 200, a.text);
    const statement = JSON.parse(a.text).statement;
    assert.equal(statement.allowed, false);
    assert.match(statement.refused_because, /no rule of the policy gives you access to demo\.hr/);
    assert.doesNotMatch(JSON.stringify(statement), /employee_id|salary|ssn|bytes/);
  }
  const claimed = await post("carol", "/v1/policy/explain", { as: "carol", groups: ["analysts", "data-owners"], sql: HR_PROBES[0] });
  assert.equal(claimed.status, 403, claimed.text);
  assert.match(JSON.parse(claimed.text).error.message, /other groups than their own/);
});

test("alice without a grant yet: 'no active grant' for existing and missing columns and tables alike", async () => {
  const probes = ["SELECT order_id FROM demo.sales.orders", "SELECT id FROM demo.sales.orders", "SELECT x FROM demo.sales.nosuchtable"];
  const answers = await Promise.all(probes.map((sql) => post("alice", "/v1/query", { sql })));
  for (const a of answers) {
    assert.equal(a.status, 403, a.text);
    assert.equal(a.text, answers[0]!.text);
  }
  assert.match(JSON.parse(answers[0]!.text).error.message, /no active grant covers demo\.sales/);
});

test("statement-kind guardrails come from the SQL alone: DDL and DML on missing tables are refused as such", async () => {
  const before = lookups;
  for (const [sql, kind] of [
    ["DROP TABLE demo.sales.nope", "ddl"],
    ["CREATE TABLE demo.sales.copy AS SELECT * FROM demo.sales.customers", "ddl"],
    ["CREATE MATERIALIZED VIEW demo.sales.v AS SELECT id FROM demo.sales.nope", "ddl"],
    ["ALTER TABLE demo.sales.nope ADD COLUMN x INT64", "ddl"],
    ["TRUNCATE TABLE demo.sales.nope", "ddl"],
    ["INSERT INTO demo.sales.nope (x) VALUES (1)", "dml"],
    ["UPDATE demo.sales.nope SET x = 1 WHERE TRUE", "dml"],
    ["DELETE FROM demo.sales.nope WHERE TRUE", "dml"],
    ["MERGE demo.sales.nope t USING demo.sales.orders s ON t.id = s.order_id WHEN MATCHED THEN DELETE", "dml"],
  ] as const) {
    const a = await post("alice", "/v1/query", { sql });
    assert.equal(a.status, 403, `${sql}: ${a.text}`);
    assert.equal(JSON.parse(a.text).error.statement_kind, kind, sql);
  }
  assert.equal(lookups, before);
});
