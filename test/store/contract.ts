// The Store contract, run against every implementation: each test gets a fresh, empty store from `open`.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { afterEach, beforeEach, describe, test as nodeTest, type TestContext } from "node:test";
import { verifyChain } from "../../src/audit/chain.ts";
import { parseAnchors, verifyAuditLog } from "../../src/audit/verify.ts";
import { openStore } from "../../src/store/open.ts";
import { JitError } from "../../src/errors.ts";
import type { StoreSpec } from "../../src/store/open.ts";
import type { Approval, AuditRecord, NewAuditRecord, NewRequest, Store } from "../../src/store/types.ts";

export interface OpenedStore {
  store: Store;
  cleanup(): Promise<void>;
  /** Runs raw SQL behind the store's back (to tamper with the audit log); absent when the store offers no raw access. */
  exec?(sql: string): Promise<void>;
  /** How another process opens this same store (for the kill -9 test); absent when it cannot. */
  spec?: StoreSpec;
  /** SQL that makes the database refuse any audit row whose details contain "boom", and SQL that undoes it. */
  trap?: { install: string; remove: string };
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

/** The audit table as the first schema version made it, before there were several chains. */
export const LEGACY_AUDIT_DDL = `CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL);
  INSERT INTO schema_migrations VALUES (1, 0);
  CREATE TABLE audit (seq BIGINT PRIMARY KEY, at BIGINT NOT NULL, actor TEXT NOT NULL, actor_subject TEXT,
    action TEXT NOT NULL, outcome TEXT NOT NULL, details TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL)`;

/**
 * INSERTs for n records hashed the way the broker hashed them before there were chains (written out here, not
 * taken from chain.ts, so a change to the hash that breaks old logs fails this test). Returns them and the head.
 */
export function legacyRecords(n: number): { inserts: string; head: { seq: number; hash: string } } {
  let prev = "0".repeat(64);
  const rows: string[] = [];
  for (let seq = 1; seq <= n; seq += 1) {
    const details = { i: seq, sql: "SELECT 1" };
    const body = `{"action":"query","actor":"alice@example.com","actor_subject":"sub-alice","at":${T0 + seq},"details":{"i":${seq},"sql":"SELECT 1"},"outcome":"ok","prev_hash":"${prev}","seq":${seq}}`;
    const hash = createHash("sha256").update(prev).update("\n").update(body).digest("hex");
    rows.push(`INSERT INTO audit VALUES (${seq}, ${T0 + seq}, 'alice@example.com', 'sub-alice', 'query', 'ok', '${JSON.stringify(details)}', '${prev}', '${hash}')`);
    prev = hash;
  }
  return { inserts: rows.join(";\n"), head: { seq: n, hash: prev } };
}

/** After opening a store over a log written before chains: it is chain 1, verifies, takes SEQ:HASH anchors, and grows. */
export async function checkLegacyLog(store: Store, head: { seq: number; hash: string }): Promise<void> {
  assert.equal(store.auditStats().chain, 1, "the first writer takes the chain the old records became");
  const report = await verifyAuditLog(store, parseAnchors(`${head.seq}:${head.hash}`)!);
  assert.ok(report.ok, report.broken?.message);
  assert.deepEqual([report.checked, report.head], [head.seq, head]);
  const next = await store.appendAudit(auditRecord(99));
  assert.deepEqual([next.chain, next.chainSeq, next.seq, next.prevHash], [1, head.seq + 1, head.seq + 1, head.hash]);
  assert.ok((await verifyAuditLog(store, parseAnchors(`1:${head.seq}:${head.hash}`)!)).ok);
}

/**
 * Registers the contract tests for one store implementation. `knownGaps` maps a test name to why the implementation
 * fails it today: the test still runs and reports as TODO instead of failing the suite, until the gap is fixed.
 */
export function storeContract(name: string, open: () => Promise<OpenedStore>, knownGaps: Record<string, string> = {}): void {
  function test(title: string, fn: (t: TestContext) => Promise<void>): void;
  function test(title: string, opts: { timeout: number }, fn: (t: TestContext) => Promise<void>): void;
  function test(title: string, a: { timeout: number } | ((t: TestContext) => Promise<void>), b?: (t: TestContext) => Promise<void>): void {
    const [opts, fn] = typeof a === "function" ? [{}, a] : [a, b!];
    nodeTest(title, { ...opts, ...(knownGaps[title] ? { todo: `${name}: ${knownGaps[title]}` } : {}) }, fn);
  }
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

    test("audit records list newest first and page older with beforeSeq, none skipped or repeated", async () => {
      for (let i = 1; i <= 7; i++) await store.appendAudit(auditRecord(i, { action: i % 2 ? "query" : "approve" }));
      const seqs = async (q: Parameters<Store["listAudit"]>[0]) => (await store.listAudit(q)).map((r) => r.seq);
      assert.deepEqual(await seqs({ newestFirst: true }), [7, 6, 5, 4, 3, 2, 1]);
      assert.deepEqual(await seqs({ newestFirst: true, limit: 3 }), [7, 6, 5], "the limit keeps the newest");
      assert.deepEqual(await seqs({ newestFirst: true, beforeSeq: 5, limit: 3 }), [4, 3, 2]);
      assert.deepEqual(await seqs({ beforeSeq: 5, limit: 3 }), [1, 2, 3], "beforeSeq alone bounds an oldest-first list");
      assert.deepEqual(await seqs({ newestFirst: true, beforeSeq: 6, afterSeq: 2 }), [5, 4, 3], "both bounds are exclusive");
      assert.deepEqual(await seqs({ newestFirst: true, action: "query", beforeSeq: 7 }), [5, 3, 1]);
      assert.deepEqual(await seqs({ newestFirst: true, beforeSeq: 1 }), []);
      const chain = (await store.listAudit({ limit: 1 }))[0]!.chain;
      assert.deepEqual((await store.listAudit({ chain, newestFirst: true, limit: 2 })).map((r) => r.chainSeq), [7, 6], "one chain, newest first by chain order");
      // Paging by the last seq of each page visits every record once, newest first.
      const seen: number[] = [];
      for (let before: number | undefined; ; ) {
        const page = await seqs({ newestFirst: true, beforeSeq: before, limit: 3 });
        seen.push(...page);
        if (page.length < 3) break;
        before = page.at(-1);
      }
      assert.deepEqual(seen, [7, 6, 5, 4, 3, 2, 1]);
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

    test("200 concurrent appends share transactions and form one gap-free, verified chain", async () => {
      const records = await Promise.all(Array.from({ length: 200 }, (_, i) => store.appendAudit(auditRecord(i))));
      assert.deepEqual(records.map((r) => r.seq), Array.from({ length: 200 }, (_, i) => i + 1), "each caller got its own record, in call order");
      const all = await store.listAudit({ limit: 1000 });
      assert.deepEqual(all, records, "what each caller was told is what is stored");
      assert.equal(verifyChain(all), null);
      const stats = store.auditStats();
      assert.equal(stats.records, 200);
      assert.ok(stats.batches < 20, `200 appends issued together took ${stats.batches} transactions; group commit should need a few`);
      assert.ok(stats.maxBatch >= 20, `largest batch ${stats.maxBatch}`);
      assert.equal(stats.failedBatches, 0);
    });

    test("a batch the database refuses rejects every caller in it and leaves no partial chain", async (t) => {
      if (!opened.exec || !opened.trap) return t.skip(`${name}: no raw access to make the database refuse a write`);
      for (let i = 1; i <= 5; i += 1) await store.appendAudit(auditRecord(i));
      await opened.exec(opened.trap.install);
      // Issued in one turn: they go in one transaction, and one row the database refuses fails all of them.
      const settled = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => store.appendAudit(auditRecord(10 + i, { details: i === 13 ? { boom: true } : { i } }))));
      assert.deepEqual(settled.map((s) => s.status), Array(20).fill("rejected"));
      for (const s of settled) {
        const err = (s as PromiseRejectedResult).reason;
        assert.ok(err instanceof JitError && err.code === "internal" && /audit log could not record/.test(err.message), String(err));
      }
      assert.equal(store.auditStats().failedBatches, 1);
      assert.deepEqual((await store.listAudit({})).map((r) => r.seq), [1, 2, 3, 4, 5], "none of the batch was stored");
      await opened.exec(opened.trap.remove);
      const next = await store.appendAudit(auditRecord(99));
      // (PostgreSQL's audit ids come from a sequence, which a failed INSERT still advances: ids may skip, chains may not.)
      assert.equal(next.chainSeq, 6, "the chain goes on from the last committed record, without a gap");
      assert.equal(verifyChain(await store.listAudit({})), null);
    });

    test("kill -9 mid-stream: every append a caller saw resolve is stored, and the chain verifies", { timeout: 60_000 }, async (t) => {
      if (!opened.spec) return t.skip(`${name}: another process cannot open this store`);
      const child = spawn(process.execPath, [new URL("./audit-kill-child.ts", import.meta.url).pathname, JSON.stringify(opened.spec), "20"], { stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      let err = "";
      child.stderr.on("data", (d: Buffer) => (err += d.toString()));
      // 'close', not 'exit': every line the child wrote before it died is read by then.
      const closed = new Promise<NodeJS.Signals | null>((resolve) => child.on("close", (_code, signal) => resolve(signal)));
      const answeredLines = () => out.split("\n").slice(1).filter((l) => /^[0-9]+ [0-9a-f]{64}$/.test(l));
      await new Promise<void>((resolve, reject) => {
        child.stdout.on("data", (d: Buffer) => {
          out += d.toString();
          // Kill it in full flight: well after start, with batches being written.
          if (child.exitCode === null && child.signalCode === null && answeredLines().length >= 400 && child.kill("SIGKILL")) resolve();
        });
        child.on("exit", (_code, signal) => {
          if (signal !== "SIGKILL") reject(new Error(`the appender exited before it was killed: ${err || out.slice(0, 500)}`));
        });
      });
      assert.equal(await closed, "SIGKILL");
      const answered = answeredLines().map((l) => l.split(" "));
      assert.ok(answered.length >= 400, `${answered.length} answered appends`);
      const all = await store.listAudit({ limit: 100_000 });
      const stored = new Map(all.map((r) => [String(r.seq), r.hash]));
      for (const [seq, hash] of answered) assert.equal(stored.get(seq!), hash, `record #${seq} was answered but is not stored as answered`);
      const report = await verifyAuditLog(store);
      assert.ok(report.ok, report.broken?.message);
      const childChain = all.find((r) => r.actor === "child")!.chain;
      assert.notEqual(childChain, store.auditStats().chain, "the child appended to a chain of its own");
      assert.equal((await store.auditChains()).find((c) => c.id === childChain)?.closedAt, null, "a writer that died keeps its chain: nobody else may take it");
      t.diagnostic(`${answered.length} appends answered before SIGKILL, ${all.length} stored (the rest were in the batch it died in)`);
    });

    /** A second store instance on the same database (another broker process or replica), closed after the test. */
    const others: Store[] = [];
    afterEach(async () => {
      await Promise.all(others.splice(0).map((s) => s.close()));
    });
    async function second(t: TestContext, opts: { checkpointMs?: number } = {}): Promise<Store | null> {
      if (!opened.spec || !opened.exec) {
        t.skip(`${name}: cannot open a second instance of this store, or reach it behind its back`);
        return null;
      }
      const s = await openStore(opened.spec, { checkpointMs: 0, ...opts });
      others.push(s);
      return s;
    }

    /** Ten rounds of one append on each instance at once, then a checkpoint on each: A's records the head of B's chain, and B's of A's. */
    async function interleaved(a: Store, b: Store): Promise<void> {
      for (let i = 0; i < 10; i += 1) await Promise.all([a.appendAudit(auditRecord(i, { actor: "a" })), b.appendAudit(auditRecord(i, { actor: "b" }))]);
      assert.ok(await a.auditCheckpoint(), "B's chain moved: A records its head");
      assert.ok(await b.auditCheckpoint(), "A's chain moved: B records its head");
    }

    const chainOf = (s: Store) => s.auditStats().chain;

    test("two instances on one database append to their own chains; both verify, with their cross-links", async (t) => {
      const b = await second(t);
      if (!b) return;
      assert.notEqual(chainOf(store), chainOf(b));
      await interleaved(store, b);
      const cp = (await store.listAudit({ chain: chainOf(store) })).at(-1)!;
      assert.deepEqual(Object.keys(cp.details.heads as object), [String(chainOf(b))]);
      assert.equal(await store.auditCheckpoint(), null, "B moved only by its own checkpoint: no ping-pong");
      assert.equal(await b.auditCheckpoint(), null);
      for (const s of [store, b]) {
        const mine = await s.listAudit({ chain: chainOf(s) });
        assert.deepEqual(mine.map((r) => r.chainSeq), Array.from({ length: 11 }, (_, i) => i + 1));
        assert.equal(verifyChain(mine), null);
      }
      const report = await verifyAuditLog(b);
      assert.ok(report.ok, report.broken?.message);
      assert.deepEqual([report.checked, report.crossLinks, report.heads.map((h) => [h.chain, h.seq])], [22, 2, [[chainOf(store), 11], [chainOf(b), 11]].sort((x, y) => x[0]! - y[0]!)]);
      const seqs = (await store.listAudit({})).map((r) => r.seq);
      assert.equal(new Set(seqs).size, 22, "audit ids stay unique across chains");
    });

    for (const which of ["first", "second"] as const) {
      test(`truncating the tail of the ${which} instance's chain is detected through the other's checkpoint`, async (t) => {
        const b = await second(t);
        if (!b) return;
        await interleaved(store, b);
        const victim = chainOf(which === "first" ? store : b);
        await opened.exec!(`DELETE FROM audit WHERE chain = ${victim} AND chain_seq > 6`);
        const report = await verifyAuditLog(store);
        assert.equal(report.ok, false);
        assert.deepEqual([report.broken?.problem, report.broken?.chain], ["truncated", victim]);
        assert.match(report.broken!.message, new RegExp(`chain ${victim} ends at #6`));
      });
    }

    test("reordering records within a chain, or moving one to another chain, is detected", async (t) => {
      const b = await second(t);
      if (!b) return;
      await interleaved(store, b);
      const a = chainOf(store);
      await opened.exec!(`UPDATE audit SET chain_seq = -1 WHERE chain = ${a} AND chain_seq = 3`);
      await opened.exec!(`UPDATE audit SET chain_seq = 3 WHERE chain = ${a} AND chain_seq = 4`);
      await opened.exec!(`UPDATE audit SET chain_seq = 4 WHERE chain = ${a} AND chain_seq = -1`);
      const swapped = await verifyAuditLog(store);
      assert.deepEqual([swapped.broken?.chain, swapped.broken?.seq, swapped.broken?.problem], [a, 3, "prev_hash_mismatch"]);
      await opened.exec!(`UPDATE audit SET chain_seq = -1 WHERE chain = ${a} AND chain_seq = 3`);
      await opened.exec!(`UPDATE audit SET chain_seq = 3 WHERE chain = ${a} AND chain_seq = 4`);
      await opened.exec!(`UPDATE audit SET chain_seq = 4 WHERE chain = ${a} AND chain_seq = -1`);
      assert.ok((await verifyAuditLog(store)).ok, "swapped back, it verifies again");
      // B's record #5, renumbered as the next of A's chain: A now has a record hashed for another chain, and B a gap.
      await opened.exec!(`UPDATE audit SET chain = ${a}, chain_seq = 12 WHERE chain = ${chainOf(b)} AND chain_seq = 5`);
      const moved = await verifyAuditLog(store);
      assert.equal(moved.ok, false);
      assert.equal(moved.broken?.chain, a, moved.broken?.message);
    });

    test("anchors, one per chain, catch what no checkpoint covers yet: the newest records of every chain", async (t) => {
      const b = await second(t);
      if (!b) return;
      await interleaved(store, b);
      for (let i = 0; i < 3; i += 1) await b.appendAudit(auditRecord(100 + i, { actor: "b" }));
      const before = await verifyAuditLog(store);
      assert.ok(before.ok);
      const anchors = before.heads;
      assert.ok((await verifyAuditLog(store, anchors)).ok);
      // Dropping B's three newest records, which no checkpoint recorded yet, goes unseen by the chains alone...
      await opened.exec!(`DELETE FROM audit WHERE chain = ${chainOf(b)} AND chain_seq > 11`);
      assert.ok((await verifyAuditLog(store)).ok, "the documented window: newest records since the last cross-link");
      // ...but not by the anchor kept outside.
      const anchored = await verifyAuditLog(store, anchors);
      assert.deepEqual([anchored.broken?.problem, anchored.broken?.chain, anchored.broken?.seq], ["anchor_mismatch", chainOf(b), 14]);
      assert.match(anchored.broken!.message, /record #14 is gone: the log was truncated/);
    });

    test("a checkpoint is written on a timer when another chain moved, and a closed chain is taken by the next writer", async (t) => {
      const b = await second(t, { checkpointMs: 20 });
      if (!b) return;
      await store.appendAudit(auditRecord(1));
      let cp: AuditRecord | undefined;
      for (let i = 0; i < 100 && !cp; i += 1) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        cp = (await store.listAudit({ chain: chainOf(b), action: "audit.checkpoint" }))[0];
      }
      assert.ok(cp, "the timer wrote a checkpoint into B's chain");
      assert.deepEqual(cp.details.heads, { [String(chainOf(store))]: { seq: 1, hash: (await store.listAudit({ chain: chainOf(store) }))[0]!.hash } });
      const chainB = chainOf(b);
      await b.close();
      const c = await openStore(opened.spec!, { checkpointMs: 0 });
      others.push(c);
      assert.equal(chainOf(c), chainB, "the chain B closed cleanly is reused");
      const next = await c.appendAudit(auditRecord(2));
      assert.equal(next.chainSeq, 2, "and continues where B left it");
      assert.ok((await verifyAuditLog(c)).ok);
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
