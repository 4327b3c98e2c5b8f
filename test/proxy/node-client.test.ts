/**
 * `jit proxy` through Google's own Node client (@google-cloud/bigquery), unmodified, against `jit broker dev`:
 * once with apiEndpoint (paths under /bigquery/v2) and once, under `jit proxy -- node script`, with
 * BIGQUERY_EMULATOR_HOST and GOOGLE_APPLICATION_CREDENTIALS (paths without the prefix).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { BigQuery } from "@google-cloud/bigquery";
import { type DevBrokerProcess, JIT_BIN, runJit, startBroker } from "../e2e/harness.ts";
import { type ProxyProcess, proxyToken, startProxy } from "./harness.ts";

// Google's libraries probe the GCE metadata server otherwise (network beyond loopback).
process.env.METADATA_SERVER_DETECTION = "none";

const customersCsv = readFileSync(new URL("../../data/demo/customers.csv", import.meta.url), "utf8");
const rawSsns = new Set([...customersCsv.matchAll(/\b\d{3}-\d{2}-\d{4}\b/g)].map((m) => m[0]));
const SCRIPT = fileURLToPath(new URL("./client-script.mjs", import.meta.url));
const RETRYABLE = ["rateLimitExceeded", "backendError", "internalError"];

interface ApiErr {
  code?: number;
  message: string;
  errors?: Array<{ reason: string; message: string }>;
}

/** Awaits a rejection and returns it as the Node client's ApiError shape. */
async function rejection(p: Promise<unknown>): Promise<ApiErr> {
  try {
    await p;
  } catch (err) {
    return err as ApiErr;
  }
  assert.fail("expected the call to be refused");
}

/** A GET with headers fetch() will not send (Host), over node:http. */
async function rawStatus(base: string, headers: Record<string, string>): Promise<{ status: number; reason?: string }> {
  const { request } = await import("node:http");
  return new Promise((resolve, reject) => {
    const req = request(`${base}/bigquery/v2/projects/demo/datasets`, { headers }, (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, reason: (JSON.parse(body) as { error?: { errors: Array<{ reason: string }> } }).error?.errors[0]?.reason }));
    });
    req.on("error", reject);
    req.end();
  });
}

function assertRefusal(e: ApiErr, code: number, reason: string, message?: RegExp): void {
  assert.equal(e.code, code, e.message);
  assert.equal(e.errors?.[0]?.reason, reason, e.message);
  assert.ok(!RETRYABLE.includes(e.errors?.[0]?.reason ?? ""), "a refusal never uses a reason clients retry");
  if (message) assert.match(e.message, message);
}

describe("jit proxy with @google-cloud/bigquery", { timeout: 180_000 }, () => {
  let broker: DevBrokerProcess;
  let alice: ProxyProcess;
  let carol: ProxyProcess;
  let bq: BigQuery;

  before(async () => {
    broker = await startBroker();
    for (const u of ["alice", "carol", "dave", "bob"]) assert.equal((await broker.login(u)).code, 0);
    assert.equal((await runJit(["request", "demo.sales", "--reason", "proxy test"], broker.env("alice"))).code, 0);
    alice = await startProxy(broker.env("alice"));
    carol = await startProxy(broker.env("carol"));
    bq = new BigQuery({ projectId: "demo", apiEndpoint: alice.url, keyFilename: alice.credentials });
  });
  after(async () => {
    const codes = [await alice?.stop(), await carol?.stop()];
    await broker?.stop();
    assert.deepEqual(codes, [0, 0], "the proxy stops cleanly on SIGTERM");
  });

  test("listens on 127.0.0.1 and writes a 0600 external_account credential file", () => {
    assert.match(alice.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(statSync(alice.credentials).mode & 0o777, 0o600);
    const doc = JSON.parse(readFileSync(alice.credentials, "utf8")) as { type: string; token_url: string };
    assert.equal(doc.type, "external_account");
    assert.equal(doc.token_url, `${alice.url}/sts/v1/token`);
    assert.match(alice.stderr(), /as alice/);
  });

  test("query() returns masked rows, typed the way the client parses them", async () => {
    const [rows] = await bq.query("SELECT id, full_name, ssn, email, card_number, signup_date FROM demo.sales.customers ORDER BY id LIMIT 5");
    assert.equal(rows.length, 5);
    assert.equal(rows[0].id, 1);
    assert.equal(rows[0].full_name, "Sarah Martin");
    assert.equal(rows[0].ssn, "XXXXX4575");
    assert.equal(rows[0].email, "XXXXX@example.com");
    assert.equal(rows[0].signup_date.value, "2025-09-05");
    for (const r of rows) assert.ok(!rawSsns.has(r.ssn), "no raw SSN leaves the broker");
    const [orders] = await bq.query("SELECT order_id, amount, created_at FROM demo.sales.orders ORDER BY order_id LIMIT 1");
    assert.equal(orders[0].created_at.value, "2024-01-01T12:18:53.000Z", "TIMESTAMP arrives as the instant it is");
    assert.equal(orders[0].amount.toString(), "145.38");
  });

  test("createQueryJob({dryRun: true}) answers BigQuery's statistics", async () => {
    const [job] = await bq.createQueryJob({ query: "SELECT full_name, ssn FROM demo.sales.customers", dryRun: true });
    const s = job.metadata.statistics;
    assert.equal(s.query.statementType, "SELECT");
    assert.deepEqual(s.query.referencedTables, [{ projectId: "demo", datasetId: "sales", tableId: "customers" }]);
    assert.equal(s.totalBytesProcessed, undefined, "no byte figure for a statement that reads a masked column");
    assert.deepEqual(s.query.schema.fields.map((f: { name: string }) => f.name), ["full_name", "ssn"]);
    assert.equal(job.metadata.status.state, "DONE");
    const [clear] = await bq.createQueryJob({ query: "SELECT full_name, city FROM demo.sales.customers", dryRun: true });
    assert.match(clear.metadata.statistics.totalBytesProcessed, /^\d+$/);
    assert.match(clear.metadata.statistics.query.totalBytesProcessed, /^\d+$/);
  });

  test("getQueryResults pages with maxResults, pageToken and startIndex; jobs.get and jobs.cancel answer", async () => {
    const [job] = await bq.createQueryJob({ query: "SELECT order_id FROM demo.sales.orders ORDER BY order_id LIMIT 25", jobId: "proxy_test_paging", labels: { team: "qa" } });
    assert.equal(job.id, "proxy_test_paging", "the client-chosen job id is kept");
    const [first, next] = await job.getQueryResults({ maxResults: 10, autoPaginate: false });
    assert.deepEqual(first.map((r) => r.order_id), Array.from({ length: 10 }, (_, i) => 100001 + i));
    assert.ok(next?.pageToken, "a next page is announced");
    const [second] = await job.getQueryResults({ ...next, maxResults: 10, autoPaginate: false });
    assert.equal(second[0].order_id, 100011);
    const all: unknown[] = [];
    let page: Record<string, unknown> | null = { maxResults: 7, autoPaginate: false };
    for (let calls = 0; page && calls < 10; calls++) {
      const [rows, nextQuery] = (await job.getQueryResults({ ...page, maxResults: 7, autoPaginate: false })) as unknown as [unknown[], Record<string, unknown> | null];
      all.push(...rows);
      page = nextQuery;
    }
    assert.equal(all.length, 25, "the page tokens lead through every row");
    const [fromIndex] = await job.getQueryResults({ startIndex: "20", maxResults: 100, autoPaginate: false });
    assert.deepEqual(fromIndex.map((r) => r.order_id), [100021, 100022, 100023, 100024, 100025]);
    const [meta] = await job.getMetadata();
    assert.equal(meta.status.state, "DONE");
    assert.deepEqual(meta.jobReference, { projectId: "demo", jobId: "proxy_test_paging", location: "US" });
    assert.deepEqual(meta.configuration.labels, { team: "qa" });
    const [cancelled] = await job.cancel();
    assert.equal(cancelled.job?.status?.state, "DONE");
    const dup = await rejection(bq.createQueryJob({ query: "SELECT 1", jobId: "proxy_test_paging" }));
    assertRefusal(dup, 409, "duplicate");
  });

  test("getDatasets, getTables, table.getMetadata() and table.getRows()", async () => {
    const [datasets] = await bq.getDatasets();
    assert.deepEqual(datasets.map((d) => d.id).sort(), ["hr", "sales"]);
    const [ds] = await bq.dataset("sales").getMetadata();
    assert.deepEqual(ds.datasetReference, { projectId: "demo", datasetId: "sales" });
    assertRefusal(await rejection(bq.dataset("sales").table("nope").getRows()), 404, "notFound");
    assertRefusal(await rejection(bq.dataset("nope").getMetadata()), 404, "notFound");
    const [tables] = await bq.dataset("sales").getTables();
    assert.deepEqual(tables.map((t) => t.id).sort(), ["customers", "orders"]);
    const [meta] = await bq.dataset("sales").table("customers").getMetadata();
    const fields = meta.schema.fields as Array<{ name: string; type: string; description?: string }>;
    const ssn = fields.find((f) => f.name === "ssn")!;
    assert.match(ssn.description ?? "", /masked by jit \(last4\)/, "masked columns are listed, saying how they are masked");
    assert.equal(fields.find((f) => f.name === "id")!.type, "INTEGER");
    assert.equal(fields.find((f) => f.name === "city")!.description, undefined);
    const [rows] = await bq.dataset("sales").table("customers").getRows({ maxResults: 3 });
    assert.equal(rows.length, 3);
    for (const r of rows) {
      assert.match(r.ssn, /^XXXXX\d{4}$/, "tabledata.list masks like SELECT *");
      assert.equal(r.phone, "[REDACTED]");
    }
  });

  test("what the person may not see is a 404 exactly like what does not exist", async () => {
    const c = new BigQuery({ projectId: "demo", apiEndpoint: carol.url, keyFilename: carol.credentials });
    const [datasets] = await c.getDatasets();
    assert.deepEqual(datasets.map((d) => d.id), ["sales"], "carol (contractors) has no rule on demo.hr");
    const hidden = await rejection(c.dataset("hr").getTables());
    const missing = await rejection(c.dataset("nope").getTables());
    assertRefusal(hidden, 404, "notFound");
    assertRefusal(missing, 404, "notFound");
    assert.equal(hidden.message.replace("hr", "X"), missing.message.replace("nope", "X"));
    assertRefusal(await rejection(c.dataset("hr").table("employees").getMetadata()), 404, "notFound");
  });

  test("refusals are 403 accessDenied naming the jit command to run, and are not retried", async () => {
    const c = new BigQuery({ projectId: "demo", apiEndpoint: carol.url, keyFilename: carol.credentials });
    assertRefusal(await rejection(c.query("SELECT city FROM demo.sales.customers")), 403, "accessDenied", /jit request demo\.sales --reason/);
    assertRefusal(await rejection(bq.query("SELECT full_name FROM demo.hr.employees")), 403, "accessDenied", /jit query --wait-approval/);
    const dry = await rejection(c.createQueryJob({ query: "SELECT city FROM demo.sales.customers", dryRun: true }));
    assertRefusal(dry, 403, "accessDenied", /jit request demo\.sales/);
    assertRefusal(await rejection(bq.query("SELECT ssn FROM demo.sales.customers WHERE ssn = '1'")), 403, "accessDenied", /ssn is masked/);
    assertRefusal(await rejection(bq.query("SELEC nonsense FROM")), 400, "invalidQuery");
  });

  test("a write is refused and the warehouse never sees it", async () => {
    const count = async () => Number((await bq.query("SELECT COUNT(*) AS n FROM demo.sales.orders"))[0][0].n);
    const before = await count();
    assertRefusal(await rejection(bq.query("INSERT INTO demo.sales.orders (order_id, customer_id, amount, status, created_at) VALUES (1, 1, 1, 'x', CURRENT_TIMESTAMP())")), 403, "accessDenied", /refused/);
    assertRefusal(await rejection(bq.query("DELETE FROM demo.sales.orders WHERE TRUE")), 403, "accessDenied");
    assertRefusal(await rejection(bq.dataset("sales").table("orders").insert([{ order_id: 2 }])), 403, "accessDenied", /read-only BigQuery/);
    assertRefusal(await rejection(bq.dataset("sales").createTable("evil", {})), 403, "accessDenied", /jobs\.query/);
    assertRefusal(await rejection(bq.dataset("sales").table("orders").delete()), 403, "accessDenied");
    assertRefusal(await rejection(bq.createJob({ configuration: { extract: { sourceTable: { projectId: "demo", datasetId: "sales", tableId: "orders" }, destinationUris: ["gs://x/y"] } } })), 403, "accessDenied", /extract job/);
    assert.equal(await count(), before);
  });

  test("every call must carry the proxy's token; browsers and rebinding hosts are refused", async () => {
    const token = await proxyToken(alice.credentials);
    const path = `${alice.url}/bigquery/v2/projects/demo/datasets`;
    const status = async (headers: Record<string, string>, url = path) => {
      const res = await fetch(url, { headers });
      const body = (await res.json()) as { error?: { errors: Array<{ reason: string }>; message: string } };
      return { status: res.status, reason: body.error?.errors[0]?.reason, message: body.error?.message ?? "" };
    };
    assert.equal((await status({ authorization: `Bearer ${token}` })).status, 200);
    assert.deepEqual((await status({})).status, 401);
    assert.equal((await status({ authorization: "Bearer nope" })).status, 401);
    const other = await proxyToken(carol.credentials);
    assert.equal((await status({ authorization: `Bearer ${other}` })).status, 401, "another proxy's token does not open this one");
    const browser = await status({ authorization: `Bearer ${token}`, origin: "https://evil.example" });
    assert.deepEqual([browser.status, browser.reason], [403, "accessDenied"]);
    const rebind = await rawStatus(alice.url, { authorization: `Bearer ${token}`, host: "evil.example" });
    assert.deepEqual([rebind.status, rebind.reason], [403, "accessDenied"]);
    const sts = await fetch(`${alice.url}/sts/v1/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "urn:ietf:params:oauth:grant-type:token-exchange", subject_token: "guess" }),
    });
    assert.equal(sts.status, 401, "the STS endpoint hands out the token only for the file's subject token");
    const noCred = new BigQuery({ projectId: "demo", apiEndpoint: alice.url, authClient: undefined, keyFilename: carol.credentials });
    assertRefusal(await rejection(noCred.getDatasets()), 401, "authError");
  });

  test("jobs.query with JOB_CREATION_OPTIONAL, and methods outside the subset are refused, never forwarded", async () => {
    const token = await proxyToken(alice.credentials);
    const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
    const res = await fetch(`${alice.url}/projects/demo/queries`, {
      method: "POST",
      headers,
      body: JSON.stringify({ query: "SELECT city FROM demo.sales.customers ORDER BY id LIMIT 2", useLegacySql: false, jobCreationMode: "JOB_CREATION_OPTIONAL", maxResults: 1 }),
    });
    const body = (await res.json()) as { jobComplete: boolean; totalRows: string; rows: Array<{ f: Array<{ v: string }> }>; jobReference: { jobId: string; location: string }; pageToken?: string };
    assert.equal(res.status, 200);
    assert.equal(body.jobComplete, true);
    assert.equal(body.totalRows, "2");
    assert.deepEqual(body.rows, [{ f: [{ v: "Houston" }] }]);
    assert.ok(body.jobReference.jobId && body.jobReference.location, "jobReference is always there: clients read it without a null check");
    assert.ok(body.pageToken);
    for (const [method, path, status] of [
      ["GET", "/bigquery/v2/projects/demo/datasets/sales/routines", 400],
      ["GET", "/bigquery/v2/projects/demo/datasets/sales/models", 400],
      ["POST", "/bigquery/v2/projects/demo/datasets/sales/tables/orders:getIamPolicy", 403],
      ["POST", "/upload/bigquery/v2/projects/demo/jobs", 403],
    ] as const) {
      const r = await fetch(`${alice.url}${path}`, { method, headers, body: method === "POST" ? "{}" : undefined });
      const e = (await r.json()) as { error: { message: string; errors: Array<{ reason: string }> } };
      assert.equal(r.status, status, path);
      assert.match(e.error.message, /jit proxy serves read-only BigQuery: jobs\.query/, path);
    }
    const legacy = await fetch(`${alice.url}/projects/demo/queries`, { method: "POST", headers, body: JSON.stringify({ query: "SELECT 1", useLegacySql: true }) });
    assert.equal(legacy.status, 400);
  });

  test("a query not done within timeoutMs answers jobComplete: false, then getQueryResults waits", async () => {
    const token = await proxyToken(alice.credentials);
    const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
    const start = async () => {
      const res = await fetch(`${alice.url}/projects/demo/queries`, { method: "POST", headers, body: JSON.stringify({ query: "SELECT order_id FROM demo.sales.orders ORDER BY order_id LIMIT 3", timeoutMs: 0 }) });
      return (await res.json()) as { jobComplete: boolean; jobReference: { jobId: string; location: string } };
    };
    const pending = await start();
    assert.equal(pending.jobComplete, false);
    const done = await fetch(`${alice.url}/projects/demo/queries/${pending.jobReference.jobId}?timeoutMs=10000&location=US`, { headers });
    const body = (await done.json()) as { jobComplete: boolean; totalRows: string; rows: unknown[] };
    assert.equal(body.jobComplete, true);
    assert.equal(body.totalRows, "3");
    const unknown = await fetch(`${alice.url}/projects/demo/jobs/no_such_job`, { headers });
    assert.equal(unknown.status, 404);
  });

  test("audit records mark the client as proxy with the calling tool's user agent", async () => {
    const list = JSON.parse((await runJit(["audit", "list", "--json", "--user", "alice", "--action", "query", "--limit", "200"], broker.env("dave"))).stdout) as {
      records: Array<{ details: { client: { kind: string; name: string } } }>;
    };
    const viaProxy = list.records.filter((r) => r.details.client.kind === "proxy");
    assert.ok(viaProxy.length > 0, "queries through the proxy are audited as such");
    // Newest first: the latest may be a raw HTTP call; the Google client's own calls carry its user agent.
    assert.ok(viaProxy.some((r) => /gcloud-node-bigquery/.test(r.details.client.name)), JSON.stringify(viaProxy.map((r) => r.details.client.name)));
  });

  test("signed out: 401 saying jit login; works again after jit login, without a restart", async () => {
    const bob = await startProxy(broker.env("bob"));
    try {
      const b = new BigQuery({ projectId: "demo", apiEndpoint: bob.url, keyFilename: bob.credentials });
      assert.equal((await b.getDatasets())[0].length, 2);
      assert.equal((await runJit(["logout"], broker.env("bob"))).code, 0);
      assertRefusal(await rejection(b.getDatasets()), 401, "authError", /jit login/);
      assert.equal((await broker.login("bob")).code, 0);
      assert.equal((await b.getDatasets())[0].length, 2);
    } finally {
      assert.equal(await bob.stop(), 0);
    }
  });

  test("jit proxy -- node script: BIGQUERY_EMULATOR_HOST, stdout byte for byte, the script's exit code, the file removed", async () => {
    const child = spawn(process.execPath, [JIT_BIN, "proxy", "--", process.execPath, SCRIPT, "SELECT id, ssn FROM demo.sales.customers ORDER BY id LIMIT 2"], {
      env: { ...broker.env("alice"), METADATA_SERVER_DETECTION: "none" },
      stdio: ["pipe", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    let err = "";
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.on("data", (d) => (err += d));
    child.stdin.end("from stdin\n");
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    const stdout = Buffer.concat(out);
    const nl = stdout.indexOf(0x0a);
    const report = JSON.parse(stdout.subarray(0, nl).toString("utf8")) as { rows: Array<{ id: number; ssn: string }>; emulatorHost: string; credentials: string; mode: number; stdin: string };
    assert.equal(code, 3, err);
    assert.deepEqual(report.rows, [{ id: 1, ssn: "XXXXX4575" }, { id: 2, ssn: "XXXXX2186" }]);
    assert.match(report.emulatorHost, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(report.mode, 0o600);
    assert.equal(report.stdin, "from stdin\n", "stdin passes through");
    assert.deepEqual(stdout.subarray(nl + 1), Buffer.from([0x00, 0xff, 0xfe, 0x0d, 0x0a, 0x1b, 0x5b, 0x33, 0x31, 0x6d]), "the command's bytes, untouched; jit adds nothing");
    assert.equal(existsSync(report.credentials), false, "the credential file is removed on exit");
  });
});
