/**
 * The request lifecycle over the broker's HTTP API on loopback: the requester cancels, waits are long polls
 * (one audit record each), identical requests are reused, and views carry their console link.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type DevBroker, startDevBroker } from "../../src/broker/dev.ts";
import { devSignIn } from "../../src/demo/sign-in.ts";
import type { AuditRecord } from "../../src/store/types.ts";
import { call } from "./http-call.ts";

let broker: DevBroker;
let dir: string;
const tokens: Record<string, string> = {};

const http = (method: string, path: string, opts: Parameters<typeof call>[3] = {}) => call(broker.url, method, path, opts);
const as = (user: string) => tokens[user]!;
const lastSeq = async () => (await broker.deps.store.listAudit({ limit: 100_000 })).at(-1)?.seq ?? 0;
const since = async (seq: number): Promise<AuditRecord[]> => broker.deps.store.listAudit({ afterSeq: seq, limit: 1000 });
const file = async (user: string, body: Record<string, unknown>) => {
  const res = await http("POST", "/v1/requests", { token: as(user), body });
  assert.equal(res.status, 200, res.text);
  return res.json as { request: { id: string; state: string; grant_id: string | null; console_url: string | null }; reused?: string };
};

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "jit-lifecycle-"));
  broker = await startDevBroker({ port: 0, dataDir: dir, frontDoor: { refusalsPerWindow: 10_000 } });
  for (const u of ["alice", "bob", "carol"]) tokens[u] = (await devSignIn(broker.url, broker.issuer, u)).idToken;
});
after(async () => {
  await broker?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("cancel", () => {
  test("the requester withdraws a pending request: audited before and after, and nobody can approve it then", async () => {
    const { request } = await file("carol", { datasets: ["demo.sales"], reason: "cancel me" });
    assert.equal(request.state, "pending");
    const seq = await lastSeq();
    const res = await http("POST", `/v1/requests/${request.id}/cancel`, { token: as("carol") });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.request.state, "cancelled");
    assert.equal(res.json.request.decided_by, "carol");
    assert.equal(res.json.request.decision_reason, "withdrawn by the requester");
    const recs = await since(seq);
    assert.deepEqual(recs.map((r) => [r.actor, r.action, r.outcome]), [["carol", "access", "ok"], ["carol", "cancel", "ok"]]);
    assert.equal(recs[1]!.details.request_id, request.id);

    const approve = await http("POST", `/v1/requests/${request.id}/approve`, { token: as("bob"), body: {} });
    assert.equal(approve.status, 403, approve.text);
    assert.match(approve.json.error.message, /already cancelled/);
    assert.equal((await broker.deps.store.getRequest(request.id))?.state, "cancelled");
  });

  test("cancelling a decided request is a 409 naming its state, recorded as a refused cancel", async () => {
    const { request } = await file("carol", { datasets: ["demo.sales"], reason: "approved first" });
    const ok = await http("POST", `/v1/requests/${request.id}/approve`, { token: as("bob"), body: {} });
    assert.equal(ok.status, 200, ok.text);
    const seq = await lastSeq();
    const res = await http("POST", `/v1/requests/${request.id}/cancel`, { token: as("carol") });
    assert.equal(res.status, 409, res.text);
    assert.equal(res.json.error.code, "denied");
    assert.match(res.json.error.message, new RegExp(`request ${request.id} cannot be cancelled: it is already approved \\(by bob\\)`));
    assert.match(res.json.error.hint, /jit revoke \d+/);
    const recs = await since(seq);
    assert.deepEqual(recs.map((r) => [r.action, r.outcome]), [["access", "ok"], ["cancel", "denied"]]);
    const again = await http("POST", `/v1/requests/${request.id}/cancel`, { token: as("carol") });
    assert.equal(again.status, 409);
  });

  test("an approver is told only the requester may (403); someone who cannot see it gets 404; nothing changes", async () => {
    const { request } = await file("carol", { datasets: ["demo.sales"], reason: "not yours" });
    const bob = await http("POST", `/v1/requests/${request.id}/cancel`, { token: as("bob") });
    assert.equal(bob.status, 403, bob.text);
    assert.match(bob.json.error.message, /only the person who filed it may withdraw it/);
    const alice = await http("POST", `/v1/requests/${request.id}/cancel`, { token: as("alice") });
    assert.equal(alice.status, 404, alice.text);
    const none = await http("POST", "/v1/requests/999999/cancel", { token: as("alice") });
    assert.deepEqual([none.status, none.json.error.message.replace("999999", "N")], [404, alice.json.error.message.replace(request.id, "N")]);
    assert.equal((await broker.deps.store.getRequest(request.id))?.state, "pending");
  });
});
