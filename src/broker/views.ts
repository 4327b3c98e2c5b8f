/** The JSON shapes of requests, grants and audit records on the broker's API (snake_case, ISO times). */
import type { AccessRequest, AuditRecord, Grant } from "../store/types.ts";

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** The request's page in the web console (what webhook notifications link to), when the broker knows its public URL. */
export function requestConsoleUrl(publicUrl: string | undefined, id: string): string | null {
  return publicUrl ? new URL(`/console/requests/${encodeURIComponent(id)}`, publicUrl).href : null;
}

/** A request as the API returns it; `publicUrl` (the broker's) gives it its console link. */
export function requestView(r: AccessRequest, grant?: Grant | null, publicUrl?: string) {
  return {
    id: r.id,
    state: r.state,
    requester: r.requester,
    datasets: r.datasets,
    reason: r.reason,
    duration_seconds: Math.round(r.durationMs / 1000),
    requested_duration_seconds: Math.round(r.requestedDurationMs / 1000),
    created_at: iso(r.createdAt),
    expires_at: iso(r.expiresAt),
    approver_groups: r.approverGroups,
    min_approvals: r.minApprovals,
    approvals: r.approvals.map((a) => ({ approver: a.approver, comment: a.comment, at: iso(a.at) })),
    decided_at: iso(r.decidedAt),
    decided_by: r.decidedBy,
    decision_reason: r.decisionReason,
    rule_ids: r.ruleIds,
    grant_id: r.grantId,
    grant: grant ? grantView(grant, grant.createdAt) : undefined,
    sql: r.sql ?? undefined,
    console_url: requestConsoleUrl(publicUrl, r.id),
  };
}

/** A grant as the API returns it, with its state at `now`. */
export function grantView(g: Grant, now: number) {
  const state = g.revokedAt !== null ? "revoked" : g.usedAt !== null ? "used" : g.expiresAt <= now ? "expired" : "active";
  return {
    id: g.id,
    state,
    holder: g.holder,
    datasets: g.datasets,
    request_id: g.requestId,
    created_at: iso(g.createdAt),
    expires_at: iso(g.expiresAt),
    seconds_left: state === "active" ? Math.max(0, Math.floor((g.expiresAt - now) / 1000)) : 0,
    revoked_at: iso(g.revokedAt),
    revoked_by: g.revokedBy,
    single_statement: g.sqlHash !== null,
  };
}

/** An audit record as the API returns it. */
export function auditView(r: AuditRecord) {
  return {
    id: r.id,
    seq: r.seq,
    chain: r.chain,
    chain_seq: r.chainSeq,
    at: iso(r.at),
    actor: r.actor,
    actor_subject: r.actorSubject,
    action: r.action,
    outcome: r.outcome,
    details: r.details,
    prev_hash: r.prevHash,
    hash: r.hash,
  };
}
