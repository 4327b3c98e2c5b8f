/**
 * What the audit pages read from the store, as GET /v1/audit, /v1/audit/verify and `jit audit replay` read it
 * (those live in audit-routes.ts and the CLI, private to them): a filtered page, a query's kept result, the chain check.
 */
import { verifyChain } from "../audit/chain.ts";
import { JitError } from "../errors.ts";
import type { AuditRecord, Store } from "../store/types.ts";
import type { AuditFilters, VerifyOutcome } from "./pages/audit.ts";

const PAGE = 50;

const time = (raw: string, name: string): number | undefined => {
  if (!raw) return undefined;
  const t = Date.parse(raw);
  if (Number.isNaN(t)) throw new JitError("usage", `"${name}" must be a date or time such as 2026-11-27 or 2026-11-27T10:00:00Z`);
  return t;
};

/** One page of records matching the filters, after record `after`; `next` is where the following page starts. */
export async function auditPage(store: Store, f: AuditFilters, after: number): Promise<{ records: AuditRecord[]; next: number | null }> {
  const records = await store.listAudit({
    actor: f.actor || undefined, action: f.action || undefined, outcome: f.outcome || undefined,
    since: time(f.since, "since"), until: time(f.until, "until"), afterSeq: Number.isInteger(after) && after > 0 ? after : undefined, limit: PAGE,
  });
  const next = records.length === PAGE ? records.at(-1)!.seq : null;
  // The same dataset match as the API's: on the record's datasets, else its tables.
  const shown = f.dataset ? records.filter((x) => JSON.stringify(x.details.datasets ?? x.details.tables ?? []).includes(f.dataset)) : records;
  return { records: shown, next };
}

/** A query record and the result record that kept what its caller received, from either of the two. */
export async function findReplay(store: Store, rec: AuditRecord): Promise<{ query: AuditRecord; result: AuditRecord } | null> {
  if (rec.details.result) {
    const query = await store.getAudit(String(rec.details.query_audit_id ?? ""));
    return query ? { query, result: rec } : null;
  }
  if (rec.action !== "query") return null;
  const later = await store.listAudit({ action: "query.result", afterSeq: rec.seq, limit: 1000 });
  const result = later.find((r) => r.details.query_audit_id === rec.id && r.details.result);
  return result ? { query: rec, result } : null;
}

/** Parses an anchor "SEQ:HASH"; undefined for none, null when malformed. */
export function parseAnchor(raw: string): { seq: number; hash: string } | null | undefined {
  if (!raw) return undefined;
  const m = /^([1-9][0-9]{0,15}):([0-9a-f]{64})$/.exec(raw);
  return m ? { seq: Number(m[1]), hash: m[2]! } : null;
}

/** Checks the whole hash chain page by page, and first that an anchored head is still there, unchanged. */
export async function verifyAudit(store: Store, anchor: { seq: number; hash: string } | undefined): Promise<VerifyOutcome> {
  if (anchor) {
    const rec = await store.getAudit(String(anchor.seq));
    if (!rec || rec.hash !== anchor.hash) {
      return { ok: false, checked: 0, broken: { seq: anchor.seq, message: rec ? "that record no longer has the anchored hash: history was rewritten" : "that record is gone: the log was truncated" } };
    }
  }
  let after = 0;
  let count = 0;
  let prev: AuditRecord | undefined;
  for (;;) {
    const page = await store.listAudit({ afterSeq: after, limit: 1000 });
    if (page.length === 0) break;
    const broken = verifyChain(page, prev ? { seq: prev.seq, hash: prev.hash } : undefined);
    if (broken) return { ok: false, checked: count, broken };
    count += page.length;
    prev = page.at(-1)!;
    after = prev.seq;
  }
  return { ok: true, checked: count, head: prev ? { seq: prev.seq, hash: prev.hash } : null };
}
