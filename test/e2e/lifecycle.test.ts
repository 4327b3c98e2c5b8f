/** The approval and grant lifecycle through the built binary: request, wait, approve, deny, caps, revoke, races, audit. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type DevBrokerProcess, runJit, type RunResult, startBroker } from "./harness.ts";

interface Req {
  id: string;
  state: string;
  requester: string;
  datasets: string[];
  reason: string;
  duration_seconds: number;
  requested_duration_seconds: number;
  expires_at: string;
  grant_id: string | null;
  decided_by: string | null;
  can_approve?: boolean;
}
interface GrantRow {
  id: string;
  state: string;
  request_id: string;
}
interface AuditRow {
  actor: string;
  action: string;
  outcome: string;
  details: Record<string, unknown>;
}

const SALES_SQL = "SELECT city FROM demo.sales.customers LIMIT 1";

describe("approvals and grant lifecycle end to end", { timeout: 150_000 }, () => {
  let broker: DevBrokerProcess;
  const jit = (user: string, args: string[], timeoutMs?: number): Promise<RunResult> => runJit(args, broker.env(user), { timeoutMs });
  const json = <T>(r: RunResult): T => {
    try {
      return JSON.parse(r.stdout) as T;
    } catch {
      throw new Error(`stdout is not JSON (exit ${r.code}): ${r.stdout}\nstderr: ${r.stderr}`);
    }
  };

  /** The user's id_token, from the file credential store the harness sets up. */
  const token = (user: string): string => {
    const file = JSON.parse(readFileSync(join(broker.env(user).XDG_STATE_HOME!, "jit", "credentials.json"), "utf8")) as { entries: Record<string, string> };
    const entry = file.entries[broker.url] ?? Object.values(file.entries)[0]!;
    return (JSON.parse(entry) as { id_token: string }).id_token;
  };
  const api = async (user: string, method: string, path: string, body?: unknown) => {
    const res = await fetch(`${broker.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token(user)}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  };

  /**
   * Withdraws carol's pending requests and ends her live grants (but `keep`), so the next request is filed anew:
   * the broker answers a repeated ask with the pending twin or the covering grant instead.
   */
  const resetCarol = async (keep: string[] = []) => {
    for (const q of (await api("carol", "GET", "/v1/requests?mine=1&pending=1")).body.requests as Req[]) {
      assert.equal((await api("carol", "POST", `/v1/requests/${q.id}/cancel`)).status, 200);
    }
    for (const g of (await api("carol", "GET", "/v1/grants")).body.grants as GrantRow[]) {
      if (!keep.includes(g.id)) assert.equal((await api("carol", "POST", `/v1/grants/${g.id}/revoke`, {})).status, 200);
    }
  };

  /** Files a request as carol that needs approval (after resetCarol); returns it. */
  const fileAsCarol = async (reason: string, extra: string[] = []): Promise<Req> => {
    await resetCarol([firstGrant]);
    const r = await jit("carol", ["request", "demo.sales", "--reason", reason, "--json", ...extra]);
    assert.equal(r.code, 5, r.stderr);
    return json<{ request: Req }>(r).request;
  };

  /** Polls bob's pending list until a request of carol's with this reason shows up. */
  const awaitPending = async (match: (r: Req) => boolean): Promise<Req> => {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const r = await jit("bob", ["requests", "--pending", "--json"]);
      assert.equal(r.code, 0, r.stderr);
      const found = json<{ requests: Req[] }>(r).requests.find((q) => q.requester === "carol" && match(q));
      if (found) return found;
      if (Date.now() > deadline) throw new Error("the request never showed up in bob's pending list");
      await new Promise((res) => setTimeout(res, 150));
    }
  };

  const carolGrants = async (all = false): Promise<GrantRow[]> => json<{ grants: GrantRow[] }>(await jit("carol", ["grants", "--json", ...(all ? ["--all"] : [])])).grants;

  let firstGrant = "";
  let raceId = "";

  before(async () => {
    broker = await startBroker();
    const logins = await Promise.all(["alice", "bob", "carol", "dave"].map((u) => broker.login(u)));
    for (const l of logins) assert.equal(l.code, 0, l.stderr);
  });
  after(async () => {
    await broker?.stop();
  });

  test("carol waits; bob sees the request, approves; carol's --wait exits 0 and her query runs", async () => {
    const waiting = jit("carol", ["request", "demo.sales", "--reason", "invoice audit", "--duration", "30m", "--wait", "--timeout", "20s"], 30_000);
    const pending = await awaitPending((q) => q.reason === "invoice audit");
    assert.deepEqual(pending.datasets, ["demo.sales"]);
    assert.equal(pending.state, "pending");
    assert.equal(pending.duration_seconds, 1800);
    assert.equal(pending.can_approve, true);
    const ttl = Date.parse(pending.expires_at) - Date.now();
    assert.ok(ttl > 23 * 3600_000 && ttl <= 24 * 3600_000, `pending expiry ${pending.expires_at}`);

    const ok = await jit("bob", ["approve", pending.id, "--comment", "ok"]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, new RegExp(`Request ${pending.id} approved: grant \\S+ for carol`));

    const waited = await waiting;
    assert.equal(waited.code, 0, waited.stderr);
    assert.match(waited.stderr, new RegExp(`waiting for request ${pending.id} to be decided \\(up to 20s\\)`));
    assert.doesNotMatch(waited.stderr, /\u001b\[/, "no spinner or colour without a terminal");
    assert.match(waited.stdout, /approved by bob/);

    const q = await jit("carol", ["query", SALES_SQL]);
    assert.equal(q.code, 0, q.stderr);
    assert.equal(json<{ row_count: number }>(q).row_count, 1);
    const grants = await carolGrants();
    assert.equal(grants.length, 1);
    assert.equal(grants[0]!.request_id, pending.id);
    firstGrant = grants[0]!.id;
  });

  test("deny: --reason is required; carol's --wait exits 4 with bob's reason", async () => {
    const waiting = jit("carol", ["request", "demo.sales", "--reason", "second look", "--wait", "--timeout", "20s"], 30_000);
    const pending = await awaitPending((q) => q.reason === "second look");

    const noReason = await jit("bob", ["deny", pending.id]);
    assert.equal(noReason.code, 2, noReason.stderr);
    assert.match(noReason.stderr, /--reason/);

    const denied = await jit("bob", ["deny", pending.id, "--reason", "use the aggregated dataset"]);
    assert.equal(denied.code, 0, denied.stderr);
    const waited = await waiting;
    assert.equal(waited.code, 4, waited.stderr);
    assert.match(waited.stderr, /denied by bob: use the aggregated dataset/);
  });

  test("who may decide: not the requester, not a non-approver, not twice, not an unknown id", async () => {
    const req = await fileAsCarol("self approval attempt");
    const self = await jit("carol", ["approve", req.id]);
    assert.equal(self.code, 4, self.stderr);
    assert.match(self.stderr, /own request/);

    // alice may not see carol's request: she is told what an unknown id tells her (exit 2), nothing of who decides it.
    const alice = await jit("alice", ["approve", req.id, "--comment", "lgtm"]);
    assert.equal(alice.code, 2, alice.stderr);
    assert.match(alice.stderr, new RegExp(`there is no request ${req.id} that you may see`));
    assert.doesNotMatch(alice.stderr, /data-owners|pending|carol/);
    const aliceDeny = await jit("alice", ["deny", req.id, "--reason", "no"]);
    assert.equal(aliceDeny.code, 2, aliceDeny.stderr);
    assert.equal(aliceDeny.stderr, (await jit("alice", ["deny", "999999", "--reason", "no"])).stderr.replace("999999", req.id));

    assert.equal((await jit("bob", ["approve", req.id])).code, 0);
    const again = await jit("bob", ["approve", req.id]);
    assert.equal(again.code, 4, again.stderr);
    assert.match(again.stderr, /already approved/);
    const denyDecided = await jit("bob", ["deny", req.id, "--reason", "too late"]);
    assert.equal(denyDecided.code, 4, denyDecided.stderr);

    for (const id of ["999999", "nope"]) {
      const unknown = await jit("bob", ["approve", id]);
      assert.equal(unknown.code, 2, `approve ${id}: ${unknown.stderr}`);
      assert.match(unknown.stderr, /no request/);
    }
  });

  test("a duration beyond the policy is capped and said so; a malformed one is a usage error", async () => {
    await resetCarol([firstGrant]);
    const r = await jit("carol", ["request", "demo.sales", "--reason", "long job", "--duration", "3h", "--json"]);
    assert.equal(r.code, 5, r.stderr);
    const out = json<{ request: Req; note: string }>(r);
    assert.equal(out.request.duration_seconds, 3600);
    assert.equal(out.request.requested_duration_seconds, 3 * 3600);
    assert.match(out.note, /capped at 1h/);

    const human = await jit("carol", ["request", "demo.sales", "--reason", "long job", "--duration", "3h"]);
    assert.equal(human.code, 5, human.stderr);
    assert.match(human.stderr, /note: the duration was capped at 1h by policy/);
    assert.match(human.stdout, /\(1h\) is pending approval/);

    const bad = await jit("carol", ["request", "demo.sales", "--reason", "x", "--duration", "90x"]);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /invalid duration "90x"/);
  });

  test("--json failures are a single JSON object on stderr, even when the duration was capped", async () => {
    const r = await jit("carol", ["request", "demo.sales", "--reason", "long job", "--duration", "3h", "--json"]);
    assert.equal(r.code, 5);
    const body = JSON.parse(r.stderr) as { error: { code: string } };
    assert.equal(body.error.code, "pending");
  });

  test("the API refuses a sub-second duration instead of filing a 0s grant", async () => {
    const r = await api("carol", "POST", "/v1/requests", { datasets: ["demo.sales"], reason: "tiny", duration_seconds: 0.4 });
    assert.equal(r.status, 400, JSON.stringify(r.body));
  });

  test("carol must give a reason", async () => {
    for (const args of [[], ["--reason", "   "]]) {
      const r = await jit("carol", ["request", "demo.sales", ...args]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /reason is required/);
    }
  });

  test("revoke: the holder ends her grant; others may not; an approver may end carol's", async () => {
    const filed = await jit("alice", ["request", "demo.sales", "--reason", "weekly report", "--json"]);
    assert.equal(filed.code, 0, filed.stderr);
    const grantId = json<{ request: Req }>(filed).request.grant_id!;
    assert.equal((await jit("alice", ["query", SALES_SQL])).code, 0);

    // carol answers for none of its datasets: to her, alice's grant does not exist.
    const byCarol = await jit("carol", ["revoke", grantId]);
    assert.equal(byCarol.code, 2, byCarol.stderr);
    assert.match(byCarol.stderr, new RegExp(`there is no grant ${grantId} that you may see`));
    assert.equal((await jit("alice", ["query", SALES_SQL])).code, 0, "carol's attempt changed nothing");

    const mine = await jit("alice", ["revoke", grantId]);
    assert.equal(mine.code, 0, mine.stderr);
    assert.match(mine.stdout, /revoked/);
    const after = await jit("alice", ["query", SALES_SQL]);
    assert.equal(after.code, 4, after.stderr);
    assert.match(after.stderr, /no active grant/);

    assert.ok(firstGrant, "the first test issued carol a grant");
    const byBob = await jit("bob", ["revoke", firstGrant]);
    assert.equal(byBob.code, 0, byBob.stderr);
    const gone = (await carolGrants(true)).find((g) => g.id === firstGrant);
    assert.equal(gone?.state, "revoked");

    const unknown = await jit("bob", ["revoke", "999999"]);
    assert.equal(unknown.code, 2, unknown.stderr);
  });

  test("revoking a grant that is already revoked is refused, not reported as done", async () => {
    const filed = await jit("alice", ["request", "demo.sales", "--reason", "double revoke", "--json"]);
    const grantId = json<{ request: Req }>(filed).request.grant_id!;
    assert.equal((await jit("alice", ["revoke", grantId])).code, 0);
    const again = await jit("alice", ["revoke", grantId]);
    assert.notEqual(again.code, 0, `second revoke: exit ${again.code} ${again.stdout}`);
  });

  test("concurrent approvals: exactly one grant, the others refused clearly", async () => {
    const req = await fileAsCarol("race");
    raceId = req.id;
    const results = await Promise.all(Array.from({ length: 4 }, () => api("bob", "POST", `/v1/requests/${req.id}/approve`, { comment: "race" })));
    const ok = results.filter((r) => r.status === 200);
    const refused = results.filter((r) => r.status !== 200);
    assert.equal(ok.length, 1, JSON.stringify(results));
    for (const r of refused) {
      assert.equal(r.status, 403);
      assert.equal(r.body.error.code, "denied");
      assert.match(r.body.error.message, /already approved|cannot be approved/);
    }
    const grants = (await carolGrants(true)).filter((g) => g.request_id === req.id);
    assert.equal(grants.length, 1);
    assert.equal(grants[0]!.id, ok[0]!.body.request.grant_id);
  });

  test("approve and deny at the same moment: one wins, and the request's state matches its grants", async () => {
    const req = await fileAsCarol("approve or deny");
    const [a, d] = await Promise.all([
      api("bob", "POST", `/v1/requests/${req.id}/approve`, { comment: "yes" }),
      api("bob", "POST", `/v1/requests/${req.id}/deny`, { reason: "no" }),
    ]);
    assert.deepEqual([a.status, d.status].sort(), [200, 403], JSON.stringify([a.body, d.body]));
    const final = await api("carol", "GET", `/v1/requests/${req.id}`);
    const grants = (await carolGrants(true)).filter((g) => g.request_id === req.id);
    if (a.status === 200) {
      assert.equal(final.body.request.state, "approved");
      assert.equal(grants.length, 1);
    } else {
      assert.equal(final.body.request.state, "denied");
      assert.equal(grants.length, 0);
    }
  });

  test("an auditor cannot decide, and approve needs an id without a terminal", async () => {
    const req = await fileAsCarol("auditor try");
    const dave = await jit("dave", ["approve", req.id]);
    assert.equal(dave.code, 2, dave.stderr);
    assert.match(dave.stderr, /that you may see/);
    const noId = await jit("bob", ["approve"]);
    assert.equal(noId.code, 2, noId.stderr);
    assert.match(noId.stderr, /jit requests --pending/);
  });

  test("query --wait-approval files the request, waits for bob, then prints the result", async () => {
    await resetCarol();
    const before = await jit("carol", ["query", SALES_SQL]);
    assert.equal(before.code, 4, "carol holds no grant now");

    const waiting = jit("carol", ["query", "--wait-approval", "--timeout", "20s", SALES_SQL], 30_000);
    const pending = await awaitPending((q) => q.reason.startsWith("jit query --wait-approval"));
    assert.match(pending.reason, /SELECT city FROM demo\.sales\.customers/);
    assert.equal((await jit("bob", ["approve", pending.id, "--comment", "one city"])).code, 0);
    const done = await waiting;
    assert.equal(done.code, 0, done.stderr);
    assert.match(done.stderr, new RegExp(`Filed request ${pending.id} .*jit approve ${pending.id}`));
    const res = json<{ row_count: number; grant_id: string }>(done);
    assert.equal(res.row_count, 1);
    assert.ok(res.grant_id);
  });

  test("request wait is a long poll: it ends within a second of bob's approval and costs two audit records, not one a second", async () => {
    const req = await fileAsCarol("long poll");
    const waiting = jit("carol", ["request", "wait", req.id, "--timeout", "30s", "--json"], 40_000);
    // Longer than the CLI's ordinary 10 s answer timeout: a long poll must not be cut off by it.
    await new Promise((r) => setTimeout(r, 11_500));
    const approvedAt = Date.now();
    assert.equal((await api("bob", "POST", `/v1/requests/${req.id}/approve`, { comment: "lp" })).status, 200);
    const waited = await waiting;
    const after = Date.now() - approvedAt;
    assert.equal(waited.code, 0, waited.stderr);
    assert.equal(json<{ request: Req }>(waited).request.state, "approved");
    assert.ok(after < 1500, `jit request wait exited ${after} ms after the approval`);
    const audit = await api("dave", "GET", "/v1/audit?user=carol&action=metadata&limit=1000");
    const reads = (audit.body.records as AuditRow[]).filter((r) => r.details.request_id === req.id);
    assert.equal(reads.length, 2, `one read, then one long poll: ${JSON.stringify(reads.map((r) => r.details))}`);
    assert.equal(reads[1]!.details.wait_s, 25);
  });

  test("request cancel: carol withdraws her pending request (exit 0); bob may not (4); a withdrawn one cannot be again (4)", async () => {
    const req = await fileAsCarol("withdraw me");
    const byBob = await jit("bob", ["request", "cancel", req.id]);
    assert.equal(byBob.code, 4, byBob.stderr);
    assert.match(byBob.stderr, /only the person who filed it may withdraw it/);
    const done = await jit("carol", ["request", "cancel", req.id]);
    assert.equal(done.code, 0, done.stderr);
    assert.match(done.stdout, new RegExp(`Request ${req.id} for demo\\.sales is withdrawn`));
    const again = await jit("carol", ["request", "cancel", req.id, "--json"]);
    assert.equal(again.code, 4, again.stderr);
    assert.equal(JSON.parse(again.stderr).error.state, "cancelled");
    const shown = json<{ request: Req }>(await jit("carol", ["request", "show", req.id, "--json"]));
    assert.equal(shown.request.state, "cancelled");
    const unknown = await jit("carol", ["request", "cancel", "999999"]);
    assert.equal(unknown.code, 2, unknown.stderr);
    assert.equal((await jit("bob", ["approve", req.id])).code, 4, "a withdrawn request cannot be approved");
  });

  test("asking again: carol is told her pending request is reused; alice, holding a grant, is told it covers her (exit 0)", async () => {
    const first = await fileAsCarol("reuse me");
    const again = await jit("carol", ["request", "demo.sales", "--reason", "asked twice"]);
    assert.equal(again.code, 5, again.stderr);
    assert.match(again.stderr, new RegExp(`Reusing pending request ${first.id} \\(filed .* with reason: reuse me\\); nothing new was filed`));
    const mine = json<{ requests: Req[] }>(await jit("carol", ["requests", "--mine", "--pending", "--json"])).requests;
    assert.deepEqual(mine.map((q) => q.id), [first.id]);
    await resetCarol([firstGrant]);

    const granted = json<{ request: Req }>(await jit("alice", ["request", "demo.sales", "--reason", "covered", "--json"]));
    const covered = await jit("alice", ["request", "demo.sales", "--reason", "covered again"]);
    assert.equal(covered.code, 0, covered.stderr);
    assert.match(covered.stdout, new RegExp(`Already covered: grant ${granted.request.grant_id} on demo\\.sales expires in .*; no new grant was made`));
    const asJson = json<{ covered_by_grant: string }>(await jit("alice", ["request", "demo.sales", "--reason", "covered", "--json"]));
    assert.equal(asJson.covered_by_grant, granted.request.grant_id);
    const grants = json<{ grants: GrantRow[] }>(await jit("alice", ["grants", "--json"])).grants;
    assert.deepEqual(grants.map((g) => g.id), [granted.request.grant_id]);
    assert.equal((await jit("alice", ["revoke", granted.request.grant_id!])).code, 0);
  });

  test("links: jit request, jit request show and jit requests print the request's console page", async () => {
    await resetCarol([firstGrant]);
    const filed = await jit("carol", ["request", "demo.sales", "--reason", "linked"]);
    assert.equal(filed.code, 5, filed.stderr);
    const id = /Request (\d+) for demo\.sales/.exec(filed.stdout)![1]!;
    const link = `${broker.url}/console/requests/${id}`;
    assert.ok(filed.stdout.includes(`Console: ${link}`), filed.stdout);
    assert.ok((await jit("carol", ["request", "show", id])).stdout.includes(`console:    ${link}`));
    assert.ok((await jit("bob", ["requests", "--pending"])).stdout.includes(`Request ${id}: ${link}`));
    assert.equal(json<{ request: { console_url: string } }>(await jit("carol", ["request", "show", id, "--json"])).request.console_url, link);
    await resetCarol([firstGrant]);
  });

  test("whoami shows carol's pending requests and where her tokens are kept", async () => {
    const req = await fileAsCarol("whoami shows me");
    const file = join(broker.env("carol").XDG_STATE_HOME!, "jit", "credentials.json");
    const who = await jit("carol", ["whoami"]);
    assert.equal(who.code, 0, who.stderr);
    assert.match(who.stdout, new RegExp(`request ${req.id}: demo\\.sales pending approval by data-owners, filed .*: ${broker.url}/console/requests/${req.id}`));
    assert.ok(who.stdout.includes(`tokens:  file ${file} (plaintext, mode 0600`), who.stdout);
    const asJson = json<{ pending_requests: Req[]; token_store: { kind: string; location: string } }>(await jit("carol", ["whoami", "--json"]));
    assert.deepEqual(asJson.pending_requests.map((q) => q.id), [req.id]);
    assert.deepEqual(asJson.token_store, { kind: "file", location: file });
    await resetCarol([firstGrant]);
    assert.match((await jit("carol", ["whoami"])).stdout, /pending: no requests waiting for approval/);
  });

  test("every state change is in the audit log, with actor and reason, and the chain verifies", async () => {
    const r = await jit("dave", ["audit", "list", "--json", "--limit", "1000"]);
    assert.equal(r.code, 0, r.stderr);
    const records = json<{ records: AuditRow[] }>(r).records;
    const has = (actor: string, action: string, outcome: string, details: Record<string, unknown> = {}) =>
      records.some((x) => x.actor === actor && x.action === action && x.outcome === outcome && Object.entries(details).every(([k, v]) => x.details[k] === v));
    const expect = (actor: string, action: string, outcome: string, details?: Record<string, unknown>) =>
      assert.ok(has(actor, action, outcome, details), `no ${action}/${outcome} by ${actor} with ${JSON.stringify(details)}`);

    expect("carol", "request", "pending", { reason: "invoice audit", duration_ms: 1800_000 });
    expect("carol", "request", "pending", { reason: "long job", capped: "capped at 1h by policy" });
    expect("carol", "request", "denied", { why: "missing reason" });
    expect("alice", "request", "ok", { reason: "weekly report" });
    expect("bob", "approve", "ok", { comment: "ok" });
    expect("bob", "approve", "ok", { comment: "one city" });
    expect("bob", "deny", "ok", { reason: "use the aggregated dataset" });
    expect("carol", "approve", "denied", { why: "nobody approves their own request" });
    expect("alice", "approve", "denied");
    expect("alice", "revoke", "ok");
    expect("carol", "revoke", "denied");
    expect("bob", "revoke", "ok", { grant_id: firstGrant, holder: "carol" });
    expect("carol", "cancel", "ok");
    expect("carol", "cancel", "denied", { why: "request is cancelled" });
    expect("bob", "cancel", "denied");
    const raced = records.filter((x) => x.action === "approve" && x.details.request_id === raceId);
    assert.equal(raced.filter((x) => x.outcome === "ok").length, 1);
    assert.equal(raced.filter((x) => x.outcome === "denied").length, 3, "each refused approval is audited too");

    const verify = await jit("dave", ["audit", "verify"]);
    assert.equal(verify.code, 0, verify.stderr);
  });
});
