/**
 * /readyz part by part: ready; starting while the IdP's keys are not loaded; degraded (still 200, tokens signed by
 * cached keys still verify) once the IdP is stopped mid-session; 503 naming the store or the warehouse when either
 * fails. /healthz stays alive-only throughout. Draining is covered by shutdown.test.ts.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { createReadiness } from "../../src/broker/readiness.ts";
import { openSqliteStore } from "../../src/store/sqlite.ts";
import type { Warehouse } from "../../src/warehouse/types.ts";
import { startDevIdp } from "../idp/harness.ts";
import { call } from "./http-call.ts";
import { startServeHarness } from "./serve-harness.ts";

const waitFor = async (check: () => Promise<boolean>, timeoutMs = 10_000) => {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail("timed out waiting");
};

test("ready, then degraded when the IdP is stopped mid-session: cached keys still verify, /readyz still 200 and says so", async () => {
  const h = await startServeHarness(["metrics_listen: off"], { identity: "keys_refresh: 1s" });
  try {
    const base = h.broker.url;
    await waitFor(async () => (await call(base, "GET", "/readyz")).status === 200);
    const ready = await call(base, "GET", "/readyz");
    assert.equal(ready.json.status, "ready");
    assert.deepEqual(Object.keys(ready.json.parts).sort(), ["identity", "lifecycle", "store", "warehouse"]);
    for (const p of Object.values(ready.json.parts) as Array<{ ok: boolean }>) assert.equal(p.ok, true);

    const alice = await h.token("alice");
    assert.equal((await call(base, "POST", "/v1/requests", { token: alice, body: { datasets: ["demo.sales"], reason: "outage drill" } })).status, 200);
    const sql = { sql: "SELECT COUNT(*) AS n FROM demo.sales.orders" };
    assert.equal((await call(base, "POST", "/v1/query", { token: alice, body: sql })).status, 200);

    await h.idp.close(); // the issuer is gone mid-session
    await waitFor(async () => (await call(base, "GET", "/readyz")).json.status === "degraded");
    const degraded = await call(base, "GET", "/readyz");
    assert.equal(degraded.status, 200, "every replica shares the IdP: degraded replicas stay in the load balancer");
    assert.equal(degraded.json.ready, true);
    assert.equal(degraded.json.parts.identity.state, "degraded");
    assert.match(degraded.json.parts.identity.problem, /identity provider cannot be reached .*cached key\(s\) still verify until they expire/);
    // Past the refresh interval, with the IdP down: the token signed by a cached key still verifies.
    await new Promise((r) => setTimeout(r, 1100));
    const q = await call(base, "POST", "/v1/query", { token: alice, body: sql });
    assert.equal(q.status, 200, q.text);
    assert.equal((await call(base, "GET", "/healthz")).status, 200);
  } finally {
    await h.close();
  }
});

test("starting: with the IdP down from the start, /readyz is 503 naming the identity part; /healthz is 200", async () => {
  const idp = await startDevIdp();
  await idp.close();
  const h = await startServeHarness(["metrics_listen: off"], { idp });
  try {
    const r = await call(h.broker.url, "GET", "/readyz");
    assert.equal(r.status, 503);
    assert.equal(r.headers["retry-after"], "5");
    assert.equal(r.json.ready, false);
    assert.equal(r.json.status, "starting");
    assert.equal(r.json.parts.identity.ok, false);
    assert.match(r.json.parts.identity.problem, /keys are not loaded yet/);
    assert.equal(r.json.parts.store.ok, true);
    assert.equal((await call(h.broker.url, "GET", "/healthz")).status, 200);
  } finally {
    await h.close();
  }
});

test("a failing store or warehouse makes the replica not ready, naming the part; the warehouse answer is reused for its TTL", async () => {
  const dir = mkdtempSync(join(tmpdir(), "jit-ready-"));
  const store = openSqliteStore(join(dir, "jit.db"));
  let listed = 0;
  let warehouseUp = true;
  const warehouse = {
    defaultProject: "demo",
    async listDatasets() {
      listed++;
      if (!warehouseUp) throw new Error("connect ECONNREFUSED bigquery.googleapis.com");
      return ["demo.sales"];
    },
  } as unknown as Warehouse;
  let clock = 0;
  const parts: Record<string, number> = {};
  const check = createReadiness({
    store, warehouse, draining: () => false, now: () => clock, warehouseTtlMs: 1000,
    identity: { status: () => ({ state: "ok", keys: 1, fetchedAt: 0, lastError: null, fetches: 1 }), poke: () => {} },
    setPart: (p, v) => (parts[p] = v),
  });
  try {
    assert.equal((await check()).status, "ready");
    assert.equal(parts.warehouse, 1);
    warehouseUp = false;
    assert.equal((await check()).status, "ready", "within the TTL the last answer stands");
    assert.equal(listed, 1);
    clock = 1001;
    const down = await check();
    assert.equal(down.ready, false);
    assert.equal(down.status, "not_ready");
    assert.equal(down.parts.warehouse!.ok, false);
    assert.match(down.parts.warehouse!.problem!, /ECONNREFUSED/);
    assert.equal(parts.warehouse, 0);
    warehouseUp = true;
    clock = 2002;
    assert.equal((await check()).status, "ready");
    rmSync(join(dir, "jit.db"), { force: true });
    rmSync(dir, { recursive: true, force: true });
    const lost = await check();
    assert.equal(lost.ready, false);
    assert.equal(lost.parts.store!.ok, false);
    assert.match(lost.parts.store!.problem!, /SQLite store/);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
