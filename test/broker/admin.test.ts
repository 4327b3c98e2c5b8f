/** Admins through the HTTP API: they may revoke any grant and see every request, but get no data access and no power to approve. */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { type DevBroker, startDevBroker } from "../../src/broker/dev.ts";
import { BrokerClient } from "../../src/cli/client.ts";
import { devSignIn } from "../../src/demo/sign-in.ts";
import { JitError } from "../../src/errors.ts";

let broker: DevBroker;
let dir: string;
let alice: BrokerClient, carol: BrokerClient, dave: BrokerClient;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "jit-admin-"));
  broker = await startDevBroker({ port: 0, dataDir: dir });
  // dave's group becomes the admin group for this test.
  const policy = { ...broker.deps.policy(), admins: ["auditors"] };
  broker.deps.policy = () => policy;
  const client = async (u: string) => {
    const t = await devSignIn(broker.url, broker.issuer, u);
    return new BrokerClient({ baseUrl: broker.url, client: { kind: "cli", name: "test", version: "0" }, token: async () => t.idToken });
  };
  [alice, carol, dave] = [await client("alice"), await client("carol"), await client("dave")];
});
after(async () => {
  await broker?.close();
  rmSync(dir, { recursive: true, force: true });
});

const refusal = async (p: Promise<unknown>): Promise<JitError> => {
  try {
    await p;
  } catch (err) {
    if (err instanceof JitError) return err;
    throw err;
  }
  return assert.fail("expected a refusal");
};

test("an admin revokes anyone's grant, sees every request, but cannot approve and has no data access", async () => {
  const { request } = await alice.post<{ request: { grant_id: string } }>("/v1/requests", { datasets: ["demo.sales"], reason: "report" });
  const pending = await carol.post<{ request: { id: string } }>("/v1/requests", { datasets: ["demo.sales"], reason: "audit" });

  const seen = await dave.get<{ requests: Array<{ id: string; can_approve: boolean }> }>("/v1/requests");
  assert.ok(seen.requests.some((r) => r.id === pending.request.id));
  assert.equal(seen.requests.find((r) => r.id === pending.request.id)!.can_approve, false);
  const approve = await refusal(dave.post(`/v1/requests/${pending.request.id}/approve`, {}));
  assert.equal(approve.code, "denied");

  const noData = await refusal(dave.post("/v1/query", { sql: "SELECT city FROM demo.sales.customers LIMIT 1" }));
  assert.equal(noData.code, "denied");

  await dave.post(`/v1/grants/${request.grant_id}/revoke`, { reason: "incident response" });
  const after = await refusal(alice.post("/v1/query", { sql: "SELECT city FROM demo.sales.customers LIMIT 1" }));
  assert.equal(after.code, "denied");
  const log = await dave.get<{ records: Array<{ action: string; actor: string; details: { reason?: string } }> }>("/v1/audit?action=revoke");
  assert.ok(log.records.some((r) => r.actor === "dave" && r.details.reason === "incident response"));
});
