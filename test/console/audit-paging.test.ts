/** The console's audit list pages newest first: every record once, in order, and the last page says there is no more. */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { auditPage, findReplay } from "../../src/console/audit-data.ts";
import { auditListBody, type AuditFilters } from "../../src/console/pages/audit.ts";
import { openSqliteStore } from "../../src/store/sqlite.ts";

const NONE: AuditFilters = { actor: "", action: "", outcome: "", dataset: "", since: "", until: "" };

test("audit pages: newest first, each record once, a link to the older page until the last, which has none", async () => {
  const dir = mkdtempSync(join(tmpdir(), "jit-console-paging-"));
  const store = openSqliteStore(join(dir, "jit.db"));
  try {
    // 100 records: exactly two full pages of 50, so the second must end the listing without an empty third page.
    for (let i = 0; i < 100; i++) await store.appendAudit({ at: 1_700_000_000_000 + i, actor: i % 2 ? "carol" : "bob", actorSubject: null, action: "console", outcome: "ok", details: { i } });
    const seen: number[] = [];
    let before = 0;
    let pages = 0;
    for (;;) {
      const page = await auditPage(store, NONE, before);
      pages++;
      seen.push(...page.records.map((r) => r.seq));
      const body = auditListBody(NONE, page.records, page.next).text;
      if (page.next === null) {
        assert.doesNotMatch(body, /rel="next"/, "the last page links to nothing");
        break;
      }
      assert.match(body, new RegExp(`href="/console/audit\\?before=${page.next}"`));
      before = page.next;
    }
    assert.equal(pages, 2);
    const all = (await store.listAudit({ limit: 1000 })).map((r) => r.seq);
    assert.deepEqual(seen, [...all].reverse(), "every record once, newest first");

    // Filters hold across pages.
    const carol = await auditPage(store, { ...NONE, actor: "carol" }, 0);
    assert.equal(carol.records.length, 50);
    assert.equal(carol.next, null);
    assert.ok(carol.records.every((r) => r.actor === "carol"));
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("replay finds a query's result however many other results were written after it", async () => {
  const dir = mkdtempSync(join(tmpdir(), "jit-console-replay-"));
  const store = openSqliteStore(join(dir, "jit.db"));
  try {
    const query = await store.appendAudit({ at: 1, actor: "alice", actorSubject: "sub-alice", action: "query", outcome: "ok", details: { sql: "SELECT 1" } });
    // 2,500 other queries end first (a busy broker), then this one.
    for (let i = 0; i < 2500; i++) await store.appendAudit({ at: 2, actor: "bob", actorSubject: "sub-bob", action: "query.result", outcome: "ok", details: { query_audit_id: "other", result: { columns: [], rows: [] } } });
    const result = await store.appendAudit({ at: 3, actor: "alice", actorSubject: "sub-alice", action: "query.result", outcome: "ok", details: { query_audit_id: query.id, result: { columns: [], rows: [] } } });
    const pair = await findReplay(store, query);
    assert.equal(pair?.result.id, result.id);
    assert.equal((await findReplay(store, await store.appendAudit({ at: 4, actor: "alice", actorSubject: "sub-alice", action: "query", outcome: "ok", details: {} })))?.result, undefined, "a query without a result has nothing to replay");
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
