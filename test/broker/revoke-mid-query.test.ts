/** A grant revoked while its query runs: the rows never leave the broker, and the audit log says why. */
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
  dir = mkdtempSync(join(tmpdir(), "jit-revoke-"));
  broker = await startDevBroker({ port: 0, dataDir: dir });
  token = (await devSignIn(broker.url, broker.issuer, "alice")).idToken;
});
after(async () => {
  await broker?.close();
  rmSync(dir, { recursive: true, force: true });
});

const call = (path: string, body: unknown) =>
  fetch(`${broker.url}${path}`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify(body) });

test("a grant revoked while its query runs withholds the result (403, audited), and the next query is refused up front", async () => {
  const filed = (await (await call("/v1/requests", { datasets: ["demo.sales"], reason: "r" })).json()) as { request: { grant_id: string } };
  const grantId = filed.request.grant_id;
  assert.ok(grantId);
  // The warehouse's run is held until the revoke has been answered: the query is mid-flight when access ends.
  const warehouse = broker.deps.warehouse;
  const originalRun = warehouse.run.bind(warehouse);
  let started!: () => void;
  const running = new Promise<void>((r) => (started = r));
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  warehouse.run = async (sql: string, opts: RunOptions) => {
    started();
    await released;
    return originalRun(sql, opts);
  };
  try {
    const pending = call("/v1/query", { sql: "SELECT id, full_name, ssn FROM demo.sales.customers LIMIT 5" });
    await running;
    const revoked = await call(`/v1/grants/${grantId}/revoke`, { reason: "test" });
    assert.equal(revoked.status, 200, await revoked.clone().text());
    release();
    const res = await pending;
    const body = (await res.json()) as { rows?: unknown; error?: { code: string; message: string; grant_id?: string } };
    assert.equal(res.status, 403);
    assert.equal(body.rows, undefined);
    assert.equal(body.error!.code, "denied");
    assert.match(body.error!.message, new RegExp(`grant ${grantId} was revoked while the query ran`));
  } finally {
    warehouse.run = originalRun;
  }
  const records = await broker.deps.store.listAudit({ limit: 100 });
  const result = records.find((r) => r.action === "query.result");
  assert.ok(result, JSON.stringify(records.map((r) => r.action)));
  assert.equal(result.outcome, "denied");
  assert.match(JSON.stringify(result.details), /revoked while the query ran/);
  assert.doesNotMatch(JSON.stringify(result.details), /"rows"/, "no rows are kept for replay of a withheld answer");
  const again = await call("/v1/query", { sql: "SELECT id FROM demo.sales.customers LIMIT 1" });
  assert.equal(again.status, 403);
});
