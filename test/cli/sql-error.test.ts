/** Query errors that say where: a caret under a syntax error's spot, and the tables a person may see for a missing one. */
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { closest, missingTable, pointAt } from "../../src/cli/sql-error.ts";
import { parseSql } from "../../src/sql/parse.ts";
import { JitError } from "../../src/errors.ts";
import { runJit } from "../e2e/harness.ts";
import { aliceWithGrant } from "./granted-broker.ts";

test("the parser's error carries the line and column (1-based) of the spot", () => {
  let err: unknown;
  try {
    parseSql("SELECT city,\n  FROM demo.sales.customers\n WHERE x = = 1");
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof JitError);
  assert.deepEqual(err.details.position, { line: 3, column: 12 });
  assert.equal(err.details.column, undefined, "details.column is the name of a masked column elsewhere, never a position");
  assert.equal(err.details.reason, "unanalysable");
  assert.match(err.message, /at line 3, column 12$/);
});

test("pointAt: the line with a caret under the column; tabs count as one; long lines are windowed; wide characters count twice", () => {
  assert.equal(pointAt("SELECT a FROM t WHERE x = = 1", 1, 27), "  1 | SELECT a FROM t WHERE x = = 1\n    |                           ^");
  assert.equal(pointAt("a\n\tb = = c", 2, 6), "  2 |  b = = c\n    |      ^");
  const long = `SELECT ${"x, ".repeat(100)}= FROM t`;
  const shown = pointAt(long, 1, long.indexOf("=") + 1)!;
  const [text, caret] = shown.split("\n") as [string, string];
  assert.ok(text.length < 120, text);
  assert.equal(text[caret.indexOf("^")], "=");
  assert.equal(pointAt("SELECT '東京' = = 1", 1, 15), `  1 | SELECT '東京' = = 1\n    | ${" ".repeat(16)}^`);
  assert.equal(pointAt("SELECT 1", 3, 1), undefined, "a line that is not there shows nothing");
});

test("missing tables in DuckDB's and BigQuery's words; did-you-mean only for near names", () => {
  assert.deepEqual(missingTable("Not found: Table demo.sales.custmers"), { dataset: "demo.sales", table: "custmers" });
  assert.deepEqual(missingTable("Not found: Table my-proj:sales.custmers was not found in location US"), { dataset: "my-proj.sales", table: "custmers" });
  assert.equal(closest("custmers", ["customers", "orders"]), "customers");
  assert.equal(closest("zzzzzz", ["customers", "orders"]), undefined);
});

describe("through the binary", { timeout: 120_000 }, () => {
  const fixture = aliceWithGrant("sql errors test");
  let alice: NodeJS.ProcessEnv;
  before(() => {
    alice = fixture.env();
  });

  test("a syntax error prints the statement's line with a caret under the spot; --json carries the position", async () => {
    const sql = "SELECT city,\n  FROM demo.sales.customers WHERE";
    const r = await runJit(["query", sql], alice);
    assert.equal(r.code, 4);
    assert.match(r.stderr, /^error: the broker cannot analyse this SQL: Syntax Error: Unexpected end of input at line 2, column 34\n {2}2 \| {3}FROM demo\.sales\.customers WHERE\n {4}\| {34}\^\nhint: fix the statement near line 2, column 34/);
    const j = await runJit(["query", "--json", "SELECT a FROM demo.sales.customers WHERE x = = 1"], alice);
    const err = JSON.parse(j.stderr) as { error: Record<string, unknown> };
    assert.deepEqual(err.error.position, { line: 1, column: 46 });
    assert.doesNotMatch(String(err.error.message), /\^/, "no excerpt inside the JSON message");
  });

  test("a missing table names the tables the person may see in that dataset, and the nearest one", async () => {
    const r = await runJit(["query", "SELECT city FROM demo.sales.custmers"], alice);
    assert.equal(r.code, 6);
    assert.match(r.stderr, /error: Not found: Table demo\.sales\.custmers\nhint: did you mean demo\.sales\.customers\? demo\.sales has: customers, orders \(jit tables demo\.sales\)/);
    const j = await runJit(["query", "--json", "SELECT city FROM demo.sales.custmers"], alice);
    assert.equal((JSON.parse(j.stderr) as { error: { did_you_mean: string } }).error.did_you_mean, "demo.sales.customers");
  });

  test("a dataset the person may not use is refused by policy before any table is looked up (nothing named)", async () => {
    const r = await runJit(["query", "SELECT x FROM demo.secret.t"], alice);
    assert.equal(r.code, 4);
    assert.doesNotMatch(r.stderr, /has:/);
  });
});
