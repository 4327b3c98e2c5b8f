/**
 * `jit audit replay` on a busy broker: a query's result is written when it ends, after the results of every query
 * that ended meanwhile. Held in the warehouse while 1,500 other results are written, the query's own result lands
 * past the first page of later results, and replay must still find it.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { heldWarehouse } from "../broker/held-warehouse.ts";
import { call } from "../broker/http-call.ts";
import { startServeHarness } from "../broker/serve-harness.ts";
import { loginWith, runJit, userEnv } from "./harness.ts";

test("replay finds a query's result with 1,500 other results written between the query and its end", { timeout: 120_000 }, async () => {
  const h = await startServeHarness(["metrics_listen: off"]);
  try {
    const alice = await h.token("alice");
    assert.equal((await call(h.broker.url, "POST", "/v1/requests", { token: alice, body: { datasets: ["demo.sales"], reason: "replay search" } })).status, 200);
    const held = heldWarehouse(h.broker.deps.warehouse);
    h.broker.deps.warehouse = held;
    const inFlight = call(h.broker.url, "POST", "/v1/query", { token: alice, body: { sql: "SELECT city FROM demo.sales.customers ORDER BY id LIMIT 2" } });
    await held.started();
    // Other queries end while this one runs: their results come first.
    for (let batch = 0; batch < 15; batch++) {
      await Promise.all(Array.from({ length: 100 }, () => h.broker.deps.store.appendAudit({
        at: Date.now(), actor: "bob", actorSubject: "sub-bob", action: "query.result", outcome: "ok",
        details: { query_audit_id: "0", row_count: 0, result: { columns: [], rows: [], truncated: false } },
      })));
    }
    held.release();
    const answered = await inFlight;
    assert.equal(answered.status, 200, answered.text);

    const dave = userEnv(join(h.dir, "dave"), h.broker.url);
    const login = await loginWith(dave, async (code) => void (await h.idp.idp.approveDevice({ user_code: code, username: "dave", password: "dave" })));
    assert.equal(login.code, 0, login.stderr);
    const replay = await runJit(["audit", "replay", String(answered.json.audit_id), "--format", "csv"], dave);
    assert.equal(replay.code, 0, replay.stderr);
    const lines = replay.stdout.trim().split("\r\n");
    assert.equal(lines[0], "city");
    assert.equal(lines.length, 3, "the two rows alice received");
    // The API's own answer, from the query's record and from its result's; a record with no result is a 404 saying so.
    const daveToken = await h.token("dave");
    const byQuery = await call(h.broker.url, "GET", `/v1/audit/${answered.json.audit_id}/replay`, { token: daveToken });
    assert.equal(byQuery.status, 200, byQuery.text);
    const byResult = await call(h.broker.url, "GET", `/v1/audit/${byQuery.json.result.id}/replay`, { token: daveToken });
    assert.deepEqual(byResult.json, byQuery.json);
    const none = await call(h.broker.url, "GET", "/v1/audit/1/replay", { token: daveToken });
    assert.equal(none.status, 404);
    assert.match(none.json.error.message, /audit record 1 holds no query result to replay/);
  } finally {
    await h.close();
  }
});
