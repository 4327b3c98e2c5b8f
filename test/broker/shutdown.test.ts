/**
 * Graceful shutdown with a query in flight: not ready at once, new work refused with 503 + Retry-After, the query
 * finishes within shutdown_grace; past it the query is cancelled (its warehouse job stopped), answered 503, and its
 * audit record written before the store closes. Last, the real thing: SIGTERM to `jit broker serve` running a slow
 * DuckDB query.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { devSignIn } from "../../src/demo/sign-in.ts";
import { openSqliteStore } from "../../src/store/sqlite.ts";
import { JIT_BIN } from "../e2e/harness.ts";
import { writeBrokerConfig } from "../fixtures/broker-config.ts";
import { startDevIdp } from "../idp/harness.ts";
import { heldWarehouse } from "./held-warehouse.ts";
import { call } from "./http-call.ts";
import { startServeHarness } from "./serve-harness.ts";

const COUNT = { sql: "SELECT COUNT(*) AS n FROM demo.sales.orders" };

/** A serve broker with alice granted demo.sales and one COUNT query held in the warehouse, in flight. */
async function queryInFlight(grace: string) {
  const h = await startServeHarness(["metrics_listen: off", `shutdown_grace: ${grace}`]);
  const alice = await h.token("alice");
  assert.equal((await call(h.broker.url, "POST", "/v1/requests", { token: alice, body: { datasets: ["demo.sales"], reason: "drain" } })).status, 200);
  const held = heldWarehouse(h.broker.deps.warehouse);
  h.broker.deps.warehouse = held;
  const inFlight = call(h.broker.url, "POST", "/v1/query", { token: alice, body: COUNT });
  await held.started();
  return { h, db: join(h.dir, "jit.db"), alice, held, inFlight };
}

async function auditOf(db: string) {
  const store = openSqliteStore(db);
  try {
    return await store.listAudit({ limit: 100_000 });
  } finally {
    await store.close();
  }
}

test("SIGTERM-style drain: not ready, new requests refused with Retry-After, the in-flight query finishes and is audited", async () => {
  const { h, db, alice, held, inFlight } = await queryInFlight("20s");
  try {
    const stopping = h.broker.shutdown();
    const ready = await call(h.broker.url, "GET", "/readyz");
    assert.equal(ready.status, 503);
    assert.equal(ready.json.status, "draining");
    assert.equal(ready.json.parts.lifecycle.ok, false);
    const refused = await call(h.broker.url, "GET", "/v1/whoami", { token: alice });
    assert.equal(refused.status, 503);
    assert.equal(refused.headers["retry-after"], "1");
    assert.equal(refused.json.error.reason, "draining");
    held.release();
    const answered = await inFlight;
    assert.equal(answered.status, 200, answered.text);
    const report = await stopping;
    assert.equal(report.cancelled, 0);
    assert.equal(held.cancelled, 0);
    const records = await auditOf(db);
    const result = records.find((r) => r.action === "query.result" && r.details.query_audit_id === answered.json.audit_id);
    assert.equal(result?.outcome, "ok");
  } finally {
    await h.close();
  }
});

test("past shutdown_grace the query is cancelled: 503 + Retry-After to its caller, its job stopped, its record written", async () => {
  const { h, db, held, inFlight } = await queryInFlight("1s");
  try {
    const t0 = performance.now();
    const report = await h.broker.shutdown();
    const waited = performance.now() - t0;
    assert.ok(waited >= 950 && waited < 8000, `waited the grace period, then cancelled (${Math.round(waited)} ms)`);
    assert.equal(report.cancelled, 1);
    assert.equal(report.abandoned, 0);
    assert.equal(held.cancelled, 1, "the warehouse job saw the cancellation");
    const answered = await inFlight;
    assert.equal(answered.status, 503, answered.text);
    assert.equal(answered.headers["retry-after"], "1");
    assert.equal(answered.json.error.reason, "shutdown");
    const records = await auditOf(db);
    const start = records.filter((r) => r.action === "query" && r.outcome === "ok").at(-1)!;
    const result = records.find((r) => r.action === "query.result" && r.details.query_audit_id === start.id);
    assert.equal(result?.outcome, "failed", "the cancelled query's outcome is on the log, written before the store closed");
  } finally {
    await h.close();
  }
});

test("SIGTERM to jit broker serve with a slow DuckDB query in flight: cancelled after the grace period, audited, exit 0", { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "jit-sigterm-"));
  const idp = await startDevIdp();
  try {
    const db = join(dir, "jit.db");
    const { config } = writeBrokerConfig(dir, { issuer: idp.issuer, store: `store: { sqlite: ${db} }`, extra: ["shutdown_grace: 1s"] });
    const child = spawn(process.execPath, [JIT_BIN, "broker", "serve", "--config", config, "--json"], { env: { PATH: process.env.PATH, HOME: dir }, stdio: ["ignore", "pipe", "pipe"] });
    let log = "";
    child.stderr.on("data", (d) => (log += d));
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    const url = await new Promise<string>((resolve, reject) => {
      let out = "";
      child.stdout.on("data", (d) => {
        out += d;
        try { resolve((JSON.parse(out) as { url: string }).url); } catch { /* partial */ }
      });
      void exited.then((code) => reject(new Error(`serve exited ${code}: ${log}`)));
    });
    const alice = (await devSignIn(idp.issuer.replace(/\/oidc$/, ""), idp.issuer, "alice")).idToken;
    assert.equal((await call(url, "POST", "/v1/requests", { token: alice, body: { datasets: ["demo.sales"], reason: "sigterm" } })).status, 200);
    // Minutes of work for DuckDB: 5,000 x 5,000 x 500 rows.
    const slow = call(url, "POST", "/v1/query", {
      token: alice,
      body: { sql: "SELECT COUNT(*) AS n FROM demo.sales.orders a CROSS JOIN demo.sales.orders b CROSS JOIN demo.sales.customers c WHERE a.amount + b.amount + c.id > 0" },
    });
    // The query is running once its start record is on the log.
    const end = Date.now() + 20_000;
    for (;;) {
      const recs = await auditOf(db).catch(() => []);
      if (recs.some((r) => r.action === "query" && r.details.phase === "start")) break;
      assert.ok(Date.now() < end, `the query never started:\n${log}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const t0 = performance.now();
    child.kill("SIGTERM");
    const answered = await slow;
    assert.equal(answered.status, 503, answered.text);
    assert.equal(answered.json.error.reason, "shutdown");
    assert.equal(await exited, 0, log);
    const took = performance.now() - t0;
    assert.ok(took < 15_000, `stopped within the grace period plus cancellation (${Math.round(took)} ms)`);
    assert.match(log, /draining \(up to 1 s/);
    assert.match(log, /"msg":"stopped","cancelled":1,"abandoned":0/);
    const records = await auditOf(db);
    const start = records.find((r) => r.action === "query" && r.details.phase === "start")!;
    const result = records.find((r) => r.action === "query.result" && r.details.query_audit_id === start.id);
    assert.equal(result?.outcome, "failed");
  } finally {
    await idp.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a long-poll wait answers at once when the broker starts draining, so shutdown does not wait out the poll", async () => {
  const h = await startServeHarness(["metrics_listen: off", "shutdown_grace: 20s"]);
  try {
    const carol = await h.token("carol");
    const filed = await call(h.broker.url, "POST", "/v1/requests", { token: carol, body: { datasets: ["demo.sales"], reason: "drain a wait" } });
    assert.equal(filed.status, 200, filed.text);
    assert.equal(filed.json.request.state, "pending");
    const waiting = call(h.broker.url, "GET", `/v1/requests/${filed.json.request.id}?wait=60`, { token: carol });
    await new Promise((r) => setTimeout(r, 300));
    const t0 = performance.now();
    const report = await h.broker.shutdown();
    const answered = await waiting;
    const took = performance.now() - t0;
    assert.equal(answered.status, 200, answered.text);
    assert.equal(answered.json.request.state, "pending", "the request as it is; the client asks again elsewhere");
    assert.ok(took < 5000, `shutdown took ${Math.round(took)} ms with a 60 s wait in flight`);
    assert.equal(report.cancelled, 0);
  } finally {
    await h.close();
  }
});
