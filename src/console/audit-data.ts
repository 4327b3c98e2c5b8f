/**
 * What the audit pages read from the store, as GET /v1/audit and `jit audit replay` read it (those live in
 * audit-routes.ts and the CLI, private to them): a filtered page; the replay search and the chain check are the API's
 * own (src/audit/replay.ts, src/audit/verify.ts).
 */
import { parseAnchors, verifyAuditLog, type ChainAnchor } from "../audit/verify.ts";
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

/**
 * One page of records matching the filters, newest first, older than record `before` (0: from the newest); `next` is
 * the `before` of the following (older) page, null on the last. One record past the page is read to know that.
 */
export async function auditPage(store: Store, f: AuditFilters, before: number): Promise<{ records: AuditRecord[]; next: number | null }> {
  const read = await store.listAudit({
    actor: f.actor || undefined, action: f.action || undefined, outcome: f.outcome || undefined,
    since: time(f.since, "since"), until: time(f.until, "until"), beforeSeq: Number.isInteger(before) && before > 0 ? before : undefined,
    newestFirst: true, limit: PAGE + 1,
  });
  const records = read.slice(0, PAGE);
  const next = read.length > PAGE ? records.at(-1)!.seq : null;
  // The same dataset match as the API's: on the record's datasets, else its tables.
  const shown = f.dataset ? records.filter((x) => JSON.stringify(x.details.datasets ?? x.details.tables ?? []).includes(f.dataset)) : records;
  return { records: shown, next };
}

export { findReplay } from "../audit/replay.ts";

/** Parses anchors (CHAIN:SEQ:HASH, or SEQ:HASH for chain 1, separated by commas); undefined for none, null when malformed. */
export function parseAnchor(raw: string): ChainAnchor[] | null | undefined {
  return parseAnchors(raw);
}

/** Checks every chain and the cross-links between them, and first that the anchored heads are still there, unchanged (the API's check). */
export async function verifyAudit(store: Store, anchors: ChainAnchor[] | undefined): Promise<VerifyOutcome> {
  return verifyAuditLog(store, anchors ?? []);
}
