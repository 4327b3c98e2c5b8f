/** `--json FIELDS` and `--jq EXPR` (gh's conventions) through the jit binary against a real dev broker. */
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { before, describe, test } from "node:test";
import { createContext } from "../../src/cli/context.ts";
import { makeIO } from "../../src/cli/io.ts";
import { splitJsonFlag } from "../../src/cli/json-output.ts";
import { buildProgram } from "../../src/cli/program.ts";
import { runJit } from "../e2e/harness.ts";
import { aliceWithGrant } from "./granted-broker.ts";

const io = makeIO({ stdout: new PassThrough(), stderr: new PassThrough(), stdin: new PassThrough(), env: {}, isStdoutTTY: false, isStderrTTY: false, isStdinTTY: false });
const program = buildProgram(createContext(io, "0.0.0"));

test("the word after --json is a field list only where it cannot be the command's own argument", () => {
  const split = (...argv: string[]) => splitJsonFlag(program, argv);
  assert.deepEqual(split("requests", "--json", "id,state"), ["requests", "--json", "--json-fields", "id,state"]);
  assert.deepEqual(split("grants", "--json=id"), ["grants", "--json", "--json-fields", "id"]);
  assert.deepEqual(split("--json", "grants"), ["--json", "grants"], "a command name is a command");
  assert.deepEqual(split("--json", "id", "grants"), ["--json", "--json-fields", "id", "grants"]);
  assert.deepEqual(split("tables", "--json", "demo.sales"), ["tables", "--json", "demo.sales"], "a dataset is an argument");
  assert.deepEqual(split("config", "get", "--json", "broker"), ["config", "get", "--json", "broker"], "a setting's name is an argument");
  assert.deepEqual(split("tables", "--json", "name", "demo.sales"), ["tables", "--json", "--json-fields", "name", "demo.sales"], "a known field");
  assert.deepEqual(split("query", "--json", "SELECT 1"), ["query", "--json", "SELECT 1"]);
  assert.deepEqual(split("proxy", "--", "tool", "--json=x"), ["proxy", "--", "tool", "--json=x"], "nothing after -- is jit's");
});

describe("--json FIELDS and --jq through the binary", { timeout: 120_000 }, () => {
  const fixture = aliceWithGrant("json fields test");
  let alice: NodeJS.ProcessEnv;
  before(() => {
    alice = fixture.env();
  });

  test("--json alone prints everything; --json id,state only those fields of each record, in that order", async () => {
    const all = JSON.parse((await runJit(["grants", "--json"], alice)).stdout) as { grants: Array<Record<string, unknown>> };
    assert.ok(Object.keys(all.grants[0]!).length > 5);
    const some = await runJit(["grants", "--json", "state,id"], alice);
    assert.equal(some.code, 0, some.stderr);
    assert.deepEqual(JSON.parse(some.stdout), { grants: [{ state: "active", id: all.grants[0]!.id }] });
    const q = await runJit(["query", "--json", "row_count,rows", "SELECT COUNT(*) AS n FROM demo.sales.orders"], alice);
    assert.equal(q.code, 0, q.stderr);
    assert.deepEqual(Object.keys(JSON.parse(q.stdout)), ["row_count", "rows"]);
    // Arguments after --json are still arguments.
    const t = await runJit(["tables", "--json", "demo.sales"], alice);
    assert.equal(t.code, 0, t.stderr);
    assert.ok((JSON.parse(t.stdout) as { tables: unknown[] }).tables.length > 0);
  });

  test("an unknown field is exit 2 naming the available ones", async () => {
    const r = await runJit(["grants", "--json", "id,bogus"], alice);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, "");
    const err = JSON.parse(r.stderr) as { error: { code: string; message: string; available: string[] } };
    assert.equal(err.error.code, "usage");
    assert.match(err.error.message, /unknown JSON field "bogus" for jit grants/);
    assert.ok(err.error.available.includes("expires_at"));
  });

  test("a command that changes something checks its fields and its jq before it acts", async () => {
    const count = async () => (JSON.parse((await runJit(["requests", "--mine", "--json"], alice)).stdout) as { requests: unknown[] }).requests.length;
    const before = await count();
    const bad = await runJit(["request", "demo.sales", "--reason", "x", "--json", "id,nope"], alice);
    assert.equal(bad.code, 2, bad.stderr);
    const badJq = await runJit(["request", "demo.sales", "--reason", "x", "--jq", ".request.id |"], alice);
    assert.equal(badJq.code, 2, badJq.stderr);
    assert.equal(await count(), before, "no request was filed");
  });

  test("--jq filters the JSON (implies --json): strings raw, other values as JSON lines", async () => {
    const ids = await runJit(["grants", "--jq", ".grants[].state"], alice);
    assert.equal(ids.code, 0, ids.stderr);
    assert.equal(ids.stdout, "active\n");
    const objs = await runJit(["grants", "--json", "id", "--jq", ".grants[]"], alice);
    assert.equal(objs.code, 0, objs.stderr);
    assert.match(objs.stdout, /^\{"id":"\d+"\}\n$/);
    const n = await runJit(["query", "--jq", ".rows[0].n", "SELECT COUNT(*) AS n FROM demo.sales.orders"], alice);
    assert.equal(n.stdout, "6000\n", n.stderr);
  });

  test("a jq syntax error is exit 2 with jq's line, column and caret; runtime errors are named; --jq with --format csv contradicts", async () => {
    const r = await runJit(["grants", "--jq", ".grants["], alice);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^error: --jq: syntax error.*line 1, column 8\n {4}\.grants\[\n {11}\^\n/);
    const boom = await runJit(["grants", "--jq", 'error("boom")'], alice);
    assert.equal(boom.code, 2);
    assert.match(boom.stderr, /--jq: boom/);
    const csv = await runJit(["query", "--jq", ".rows", "--format", "csv", "SELECT 1 AS n"], alice);
    assert.equal(csv.code, 2);
    assert.match(csv.stderr, /--jq and --format csv contradict/);
  });

  test("a command without JSON output refuses fields and --jq", async () => {
    const r = await runJit(["completion", "bash", "--jq", "."], alice);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /jit completion has no JSON output/);
  });
});
