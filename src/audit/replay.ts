/**
 * Replay: a query's record and the result record that kept what its caller received, found from either of the two.
 * One search for every door (GET /v1/audit/:id/replay, which `jit audit replay` calls, and the console's replay page).
 */
import type { AuditRecord, Store } from "../store/types.ts";

/** How many pages of 1,000 later results are searched for a query's own (50,000 queries that ended after it). */
const REPLAY_PAGES = 50;
const PAGE = 1000;

/** The query record and its kept result, or null when `rec` is neither a query with a kept result nor such a result. */
export async function findReplay(store: Store, rec: AuditRecord): Promise<{ query: AuditRecord; result: AuditRecord } | null> {
  if (rec.details.result) {
    const query = await store.getAudit(String(rec.details.query_audit_id ?? ""));
    return query ? { query, result: rec } : null;
  }
  if (rec.action !== "query") return null;
  // The result is written when the query ends: after any number of other queries' results on a busy broker.
  for (let after = rec.seq, page = 0; page < REPLAY_PAGES; page++) {
    const later = await store.listAudit({ action: "query.result", afterSeq: after, limit: PAGE });
    const result = later.find((r) => r.details.query_audit_id === rec.id && r.details.result);
    if (result) return { query: rec, result };
    if (later.length < PAGE) return null;
    after = later.at(-1)!.seq;
  }
  return null;
}
