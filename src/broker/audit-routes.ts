/** Audit log routes: list, show, verify. Auditors and admins read everything; everybody may read their own. */
import * as api from "../api/schemas.ts";
import { verifyChain } from "../audit/chain.ts";
import { JitError } from "../errors.ts";
import type { AuditRecord } from "../store/types.ts";
import { route, type RouteDef } from "./routes.ts";
import { auditView } from "./views.ts";

const parseTime = (raw: string | undefined, name: string): number | undefined => {
  if (raw === undefined) return undefined;
  const t = Date.parse(raw);
  if (Number.isNaN(t)) throw new JitError("usage", `"${name}" must be a date or time such as 2026-11-27 or 2026-11-27T10:00:00Z`);
  return t;
};

/** Parses "SEQ:HASH" (a head printed by an earlier `jit audit verify`). */
function parseAnchor(raw: string | undefined): { seq: number; hash: string } | null {
  if (raw === undefined) return null;
  const m = /^([1-9][0-9]{0,15}):([0-9a-f]{64})$/.exec(raw);
  if (!m) throw new JitError("usage", `"anchor" must be SEQ:HASH as printed by jit audit verify`);
  return { seq: Number(m[1]), hash: m[2]! };
}

/** The audit routes of the API. */
export function auditRoutes(): RouteDef[] {
  return [
    route({
      method: "GET", path: "/v1/audit", action: "audit.read", audit: "audit_read", query: api.AuditListQuery,
      resource: ({ query }) => {
        parseTime(query.since, "since");
        parseTime(query.until, "until");
        return { kind: "audit_log", scope: query.mine === "1" ? "own" : "all" };
      },
      describe: ({ query }) => ({ what: "list", mine: query.mine === "1", filters: query }),
      run: async ({ deps, caller, query }) => {
        const mine = query.mine === "1";
        const limit = query.limit ?? 100;
        const records = await deps.store.listAudit({
          // The name narrows the scan; the subject decides: another subject claiming the same name sees nothing of these.
          actor: mine ? caller.principal.username : query.user,
          action: query.action,
          outcome: query.outcome,
          since: parseTime(query.since, "since"),
          until: parseTime(query.until, "until"),
          afterSeq: query.after,
          limit,
        });
        const own = mine ? records.filter((x) => x.actorSubject === caller.principal.subject) : records;
        const dataset = query.dataset;
        const filtered = dataset ? own.filter((x) => JSON.stringify(x.details.datasets ?? x.details.tables ?? []).includes(dataset)) : own;
        return { records: filtered.map(auditView), next_after: records.length === limit ? records.at(-1)!.seq : null };
      },
    }),
    route({
      method: "GET", path: "/v1/audit/verify", action: "audit.verify", audit: "audit_read", query: api.AuditVerifyQuery,
      resource: ({ query }) => {
        parseAnchor(query.anchor);
        return { kind: "audit_log", scope: "all" };
      },
      describe: ({ query }) => ({ what: "verify", ...(query.anchor ? { anchor: query.anchor } : {}) }),
      run: async ({ deps, query }) => {
        const anchor = parseAnchor(query.anchor);
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
      },
    }),
    route({
      method: "GET", path: "/v1/audit/:id", action: "audit.read", audit: "audit_read", params: api.AuditIdParams, query: api.NoQuery,
      resource: async ({ deps, params }) => ({ kind: "audit_record", id: params.id, record: await deps.store.getAudit(params.id) }),
      describe: ({ params }) => ({ what: "record", id: params.id }),
      run: async ({ deps, params }) => ({ record: auditView((await deps.store.getAudit(params.id))!) }),
    }),
  ];
}
