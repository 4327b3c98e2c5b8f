/**
 * /metrics after a scripted session on `broker serve`: scraped from its own loopback listener (never the public one),
 * parsed, and every count matches what the session did: requests by route and status, decisions, rows and masked
 * cells, pending requests, live grants, refused sign-ins, policy reloads, build info.
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { call } from "./http-call.ts";
import { parseMetrics, sample, startServeHarness, type ServeHarness } from "./serve-harness.ts";

let h: ServeHarness;
before(async () => {
  h = await startServeHarness(["metrics_listen: 127.0.0.1:0"]);
});
after(async () => {
  await h?.close();
});

const scrape = async () => {
  const res = await fetch(h.broker.metricsUrl!);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  return parseMetrics(await res.text());
};

test("a scripted session, then a scrape whose counts match it", async () => {
  const base = h.broker.url;
  assert.ok(h.broker.metricsUrl);
  assert.notEqual(new URL(h.broker.metricsUrl).port, new URL(base).port, "metrics are on their own listener");
  assert.equal((await call(base, "GET", "/metrics")).status, 404, "never on the public listener");
  const before = await scrape();
  assert.equal(sample(before, "jit_build_info", { version: "test", mode: "serve" }), 1);

  const alice = await h.token("alice");
  const carol = await h.token("carol");
  assert.equal((await call(base, "GET", "/v1/whoami", { token: alice })).status, 200);
  assert.equal((await call(base, "GET", "/v1/whoami", { token: alice })).status, 200);
  assert.equal((await call(base, "POST", "/v1/requests", { token: alice, body: { datasets: ["demo.sales"], reason: "metrics" } })).status, 200);
  const pending = await call(base, "POST", "/v1/requests", { token: carol, body: { datasets: ["demo.sales"], reason: "metrics" } });
  assert.equal(pending.json.request.state, "pending", pending.text);
  let rows = 0;
  let masked = 0;
  for (const sql of ["SELECT id, email, ssn FROM demo.sales.customers ORDER BY id LIMIT 7", "SELECT COUNT(*) AS n FROM demo.sales.orders"]) {
    const q = await call(base, "POST", "/v1/query", { token: alice, body: { sql } });
    assert.equal(q.status, 200, q.text);
    rows += q.json.row_count as number;
    masked += q.json.masked_cells as number;
  }
  assert.ok(masked >= 14, "the first query masked email and ssn");
  const denied = await call(base, "POST", "/v1/query", { token: alice, body: { sql: "SELECT salary FROM demo.hr.employees" } });
  assert.equal(denied.status, 403);
  assert.equal((await call(base, "GET", "/v1/whoami", { token: "not.a.token" })).status, 401);
  assert.equal((await call(base, "GET", "/v1/whoami")).status, 401);
  assert.equal(h.broker.reloadPolicy("test"), true);
  const original = readFileSync(h.policyFile, "utf8");
  writeFileSync(h.policyFile, "version: 2\n");
  assert.equal(h.broker.reloadPolicy("test"), false);
  writeFileSync(h.policyFile, original);

  const m = await scrape();
  const diff = (name: string, where: Record<string, string> = {}) => sample(m, name, where) - sample(before, name, where);
  assert.equal(diff("jit_http_requests_total", { route: "GET /v1/whoami", status: "200" }), 2);
  assert.equal(diff("jit_http_requests_total", { route: "GET /v1/whoami", status: "401" }), 2);
  assert.equal(diff("jit_http_requests_total", { route: "POST /v1/requests", status: "200" }), 2);
  assert.equal(diff("jit_http_requests_total", { route: "POST /v1/query", status: "200" }), 2);
  assert.equal(diff("jit_http_requests_total", { route: "POST /v1/query", status: "403" }), 1);
  assert.equal(diff("jit_http_request_duration_seconds_count", { route: "POST /v1/query" }), 3);
  assert.equal(diff("jit_decisions_total", { action: "query", outcome: "ok" }), 2);
  assert.equal(diff("jit_decisions_total", { action: "query", outcome: "denied" }), 1);
  assert.equal(diff("jit_decisions_total", { action: "query.result", outcome: "ok" }), 2);
  assert.equal(diff("jit_decisions_total", { action: "authenticate", outcome: "denied" }), 2);
  assert.equal(diff("jit_rows_returned_total"), rows);
  assert.equal(diff("jit_masked_cells_total"), masked);
  assert.equal(diff("jit_query_duration_seconds_count", { outcome: "ok" }), 2);
  assert.equal(diff("jit_warehouse_duration_seconds_count", { op: "run", outcome: "ok" }), 2);
  // Every audit record written in the session was timed.
  const appended = (await h.broker.deps.store.listAudit({ limit: 100_000 })).length;
  assert.equal(sample(m, "jit_audit_append_duration_seconds_count", { outcome: "ok" }), appended);
  assert.equal(sample(m, "jit_pending_requests"), 1, "carol's request waits for approval");
  assert.equal(sample(m, "jit_live_grants"), 1, "alice's grant");
  assert.equal(diff("jit_policy_reloads_total", { result: "ok" }), 1);
  assert.equal(diff("jit_policy_reloads_total", { result: "refused" }), 1);
  assert.equal(sample(m, "jit_in_flight_requests"), 0);
  assert.equal(sample(m, "jit_max_in_flight"), 256);
  assert.equal(sample(m, "jit_shed_total"), 0);
  assert.ok(sample(m, "jit_process_resident_memory_bytes") > 0, "process metrics are there too");
});

test("refused sign-ins past the budget count as rate-limited; only GET /metrics is served on the metrics listener", async () => {
  const before = await scrape();
  // The default budget is 30 refusals per minute per address.
  let limited = 0;
  for (let i = 0; i < 32; i++) if ((await call(h.broker.url, "GET", "/v1/grants", { token: "x.y.z" })).status === 429) limited++;
  assert.ok(limited >= 2);
  const m = await scrape();
  assert.equal(sample(m, "jit_rate_limited_total") - sample(before, "jit_rate_limited_total"), limited);
  assert.equal(sample(m, "jit_http_requests_total", { route: "GET /v1/grants", status: "429" }), limited);
  assert.equal((await fetch(h.broker.metricsUrl!.replace("/metrics", "/v1/whoami"))).status, 404);
  assert.equal((await fetch(h.broker.metricsUrl!, { method: "POST" })).status, 404);
});

test("a store that reports group commit stats has them exported; one without them exports none", async () => {
  const { createBrokerMetrics } = await import("../../src/broker/metrics.ts");
  const { createInFlightGate } = await import("../../src/broker/in-flight.ts");
  const base = { listRequests: async () => [], listGrants: async () => [] };
  const withStats = { ...base, auditStats: () => ({ chain: 1, batches: 10, records: 37, maxBatch: 9, failedBatches: 1, pending: 2 }) };
  const m = await createBrokerMetrics({ version: "t", mode: "dev", gate: createInFlightGate(4), store: () => withStats as never });
  const s = parseMetrics((await m.text()).body);
  assert.equal(sample(s, "jit_audit_commits"), 10);
  assert.equal(sample(s, "jit_audit_committed_records"), 37);
  assert.equal(sample(s, "jit_audit_max_batch_size"), 9);
  assert.equal(sample(s, "jit_audit_failed_commits"), 1);
  assert.equal(sample(s, "jit_audit_pending_records"), 2);
  const plain = await createBrokerMetrics({ version: "t", mode: "dev", gate: createInFlightGate(4), store: () => base as never });
  assert.equal(parseMetrics((await plain.text()).body).filter((x) => x.name.startsWith("jit_audit_commits")).length, 0);
});

test("jit broker dev prints its metrics URL, which serves /metrics on loopback", { timeout: 60_000 }, async () => {
  const { spawn } = await import("node:child_process");
  const { mkdtempSync, rmSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const { JIT_BIN } = await import("../e2e/harness.ts");
  const dir = mkdtempSync(join(tmpdir(), "jit-dev-metrics-"));
  const child = spawn(process.execPath, [JIT_BIN, "broker", "dev", "--port", "0", "--data-dir", dir, "--json"], { env: { PATH: process.env.PATH, HOME: dir }, stdio: ["ignore", "pipe", "pipe"] });
  try {
    const printed = await new Promise<{ url: string; metrics_url: string }>((resolve, reject) => {
      let out = "";
      child.stdout.on("data", (d) => {
        out += d;
        try { resolve(JSON.parse(out) as { url: string; metrics_url: string }); } catch { /* partial */ }
      });
      child.once("exit", (code) => reject(new Error(`broker dev exited ${code}`)));
    });
    assert.match(printed.metrics_url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const res = await fetch(printed.metrics_url);
    assert.equal(res.status, 200);
    assert.equal(sample(parseMetrics(await res.text()), "jit_build_info", { mode: "dev" }), 1);
  } finally {
    child.kill("SIGTERM");
    await new Promise((r) => child.once("exit", r));
    rmSync(dir, { recursive: true, force: true });
  }
});

test("on PostgreSQL the scrape shows the store's connection pool", { timeout: 60_000 }, async (t) => {
  const pg = process.env.JIT_TEST_PG_URL;
  if (!pg) return t.skip("JIT_TEST_PG_URL not set: the PostgreSQL pool gauge is skipped (run under .ci/run)");
  process.env.JIT_METRICS_PG_URL = pg;
  const schema = `jit_metrics_${process.pid}`;
  const ph = await startServeHarness(["metrics_listen: 127.0.0.1:0"], { store: `store: { postgres_env: JIT_METRICS_PG_URL, schema: ${schema} }` });
  try {
    const alice = await ph.token("alice");
    assert.equal((await call(ph.broker.url, "GET", "/v1/whoami", { token: alice })).status, 200);
    const got = parseMetrics(await (await fetch(ph.broker.metricsUrl!)).text());
    const total = sample(got, "jit_store_pool_connections", { state: "total" });
    assert.ok(typeof total === "number" && total >= 1, `the pool holds at least one connection after a request (got ${total})`);
    // idle and waiting are present; their values move with the scrape's own store reads (the pending and grant gauges).
    for (const state of ["idle", "waiting"]) assert.ok(got.some((x) => x.name === "jit_store_pool_connections" && x.labels.state === state), `a ${state} sample`);
  } finally {
    await ph.close();
    const { default: pgLib } = await import("pg");
    const c = new pgLib.Client({ connectionString: pg });
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await c.end();
  }
});
