/** Fail closed: when the audit log cannot record a query, the query does not run and nothing is returned. */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { devSignIn } from "../../src/demo/sign-in.ts";
import { type DevBroker, startDevBroker } from "../../src/broker/dev.ts";
import type { RunOptions } from "../../src/warehouse/types.ts";

let broker: DevBroker;
let dir: string;
let token: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "jit-failclosed-"));
  broker = await startDevBroker({ port: 0, dataDir: dir });
  const tokens = await devSignIn(broker.url, broker.issuer, "alice");
  token = tokens.idToken;
});
after(async () => {
  await broker?.close();
  rmSync(dir, { recursive: true, force: true });
});

const call = (path: string, body: unknown) =>
  fetch(`${broker.url}${path}`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify(body) });

test("an audit store that cannot write refuses the query before the warehouse sees it", async () => {
  assert.equal((await call("/v1/requests", { datasets: ["demo.sales"], reason: "r" })).status, 200);
  const store = broker.deps.store;
  const original = store.appendAudit.bind(store);
  const warehouse = broker.deps.warehouse;
  const originalRun = warehouse.run.bind(warehouse);
  let runs = 0;
  warehouse.run = (sql: string, opts: RunOptions) => {
    runs += 1;
    return originalRun(sql, opts);
  };
  store.appendAudit = async () => {
    throw new Error("disk full");
  };
  try {
    const res = await call("/v1/query", { sql: "SELECT full_name, email FROM demo.sales.customers LIMIT 3" });
    const body = (await res.json()) as { error?: { code: string; message: string }; rows?: unknown };
    assert.equal(res.status, 500);
    assert.equal(body.rows, undefined);
    assert.equal(body.error!.code, "internal");
    assert.match(body.error!.message, /audit log could not record/);
    assert.equal(runs, 0, "the warehouse must not run an unaudited query");
  } finally {
    store.appendAudit = original;
  }
  const ok = await call("/v1/query", { sql: "SELECT full_name FROM demo.sales.customers LIMIT 1" });
  assert.equal(ok.status, 200);
  assert.equal(runs, 1);
});

test("when the result record cannot be written, no row leaves the broker", async () => {
  const store = broker.deps.store;
  const original = store.appendAudit.bind(store);
  store.appendAudit = async (r) => {
    if (r.action === "query.result") throw new Error("disk full");
    return original(r);
  };
  try {
    const res = await call("/v1/query", { sql: "SELECT full_name, city FROM demo.sales.customers LIMIT 3" });
    const text = await res.text();
    assert.equal(res.status, 500);
    assert.doesNotMatch(text, /full_name|rows/);
  } finally {
    store.appendAudit = original;
  }
});

test("the replay kept with a query is capped: the first rows, and the record says how many of how many", async () => {
  broker.deps.replayMaxRows = 3;
  try {
    const res = await call("/v1/query", { sql: "SELECT id, city FROM demo.sales.customers ORDER BY id LIMIT 10" });
    const body = (await res.json()) as { row_count: number; audit_id: string; rows: Array<{ id: number }> };
    assert.equal(body.row_count, 10);
    const list = await fetch(`${broker.url}/v1/audit?mine=1&action=query.result&limit=1000`, { headers: { authorization: `Bearer ${token}` } });
    const records = ((await list.json()) as { records: Array<{ details: { query_audit_id: string; row_count: number; replay_rows_kept: number; result: { rows: Array<{ id: number }> } } }> }).records;
    const rec = records.find((r) => r.details.query_audit_id === body.audit_id)!;
    assert.equal(rec.details.row_count, 10);
    assert.equal(rec.details.replay_rows_kept, 3);
    assert.deepEqual(rec.details.result.rows.map((r) => r.id), body.rows.slice(0, 3).map((r) => r.id));
  } finally {
    delete broker.deps.replayMaxRows;
  }
});
