/** Audit log endpoints: list, show, verify. Auditors and admins read everything; everybody may read their own. */
import { verifyChain } from "../audit/chain.ts";
import { JitError } from "../errors.ts";
import { isAdmin, isAuditor } from "../policy/evaluate.ts";
import type { AuditRecord } from "../store/types.ts";
import { audit, type BrokerDeps, type Caller } from "./context.ts";
import type { Router, RouteContext } from "./http.ts";
import { auditView } from "./views.ts";

type Authed = (fn: (ctx: RouteContext, caller: Caller) => Promise<unknown>) => (ctx: RouteContext) => Promise<unknown>;

const parseTime = (raw: string | null, name: string): number | undefined => {
  if (raw === null) return undefined;
  const t = Date.parse(raw);
  if (Number.isNaN(t)) throw new JitError("usage", `--${name} must be a date or time such as 2026-11-27 or 2026-11-27T10:00:00Z`);
  return t;
};

/** Parses "SEQ:HASH" (a head printed by an earlier `jit audit verify`). */
function parseAnchor(raw: string | null): { seq: number; hash: string } | null {
  if (raw === null) return null;
  const m = /^([1-9][0-9]{0,15}):([0-9a-f]{64})$/.exec(raw);
  if (!m) throw new JitError("usage", `--anchor must be SEQ:HASH as printed by jit audit verify, got "${raw}"`);
  return { seq: Number(m[1]), hash: m[2]! };
}

/** Adds the audit routes to the API router. */
export function auditRoutes(r: Router, deps: BrokerDeps, authed: Authed): void {
  const mayReadAll = (c: Caller) => isAuditor(deps.policy(), c.principal) || isAdmin(deps.policy(), c.principal);

  r.add("GET", "/v1/audit", authed(async (ctx, c) => {
    const q = ctx.url.searchParams;
    const mine = q.get("mine") === "1";
    if (!mine && !mayReadAll(c)) {
      await audit(deps, c, "audit_read", "denied", { what: "list" });
      throw new JitError("denied", "only auditors and admins may read the whole audit log", { hint: "jit audit list --mine shows your own records" });
    }
    const limit = Math.min(Number(q.get("limit") ?? 100) || 100, 1000);
    const records = await deps.store.listAudit({
      actor: mine ? c.principal.username : q.get("user") ?? undefined,
      action: q.get("action") ?? undefined,
      outcome: q.get("outcome") ?? undefined,
      since: parseTime(q.get("since"), "since"),
      until: parseTime(q.get("until"), "until"),
      afterSeq: q.get("after") ? Number(q.get("after")) : undefined,
      limit,
    });
    await audit(deps, c, "audit_read", "ok", { what: "list", mine, filters: Object.fromEntries(q) });
    const dataset = q.get("dataset");
    const filtered = dataset ? records.filter((x) => JSON.stringify(x.details.datasets ?? x.details.tables ?? []).includes(dataset)) : records;
    return { records: filtered.map(auditView), next_after: records.length === limit ? records.at(-1)!.seq : null };
  }));

  r.add("GET", "/v1/audit/verify", authed(async (ctx, c) => {
    if (!mayReadAll(c)) throw new JitError("denied", "only auditors and admins may verify the audit log");
    const anchor = parseAnchor(ctx.url.searchParams.get("anchor"));
    await audit(deps, c, "audit_read", "ok", { what: "verify", anchor: anchor ?? undefined });
    if (anchor) {
      // A head recorded earlier (outside the broker) must still be in the chain, unchanged: this catches a
      // truncated tail or a rewritten history, which the chain alone cannot.
      const rec = await deps.store.getAudit(String(anchor.seq));
      if (!rec || rec.hash !== anchor.hash) {
        const message = rec ? `record #${anchor.seq} no longer has the anchored hash: history was rewritten` : `record #${anchor.seq} is gone: the log was truncated`;
        return { ok: false, checked: 0, broken: { seq: anchor.seq, id: String(anchor.seq), problem: "anchor_mismatch", message } };
      }
    }
    let after = 0;
    let count = 0;
    let prev = undefined as AuditRecord | undefined;
    for (;;) {
      const page = await deps.store.listAudit({ afterSeq: after, limit: 1000 });
      if (page.length === 0) break;
      const broken = verifyChain(page, prev ? { seq: prev.seq, hash: prev.hash } : undefined);
      if (broken) return { ok: false, checked: count, broken };
      count += page.length;
      prev = page.at(-1)!;
      after = prev.seq;
    }
    return { ok: true, checked: count, head: prev ? { seq: prev.seq, hash: prev.hash } : null };
  }));

  r.add("GET", "/v1/audit/:id", authed(async (ctx, c) => {
    const rec = await deps.store.getAudit(ctx.params.id!);
    if (!rec || (!mayReadAll(c) && rec.actorSubject !== c.principal.subject)) {
      throw new JitError("usage", `there is no audit record ${ctx.params.id} that you may read`, { details: { status: 404 } });
    }
    await audit(deps, c, "audit_read", "ok", { what: "record", id: rec.id });
    return { record: auditView(rec) };
  }));
}
