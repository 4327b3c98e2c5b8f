/** Time-driven rules through the broker's HTTP API with an injected clock: grant expiry, pending expiry, single-statement expiry. */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { devSignIn } from "../../src/demo/sign-in.ts";
import { type DevBroker, startDevBroker } from "../../src/broker/dev.ts";
import { BrokerClient } from "../../src/cli/client.ts";
import { JitError } from "../../src/errors.ts";

let offset = 0;
const now = () => Date.now() + offset;
const MIN = 60_000;

async function signIn(broker: DevBroker, username: string): Promise<BrokerClient> {
  const tokens = await devSignIn(broker.url, broker.issuer, username);
  return new BrokerClient({ baseUrl: broker.url, client: { kind: "cli", name: "test", version: "0" }, token: async () => tokens.idToken });
}

async function refusal(p: Promise<unknown>): Promise<JitError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof JitError) return err;
    throw err;
  }
  assert.fail("expected a refusal");
}

describe("clock-driven rules", { timeout: 60_000 }, () => {
  let broker: DevBroker;
  let dir: string;
  let alice: BrokerClient, bob: BrokerClient, carol: BrokerClient, dave: BrokerClient;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "jit-clock-"));
    broker = await startDevBroker({ port: 0, dataDir: dir, now });
    [alice, bob, carol, dave] = (await Promise.all(["alice", "bob", "carol", "dave"].map((u) => signIn(broker, u)))) as [BrokerClient, BrokerClient, BrokerClient, BrokerClient];
  });
  after(async () => {
    await broker?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("a grant stops working by itself after its duration", async () => {
    const r = await alice.post<{ request: { grant_id: string } }>("/v1/requests", { datasets: ["demo.sales"], reason: "r", duration_seconds: 1800 });
    const sql = "SELECT COUNT(*) AS n FROM demo.sales.orders";
    assert.equal((await alice.post<{ rows: Array<{ n: number }> }>("/v1/query", { sql })).rows[0]!.n, 6000);
    offset += 29 * MIN;
    await alice.post("/v1/query", { sql });
    offset += 2 * MIN;
    const e = await refusal(alice.post("/v1/query", { sql }));
    assert.equal(e.code, "denied");
    assert.match(e.message, /no active grant covers demo\.sales/);
    const grants = await alice.get<{ grants: Array<{ id: string; state: string }> }>("/v1/grants?all=1");
    assert.equal(grants.grants.find((g) => g.id === r.request.grant_id)!.state, "expired");
  });

  test("a pending request expires after 24h, says so, and can no longer be approved", async () => {
    const { request } = await carol.post<{ request: { id: string; state: string } }>("/v1/requests", { datasets: ["demo.sales"], reason: "audit" });
    assert.equal(request.state, "pending");
    offset += 24 * 60 * MIN + MIN;
    const e = await refusal(bob.post(`/v1/requests/${request.id}/approve`, {}));
    assert.equal(e.code, "denied");
    assert.match(e.message, /already expired/);
    const seen = await carol.get<{ request: { state: string; decision_reason: string } }>(`/v1/requests/${request.id}`);
    assert.equal(seen.request.state, "expired");
    assert.match(seen.request.decision_reason, /expired/);
    const audit = await dave.get<{ records: Array<{ action: string; details: { request_id?: string } }> }>("/v1/audit?action=expire");
    assert.ok(audit.records.some((x) => x.details.request_id === request.id));
  });

  test("a single-statement approval expires unused after 15 minutes", async () => {
    const sql = "SELECT department, COUNT(*) AS n FROM demo.hr.employees GROUP BY department";
    const { request } = await alice.post<{ request: { id: string } }>("/v1/requests", { sql, reason: "headcount" });
    await bob.post(`/v1/requests/${request.id}/approve`, {});
    offset += 16 * MIN;
    const e = await refusal(alice.post("/v1/query", { sql }));
    assert.equal(e.code, "denied");
    assert.match(e.message, /one statement at a time/);
  });

  test("a single-statement approval runs the statement once, normalised; another statement or a changed literal is refused", async () => {
    const sql = "SELECT department, COUNT(*) AS n FROM demo.hr.employees WHERE department = 'Sales' GROUP BY department";
    const { request } = await alice.post<{ request: { id: string; sql: string } }>("/v1/requests", { sql, reason: "sales headcount" });
    assert.equal(request.sql, sql);
    const pending = await bob.get<{ requests: Array<{ id: string; statement?: { tables: string[]; bytes_estimate: number } }> }>("/v1/requests?pending=1");
    const shown = pending.requests.find((r) => r.id === request.id)!;
    assert.deepEqual(shown.statement!.tables, ["demo.hr.employees"]);
    assert.ok(shown.statement!.bytes_estimate > 0);

    const aliceSelf = await refusal(alice.post(`/v1/requests/${request.id}/approve`, {}));
    assert.equal(aliceSelf.code, "denied");
    await bob.post(`/v1/requests/${request.id}/approve`, {});

    const changedLiteral = await refusal(alice.post("/v1/query", { sql: sql.replace("'Sales'", "'People'") }));
    assert.equal(changedLiteral.code, "denied");
    const other = await refusal(alice.post("/v1/query", { sql: "SELECT COUNT(*) AS n FROM demo.hr.employees" }));
    assert.equal(other.code, "denied");

    const reformatted = `-- same statement, other layout\nselect department,   COUNT(*) as n\n  from demo.hr.employees\n where department = 'Sales'\n group by department;`;
    const res = await alice.post<{ rows: Array<{ department: string }>; audit_id: string }>("/v1/query", { sql: reformatted });
    assert.equal(res.rows[0]!.department, "Sales");

    const again = await refusal(alice.post("/v1/query", { sql }));
    assert.equal(again.code, "denied");
    assert.match(again.message, /already used/);

    const rec = await dave.get<{ record: { details: { single_statement_approvals: Array<{ grant_id: string; request_id: string; approved_by: string[] }> } } }>(`/v1/audit/${res.audit_id}`);
    assert.deepEqual(rec.record.details.single_statement_approvals[0], { grant_id: rec.record.details.single_statement_approvals[0]!.grant_id, request_id: request.id, approved_by: ["bob"] });
  });

  test("a denied single-statement request leaves nothing to run", async () => {
    const sql = "SELECT COUNT(*) AS n FROM demo.hr.employees";
    const { request } = await alice.post<{ request: { id: string } }>("/v1/requests", { sql, reason: "count" });
    await bob.post(`/v1/requests/${request.id}/deny`, { reason: "use the dashboard" });
    const e = await refusal(alice.post("/v1/query", { sql }));
    assert.equal(e.code, "denied");
  });
});
