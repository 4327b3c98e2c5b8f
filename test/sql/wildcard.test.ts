import { test } from "node:test";
import assert from "node:assert/strict";
import { analyze, expandWildcard, referencedSources, referencedTables } from "../../src/sql/analyze.ts";
import { JitError } from "../../src/errors.ts";
import type { Analysis } from "../../src/sql/types.ts";
import type { Field } from "../../src/warehouse/types.ts";
import { lineage, schemas, uses } from "./demo-schemas.ts";

const f = (name: string, type: Field["type"] = "STRING"): Field => ({ name, type });
const D1 = "demo.sales.events_20240101";
const D2 = "demo.sales.events_20240102";
const OLD = "demo.sales.events_old";

// Three shards with drifting schemas: D2 adds `channel`, OLD has only event_id and a column of its own.
const SCHEMAS = new Map([
  ...schemas,
  [D1, [f("event_id", "INT64"), f("user_id", "INT64"), f("ssn"), f("amount", "NUMERIC")]],
  [D2, [f("event_id", "INT64"), f("user_id", "INT64"), f("ssn"), f("amount", "NUMERIC"), f("channel")]],
  [OLD, [f("event_id", "INT64"), f("legacy_code")]],
]);
const WILDCARDS = new Map([
  ["demo.sales.events_*", [D1, D2, OLD]],
  ["demo.sales.events_2024*", [D1, D2]],
  ["demo.sales.nothing_*", []],
]);

const run = (sql: string, wildcards = WILDCARDS): Analysis => analyze(sql, { defaultProject: "demo", schemas: SCHEMAS, wildcards });
const denied = (fn: () => unknown, re: RegExp, label: string) =>
  assert.throws(fn, (e: unknown) => e instanceof JitError && e.code === "denied" && re.test(e.message), label);

test("referencedSources lists wildcards apart from tables; referencedTables keeps their dataset for the grant check", () => {
  const sql = "SELECT c.city FROM `demo.sales.events_2024*` e JOIN sales.customers c ON c.id = e.user_id, `other.logs.app_*`";
  assert.deepEqual(referencedSources(sql, "demo"), {
    tables: [{ project: "demo", dataset: "sales", table: "customers" }],
    wildcards: [
      { project: "demo", dataset: "sales", prefix: "events_2024", key: "demo.sales.events_2024*" },
      { project: "other", dataset: "logs", prefix: "app_", key: "other.logs.app_*" },
    ],
    infoSchema: [],
  });
  const names = referencedTables(sql, "demo").map((t) => `${t.project}.${t.dataset}.${t.table}`).sort();
  assert.deepEqual(names, ["demo.sales.customers", "demo.sales.events_2024*", "other.logs.app_*"]);
});

test("every backtick form and the default project name the same wildcard, lower-cased", () => {
  for (const from of ["`demo.sales.events_*`", "`sales.events_*`", "demo.sales.`events_*`", "`demo`.`sales`.`EVENTS_*`", "`demo.sales`.`events_*`"]) {
    assert.deepEqual(referencedSources(`SELECT 1 FROM ${from}`, "demo").wildcards.map((w) => w.key), ["demo.sales.events_*"], from);
  }
});

test("expandWildcard keeps the dataset's tables that start with the prefix, in their own case", () => {
  const [w] = referencedSources("SELECT 1 FROM `sales.events_*`", "demo").wildcards;
  assert.deepEqual(expandWildcard(w!, ["customers", "events_20240101", "Events_X", "events", "my_events_1"]), [
    { project: "demo", dataset: "sales", table: "events_20240101" },
    { project: "demo", dataset: "sales", table: "Events_X" },
  ]);
  const [all] = referencedSources("SELECT 1 FROM `sales.*`", "demo").wildcards;
  assert.equal(expandWildcard(all!, ["a", "b"]).length, 2);
});

test("a column read through a wildcard derives from that column of every match that has it", () => {
  const a = run("SELECT ssn, channel, e.amount + 1 AS a2 FROM `demo.sales.events_*` e");
  assert.deepEqual(a.outputs.map((o) => o.sources.map((s) => `${s.table}.${s.column}`)), [
    [`${D1}.ssn`, `${D2}.ssn`],
    [`${D2}.channel`],
    [`${D1}.amount`, `${D2}.amount`],
  ]);
  // Still the sensitive t.ssn of each shard: the policy's rules on those tables apply to the output.
  assert.deepEqual(a.outputs.map((o) => o.direct), [true, true, false]);
  assert.deepEqual(a.tables.map((t) => t.table).sort(), ["events_20240101", "events_20240102", "events_old"]);
});

test("lineage through a wildcard survives CTEs, subqueries and set operations", () => {
  const l = lineage(run(`WITH w AS (SELECT user_id, ssn FROM \`sales.events_2024*\`)
    SELECT ssn FROM w UNION ALL SELECT (SELECT MAX(legacy_code) FROM \`sales.events_*\`)`));
  assert.deepEqual(l, { ssn: ["sales.events_20240101.ssn", "sales.events_20240102.ssn", "sales.events_old.legacy_code"] });
});

test("_TABLE_SUFFIX derives from nothing, is usable anywhere, and is not part of *", () => {
  const a = run("SELECT _TABLE_SUFFIX AS day, e._table_suffix AS d2, COUNT(*) AS n FROM `sales.events_*` e WHERE _TABLE_SUFFIX BETWEEN '20240101' AND '20240131' GROUP BY 1, 2 ORDER BY _TABLE_SUFFIX");
  assert.deepEqual(lineage(a), { day: [], d2: [], n: [] });
  assert.deepEqual(uses(a), []);
  assert.deepEqual(a.outputs.map((o) => o.direct), [false, false, false]);
  assert.ok(!run("SELECT * FROM `sales.events_*`").outputs.some((o) => o.name.toLowerCase() === "_table_suffix"));
  assert.deepEqual(lineage(run("SELECT x FROM (SELECT _TABLE_SUFFIX AS x FROM `sales.events_*`)")), { x: [] });
});

test("_TABLE_SUFFIX exists only on wildcards, and two wildcards make the bare name ambiguous", () => {
  denied(() => run("SELECT _TABLE_SUFFIX FROM sales.orders"), /unknown column _TABLE_SUFFIX/, "plain table");
  denied(() => run("SELECT _TABLE_SUFFIX FROM `sales.events_2024*` a, `sales.events_*` b"), /ambiguous/, "two wildcards");
  assert.deepEqual(lineage(run("SELECT a._TABLE_SUFFIX AS s FROM `sales.events_2024*` a, `sales.events_*` b")), { s: [] });
});

test("* expands to the union of the matches' columns, first seen first", () => {
  const a = run("SELECT * FROM `sales.events_*`");
  assert.deepEqual(a.outputs.map((o) => o.name), ["event_id", "user_id", "ssn", "amount", "channel", "legacy_code"]);
  assert.deepEqual(lineage(a).event_id, ["sales.events_20240101.event_id", "sales.events_20240102.event_id", "sales.events_old.event_id"]);
  assert.deepEqual(lineage(a).legacy_code, ["sales.events_old.legacy_code"]);
  assert.ok(a.outputs.map((o) => o.direct).every(Boolean));
  assert.deepEqual(run("SELECT e.* EXCEPT (ssn) FROM `sales.events_2024*` e").outputs.map((o) => o.name), ["event_id", "user_id", "amount", "channel"]);
});

test("a column no match has is unknown; a column of only excluded shards too", () => {
  denied(() => run("SELECT nope FROM `sales.events_*`"), /unknown column nope/, "nope");
  denied(() => run("SELECT legacy_code FROM `sales.events_2024*`"), /unknown column legacy_code/, "legacy_code");
});

test("inference uses through a wildcard name the column of every match", () => {
  const cases: Array<[string, string]> = [
    ["SELECT event_id FROM `sales.events_2024*` WHERE ssn LIKE '1%'", "WHERE"],
    ["SELECT COUNT(*) AS n FROM `sales.events_2024*` GROUP BY ssn", "GROUP BY"],
    ["SELECT c.city FROM `sales.events_2024*` e JOIN sales.customers c ON c.ssn = e.ssn", "JOIN ON"],
    ["SELECT event_id FROM `sales.events_2024*` ORDER BY ssn", "ORDER BY"],
    ["SELECT event_id FROM `sales.events_2024*` WHERE _TABLE_SUFFIX > '0' AND ssn = '1'", "WHERE"],
  ];
  for (const [sql, clause] of cases) {
    const u = uses(run(sql));
    for (const t of ["events_20240101", "events_20240102"]) assert.ok(u.includes(`${clause}: sales.${t}.ssn`), `${sql}: ${JSON.stringify(u)}`);
  }
});

test("a wildcard that matches no table, or that the caller did not expand, is denied", () => {
  denied(() => run("SELECT * FROM `sales.nothing_*`"), /demo\.sales\.nothing_\* matches no table in demo\.sales/, "no match");
  denied(() => run("SELECT * FROM `sales.events_*`", new Map()), /wildcard table demo\.sales\.events_\* was not expanded/, "not expanded");
  denied(() => analyze("SELECT * FROM `sales.events_*`", { defaultProject: "demo", schemas: SCHEMAS }), /not expanded/, "no wildcards option");
});

test("an expansion outside the wildcard, or a match without a schema, is denied", () => {
  denied(() => run("SELECT * FROM `sales.events_2024*`", new Map([["demo.sales.events_2024*", [D1, "demo.sales.customers"]]])), /does not match wildcard/, "outside");
  denied(() => run("SELECT * FROM `sales.events_2024*`", new Map([["demo.sales.events_2024*", [D1, "demo.hr.events_2024x"]]])), /does not match wildcard/, "other dataset");
  denied(() => run("SELECT * FROM `sales.events_2024*`", new Map([["demo.sales.events_2024*", [D1, "demo.sales.events_2024zz"]]])), /no schema for table demo\.sales\.events_2024zz/, "no schema");
});

test("a * anywhere but the end of the table name is denied, by referencedTables and analyze alike", () => {
  for (const from of ["`demo.sales.ev*ents`", "`demo.sales.events_**`", "`demo.sa*.events`", "`de*.sales.events_*`", "`events_*`", "`a.b.c.d*`", "`demo.sales.*x`"]) {
    const sql = `SELECT 1 FROM ${from}`;
    denied(() => referencedTables(sql, "demo"), /not a valid wildcard table/, `referencedTables ${from}`);
    denied(() => run(sql), /not a valid wildcard table/, `analyze ${from}`);
  }
});

test("an unquoted wildcard does not parse; the hint says to quote it", () => {
  assert.throws(() => referencedTables("SELECT 1 FROM demo.sales.events_*", "demo"),
    (e: unknown) => e instanceof JitError && e.code === "denied" && /backticks/.test(e.hint ?? ""));
});
