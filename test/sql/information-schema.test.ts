import { test } from "node:test";
import assert from "node:assert/strict";
import { referencedSources, referencedTables } from "../../src/sql/analyze.ts";
import { INFO_SCHEMA_VIEWS, infoSchemaFields } from "../../src/sql/information-schema.ts";
import { JitError } from "../../src/errors.ts";
import { lineage, run, uses } from "./demo-schemas.ts";

const names = (sql: string) => referencedTables(sql, "demo").map((t) => `${t.project}.${t.dataset}.${t.table}`).sort();
const denied = (fn: () => unknown, re: RegExp, label: string) =>
  assert.throws(fn, (e: unknown) => e instanceof JitError && e.code === "denied" && re.test(e.message), label);

test("a dataset's INFORMATION_SCHEMA view resolves to that dataset, in every spelling", () => {
  for (const from of [
    "demo.sales.INFORMATION_SCHEMA.COLUMNS", "`demo.sales.INFORMATION_SCHEMA.COLUMNS`", "`demo.sales`.INFORMATION_SCHEMA.COLUMNS",
    "sales.INFORMATION_SCHEMA.COLUMNS", "`sales`.information_schema.columns", "`demo`.`sales`.`INFORMATION_SCHEMA`.`COLUMNS`",
  ]) {
    const sql = `SELECT column_name FROM ${from}`;
    assert.deepEqual(names(sql), ["demo.sales.information_schema.columns"], from);
    assert.deepEqual(referencedSources(sql, "demo"), { tables: [], wildcards: [], infoSchema: [{ project: "demo", dataset: "sales", view: "COLUMNS" }] }, from);
  }
  assert.deepEqual(names("SELECT 1 FROM `other-proj.hr.INFORMATION_SCHEMA.TABLES` JOIN sales.customers ON TRUE"), [
    "demo.sales.customers", "other-proj.hr.information_schema.tables",
  ]);
});

test("metadata columns derive from no source column and are not inference uses", () => {
  const a = run(`SELECT table_name, column_name, data_type FROM demo.sales.INFORMATION_SCHEMA.COLUMNS
    WHERE table_name = 'customers' AND column_name LIKE '%ssn%' ORDER BY ordinal_position`);
  assert.deepEqual(lineage(a), { table_name: [], column_name: [], data_type: [] });
  assert.deepEqual(uses(a), []);
  assert.deepEqual(a.outputs.map((o) => o.direct), [false, false, false]);
  assert.deepEqual(a.tables, [{ project: "demo", dataset: "sales", table: "information_schema.columns" }]);
});

test("every supported view has its documented columns; * expands to them", () => {
  assert.deepEqual([...INFO_SCHEMA_VIEWS].sort(), ["COLUMNS", "COLUMN_FIELD_PATHS", "PARTITIONS", "TABLES", "TABLE_OPTIONS", "VIEWS"]);
  for (const view of INFO_SCHEMA_VIEWS) {
    const out = run(`SELECT * FROM sales.INFORMATION_SCHEMA.${view}`).outputs;
    assert.deepEqual(out.map((o) => o.name), infoSchemaFields(view).map((f) => f.name), view);
    assert.deepEqual(out.slice(0, 3).map((o) => o.name), ["table_catalog", "table_schema", "table_name"], view);
    assert.ok(out.every((o) => o.sources.length === 0), view);
  }
  assert.deepEqual(run("SELECT * FROM sales.INFORMATION_SCHEMA.VIEWS").outputs.map((o) => o.name), [
    "table_catalog", "table_schema", "table_name", "view_definition", "check_option", "use_standard_sql",
  ]);
});

test("view_definition and option_value are ordinary strings (the broker's content detectors scan them)", () => {
  assert.deepEqual(lineage(run("SELECT v.view_definition, o.option_value FROM sales.INFORMATION_SCHEMA.VIEWS v JOIN sales.INFORMATION_SCHEMA.TABLE_OPTIONS o USING (table_name)")), {
    view_definition: [], option_value: [],
  });
});

test("real tables next to a metadata view keep their lineage and uses", () => {
  const a = run("SELECT c.column_name, x.ssn FROM sales.INFORMATION_SCHEMA.COLUMNS c JOIN sales.customers x ON x.ssn = c.column_name");
  assert.deepEqual(lineage(a), { column_name: [], ssn: ["sales.customers.ssn"] });
  assert.deepEqual(uses(a), ["JOIN ON: sales.customers.ssn", "operator =: sales.customers.ssn"]);
  assert.deepEqual(lineage(run("SELECT COUNT(*) AS n FROM sales.customers WHERE 'ssn' IN (SELECT column_name FROM sales.INFORMATION_SCHEMA.COLUMNS)")), { n: [] });
});

test("a column the view does not have is unknown", () => {
  denied(() => run("SELECT secret FROM sales.INFORMATION_SCHEMA.TABLES"), /unknown column secret/, "secret");
});

test("region- and project-level views are refused, saying why", () => {
  const cases: Array<[string, RegExp]> = [
    ["`region-us`.INFORMATION_SCHEMA.JOBS", /other people's queries/],
    ["region-us.INFORMATION_SCHEMA.JOBS_BY_PROJECT", /other people's queries/],
    ["`demo.region-us.INFORMATION_SCHEMA.JOBS_BY_USER`", /other people's queries/],
    ["`region-eu`.INFORMATION_SCHEMA.SESSIONS_BY_PROJECT", /other people's queries and sessions/],
    ["sales.INFORMATION_SCHEMA.JOBS", /other people's queries/],
    ["`region-us`.INFORMATION_SCHEMA.TABLES", /region-level INFORMATION_SCHEMA views cover every dataset/],
    ["`demo`.`region-us`.INFORMATION_SCHEMA.COLUMNS", /region-level/],
    ["`region-us`.INFORMATION_SCHEMA.OBJECT_PRIVILEGES", /who may access what/],
    ["demo.INFORMATION_SCHEMA.SCHEMATA", /project-level view/],
    ["`region-us`.INFORMATION_SCHEMA.SCHEMATA", /region-level/],
    ["INFORMATION_SCHEMA.TABLES", /must be qualified with a dataset/],
    ["sales.INFORMATION_SCHEMA.ROUTINES", /no schema for this view/],
    ["a.b.c.INFORMATION_SCHEMA.TABLES", /not supported/],
    ["sales.INFORMATION_SCHEMA", /not an INFORMATION_SCHEMA view/],
  ];
  for (const [from, re] of cases) {
    const sql = `SELECT * FROM ${from}`;
    denied(() => referencedTables(sql, "demo"), re, `referencedTables ${from}`);
    denied(() => run(sql), re, `analyze ${from}`);
  }
});

test("a refused view is refused wherever it appears (subquery, CTE, join)", () => {
  for (const sql of [
    "SELECT id FROM sales.customers WHERE EXISTS (SELECT 1 FROM `region-us`.INFORMATION_SCHEMA.JOBS)",
    "WITH j AS (SELECT query FROM `region-us`.INFORMATION_SCHEMA.JOBS) SELECT * FROM j",
    "SELECT 1 FROM sales.customers JOIN `region-us`.INFORMATION_SCHEMA.JOBS_BY_PROJECT ON TRUE",
  ]) {
    denied(() => referencedTables(sql, "demo"), /other people's queries/, sql);
  }
});
