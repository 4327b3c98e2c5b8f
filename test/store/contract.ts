// The Store contract, run against every implementation: each test gets a fresh, empty store from `open`.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, test as nodeTest, type TestContext } from "node:test";
import { verifyChain } from "../../src/audit/chain.ts";
import { JitError } from "../../src/errors.ts";
import type { Approval, NewAuditRecord, NewRequest, Store } from "../../src/store/types.ts";

export interface OpenedStore {
  store: Store;
  cleanup(): Promise<void>;
  /** Runs raw SQL behind the store's back (to tamper with the audit log); absent when the store offers no raw access. */
  exec?(sql: string): Promise<void>;
}

/** A fixed clock: contract tests never read the real time. */
export const T0 = 1_700_000_000_000;
const HOUR = 3_600_000;

/** A request as the broker would build it; `over` changes any field. */
export function newRequest(over: Partial<NewRequest> = {}): NewRequest {
  return {
    requester: "alice@example.com", requesterSubject: "sub-alice", datasets: ["demo.sales"], reason: "INC-1 investigate refunds",
    durationMs: HOUR, requestedDurationMs: 2 * HOUR, createdAt: T0, expiresAt: T0 + HOUR, ruleIds: ["datasets[0].access[1]"],
    approverGroups: ["data-owners"], minApprovals: 1, autoApprove: false, ...over,
  };
}

/** An approval by `who` at `at`. */
export function approval(who: string, at = T0 + 1000): Approval {
  return { approver: `${who}@example.com`, approverSubject: `sub-${who}`, comment: `ok from ${who}`, at };
}

/** An audit record with `i` in its details. */
export function auditRecord(i: number, over: Partial<NewAuditRecord> = {}): NewAuditRecord {
  return { at: T0 + i, actor: "alice@example.com", actorSubject: "sub-alice", action: "query", outcome: "ok", details: { i }, ...over };
}

const grantUntil = (at: number) => at + HOUR;

/**
 * Registers the contract tests for one store implementation. `knownGaps` maps a test name to why the implementation
 * fails it today: the test still runs and reports as TODO instead of failing the suite, until the gap is fixed.
 */
export function storeContract(name: string, open: () => Promise<OpenedStore>, knownGaps: Record<string, string> = {}): void {
  const test = (title: string, fn: (t: TestContext) => Promise<void>) =>
    nodeTest(title, knownGaps[title] ? { todo: `${name}: ${knownGaps[title]}` } : {}, fn);
  describe(`${name} store contract`, () => {
    let opened: OpenedStore;
    let store: Store;
    beforeEach(async () => {
      opened = await open();
      store = opened.store;
    });
    afterEach(async () => opened.cleanup());

    test("an auto-approved request gets its grant in the same call", async () => {
      const { request, grant } = await store.createRequest(newRequest({ autoApprove: true, grantExpiresAt: T0 + 2 * HOUR, sql: "SELECT 1", sqlHash: "h1" }));
      assert.ok(grant);
      assert.equal(request.state, "approved");
      assert.equal(request.decidedBy, "policy");
      assert.equal(request.grantId, grant.id);
      assert.deepEqual([grant.requestId, grant.holderSubject, grant.datasets, grant.expiresAt, grant.sqlHash], [request.id, "sub-alice", ["demo.sales"], T0 + 2 * HOUR, "h1"]);
      assert.deepEqual(await store.getRequest(request.id), request);
      assert.deepEqual(await store.getGrant(grant.id), grant);
    });

    test("a request round-trips every field", async () => {
      const { request, grant } = await store.createRequest(newRequest({ datasets: ["a.b", "c.d"], ruleIds: ["r1", "r2"], approverGroups: ["g1", "g2"], minApprovals: 3, sql: "SELECT 'é'", sqlHash: "hx" }));
      assert.equal(grant, null);
      assert.deepEqual(await store.getRequest(request.id), {
        id: request.id, requester: "alice@example.com", requesterSubject: "sub-alice", datasets: ["a.b", "c.d"], reason: "INC-1 investigate refunds",
        durationMs: HOUR, requestedDurationMs: 2 * HOUR, state: "pending", createdAt: T0, expiresAt: T0 + HOUR, ruleIds: ["r1", "r2"],
        approverGroups: ["g1", "g2"], minApprovals: 3, approvals: [], decidedAt: null, decidedBy: null, decisionReason: null,
        grantId: null, sql: "SELECT 'é'", sqlHash: "hx",
      });
    });

    test("two approvals are needed when min_approvals is 2, and the grant is created once", async () => {
      const { request } = await store.createRequest(newRequest({ minApprovals: 2 }));
      const first = await store.approveRequest(request.id, approval("bob"), grantUntil);
      assert.ok(first.ok);
      assert.equal(first.grant, null);
      assert.equal(first.request.state, "pending");
      assert.deepEqual(first.request.approvals.map((a) => a.approverSubject), ["sub-bob"]);
      const second = await store.approveRequest(request.id, approval("carol", T0 + 2000), grantUntil);
      assert.ok(second.ok && second.grant);
      assert.equal(second.request.state, "approved");
      assert.equal(second.request.grantId, second.grant.id);
      assert.equal(second.request.decidedBy, "carol@example.com");
      assert.equal(second.grant.expiresAt, T0 + 2000 + HOUR);
      const third = await store.approveRequest(request.id, approval("dave", T0 + 3000), grantUntil);
      assert.deepEqual([third.ok, !third.ok && third.reason], [false, "not_pending"]);
      assert.equal((await store.listGrants({ holderSubject: "sub-alice" })).length, 1);
    });

    test("the same approver cannot approve twice", async () => {
      const { request } = await store.createRequest(newRequest({ minApprovals: 2 }));
      assert.ok((await store.approveRequest(request.id, approval("bob"), grantUntil)).ok);
      const again = await store.approveRequest(request.id, approval("bob", T0 + 2000), grantUntil);
      assert.equal(!again.ok && again.reason, "already_approved_by_you");
      assert.equal((await store.getRequest(request.id))?.approvals.length, 1);
      assert.equal((await store.listGrants({})).length, 0);
    });

    test("concurrent approvals of one request create one grant", async () => {
      const { request } = await store.createRequest(newRequest());
      const results = await Promise.all(["bob", "carol", "dave"].map((w) => store.approveRequest(request.id, approval(w), grantUntil)));
      assert.equal(results.filter((r) => r.ok && r.grant).length, 1);
      assert.deepEqual(results.filter((r) => !r.ok).map((r) => !r.ok && r.reason), ["not_pending", "not_pending"]);
      assert.equal((await store.listGrants({})).length, 1);
    });

    test("deny decides the request; decided requests cannot be decided again", async () => {
      const { request } = await store.createRequest(newRequest());
      const denied = await store.denyRequest(request.id, "bob@example.com", "not for prod", T0 + 5);
      assert.ok(denied.ok);
      assert.deepEqual([denied.request.state, denied.request.decidedBy, denied.request.decisionReason, denied.request.decidedAt], ["denied", "bob@example.com", "not for prod", T0 + 5]);
      for (const r of [await store.approveRequest(request.id, approval("carol"), grantUntil), await store.denyRequest(request.id, "carol", "x", T0 + 6)]) {
        assert.equal(!r.ok && r.reason, "not_pending");
        assert.equal(r.request?.state, "denied");
      }
      const { request: auto } = await store.createRequest(newRequest({ autoApprove: true }));
      const r = await store.denyRequest(auto.id, "bob", "late", T0 + 7);
      assert.equal(!r.ok && r.reason, "not_pending");
      assert.equal(r.request?.state, "approved");
    });

    test("cancel withdraws a pending request for its requester only; a decided one cannot be cancelled", async () => {
      const { request } = await store.createRequest(newRequest());
      const other = await store.cancelRequest(request.id, "sub-bob", T0 + 4);
      assert.equal(!other.ok && other.reason, "not_requester");
      assert.equal((await store.getRequest(request.id))?.state, "pending");
      const cancelled = await store.cancelRequest(request.id, "sub-alice", T0 + 5);
      assert.ok(cancelled.ok);
      assert.deepEqual([cancelled.request.state, cancelled.request.decidedBy, cancelled.request.decidedAt], ["cancelled", "alice@example.com", T0 + 5]);
      for (const r of [await store.approveRequest(request.id, approval("bob"), grantUntil), await store.cancelRequest(request.id, "sub-alice", T0 + 6)]) {
        assert.equal(!r.ok && r.reason, "not_pending");
        assert.equal(r.request?.state, "cancelled");
      }
      const { request: auto } = await store.createRequest(newRequest({ autoApprove: true }));
      const late = await store.cancelRequest(auto.id, "sub-alice", T0 + 7);
      assert.equal(!late.ok && late.reason, "not_pending");
      assert.deepEqual(await store.cancelRequest("999999", "sub-alice", T0), { ok: false, reason: "not_found", request: null });
      assert.deepEqual((await store.listRequests({ state: "cancelled" })).map((r) => r.id), [request.id]);
    });

    test("unknown and malformed ids are not found", async () => {
      await store.createRequest(newRequest());
      for (const id of ["999999", "abc", "", "-1"]) {
        assert.equal(await store.getRequest(id), null);
        assert.equal(await store.getGrant(id), null);
        assert.equal(await store.getAudit(id), null);
        assert.equal(await store.revokeGrant(id, "x", T0), null);
        assert.equal(await store.consumeGrant(id, T0), false);
        assert.deepEqual(await store.approveRequest(id, approval("bob"), grantUntil), { ok: false, reason: "not_found", request: null });
        assert.deepEqual(await store.denyRequest(id, "bob", "no", T0), { ok: false, reason: "not_found", request: null });
      }
    });

    test("a request past its expiry cannot be approved or denied", async () => {
      const { request } = await store.createRequest(newRequest());
      const late = await store.approveRequest(request.id, approval("bob", T0 + HOUR), grantUntil);
      assert.equal(!late.ok && late.reason, "expired");
      const lateDeny = await store.denyRequest(request.id, "bob", "no", T0 + HOUR + 1);
      assert.equal(!lateDeny.ok && lateDeny.reason, "expired");
      assert.equal((await store.getRequest(request.id))?.state, "pending");
    });

    test("expirePending expires only pending requests past their expiry, once", async () => {
      const old = (await store.createRequest(newRequest({ expiresAt: T0 + 10 }))).request;
      const fresh = (await store.createRequest(newRequest({ expiresAt: T0 + HOUR }))).request;
      const decided = (await store.createRequest(newRequest({ expiresAt: T0 + 10, autoApprove: true }))).request;
      const expired = await store.expirePending(T0 + 10);
      assert.deepEqual(expired.map((r) => [r.id, r.state, r.decidedAt, r.decidedBy]), [[old.id, "expired", T0 + 10, "broker"]]);
      assert.deepEqual(await store.expirePending(T0 + 20), []);
      assert.equal((await store.getRequest(fresh.id))?.state, "pending");
      assert.equal((await store.getRequest(decided.id))?.state, "approved");
    });

    test("listRequests filters by requester and state, newest first, with a limit", async () => {
      const a1 = (await store.createRequest(newRequest())).request;
      const a2 = (await store.createRequest(newRequest({ autoApprove: true }))).request;
      const b1 = (await store.createRequest(newRequest({ requester: "bob", requesterSubject: "sub-bob" }))).request;
      await store.approveRequest(b1.id, approval("carol"), grantUntil);
      assert.deepEqual((await store.listRequests({})).map((r) => r.id), [b1.id, a2.id, a1.id]);
      assert.deepEqual((await store.listRequests({ requesterSubject: "sub-alice" })).map((r) => r.id), [a2.id, a1.id]);
      assert.deepEqual((await store.listRequests({ state: "pending" })).map((r) => r.id), [a1.id]);
      assert.deepEqual((await store.listRequests({ requesterSubject: "sub-alice", state: "approved" })).map((r) => r.id), [a2.id]);
      assert.deepEqual((await store.listRequests({ limit: 1 })).map((r) => r.id), [b1.id]);
      const listed = (await store.listRequests({ requesterSubject: "sub-bob" }))[0];
      assert.deepEqual(listed, await store.getRequest(b1.id));
      assert.equal(listed?.approvals.length, 1);
    });

    test("listGrants activeAt leaves out expired, revoked and used grants; revoke and consume", async () => {
      const mk = async (over: Partial<NewRequest>) => (await store.createRequest(newRequest({ autoApprove: true, ...over }))).grant!;
      const active = await mk({ grantExpiresAt: T0 + HOUR });
      const expired = await mk({ grantExpiresAt: T0 + 100 });
      const revoked = await mk({ grantExpiresAt: T0 + HOUR });
      const used = await mk({ grantExpiresAt: T0 + HOUR, sql: "SELECT 1", sqlHash: "h" });
      const other = await mk({ grantExpiresAt: T0 + HOUR, requester: "bob", requesterSubject: "sub-bob" });
      const r = await store.revokeGrant(revoked.id, "admin@example.com", T0 + 50);
      assert.deepEqual([r?.revokedAt, r?.revokedBy], [T0 + 50, "admin@example.com"]);
      assert.deepEqual(await store.revokeGrant(revoked.id, "someone-else", T0 + 60), r, "a second revoke keeps the first");
      assert.equal(await store.consumeGrant(used.id, T0 + 70), true);
      assert.equal(await store.consumeGrant(used.id, T0 + 71), false);
      assert.equal(await store.consumeGrant(revoked.id, T0 + 72), false);
      assert.equal((await store.getGrant(used.id))?.usedAt, T0 + 70);
      const ids = async (q: Parameters<Store["listGrants"]>[0]) => (await store.listGrants(q)).map((g) => g.id).sort();
      assert.deepEqual(await ids({ activeAt: T0 + 100 }), [active.id, other.id].sort());
      assert.deepEqual(await ids({ activeAt: T0 + 99 }), [active.id, expired.id, other.id].sort());
      assert.deepEqual(await ids({ holderSubject: "sub-alice", activeAt: T0 + 100 }), [active.id]);
      assert.deepEqual(await ids({ holderSubject: "sub-alice" }), [active.id, expired.id, revoked.id, used.id].sort());
      assert.deepEqual(await ids({ activeAt: T0 + HOUR }), []);
    });

    test("consumeGrant succeeds for exactly one of many concurrent callers", async () => {
      const { grant } = await store.createRequest(newRequest({ autoApprove: true, sql: "SELECT 1", sqlHash: "h" }));
      const results = await Promise.all(Array.from({ length: 8 }, (_, i) => store.consumeGrant(grant!.id, T0 + i)));
      assert.equal(results.filter(Boolean).length, 1);
    });

    test("audit records append to one verifiable chain and can be listed and fetched", async () => {
      const details = { sql: "SELECT * FROM `demo.hr.employees`", tables: ["demo.hr.employees"], masked: { email: "hash" }, rows: 3, note: "naïve ✓ \u0000 end", nested: [{ b: 1, a: [null, true] }] };
      const a = await store.appendAudit(auditRecord(1, { details }));
      const b = await store.appendAudit(auditRecord(2, { actor: "bob@example.com", actorSubject: null, action: "approve", outcome: "denied" }));
      const c = await store.appendAudit(auditRecord(3, { outcome: "failed" }));
      assert.deepEqual([a.seq, b.seq, c.seq], [1, 2, 3]);
      assert.equal(b.prevHash, a.hash);
      assert.equal(c.prevHash, b.hash);
      assert.deepEqual(await store.getAudit(a.id), a);
      assert.deepEqual(await store.getAudit(b.id), b);
      const all = await store.listAudit({});
      assert.deepEqual(all, [a, b, c]);
      assert.equal(verifyChain(all), null);
      const seqs = async (q: Parameters<Store["listAudit"]>[0]) => (await store.listAudit(q)).map((r) => r.seq);
      assert.deepEqual(await seqs({ actor: "bob@example.com" }), [2]);
      assert.deepEqual(await seqs({ action: "query" }), [1, 3]);
      assert.deepEqual(await seqs({ outcome: "failed" }), [3]);
      assert.deepEqual(await seqs({ since: T0 + 2, until: T0 + 3 }), [2]);
      assert.deepEqual(await seqs({ afterSeq: 1, limit: 1 }), [2]);
      assert.equal(verifyChain(await store.listAudit({ afterSeq: 1 }), { seq: 1, hash: a.hash }), null);
    });

    test("audit details JSON cannot keep verbatim (Dates, undefined) are hashed as stored", async () => {
      const r = await store.appendAudit(auditRecord(1, { details: { when: new Date(T0), gone: undefined, list: [undefined] } }));
      assert.deepEqual(r.details, { when: new Date(T0).toISOString(), list: [null] }, "the returned record is what a reader will get");
      assert.deepEqual(await store.getAudit(r.id), r);
      assert.equal(verifyChain(await store.listAudit({})), null);
    });

    test("concurrent audit appends from one store form a gap-free chain", async () => {
      await Promise.all(Array.from({ length: 50 }, (_, i) => store.appendAudit(auditRecord(i))));
      const all = await store.listAudit({});
      assert.deepEqual(all.map((r) => r.seq), Array.from({ length: 50 }, (_, i) => i + 1));
      assert.equal(verifyChain(all), null);
    });

    test("tampering with a stored audit record is detected", async (t) => {
      if (!opened.exec) return t.skip(`${name}: no raw access to tamper with`);
      for (let i = 1; i <= 3; i += 1) await store.appendAudit(auditRecord(i));
      await opened.exec(`UPDATE audit SET details = '{"i":99}' WHERE seq = 2`);
      assert.deepEqual((await store.getAudit("2"))?.details, { i: 99 }, "the tamper took effect");
      const broken = verifyChain(await store.listAudit({}));
      assert.deepEqual([broken?.seq, broken?.problem], [2, "hash_mismatch"]);
      await opened.exec("DELETE FROM audit WHERE seq = 2");
      assert.deepEqual(verifyChain(await store.listAudit({}))?.problem, "gap");
    });

    test("ready() resolves while the store answers and rejects once it is closed", async () => {
      await store.ready();
      await store.close();
      await assert.rejects(store.ready(), (err: unknown) => err instanceof JitError && err.details.store === store.kind);
    });

    test("appendAudit fails closed with an internal error when the store cannot write", async () => {
      await store.close();
      await assert.rejects(store.appendAudit(auditRecord(1)), (err: unknown) => {
        assert.ok(err instanceof JitError);
        assert.equal(err.code, "internal");
        assert.match(err.message, /audit log could not record/);
        assert.ok(err.hint);
        return true;
      });
    });
  });
}
