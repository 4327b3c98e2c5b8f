/**
 * The production warehouse path through the doors a user uses: `jit` CLI → broker over HTTP →
 * BigQuery's REST API (the local fake), with an external IdP, SQLite store and an acme-analytics policy.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, describe, test } from "node:test";
import type { FakeBigQueryServer, RecordedRequest } from "../fakes/bigquery-server.ts";
import { startDevIdp, type RunningIdp } from "../idp/harness.ts";
import { runJit, type RunResult } from "./harness.ts";
import {
  BROKER_TOKEN, closedPortUrl, cliEnv, defaultDryRun, ORDER_ROWS, PROJECT, resetFake, signIn, startBigQueryBroker,
  startFakeBigQuery, type BigQueryBroker,
} from "./bigquery-harness.ts";

const SA_ANALYSTS = "sa-analysts@acme-analytics.iam.gserviceaccount.com";
const JOBS = /^\/projects\/acme-analytics\/jobs$/;
const RESULTS = /^\/projects\/acme-analytics\/queries\//;
const CUSTOMERS_SQL = "SELECT full_name, ssn, email FROM acme-analytics.sales.customers LIMIT 3";

/** BigQuery's label rule: lowercase letters, digits, _ and -, at most 63 characters. */
const asLabel = (s: string) => s.toLowerCase().replace(/[^a-z0-9_-]/g, "_").slice(0, 63);
const isDryRun = (r: RecordedRequest) => r.body?.configuration?.dryRun === true;

/** The `--json` error object a failed command printed on stderr. */
function errorOf(r: RunResult): Record<string, unknown> {
  const line = r.stderr.trim().split("\n").at(-1) ?? "";
  try {
    return (JSON.parse(line) as { error: Record<string, unknown> }).error;
  } catch {
    return assert.fail(`no JSON error on stderr (exit ${r.code}):\n${r.stderr}`);
  }
}

function parsed<T = any>(r: RunResult): T {
  assert.equal(r.code, 0, `exit ${r.code}:\n${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

describe("CLI → broker → BigQuery REST (fake)", { timeout: 120_000 }, () => {
  let dir: string;
  let fake: FakeBigQueryServer;
  let idp: RunningIdp;
  let broker: BigQueryBroker;
  let dead: BigQueryBroker;
  let imp: BigQueryBroker;
  const env: Record<string, NodeJS.ProcessEnv> = {};
  let aliceGrant: { id: string; expires_at: string };
  /** Requests the fake received since `mark`. */
  let mark = 0;
  const seen = () => fake.requests.slice(mark);
  const seenTo = (method: string, path: RegExp) => seen().filter((r) => r.method === method && path.test(r.path));
  const jit = (who: string, args: string[]) => runJit(args, env[who]!);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "jit-bq-e2e-"));
    [fake, idp] = await Promise.all([startFakeBigQuery(), startDevIdp({ pollIntervalSeconds: 1 })]);
    [broker, dead, imp] = await Promise.all([
      startBigQueryBroker({ dir: join(dir, "main"), idp, apiEndpoint: fake.url, queryTimeoutMs: 2000 }),
      startBigQueryBroker({ dir: join(dir, "dead"), idp, apiEndpoint: await closedPortUrl() }),
      startBigQueryBroker({ dir: join(dir, "imp"), idp, apiEndpoint: fake.url, iamEndpoint: fake.url, impersonate: { analysts: SA_ANALYSTS } }),
    ]);
    const logins: Array<[string, string, BigQueryBroker]> = [
      ["alice", "alice", broker], ["carol", "carol", broker], ["alice@dead", "alice", dead], ["alice@imp", "alice", imp], ["bob@imp", "bob", imp],
    ];
    const results = await Promise.all(logins.map(([key, user, b]) => {
      env[key] = cliEnv(dir, user, b.url);
      return signIn(idp, env[key]!, user);
    }));
    results.forEach((r, i) => assert.equal(r.code, 0, `login ${logins[i]![0]}: ${r.stderr}`));
    const req = parsed<{ request: { state: string; grant_id: string; grant: { id: string; expires_at: string } } }>(
      await jit("alice", ["request", "acme-analytics.sales", "--reason", "quarterly numbers", "--json"]));
    assert.equal(req.request.state, "approved");
    aliceGrant = req.request.grant;
  });

  after(async () => {
    await Promise.allSettled([broker?.close(), dead?.close(), imp?.close()]);
    await Promise.allSettled([fake?.close(), idp?.close()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(() => {
    resetFake(fake);
    mark = fake.requests.length;
  });

  test("a query is masked by policy; BigQuery saw a dry run, then a capped, labelled job, and that job was paged", async () => {
    const out = parsed(await jit("alice", ["query", CUSTOMERS_SQL, "--format", "json"]));
    assert.deepEqual(out.columns, [
      { name: "full_name", type: "STRING", masked: false },
      { name: "ssn", type: "STRING", masked: true, mask: "last4" },
      { name: "email", type: "STRING", masked: true, mask: "email" },
    ]);
    assert.equal(out.row_count, 3);
    assert.deepEqual(out.rows.map((r: any) => r.full_name), ["Ada Lovelace", "Alan Turing", "Grace Hopper"]);
    assert.deepEqual(out.rows.map((r: any) => r.ssn), ["XXXXX6789", "XXXXX7890", "XXXXX8901"]);
    assert.deepEqual(out.rows.map((r: any) => r.email), ["XXXXX@example.com", "XXXXX@example.com", "XXXXX@example.com"]);
    assert.equal(out.masked_cells, 6);
    assert.equal(out.truncated, false);
    assert.equal(out.grant_id, aliceGrant.id);

    const posts = seenTo("POST", JOBS);
    assert.equal(posts.length, 2, "one dry run, one job");
    assert.ok(isDryRun(posts[0]!) && !isDryRun(posts[1]!), "the dry run comes first");
    const job = posts[1]!.body;
    assert.equal(job.configuration.query.query, CUSTOMERS_SQL);
    assert.equal(job.configuration.query.maximumBytesBilled, String(broker.policy.guardrails.maxBytesProcessed));
    assert.equal(job.configuration.query.maximumBytesBilled, "10000000000");
    assert.deepEqual(job.configuration.labels, { jit_user: "alice", jit_audit_id: asLabel(out.audit_id), jit_grant_id: asLabel(aliceGrant.id) });
    for (const v of Object.values(job.configuration.labels as Record<string, string>)) assert.match(v, /^[a-z0-9_-]{1,63}$/);
    const jobId: string = job.jobReference.jobId;
    const pages = seenTo("GET", RESULTS);
    assert.ok(pages.length >= 1);
    for (const p of pages) assert.equal(p.path, `/projects/${PROJECT}/queries/${jobId}`);
    for (const r of seen()) assert.equal(r.authorization, `Bearer ${BROKER_TOKEN}`);
  });

  test("paging stops at --max-rows: 1200 of 2500 rows, truncated, and no page more than needed", async () => {
    fake.pageCap = 500;
    const out = parsed(await jit("alice", ["query", "SELECT order_id, created_at FROM acme-analytics.sales.orders", "--max-rows", "1200", "--format", "json"]));
    assert.equal(out.row_count, 1200);
    assert.equal(out.rows.length, 1200);
    assert.equal(out.truncated, true);
    assert.deepEqual(out.rows[0], { order_id: 1, created_at: "2023-11-14T22:13:20Z" });
    assert.equal(out.rows[1199].order_id, 1200);
    const pages = seenTo("GET", RESULTS).map((p) => [p.query.maxResults, p.query.pageToken]);
    assert.deepEqual(pages, [["1200", undefined], ["700", "p500"], ["200", "p1000"]]);

    mark = fake.requests.length;
    const all = parsed(await jit("alice", ["query", "SELECT order_id FROM acme-analytics.sales.orders", "--format", "json"]));
    assert.equal(all.row_count, ORDER_ROWS);
    assert.equal(all.truncated, false);
    assert.equal(seenTo("GET", RESULTS).length, 5);
  });

  test("BigQuery types keep their JSON forms through the CLI: big INT64, NUMERIC, TIMESTAMP, ARRAY, STRUCT", async () => {
    const out = parsed(await jit("alice", ["query", "SELECT big, amount, happened_at, tags, detail FROM acme-analytics.sales.events", "--format", "json"]));
    assert.deepEqual(out.columns.map((c: any) => c.type), ["INT64", "NUMERIC", "TIMESTAMP", "ARRAY", "STRUCT"]);
    assert.deepEqual(out.rows, [{
      big: "9007199254740993",
      amount: "12345678901234567890.123456789",
      happened_at: "2024-02-29T12:34:56.789012Z",
      tags: ["a", "b"],
      detail: { kind: "click", score: 0.5, seen: "1970-01-01T00:00:00Z" },
    }]);
    const jsonl = await jit("alice", ["query", "SELECT big, tags FROM acme-analytics.sales.events", "--format", "jsonl"]);
    assert.equal(jsonl.code, 0, jsonl.stderr);
    assert.equal(jsonl.stdout, '{"big":"9007199254740993","tags":["a","b"]}\n');
  });

  test("a job BigQuery rejects exits 6 with its message and the job id; SSNs and e-mails in messages are masked", async () => {
    fake.query = () => ({ schema: [], rows: [], error: { reason: "invalidQuery", message: "Division by zero: 1 / 0 at [1:8]" } });
    const r = await jit("alice", ["query", "SELECT city FROM acme-analytics.sales.customers", "--json"]);
    assert.equal(r.code, 6, r.stderr);
    const e = errorOf(r);
    assert.equal(e.code, "query_failed");
    assert.equal(e.message, "Division by zero: 1 / 0 at [1:8]");
    const inserted = seenTo("POST", JOBS).filter((x) => !isDryRun(x));
    assert.equal(inserted.length, 1);
    assert.equal(e.job_id, inserted[0]!.body.jobReference.jobId);

    fake.query = () => ({ schema: [], rows: [], insertError: { reason: "invalidQuery", message: "Bad int64 value: 123-45-6789 (owner ada.lovelace@example.com)" } });
    const leak = await jit("alice", ["query", "SELECT city FROM acme-analytics.sales.customers", "--json"]);
    assert.equal(leak.code, 6, leak.stderr);
    const le = errorOf(leak);
    assert.match(String(le.message), /^Bad int64 value: /);
    assert.doesNotMatch(leak.stderr, /123-45-6789|ada\.lovelace@example\.com/);
    assert.match(String(le.job_id), /^jit_/);

    fake.dryRun = () => ({ statementType: "SELECT", referencedTables: [], totalBytesProcessed: 0, error: { reason: "invalidQuery", message: "Could not cast literal \"234-56-7890\" to type INT64" } });
    const dry = await jit("alice", ["query", "SELECT city FROM acme-analytics.sales.customers", "--json"]);
    assert.equal(dry.code, 6, dry.stderr);
    assert.doesNotMatch(dry.stderr, /234-56-7890/);
    assert.match(String(errorOf(dry).message), /^Could not cast literal/);

    // Computing on a masked column is refused before BigQuery sees it: its failure would be an oracle on the value.
    fake.dryRun = defaultDryRun;
    const computed = await jit("alice", ["query", "SELECT DIV(SAFE_CAST(REPLACE(ssn, '-', '') AS INT64) * 7, 0) AS d FROM acme-analytics.sales.customers", "--json"]);
    assert.equal(computed.code, 4, computed.stderr);
    assert.equal(errorOf(computed).column, "acme-analytics.sales.customers.ssn");
    // A query that projects a masked column: whatever its message says, none of it comes back.
    fake.query = () => ({ schema: [], rows: [], error: { reason: "invalidQuery", message: "division by zero: 5301902025 / 0" } });
    const masked = await jit("alice", ["query", "SELECT id, ssn FROM acme-analytics.sales.customers", "--json"]);
    assert.equal(masked.code, 6, masked.stderr);
    assert.doesNotMatch(masked.stderr, /5301902025/);
    assert.match(String(errorOf(masked).message), /withheld because the query reads masked columns/);
    assert.equal(errorOf(masked).reason, "invalidQuery", masked.stderr);
  });

  test("rateLimitExceeded twice, then the query succeeds", async () => {
    fake.inject({ method: "GET", path: RESULTS, status: 403, reason: "rateLimitExceeded", message: "Exceeded rate limits: too many api requests per user per method", times: 2 });
    const out = parsed(await jit("alice", ["query", "SELECT id, city FROM acme-analytics.sales.customers", "--format", "json"]));
    assert.equal(out.row_count, 4);
    assert.equal(seenTo("GET", RESULTS).length, 3);
    assert.equal(seenTo("POST", JOBS).filter((x) => !isDryRun(x)).length, 1, "the job is not inserted again");
  });

  test("a job that never completes times out: exit 6, and BigQuery is asked to cancel it", async () => {
    fake.query = () => ({ schema: [], rows: [], neverCompletes: true });
    const started = Date.now();
    const r = await jit("alice", ["query", "SELECT city FROM acme-analytics.sales.customers", "--json"]);
    assert.equal(r.code, 6, r.stderr);
    const e = errorOf(r);
    assert.match(String(e.message), /timed out/);
    assert.ok(Date.now() - started < 10_000);
    const cancels = seenTo("POST", /\/jobs\/[^/]+\/cancel$/);
    assert.equal(cancels.length, 1);
    assert.equal(cancels[0]!.path, `/projects/${PROJECT}/jobs/${String(e.job_id)}/cancel`);
  });

  test("BigQuery unreachable: exit 7 with the broker's message, and the broker keeps serving", async () => {
    // The fake drops the connection of each of the broker's attempts (it retries an idempotent read 5 times).
    const TABLE_GET = /^\/projects\/acme-analytics\/datasets\/sales\/tables\/orders$/;
    fake.inject({ method: "GET", path: TABLE_GET, destroy: true, times: 5 });
    const r = await jit("alice", ["query", "SELECT status FROM acme-analytics.sales.orders", "--json"]);
    assert.equal(r.code, 7, r.stderr);
    const e = errorOf(r);
    assert.equal(e.code, "unreachable");
    assert.match(String(e.message), /warehouse cannot be reached/);
    assert.equal(seenTo("GET", TABLE_GET).length, 5, "every dropped attempt was used up");
    assert.equal((await fetch(`${broker.url}/healthz`)).status, 200);
    assert.equal((await jit("alice", ["datasets", "--json"])).code, 0);

    // A broker whose BigQuery endpoint is a closed port (access is decided first: alice holds a grant there too).
    assert.equal((await jit("alice@dead", ["request", "acme-analytics.sales", "--reason", "quarterly numbers", "--json"])).code, 0);
    const q = await jit("alice@dead", ["query", "SELECT city FROM acme-analytics.sales.customers", "--json"]);
    assert.equal(q.code, 7, q.stderr);
    assert.match(String(errorOf(q).message), /warehouse cannot be reached: BigQuery is unreachable/);
    assert.equal((await fetch(`${dead.url}/healthz`)).status, 200);
    const ds = await jit("alice@dead", ["datasets", "--json"]);
    assert.equal(ds.code, 7, ds.stderr);
    assert.equal(errorOf(ds).code, "unreachable");
    assert.equal((await jit("alice@dead", ["whoami", "--json"])).code, 0);
  });

  test("the dry run's word wins: a table the analyser did not see, or a statement that is not SELECT, is denied (exit 4)", async () => {
    fake.dryRun = (sql) => {
      const d = defaultDryRun(sql);
      return { ...d, referencedTables: [...d.referencedTables, { projectId: PROJECT, datasetId: "hr", tableId: "employees" }] };
    };
    const r = await jit("alice", ["query", "SELECT city FROM acme-analytics.sales.customers", "--json"]);
    assert.equal(r.code, 4, r.stderr);
    const e = errorOf(r);
    assert.equal(e.code, "denied");
    assert.match(String(e.message), /acme-analytics\.hr\.employees/);
    assert.deepEqual(e.unanalysed_tables, ["acme-analytics.hr.employees"]);

    fake.dryRun = (sql) => ({ ...defaultDryRun(sql), statementType: "INSERT" });
    const s = await jit("alice", ["query", "SELECT city FROM acme-analytics.sales.customers", "--json"]);
    assert.equal(s.code, 4, s.stderr);
    assert.match(String(errorOf(s).message), /INSERT/);

    fake.dryRun = (sql) => ({ ...defaultDryRun(sql), totalBytesProcessed: 20e9 });
    const big = await jit("alice", ["query", "SELECT city FROM acme-analytics.sales.customers", "--json"]);
    assert.equal(big.code, 4, big.stderr);
    assert.match(String(errorOf(big).message), /20000000000 bytes, over the policy's limit/);
    assert.equal(seenTo("POST", JOBS).filter((x) => !isDryRun(x)).length, 0, "no job ran");

    // --dry-run reports BigQuery's own estimate and schema, and runs nothing either.
    resetFake(fake);
    const plan = parsed(await jit("alice", ["query", "SELECT id, ssn FROM acme-analytics.sales.customers", "--dry-run", "--json"]));
    assert.equal(plan.bytes_estimate, null, "a statement that reads a masked column gets no byte figure (it counts the masked values' sizes)");
    assert.equal(parsed(await jit("alice", ["query", "SELECT id, city FROM acme-analytics.sales.customers", "--dry-run", "--json"])).bytes_estimate, 4096);
    assert.deepEqual(plan.columns, [{ name: "id", type: "INT64", masked: false }, { name: "ssn", type: "STRING", masked: true, mask: "last4" }]);
    assert.deepEqual(plan.tables, ["acme-analytics.sales.customers"]);
    assert.equal(seenTo("POST", JOBS).filter((x) => !isDryRun(x)).length, 0, "no job ran");
  });

  test("datasets, tables and describe come from BigQuery's metadata, filtered by policy, masked columns marked", async () => {
    const alice = parsed(await jit("alice", ["datasets", "--json"]));
    assert.deepEqual(alice.datasets.map((d: any) => [d.dataset, d.access]), [["acme-analytics.hr", "per_query"], ["acme-analytics.sales", "auto"]]);
    assert.equal(alice.datasets[1].grant_id, aliceGrant.id);
    const carol = parsed(await jit("carol", ["datasets", "--json"]));
    assert.deepEqual(carol.datasets.map((d: any) => [d.dataset, d.access]), [["acme-analytics.sales", "approval_required"]]);
    assert.ok(seenTo("GET", /^\/projects\/acme-analytics\/datasets$/).length >= 2);

    const tables = parsed(await jit("carol", ["tables", "acme-analytics.sales", "--json"]));
    assert.deepEqual(tables.tables.map((t: any) => t.table), ["acme-analytics.sales.customers", "acme-analytics.sales.events", "acme-analytics.sales.orders"]);
    const hr = await jit("carol", ["tables", "acme-analytics.hr", "--json"]);
    assert.equal(hr.code, 4, hr.stderr);
    assert.equal((await jit("carol", ["describe", "acme-analytics.hr.employees", "--json"])).code, 4);

    const d = parsed(await jit("carol", ["describe", "acme-analytics.sales.customers", "--json"]));
    assert.deepEqual(d.columns.map((c: any) => [c.name, c.type, c.masked, c.mask ?? null]), [
      ["id", "INT64", false, null], ["full_name", "STRING", false, null], ["email", "STRING", true, "email"],
      ["ssn", "STRING", true, "last4"], ["card_number", "STRING", true, "last4"], ["city", "STRING", false, null],
    ]);
    assert.equal(seenTo("GET", /^\/projects\/acme-analytics\/datasets\/sales\/tables\/customers$/).length, 1);
    const text = await jit("carol", ["describe", "acme-analytics.sales.customers"]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^ssn +STRING +last4\b/m);
    assert.match(text.stdout, /^city +STRING$/m);
  });

  test("malformed BigQuery responses exit 6 and the broker survives", async () => {
    // getQueryResults without jobComplete or jobReference.
    fake.inject({ method: "GET", path: RESULTS, json: { kind: "bigquery#getQueryResultsResponse" } });
    const a = await jit("alice", ["query", "SELECT city FROM acme-analytics.sales.customers", "--json"]);
    assert.equal(a.code, 6, a.stderr);
    assert.match(String(errorOf(a).message), /malformed/);

    // jobs.insert answered without status or jobReference (the dry run before it answered normally).
    const dry = defaultDryRun("SELECT city FROM acme-analytics.sales.customers");
    fake.inject({ method: "POST", path: JOBS, json: {
      kind: "bigquery#job", jobReference: { projectId: PROJECT, location: "US" }, status: { state: "DONE" },
      statistics: { query: { statementType: "SELECT", referencedTables: dry.referencedTables, totalBytesProcessed: "0" } },
    } });
    fake.inject({ method: "POST", path: JOBS, json: { kind: "bigquery#job" } });
    const b = await jit("alice", ["query", "SELECT city FROM acme-analytics.sales.customers", "--json"]);
    assert.equal(b.code, 6, b.stderr);
    assert.match(String(errorOf(b).message), /malformed/);

    // A body that is not JSON at all.
    fake.inject({ method: "GET", path: RESULTS, raw: "<html>upstream error</html>" });
    const c = await jit("alice", ["query", "SELECT city FROM acme-analytics.sales.customers", "--json"]);
    assert.equal(c.code, 6, c.stderr);

    assert.equal((await fetch(`${broker.url}/healthz`)).status, 200);
    assert.equal(parsed(await jit("alice", ["query", "SELECT id FROM acme-analytics.sales.customers", "--format", "json"])).row_count, 4);
    assert.deepEqual(broker.logs.filter((l) => /internal error/.test(l)), []);
  });

  test("impersonation: the job runs as the group's service account, with a token that ends within the grant", async () => {
    const req = parsed(await jit("alice@imp", ["request", "acme-analytics.sales", "--reason", "r", "--duration", "30m", "--json"]));
    const grantEnds = Date.parse(req.request.grant.expires_at);
    mark = fake.requests.length;
    const before = Date.now();
    const out = parsed(await jit("alice@imp", ["query", "SELECT id, city FROM acme-analytics.sales.customers", "--format", "json"]));
    assert.equal(out.row_count, 4);

    const mint = seenTo("POST", /generateAccessToken$/);
    assert.equal(mint.length, 1);
    assert.equal(mint[0]!.path, `/v1/projects/-/serviceAccounts/${SA_ANALYSTS}:generateAccessToken`);
    assert.equal(mint[0]!.authorization, `Bearer ${BROKER_TOKEN}`, "the broker's own credential asks for the token");
    const lifetime = Number(/^(\d+)s$/.exec(String(mint[0]!.body.lifetime))?.[1]);
    assert.ok(lifetime <= Math.ceil((grantEnds - before) / 1000), `lifetime ${lifetime}s outlives the grant`);
    assert.ok(lifetime > 1700 && lifetime <= 1800, `lifetime ${lifetime}s`);

    const job = seenTo("POST", JOBS).filter((x) => !isDryRun(x));
    assert.equal(job.length, 1);
    assert.equal(job[0]!.authorization, `Bearer impersonated:${SA_ANALYSTS}`);
    for (const p of seenTo("GET", RESULTS)) assert.equal(p.authorization, `Bearer impersonated:${SA_ANALYSTS}`);

    // bob's group has no service account and there is no default: his query must not run as the broker.
    assert.equal((await jit("bob@imp", ["request", "acme-analytics.sales", "--reason", "r"])).code, 0);
    mark = fake.requests.length;
    const bob = await jit("bob@imp", ["query", "SELECT id FROM acme-analytics.sales.customers", "--json"]);
    assert.notEqual(bob.code, 0);
    assert.match(String(errorOf(bob).message), /No service account to impersonate/);
    assert.equal(seenTo("POST", JOBS).filter((x) => !isDryRun(x)).length, 0, "no job ran with the broker's credential");
    assert.equal(seenTo("POST", /generateAccessToken$/).length, 0);
  });

  test("a caller whose group has no service account to impersonate is denied (exit 4), not a warehouse failure", async () => {
    // Runs after the impersonation test above, which gave bob a grant on this broker.
    const bob = await jit("bob@imp", ["query", "SELECT id FROM acme-analytics.sales.customers", "--json"]);
    assert.equal(bob.code, 4, bob.stderr);
    assert.equal(errorOf(bob).code, "denied");
  });

  test("a CLI that goes away mid-query (Ctrl-C) gets its BigQuery job cancelled, not left running until the timeout", async () => {
    // On the impersonation broker: its query timeout is 10 s, so a cancel within 3 s comes from the disconnect.
    fake.query = () => ({ schema: [], rows: [], neverCompletes: true });
    const r = await runJit(["query", "SELECT id, city FROM acme-analytics.sales.customers", "--json"], env["alice@imp"]!, { timeoutMs: 1500 });
    assert.notEqual(r.code, 0);
    const job = seenTo("POST", JOBS).filter((x) => !isDryRun(x));
    assert.equal(job.length, 1, "the job was inserted before the CLI went away");
    const cancel = `/projects/${PROJECT}/jobs/${job[0]!.body.jobReference.jobId}/cancel`;
    const end = Date.now() + 3000;
    while (Date.now() < end && !seenTo("POST", /\/cancel$/).some((c) => c.path === cancel)) await new Promise((res) => setTimeout(res, 100));
    assert.ok(seenTo("POST", /\/cancel$/).some((c) => c.path === cancel), "no jobs.cancel within 3 s of the client leaving");
  });
  // Last: it adds tables to the fake, which the metadata test above would otherwise list.
  test("a wildcard table is expanded to its shards: masked through every shard, inference on it refused, _TABLE_SUFFIX usable", async () => {
    fake.addTable(PROJECT, "sales", "visits_2024", [{ name: "id", type: "INT64" }, { name: "email", type: "STRING" }, { name: "city", type: "STRING" }]);
    fake.addTable(PROJECT, "sales", "visits_2025", [{ name: "id", type: "INT64" }, { name: "email", type: "STRING" }, { name: "city", type: "STRING" }]);
    const sql = "SELECT id, email, _TABLE_SUFFIX AS year FROM `acme-analytics.sales.visits_*` WHERE _TABLE_SUFFIX >= '2025'";
    fake.dryRun = () => ({
      statementType: "SELECT",
      referencedTables: [{ projectId: PROJECT, datasetId: "sales", tableId: "visits_2025" }],
      totalBytesProcessed: 2048,
      schema: [{ name: "id", type: "INT64" }, { name: "email", type: "STRING" }, { name: "year", type: "STRING" }],
    });
    fake.query = () => ({
      schema: [{ name: "id", type: "INT64" }, { name: "email", type: "STRING" }, { name: "year", type: "STRING" }],
      rows: [["1", "ada.lovelace@example.com", "2025"], ["2", "alan.turing@example.org", "2025"]],
    });
    const res = parsed<{ columns: Array<{ name: string; masked: boolean; mask?: string }>; rows: Array<Record<string, string>> }>(
      await jit("alice", ["query", sql, "--format", "json"]));
    assert.deepEqual(res.columns.map((c) => [c.name, c.masked]), [["id", false], ["email", true], ["year", false]]);
    assert.deepEqual(res.rows.map((r) => r.email), ["XXXXX@example.com", "XXXXX@example.org"]);
    assert.deepEqual(res.rows.map((r) => r.year), ["2025", "2025"]);

    const probe = await jit("alice", ["query", "SELECT id FROM `acme-analytics.sales.visits_*` WHERE email LIKE 'ada%'", "--json"]);
    assert.equal(probe.code, 4, probe.stderr);
    assert.match(String(errorOf(probe).message), /email/);

    const none = await jit("alice", ["query", "SELECT id FROM `acme-analytics.sales.nothing_*`", "--json"]);
    assert.equal(none.code, 4, none.stderr);
  });
});
