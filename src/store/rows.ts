/** Row ↔ record mapping shared by the SQLite and PostgreSQL stores (same column names in both). */
import { hostname } from "node:os";
import type { AccessRequest, Approval, ApproveResult, AuditChain, AuditRecord, Grant } from "./types.ts";

type DbRow = Record<string, unknown>;

const num = (v: unknown): number => (typeof v === "bigint" ? Number(v) : Number(v));
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : num(v));
const strOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));
const json = <T>(v: unknown): T => (typeof v === "string" ? (JSON.parse(v) as T) : (v as T));

/** Maps a `requests` row and its approvals to an AccessRequest. */
export function requestFromRow(row: DbRow, approvals: DbRow[]): AccessRequest {
  return {
    id: String(row.id),
    requester: String(row.requester),
    requesterSubject: String(row.requester_subject),
    datasets: json<string[]>(row.datasets),
    reason: String(row.reason),
    durationMs: num(row.duration_ms),
    requestedDurationMs: num(row.requested_duration_ms),
    state: String(row.state) as AccessRequest["state"],
    createdAt: num(row.created_at),
    expiresAt: num(row.expires_at),
    ruleIds: json<string[]>(row.rule_ids),
    approverGroups: json<string[]>(row.approver_groups),
    minApprovals: num(row.min_approvals),
    approvals: approvals.map(approvalFromRow),
    decidedAt: numOrNull(row.decided_at),
    decidedBy: strOrNull(row.decided_by),
    decisionReason: strOrNull(row.decision_reason),
    grantId: strOrNull(row.grant_id),
    sql: strOrNull(row.sql_text),
    sqlHash: strOrNull(row.sql_hash),
  };
}

/** Maps an `approvals` row. */
export function approvalFromRow(row: DbRow): Approval {
  return {
    approver: String(row.approver),
    approverSubject: String(row.approver_subject),
    comment: strOrNull(row.comment),
    at: num(row.at),
  };
}

/** Maps a `grants` row. */
export function grantFromRow(row: DbRow): Grant {
  return {
    id: String(row.id),
    requestId: String(row.request_id),
    holder: String(row.holder),
    holderSubject: String(row.holder_subject),
    datasets: json<string[]>(row.datasets),
    createdAt: num(row.created_at),
    expiresAt: num(row.expires_at),
    revokedAt: numOrNull(row.revoked_at),
    revokedBy: strOrNull(row.revoked_by),
    sqlHash: strOrNull(row.sql_hash),
    usedAt: numOrNull(row.used_at),
  };
}

/** Maps an `audit` row. */
export function auditFromRow(row: DbRow): AuditRecord {
  return {
    id: String(row.seq),
    seq: num(row.seq),
    chain: num(row.chain),
    chainSeq: num(row.chain_seq),
    at: num(row.at),
    actor: String(row.actor),
    actorSubject: strOrNull(row.actor_subject),
    action: String(row.action),
    outcome: String(row.outcome) as AuditRecord["outcome"],
    details: json<Record<string, unknown>>(row.details),
    prevHash: String(row.prev_hash),
    hash: String(row.hash),
  };
}

/** Maps an `audit_chains` row (null columns for a chain with records but no row) and its newest record. */
export function chainFromRow(row: DbRow, head: DbRow | undefined): AuditChain {
  return {
    id: num(row.id),
    writer: strOrNull(row.writer),
    openedAt: numOrNull(row.opened_at),
    closedAt: numOrNull(row.closed_at),
    head: head ? { seq: num(head.chain_seq), hash: String(head.hash), action: String(head.action) } : null,
  };
}

/** Who holds a chain, for operators reading audit_chains: host and process id. */
export const writerName = (): string => `${hostname()}:${process.pid}`;

/** Why a request cannot be decided at `at` (gone, already decided, lapsed), or null when it can. Same rule in every store. */
export function undecidable(req: AccessRequest | null, at: number): ApproveResult | null {
  if (!req) return { ok: false, reason: "not_found", request: null };
  if (req.state !== "pending") return { ok: false, reason: "not_pending", request: req };
  if (req.expiresAt <= at) return { ok: false, reason: "expired", request: req };
  return null;
}
