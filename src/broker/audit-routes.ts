/** Audit log routes: list, show, replay, verify. Auditors and admins read everything; everybody may read their own. */
import * as api from "../api/schemas.ts";
import { findReplay } from "../audit/replay.ts";
import { ANCHOR_FORMAT, parseAnchors, verifyAuditLog, type ChainAnchor } from "../audit/verify.ts";
import { JitError } from "../errors.ts";
import { httpError } from "./http.ts";
import { route, type RouteDef } from "./routes.ts";
import { auditView } from "./views.ts";

const parseTime = (raw: string | undefined, name: string): number | undefined => {
  if (raw === undefined) return undefined;
  const t = Date.parse(raw);
  if (Number.isNaN(t)) throw new JitError("usage", `"${name}" must be a date or time such as 2026-11-27 or 2026-11-27T10:00:00Z`);
  return t;
};

/** Parses anchors, CHAIN:SEQ:HASH (SEQ:HASH for chain 1) separated by commas: heads printed by an earlier `jit audit verify`. */
function parseAnchor(raw: string | undefined): ChainAnchor[] {
  const anchors = parseAnchors(raw);
  if (anchors === null) throw new JitError("usage", `"anchor" must be ${ANCHOR_FORMAT}, several separated by commas`);
  return anchors ?? [];
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
        const desc = query.order === "desc";
        // One past the page tells whether another follows, so the cursor is null on the last page even when it is full.
        const scanned = await deps.store.listAudit({
          // The name narrows the scan; the subject decides: another subject claiming the same name sees nothing of these.
          actor: mine ? caller.principal.username : query.user,
          action: query.action,
          outcome: query.outcome,
          since: parseTime(query.since, "since"),
          until: parseTime(query.until, "until"),
          afterSeq: query.after,
          beforeSeq: query.before,
          newestFirst: desc,
          limit: limit + 1,
        });
        const records = scanned.slice(0, limit);
        const own = mine ? records.filter((x) => x.actorSubject === caller.principal.subject) : records;
        const dataset = query.dataset;
        const filtered = dataset ? own.filter((x) => JSON.stringify(x.details.datasets ?? x.details.tables ?? []).includes(dataset)) : own;
        // The cursor is the last record scanned, not the last shown: the filters above may leave a page short.
        const next = scanned.length > limit ? records.at(-1)!.seq : null;
        return desc ? { records: filtered.map(auditView), next_before: next } : { records: filtered.map(auditView), next_after: next };
      },
    }),
    route({
      method: "GET", path: "/v1/audit/verify", action: "audit.verify", audit: "audit_read", query: api.AuditVerifyQuery,
      resource: ({ query }) => {
        parseAnchor(query.anchor);
        return { kind: "audit_log", scope: "all" };
      },
      describe: ({ query }) => ({ what: "verify", ...(query.anchor ? { anchor: query.anchor } : {}) }),
      // Every chain, every cross-link between them, and the anchors (docs/audit-chains.md).
      run: async ({ deps, query }) => verifyAuditLog(deps.store, parseAnchor(query.anchor)),
    }),
    route({
      // What the caller of a query received, as kept with its result record: found from the query's record or the result's.
      method: "GET", path: "/v1/audit/:id/replay", action: "audit.read", audit: "audit_read", params: api.AuditIdParams, query: api.NoQuery,
      resource: async ({ deps, params }) => ({ kind: "audit_record", id: params.id, record: await deps.store.getAudit(params.id) }),
      describe: ({ params }) => ({ what: "replay", id: params.id }),
      run: async ({ deps, params }) => {
        const pair = await findReplay(deps.store, (await deps.store.getAudit(params.id))!);
        if (!pair) throw httpError(404, "usage", `audit record ${params.id} holds no query result to replay`, { hint: "jit audit list --action query" });
        return { query: auditView(pair.query), result: auditView(pair.result) };
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
