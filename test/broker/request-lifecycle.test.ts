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
/** Withdraws the user's pending requests and ends their grants, so the next request is filed anew (not reused or covered). */
const reset = async (user: string) => {
  for (const q of (await http("GET", "/v1/requests?mine=1&pending=1", { token: as(user) })).json.requests) {
    assert.equal((await http("POST", `/v1/requests/${q.id}/cancel`, { token: as(user) })).status, 200);
  }
  for (const g of (await http("GET", "/v1/grants", { token: as(user) })).json.grants) {
    assert.equal((await http("POST", `/v1/grants/${g.id}/revoke`, { token: as(user), body: {} })).status, 200);
  }
};
type Filed = { request: { id: string; state: string; grant_id: string | null; console_url: string | null; reason: string }; reused?: string; covered_by_grant?: string };
const post = async (user: string, body: Record<string, unknown>): Promise<Filed> => {
  const res = await http("POST", "/v1/requests", { token: as(user), body });
  assert.equal(res.status, 200, res.text);
  return res.json as Filed;
};
const file = async (user: string, body: Record<string, unknown>) => {
  await reset(user);
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

describe("long-poll waits", () => {
  test("a wait is one call and one audit record, and it answers within a second of the approval", async (t) => {
    const { request } = await file("carol", { datasets: ["demo.sales"], reason: "wait for me" });
    const seq = await lastSeq();
    const started = Date.now();
    const waiting = http("GET", `/v1/requests/${request.id}?wait=20`, { token: as("carol") });
    await new Promise((r) => setTimeout(r, 1500));
    const approvedAt = Date.now();
    const ok = await http("POST", `/v1/requests/${request.id}/approve`, { token: as("bob"), body: {} });
    assert.equal(ok.status, 200, ok.text);
    const res = await waiting;
    const answeredAfter = Date.now() - approvedAt;
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.request.state, "approved");
    assert.ok(Date.now() - started >= 1400, "the call waited for the decision");
    assert.ok(answeredAfter < 1000, `answered ${answeredAfter} ms after the approval`);
    t.diagnostic(`the wait answered ${answeredAfter} ms after the approval (same broker)`);
    const carols = (await since(seq)).filter((r) => r.actor === "carol");
    assert.deepEqual(carols.map((r) => [r.action, r.outcome, r.details.wait_s]), [["metadata", "ok", 20]]);
  });

  test("a wait of N seconds on a request nobody decides is one record and ends after N seconds, still pending", async () => {
    const { request } = await file("carol", { datasets: ["demo.sales"], reason: "nobody decides" });
    const seq = await lastSeq();
    const started = Date.now();
    const res = await http("GET", `/v1/requests/${request.id}?wait=3`, { token: as("carol") });
    const took = Date.now() - started;
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.request.state, "pending");
    assert.ok(took >= 2900 && took < 4500, `waited ${took} ms`);
    assert.equal((await since(seq)).length, 1, "3 s of waiting (three store re-reads) is one audit record");
    await http("POST", `/v1/requests/${request.id}/cancel`, { token: as("carol") });
  });

  test("a decision made behind this broker's back (another replica) is seen by the store re-read within about a second", async (t) => {
    const { request } = await file("carol", { datasets: ["demo.sales"], reason: "other replica" });
    const waiting = http("GET", `/v1/requests/${request.id}?wait=20`, { token: as("carol") });
    await new Promise((r) => setTimeout(r, 300));
    const decidedAt = Date.now();
    const res = await broker.deps.store.denyRequest(request.id, "bob", "from elsewhere", Date.now());
    assert.ok(res.ok);
    const answer = await waiting;
    assert.equal(answer.json.request.state, "denied");
    const after = Date.now() - decidedAt;
    assert.ok(after < 1600, `answered ${after} ms after`);
    t.diagnostic(`the wait answered ${after} ms after a decision it was not told of (store re-read)`);
  });

  test("cancel wakes a waiting call; a decided request answers at once; the wait is bounded and validated", async () => {
    const { request } = await file("carol", { datasets: ["demo.sales"], reason: "cancel wakes" });
    const waiting = http("GET", `/v1/requests/${request.id}?wait=20`, { token: as("carol") });
    await new Promise((r) => setTimeout(r, 300));
    await http("POST", `/v1/requests/${request.id}/cancel`, { token: as("carol") });
    const started = Date.now();
    assert.equal((await waiting).json.request.state, "cancelled");
    assert.ok(Date.now() - started < 500);
    const t0 = Date.now();
    assert.equal((await http("GET", `/v1/requests/${request.id}?wait=30`, { token: as("carol") })).json.request.state, "cancelled");
    assert.ok(Date.now() - t0 < 500, "nothing to wait for");
    for (const bad of ["61", "-1", "1.5", "soon"]) {
      const r = await http("GET", `/v1/requests/${request.id}?wait=${bad}`, { token: as("carol") });
      assert.equal(r.status, 400, bad);
      assert.match(r.json.error.message, /"wait" must be/);
    }
    const hidden = await http("GET", `/v1/requests/${request.id}?wait=5`, { token: as("alice") });
    assert.equal(hidden.status, 404, "the door decides before any waiting");
  });
});

describe("reuse", () => {
  test("the same person asking for the same datasets again gets the pending request back, recorded, not a copy", async () => {
    const first = await file("carol", { datasets: ["demo.sales"], reason: "first ask" });
    const seq = await lastSeq();
    const again = await post("carol", { datasets: ["sales", "demo.sales"], reason: "second ask", duration_seconds: 600 });
    assert.equal(again.reused, first.request.id);
    assert.equal(again.request.id, first.request.id);
    assert.equal(again.request.reason, "first ask", "the request approvers see is the one filed");
    const recs = await since(seq);
    assert.deepEqual(recs.map((r) => [r.action, r.outcome, r.details.reused_request]), [["access", "ok", undefined], ["request", "pending", first.request.id]]);
    const pending = (await http("GET", "/v1/requests?pending=1", { token: as("bob") })).json.requests.filter((q: { requester: string }) => q.requester === "carol");
    assert.equal(pending.length, 1);
    // Someone else asking for the same is their own request; a different set of datasets is a different request.
    const other = await post("bob", { datasets: ["demo.sales"], reason: "mine" });
    assert.equal(other.reused, undefined);
  });

  test("a live grant covering the ask is the answer: no new request, no new grant; one running out sooner is extended", async () => {
    await reset("alice");
    const granted = await post("alice", { datasets: ["demo.sales"], reason: "report", duration_seconds: 3600 });
    assert.equal(granted.request.state, "approved");
    const seq = await lastSeq();
    const again = await post("alice", { datasets: ["demo.sales"], reason: "report again", duration_seconds: 1800 });
    assert.equal(again.covered_by_grant, granted.request.grant_id);
    assert.equal(again.request.id, granted.request.id);
    assert.deepEqual((await since(seq)).map((r) => [r.action, r.outcome, r.details.covered_by_grant]), [["access", "ok", undefined], ["request", "ok", granted.request.grant_id]]);
    assert.equal((await http("GET", "/v1/grants", { token: as("alice") })).json.grants.length, 1);
    // Asking for longer than the grant has left is an extension: filed (auto-approved) as usual.
    const longer = await post("alice", { datasets: ["demo.sales"], reason: "all day", duration_seconds: 8 * 3600 });
    assert.equal(longer.covered_by_grant, undefined);
    assert.notEqual(longer.request.grant_id, granted.request.grant_id);
  });

  test("single statements: the same SQL is reused while pending, and once approved its unused grant is the answer", async () => {
    const sql = "SELECT department FROM demo.hr.employees LIMIT 1";
    await reset("alice");
    const first = await post("alice", { sql, reason: "headcount" });
    assert.equal(first.request.state, "pending");
    const again = await post("alice", { sql, reason: "headcount, again" });
    assert.equal(again.reused, first.request.id);
    const different = await post("alice", { sql: `${sql} OFFSET 1`, reason: "another" });
    assert.notEqual(different.request.id, first.request.id);
    assert.equal((await http("POST", `/v1/requests/${first.request.id}/approve`, { token: as("bob"), body: {} })).status, 200);
    const covered = await post("alice", { sql, reason: "headcount, third time" });
    assert.ok(covered.covered_by_grant);
    assert.equal(covered.request.id, first.request.id);
    await reset("alice");
  });
});
