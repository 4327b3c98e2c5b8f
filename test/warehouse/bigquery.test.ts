import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { OAuth2Client } from "google-auth-library";
import { FakeBigQueryServer, type FakeField } from "../fakes/bigquery-server.ts";
import { openBigQueryWarehouse, type BigQueryConfig } from "../../src/warehouse/bigquery.ts";
import { WarehouseQueryError, type Row, type RunResult } from "../../src/warehouse/types.ts";

process.env.METADATA_SERVER_DETECTION = "none";

const PROJECT = "test-project";
const JOB_PATH = /^\/projects\/test-project\/jobs$/;
const RESULTS_PATH = /^\/projects\/test-project\/queries\//;
const CANCEL_PATH = /^\/projects\/test-project\/jobs\/[^/]+\/cancel$/;

function fakeAuth(token = "test-token"): OAuth2Client {
  const client = new OAuth2Client();
  client.setCredentials({ access_token: token, expiry_date: Date.now() + 3600_000 });
  return client;
}

async function setup(t: TestContext, extra: Partial<BigQueryConfig> = {}) {
  const fake = await FakeBigQueryServer.start();
  t.after(() => fake.close());
  const wh = await openBigQueryWarehouse({ projectId: PROJECT, apiEndpoint: fake.url, authClient: fakeAuth(), retryBaseDelayMs: 5, ...extra });
  return { fake, wh };
}

async function drain(r: RunResult): Promise<{ rows: Row[]; done: Awaited<ReturnType<RunResult["done"]>> }> {
  const rows: Row[] = [];
  for await (const row of r.rows) rows.push(row);
  return { rows, done: await r.done() };
}

async function rejectsWith(p: Promise<unknown>, check: (e: WarehouseQueryError) => void): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof WarehouseQueryError, `expected WarehouseQueryError, got ${String(e)}`);
    check(e);
    return true;
  });
}

const numbers = (n: number) => ({ schema: [{ name: "n", type: "INTEGER" }], rows: Array.from({ length: n }, (_, i) => [String(i)]) });

test("pages through getQueryResults and stops requesting once maxRows rows are out", async (t) => {
  const { fake, wh } = await setup(t);
  fake.pageCap = 3;
  fake.query = () => numbers(20);
  const { rows, done } = await drain(await wh.run("SELECT n FROM t", { maxRows: 7 }));
  assert.deepEqual(rows.map((r) => r.n), [0, 1, 2, 3, 4, 5, 6]);
  assert.equal(done.truncated, true);
  assert.match(done.jobId, /^jit_/);
  const pages = fake.requestsTo("GET", RESULTS_PATH);
  assert.deepEqual(pages.map((p) => [p.query.maxResults, p.query.pageToken]), [["7", undefined], ["4", "p3"], ["1", "p6"]]);
  assert.ok(pages.every((p) => p.query["formatOptions.useInt64Timestamp"] === "true" && p.prefixed));
  assert.ok(pages.every((p) => p.path === `/projects/${PROJECT}/queries/${done.jobId}`));
});

test("a result smaller than maxRows is complete and not truncated; maxRows 0 reads no rows", async (t) => {
  const { fake, wh } = await setup(t);
  fake.pageCap = 2;
  fake.query = () => numbers(5);
  const all = await drain(await wh.run("SELECT n FROM t", { maxRows: 100 }));
  assert.equal(all.rows.length, 5);
  assert.equal(all.done.truncated, false);
  assert.equal(fake.requestsTo("GET", RESULTS_PATH).length, 3);
  const none = await drain(await wh.run("SELECT n FROM t", { maxRows: 0 }));
  assert.deepEqual(none.rows, []);
  assert.equal(none.done.truncated, true);
  assert.equal(fake.requestsTo("GET", RESULTS_PATH).at(-1)!.query.maxResults, "0");
});

test("waits for a running job by long polling, then reports bytes processed", async (t) => {
  const { fake, wh } = await setup(t);
  fake.query = () => ({ ...numbers(1), pollsBeforeDone: 2, totalBytesProcessed: 4096 });
  const { rows, done } = await drain(await wh.run("SELECT 1", { maxRows: 10 }));
  assert.deepEqual(rows, [{ n: 0 }]);
  assert.equal(done.bytesProcessed, 4096);
  assert.equal(fake.requestsTo("GET", RESULTS_PATH).length, 3);
});

const ALL_TYPES: FakeField[] = [
  { name: "i", type: "INTEGER" }, { name: "big", type: "INT64" }, { name: "f", type: "FLOAT" }, { name: "nan", type: "FLOAT64" },
  { name: "inf", type: "FLOAT" }, { name: "num", type: "NUMERIC" }, { name: "bignum", type: "BIGNUMERIC" }, { name: "b", type: "BOOLEAN" },
  { name: "s", type: "STRING" }, { name: "bytes", type: "BYTES" }, { name: "d", type: "DATE" }, { name: "dt", type: "DATETIME" },
  { name: "t", type: "TIME" }, { name: "ts", type: "TIMESTAMP" }, { name: "ts_float", type: "TIMESTAMP" }, { name: "geo", type: "GEOGRAPHY" },
  { name: "j", type: "JSON" }, { name: "iv", type: "INTERVAL" }, { name: "arr", type: "INTEGER", mode: "REPEATED" },
  { name: "rec", type: "RECORD", fields: [{ name: "a", type: "STRING" }, { name: "tags", type: "STRING", mode: "REPEATED" }, { name: "inner", type: "RECORD", fields: [{ name: "x", type: "TIMESTAMP" }] }] },
  { name: "recs", type: "RECORD", mode: "REPEATED", fields: [{ name: "k", type: "STRING" }, { name: "v", type: "NUMERIC" }] },
  { name: "req", type: "INTEGER", mode: "REQUIRED" },
];

test("maps every BigQuery type from f/v rows to SPEC's JSON forms, and the schema to jit fields", async (t) => {
  const { fake, wh } = await setup(t);
  const full = ["42", "9007199254740993", "1.5E10", "NaN", "-Infinity", "123.456789", "1.23456789012345678901234567890123456789", "true", "héllo",
    "AQID", "2024-02-29", "2024-02-29T12:34:56.789", "12:34:56", "1709210096789012", "1.709210096789012E9", "POINT(1 2)", '{"a":[1,2]}',
    "1-2 3 4:5:6.789", [{ v: "1" }, { v: "-2" }], { f: [{ v: "x" }, { v: [{ v: "t1" }] }, { v: { f: [{ v: "0" }] } }] },
    [{ v: { f: [{ v: "k1" }, { v: "1.5" }] } }], "7"];
  const empty: unknown[] = ALL_TYPES.map(() => null);
  empty[18] = [];
  empty[20] = [];
  empty[21] = "-9223372036854775808";
  fake.query = () => ({ schema: ALL_TYPES, rows: [full, empty] });
  const r = await wh.run("SELECT *", { maxRows: 10 });
  assert.deepEqual(r.schema.slice(0, 18).map((f) => f.type), [
    "INT64", "INT64", "FLOAT64", "FLOAT64", "FLOAT64", "NUMERIC", "BIGNUMERIC", "BOOL", "STRING", "BYTES", "DATE", "DATETIME", "TIME",
    "TIMESTAMP", "TIMESTAMP", "GEOGRAPHY", "JSON", "INTERVAL"]);
  assert.deepEqual(r.schema[18], { name: "arr", type: "ARRAY", mode: "REPEATED", fields: [{ name: "element", type: "INT64" }] });
  assert.deepEqual(r.schema[19], { name: "rec", type: "STRUCT", fields: [
    { name: "a", type: "STRING" },
    { name: "tags", type: "ARRAY", mode: "REPEATED", fields: [{ name: "element", type: "STRING" }] },
    { name: "inner", type: "STRUCT", fields: [{ name: "x", type: "TIMESTAMP" }] }] });
  assert.deepEqual(r.schema[20], { name: "recs", type: "ARRAY", mode: "REPEATED", fields: [{ name: "element", type: "STRUCT", fields: [{ name: "k", type: "STRING" }, { name: "v", type: "NUMERIC" }] }] });
  assert.deepEqual(r.schema[21], { name: "req", type: "INT64", mode: "REQUIRED" });
  const { rows } = await drain(r);
  assert.deepEqual(rows[0], {
    i: 42, big: "9007199254740993", f: 15_000_000_000, nan: "NaN", inf: "-Infinity", num: "123.456789",
    bignum: "1.23456789012345678901234567890123456789", b: true, s: "héllo", bytes: "AQID", d: "2024-02-29",
    dt: "2024-02-29T12:34:56.789", t: "12:34:56", ts: "2024-02-29T12:34:56.789012Z", ts_float: "2024-02-29T12:34:56.789012Z",
    geo: "POINT(1 2)", j: '{"a":[1,2]}', iv: "1-2 3 4:5:6.789", arr: [1, -2],
    rec: { a: "x", tags: ["t1"], inner: { x: "1970-01-01T00:00:00Z" } }, recs: [{ k: "k1", v: "1.5" }], req: 7,
  });
  const nulls = Object.fromEntries(ALL_TYPES.map((f) => [f.name, null]));
  assert.deepEqual(rows[1], { ...nulls, arr: [], recs: [], req: "-9223372036854775808" });
});

test("a failed query keeps BigQuery's message and the job id, and is not retried", async (t) => {
  const { fake, wh } = await setup(t);
  fake.query = () => ({ schema: [], rows: [], error: { reason: "invalidQuery", message: "Unrecognized name: nme at [1:8]" } });
  await rejectsWith(wh.run("SELECT nme FROM t", { maxRows: 1 }), (e) => {
    assert.equal(e.message, "Unrecognized name: nme at [1:8]");
    assert.equal(e.reason, "invalidQuery");
    assert.match(e.jobId ?? "", /^jit_/);
    assert.equal(fake.requestsTo("POST", JOB_PATH)[0]!.body.jobReference.jobId, e.jobId);
  });
  assert.equal(fake.requestsTo("GET", RESULTS_PATH).length, 1);
  assert.equal(fake.requestsTo("POST", CANCEL_PATH).length, 0, "a failed job is finished: nothing to cancel");

  fake.query = () => ({ schema: [], rows: [], insertError: { reason: "invalidQuery", message: "Syntax error: Unexpected end of script at [1:7]" } });
  await rejectsWith(wh.run("SELECT", { maxRows: 1 }), (e) => {
    assert.equal(e.message, "Syntax error: Unexpected end of script at [1:7]");
    assert.equal(e.reason, "invalidQuery");
    assert.match(e.jobId ?? "", /^jit_/);
  });
});

test("rate limits and backend errors are retried with the same job id", async (t) => {
  const { fake, wh } = await setup(t);
  fake.query = () => numbers(2);
  fake.inject({ method: "POST", path: JOB_PATH, status: 503, reason: "backendError", message: "Backend error" });
  fake.inject({ method: "GET", path: RESULTS_PATH, status: 403, reason: "rateLimitExceeded", message: "Exceeded rate limits", times: 2 });
  const { rows } = await drain(await wh.run("SELECT n", { maxRows: 10 }));
  assert.equal(rows.length, 2);
  const inserts = fake.requestsTo("POST", JOB_PATH);
  assert.equal(inserts.length, 2);
  assert.equal(inserts[0]!.body.jobReference.jobId, inserts[1]!.body.jobReference.jobId);
  assert.equal(fake.requestsTo("GET", RESULTS_PATH).length, 3);
});

test("an insert whose answer was lost is found again (409 after a retry), not run twice", async (t) => {
  const { fake, wh } = await setup(t);
  fake.query = () => numbers(1);
  fake.inject({ method: "POST", path: JOB_PATH, passThrough: true, status: 500, reason: "backendError", message: "lost answer" });
  const { rows } = await drain(await wh.run("SELECT n", { maxRows: 10 }));
  assert.deepEqual(rows, [{ n: 0 }]);
  assert.equal(fake.jobs.size, 1);
  assert.equal(fake.requestsTo("GET", /\/jobs\/jit_[^/]+$/).length, 1);
});

test("retries give up after a bounded number of attempts", async (t) => {
  const { fake, wh } = await setup(t);
  fake.query = () => numbers(1);
  fake.inject({ method: "GET", path: RESULTS_PATH, status: 500, reason: "backendError", message: "Backend error", times: 100 });
  await rejectsWith(wh.run("SELECT n", { maxRows: 10 }), (e) => assert.equal(e.reason, "backendError"));
  assert.equal(fake.requestsTo("GET", RESULTS_PATH).length, 5);
  assert.equal(fake.requestsTo("POST", CANCEL_PATH).length, 1, "a job in an unknown state is cancelled");
});

test("a query past queryTimeoutMs is cancelled", async (t) => {
  const { fake, wh } = await setup(t, { queryTimeoutMs: 1000 });
  fake.query = () => ({ ...numbers(1), neverCompletes: true });
  const started = Date.now();
  await rejectsWith(wh.run("SELECT slow()", { maxRows: 1 }), (e) => {
    assert.equal(e.reason, "timeout");
    assert.match(e.message, /timed out after 1000 ms/);
    const cancels = fake.requestsTo("POST", CANCEL_PATH);
    assert.equal(cancels.length, 1);
    assert.equal(cancels[0]!.path, `/projects/${PROJECT}/jobs/${e.jobId}/cancel`);
  });
  assert.ok(Date.now() - started < 3000);
  assert.equal(fake.requestsTo("POST", JOB_PATH)[0]!.body.configuration.jobTimeoutMs, "1000");
});

test("the caller's signal (client disconnect) cancels the job, also while paging", async (t) => {
  const { fake, wh } = await setup(t);
  fake.query = () => ({ ...numbers(1), neverCompletes: true });
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 150);
  await rejectsWith(wh.run("SELECT slow()", { maxRows: 1, signal: ac.signal }), (e) => assert.equal(e.reason, "stopped"));
  assert.equal(fake.requestsTo("POST", CANCEL_PATH).length, 1);

  fake.pageCap = 1;
  fake.query = () => numbers(5);
  fake.inject({ method: "GET", path: RESULTS_PATH, hang: true, times: 1 });
  const paging = new AbortController();
  // The first results call hangs: the abort must end the wait without an answer.
  setTimeout(() => paging.abort(), 150);
  await rejectsWith(wh.run("SELECT n", { maxRows: 5, signal: paging.signal }), (e) => assert.equal(e.reason, "stopped"));
});

test("every job carries sanitised labels, maximumBytesBilled as a string, standard SQL and the location", async (t) => {
  const { fake, wh } = await setup(t, { location: "EU" });
  fake.query = () => numbers(1);
  await drain(await wh.run("SELECT n", { maxRows: 1, maxBytesBilled: 10e9, labels: { jit_user: "Alice.Smith@Example.com", jit_audit_id: "01J9Z-ABC", "9lives": "x".repeat(80) } }));
  await drain(await wh.run("SELECT n", { maxRows: 1, maxBytesBilled: 1024, labels: { jit_user: "bob" } }));
  const bodies = fake.requestsTo("POST", JOB_PATH).map((r) => r.body);
  assert.equal(bodies.length, 2);
  assert.deepEqual(bodies[0].configuration.labels, { jit_user: "alice_smith_example_com", jit_audit_id: "01j9z-abc", l_9lives: "x".repeat(63) });
  assert.deepEqual(bodies[1].configuration.labels, { jit_user: "bob" });
  assert.deepEqual(bodies.map((b) => b.configuration.query.maximumBytesBilled), ["10000000000", "1024"]);
  assert.ok(bodies.every((b) => b.configuration.query.useLegacySql === false && b.jobReference.location === "EU"));
  assert.ok(fake.requestsTo("GET", RESULTS_PATH).every((r) => r.query.location === "EU"));
});

test("dry run: statementType, referencedTables, bytes and schema from BigQuery's statistics", async (t) => {
  const { fake, wh } = await setup(t);
  fake.dryRun = (sql) => sql.includes("bad")
    ? { statementType: "", referencedTables: [], totalBytesProcessed: 0, error: { reason: "invalidQuery", message: "Syntax error at [1:1]" } }
    : { statementType: "SELECT", totalBytesProcessed: 123456789, referencedTables: [{ projectId: PROJECT, datasetId: "sales", tableId: "orders" }],
        schema: [{ name: "amount", type: "NUMERIC" }, { name: "tags", type: "STRING", mode: "REPEATED" }] };
  const d = await wh.dryRun("SELECT amount, tags FROM sales.orders");
  assert.deepEqual(d, {
    statementType: "SELECT", bytesProcessed: 123456789,
    referencedTables: [{ project: PROJECT, dataset: "sales", table: "orders" }],
    schema: [{ name: "amount", type: "NUMERIC" }, { name: "tags", type: "ARRAY", mode: "REPEATED", fields: [{ name: "element", type: "STRING" }] }],
  });
  const body = fake.requestsTo("POST", JOB_PATH)[0]!.body;
  assert.equal(body.configuration.dryRun, true);
  assert.equal(body.configuration.query.useLegacySql, false);
  assert.equal(fake.jobs.size, 0, "a dry run creates no job");
  await rejectsWith(wh.dryRun("bad"), (e) => {
    assert.equal(e.reason, "invalidQuery");
    assert.equal(e.message, "Syntax error at [1:1]");
  });
});

test("lists datasets (paged) and tables, and describes nested schemas", async (t) => {
  const { fake, wh } = await setup(t);
  fake.listCap = 2;
  for (const d of ["hr", "sales", "marketing", "finance", "ops"]) fake.addDataset(PROJECT, d);
  fake.addTable(PROJECT, "sales", "orders", [{ name: "id", type: "INTEGER", mode: "REQUIRED" }]);
  fake.addTable(PROJECT, "sales", "customers", [
    { name: "id", type: "INT64" },
    { name: "address", type: "RECORD", fields: [{ name: "city", type: "STRING" }, { name: "lines", type: "STRING", mode: "REPEATED" }] },
    { name: "orders", type: "RECORD", mode: "REPEATED", fields: [{ name: "at", type: "TIMESTAMP" }] },
  ]);
  assert.deepEqual(await wh.listDatasets(), ["finance", "hr", "marketing", "ops", "sales"].map((d) => `${PROJECT}.${d}`));
  assert.equal(fake.requestsTo("GET", /\/datasets$/).length, 3);
  assert.deepEqual(await wh.listTables("sales"), ["customers", "orders"]);
  assert.deepEqual(await wh.listTables(`${PROJECT}.sales`), ["customers", "orders"]);
  assert.deepEqual(await wh.tableSchema({ project: PROJECT, dataset: "sales", table: "customers" }), [
    { name: "id", type: "INT64" },
    { name: "address", type: "STRUCT", fields: [{ name: "city", type: "STRING" }, { name: "lines", type: "ARRAY", mode: "REPEATED", fields: [{ name: "element", type: "STRING" }] }] },
    { name: "orders", type: "ARRAY", mode: "REPEATED", fields: [{ name: "element", type: "STRUCT", fields: [{ name: "at", type: "TIMESTAMP" }] }] },
  ]);
  await rejectsWith(wh.tableSchema({ project: PROJECT, dataset: "sales", table: "nope" }), (e) => {
    assert.equal(e.reason, "notFound");
    assert.match(e.message, /Not found: Table/);
  });
  await rejectsWith(wh.listTables("nope"), (e) => assert.equal(e.reason, "notFound"));
  await rejectsWith(wh.tableSchema({ project: PROJECT, dataset: "..", table: "x" }), (e) => assert.equal(e.reason, "invalid"));
});

test("malformed responses become WarehouseQueryError instead of crashing the process", async (t) => {
  const { fake, wh } = await setup(t);
  const uncaught: unknown[] = [];
  const onUncaught = (e: unknown) => uncaught.push(e);
  process.on("uncaughtException", onUncaught);
  process.on("unhandledRejection", onUncaught);
  t.after(() => {
    process.off("uncaughtException", onUncaught);
    process.off("unhandledRejection", onUncaught);
  });
  fake.query = () => numbers(3);

  // The response that crashes the client's own createQueryJob: no jobReference, no status.
  fake.inject({ method: "POST", path: JOB_PATH, json: { kind: "bigquery#job" } });
  await rejectsWith(wh.run("SELECT n", { maxRows: 5 }), (e) => {
    assert.equal(e.reason, "malformed");
    assert.match(e.jobId ?? "", /^jit_/);
  });
  assert.equal(fake.requestsTo("POST", CANCEL_PATH).length, 1, "the job may exist: it is cancelled");

  fake.inject({ method: "GET", path: RESULTS_PATH, raw: "<html>502 Bad Gateway</html>" });
  await rejectsWith(wh.run("SELECT n", { maxRows: 5 }), (e) => assert.equal(e.reason, "malformed"));

  fake.inject({ method: "GET", path: RESULTS_PATH, json: { jobComplete: true, schema: { fields: [{ name: "n", type: "INTEGER" }] }, rows: [{ f: [{ v: "1" }, { v: "2" }] }] } });
  const r = await wh.run("SELECT n", { maxRows: 5 });
  await rejectsWith(drain(r), (e) => assert.equal(e.reason, "malformed"));

  fake.inject({ method: "GET", path: RESULTS_PATH, json: { jobComplete: true, schema: { fields: [{ name: "n", type: "INTEGER" }] }, rows: [{ f: [{ v: "12abc" }] }] } });
  await rejectsWith(drain(await wh.run("SELECT n", { maxRows: 5 })), (e) => assert.equal(e.reason, "malformed"));

  fake.inject({ method: "POST", path: JOB_PATH, json: { statistics: {} } });
  await rejectsWith(wh.dryRun("SELECT 1"), (e) => assert.equal(e.reason, "malformed"));
  fake.inject({ method: "GET", path: /\/datasets$/, raw: "null" });
  await rejectsWith(wh.listDatasets(), (e) => assert.equal(e.reason, "malformed"));

  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.deepEqual(uncaught, []);
});

test("the client's own createQueryJob crashes the process on the same response (why jit validates responses itself)", async (t) => {
  const fake = await FakeBigQueryServer.start();
  t.after(() => fake.close());
  fake.inject({ method: "POST", path: JOB_PATH, json: { kind: "bigquery#job" } });
  const script = `
    import { BigQuery } from "@google-cloud/bigquery";
    import { OAuth2Client } from "google-auth-library";
    const auth = new OAuth2Client();
    auth.setCredentials({ access_token: "t", expiry_date: Date.now() + 3600000 });
    const bq = new BigQuery({ projectId: "${PROJECT}", apiEndpoint: "${fake.url}", authClient: auth });
    try { await bq.createQueryJob({ query: "SELECT 1" }); console.log("resolved"); } catch { console.log("rejected"); }`;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], { cwd: fileURLToPath(new URL("../..", import.meta.url)), env: { ...process.env, METADATA_SERVER_DETECTION: "none" } });
  let stderr = "";
  child.stderr.on("data", (c) => (stderr += c));
  const [code] = (await once(child, "exit")) as [number];
  assert.notEqual(code, 0, "the client no longer crashes: jit's own validation could be revisited");
  assert.match(stderr, /TypeError: Cannot read properties of undefined/);
});

test("an unreachable endpoint is reported as unreachable after bounded retries", async (t) => {
  const dead = await FakeBigQueryServer.start();
  const url = dead.url;
  await dead.close();
  const wh = await openBigQueryWarehouse({ projectId: PROJECT, apiEndpoint: url, authClient: fakeAuth(), retryBaseDelayMs: 5 });
  await rejectsWith(wh.run("SELECT 1", { maxRows: 1 }), (e) => {
    assert.equal(e.reason, "unreachable");
    assert.match(e.jobId ?? "", /^jit_/);
  });
  await rejectsWith(wh.listDatasets(), (e) => assert.equal(e.reason, "unreachable"));
  const { fake, wh: live } = await setup(t);
  fake.inject({ method: "GET", path: /\/datasets$/, destroy: true, times: 2 });
  fake.addDataset(PROJECT, "sales");
  assert.deepEqual(await live.listDatasets(), [`${PROJECT}.sales`], "a dropped connection is retried");
});

test("BIGQUERY_EMULATOR_HOST cannot redirect the broker's calls", async (t) => {
  process.env.BIGQUERY_EMULATOR_HOST = "http://127.0.0.1:9";
  t.after(() => delete process.env.BIGQUERY_EMULATOR_HOST);
  const { fake, wh } = await setup(t);
  fake.addDataset(PROJECT, "sales");
  assert.deepEqual(await wh.listDatasets(), [`${PROJECT}.sales`]);
});

const IMPERSONATE = { analysts: "analyst-sa@test-project.iam.gserviceaccount.com", "data-owners": "owner-sa@test-project.iam.gserviceaccount.com" };

test("per-group impersonation: the query runs with the group's service account, token lifetime within the grant", async (t) => {
  const fake = await FakeBigQueryServer.start();
  t.after(() => fake.close());
  const wh = await openBigQueryWarehouse({ projectId: PROJECT, apiEndpoint: fake.url, iamEndpoint: fake.url, authClient: fakeAuth("broker-token"), impersonate: IMPERSONATE, retryBaseDelayMs: 5 });
  fake.query = () => numbers(1);
  const grantExpiresAt = Date.now() + 600_000;
  await drain(await wh.run("SELECT n", { maxRows: 1, principalGroups: ["staff", "analysts"], grantExpiresAt }));
  const mint = fake.requestsTo("POST", /generateAccessToken$/);
  assert.equal(mint.length, 1);
  assert.equal(mint[0]!.path, "/v1/projects/-/serviceAccounts/analyst-sa@test-project.iam.gserviceaccount.com:generateAccessToken");
  assert.equal(mint[0]!.authorization, "Bearer broker-token");
  const lifetime = Number(String(mint[0]!.body.lifetime).replace(/s$/, ""));
  assert.ok(lifetime <= 600 && lifetime >= 595, `lifetime ${lifetime}`);
  assert.deepEqual(mint[0]!.body.scope, ["https://www.googleapis.com/auth/bigquery"]);
  assert.equal(fake.requestsTo("POST", JOB_PATH)[0]!.authorization, "Bearer impersonated:analyst-sa@test-project.iam.gserviceaccount.com");
  // Within one grant the token is reused; another grant gets its own.
  await drain(await wh.run("SELECT n", { maxRows: 1, principalGroups: ["analysts"], grantExpiresAt }));
  assert.equal(fake.requestsTo("POST", /generateAccessToken$/).length, 1);
  await drain(await wh.run("SELECT n", { maxRows: 1, principalGroups: ["analysts"], grantExpiresAt: grantExpiresAt - 300_000 }));
  const second = fake.requestsTo("POST", /generateAccessToken$/);
  assert.equal(second.length, 2);
  assert.ok(Number(String(second[1]!.body.lifetime).replace(/s$/, "")) <= 300);

  // Fail closed: no principal, no matching group and no default, or an expired grant.
  const jobsBefore = fake.requestsTo("POST", JOB_PATH).length;
  await rejectsWith(wh.run("SELECT n", { maxRows: 1 }), (e) => assert.equal(e.reason, "brokerRefused"));
  await rejectsWith(wh.run("SELECT n", { maxRows: 1, principalGroups: ["contractors"] }), (e) => assert.equal(e.reason, "brokerRefused"));
  await rejectsWith(wh.run("SELECT n", { maxRows: 1, principalGroups: ["analysts"], grantExpiresAt: Date.now() - 1 }), (e) => assert.equal(e.reason, "brokerRefused"));
  assert.equal(fake.requestsTo("POST", JOB_PATH).length, jobsBefore);

  // The broker's own calls (metadata, dry run) keep the broker's credential; a principal view impersonates.
  fake.addDataset(PROJECT, "sales");
  await wh.listDatasets();
  assert.equal(fake.requests.at(-1)!.authorization, "Bearer broker-token");
  await wh.forPrincipal({ groups: ["data-owners"] }).listDatasets();
  assert.equal(fake.requests.at(-1)!.authorization, "Bearer impersonated:owner-sa@test-project.iam.gserviceaccount.com");
});

test("the fake serves both /bigquery/v2/projects/... and /projects/...", async (t) => {
  const fake = await FakeBigQueryServer.start();
  t.after(() => fake.close());
  fake.addDataset(PROJECT, "sales");
  for (const prefix of ["/bigquery/v2", ""]) {
    const res = await fetch(`${fake.url}${prefix}/projects/${PROJECT}/datasets`, { headers: { authorization: "Bearer x" } });
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { datasets: unknown[] }).datasets.length, 1);
  }
});
