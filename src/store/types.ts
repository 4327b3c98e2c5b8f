/** The persistence contract for requests, grants, approvals and the audit log: one shape for SQLite and PostgreSQL. */
import type { Principal } from "../policy/types.ts";

export type RequestState = "pending" | "approved" | "denied" | "expired" | "cancelled";

export interface Approval {
  approver: string;
  approverSubject: string;
  comment: string | null;
  at: number;
}

export interface AccessRequest {
  id: string;
  requester: string;
  requesterSubject: string;
  datasets: string[];
  reason: string;
  /** Duration the grant will last once approved, after capping to the policy's max. */
  durationMs: number;
  /** Duration the requester asked for. */
  requestedDurationMs: number;
  state: RequestState;
  createdAt: number;
  /** When a pending request lapses. */
  expiresAt: number;
  /** The policy rules that decided, e.g. ["datasets[0].access[1]"]. */
  ruleIds: string[];
  /** Groups any of which an approver must hold. */
  approverGroups: string[];
  minApprovals: number;
  approvals: Approval[];
  decidedAt: number | null;
  decidedBy: string | null;
  decisionReason: string | null;
  grantId: string | null;
  /** Set for single-statement (per_query) requests: the normalised SQL and its hash. */
  sql: string | null;
  sqlHash: string | null;
}

export interface Grant {
  id: string;
  requestId: string;
  holder: string;
  holderSubject: string;
  datasets: string[];
  createdAt: number;
  expiresAt: number;
  revokedAt: number | null;
  revokedBy: string | null;
  /** Single-statement grants: bound to this SQL hash, usable once. */
  sqlHash: string | null;
  usedAt: number | null;
}

export interface NewRequest {
  requester: string;
  requesterSubject: string;
  datasets: string[];
  reason: string;
  durationMs: number;
  requestedDurationMs: number;
  createdAt: number;
  expiresAt: number;
  ruleIds: string[];
  approverGroups: string[];
  minApprovals: number;
  sql?: string | null;
  sqlHash?: string | null;
  /** When true the request is approved at once (policy: auto) and its grant created in the same transaction. */
  autoApprove: boolean;
  grantExpiresAt?: number;
}

/**
 * One audit record as stored. Each store instance (a broker process, a replica) appends to its own chain: `chain`
 * names it, `chainSeq` is the record's place in it, and `hash` chains over `prevHash` and the canonical record.
 * `seq` (= `id`) is the record's number across all chains, the order lists and pages use; it is not hashed.
 */
export interface AuditRecord {
  id: string;
  seq: number;
  chain: number;
  chainSeq: number;
  at: number;
  actor: string;
  actorSubject: string | null;
  action: string;
  outcome: "ok" | "denied" | "failed" | "pending";
  /** Everything else (SQL, tables, decision reasons, grant ids, masked columns, rows, bytes...). */
  details: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

export type NewAuditRecord = Omit<AuditRecord, "id" | "seq" | "chain" | "chainSeq" | "prevHash" | "hash">;

/** One audit chain and its newest record. */
export interface AuditChain {
  id: number;
  /** Who holds it ("host:pid"), when, and when it was closed (null while held, or when its writer died). */
  writer: string | null;
  openedAt: number | null;
  closedAt: number | null;
  head: { seq: number; hash: string; action: string } | null;
}

export interface AuditQuery {
  actor?: string;
  action?: string;
  outcome?: string;
  since?: number;
  until?: number;
  afterSeq?: number;
  /** Only records with a smaller `seq`: with `newestFirst`, the cursor for the next older page. */
  beforeSeq?: number;
  /** Newest first (descending `seq`, or `chainSeq` with `chain`); oldest first otherwise. `limit` keeps the newest. */
  newestFirst?: boolean;
  /** One chain only, in chain order; `afterChainSeq` pages through it. */
  chain?: number;
  afterChainSeq?: number;
  limit?: number;
}

/** Batch sizes of the audit log's group commit so far, for metrics: how much one transaction per batch is saving. */
export interface AuditStats {
  /** The chain this store instance appends to. */
  chain: number;
  /** Transactions that committed. */
  batches: number;
  /** Records those transactions held. */
  records: number;
  /** The largest batch committed. */
  maxBatch: number;
  /** Transactions that failed (every caller in them got the error). */
  failedBatches: number;
  /** Records waiting for the next transaction right now. */
  pending: number;
}

export type ApproveResult =
  | { ok: true; request: AccessRequest; grant: Grant | null }
  | { ok: false; reason: "not_found" | "not_pending" | "expired" | "already_approved_by_you" | "not_requester"; request: AccessRequest | null };

/**
 * A console session as stored (src/console/session.ts decides what goes in): keyed by the SHA-256 of its cookie value,
 * so the table holds nothing a browser could present; the refresh token arrives already sealed (AES-256-GCM).
 */
export interface StoredConsoleSession {
  /** base64url SHA-256 of the cookie value. */
  key: string;
  principal: Principal;
  csrf: string;
  /** The refresh token, sealed by the console; null when the IdP gave none. */
  sealedRefreshToken: string | null;
  /** Epoch ms when the id_token the principal came from expires. */
  idTokenExpiresAt: number;
  createdAt: number;
  lastSeen: number;
  /** The absolute end of the session, whatever its activity. */
  expiresAt: number;
}

/** A console sign-in in progress, keyed like a session; what the callback must match is sealed into `sealed`. */
export interface StoredSignIn {
  key: string;
  sealed: string;
  createdAt: number;
  expiresAt: number;
}

/** The timing rules a console session is held to, given by the console on each call. */
export interface SessionRules {
  now: number;
  /** A session unused this long is over. */
  idleMs: number;
}

export interface Store {
  readonly kind: "sqlite" | "postgres";
  /** Creates a request (and its grant when auto-approved) atomically. */
  createRequest(r: NewRequest): Promise<{ request: AccessRequest; grant: Grant | null }>;
  getRequest(id: string): Promise<AccessRequest | null>;
  listRequests(q: { requesterSubject?: string; state?: RequestState; limit?: number }): Promise<AccessRequest[]>;
  /** Records one approval; when min approvals are reached, approves and creates the grant, atomically. */
  approveRequest(id: string, a: Approval, grantExpiresAt: (approvedAt: number) => number): Promise<ApproveResult>;
  denyRequest(id: string, by: string, reason: string, at: number): Promise<ApproveResult>;
  /** Withdraws a pending request on behalf of its requester (`bySubject` must be theirs), atomically with the state check. */
  cancelRequest(id: string, bySubject: string, at: number): Promise<ApproveResult>;
  /** Marks pending requests past their expiry as expired; returns them. */
  expirePending(now: number): Promise<AccessRequest[]>;
  getGrant(id: string): Promise<Grant | null>;
  listGrants(q: { holderSubject?: string; activeAt?: number }): Promise<Grant[]>;
  revokeGrant(id: string, by: string, at: number): Promise<Grant | null>;
  /** Marks a single-statement grant used; false when it was already used (atomic). */
  consumeGrant(id: string, at: number): Promise<boolean>;
  /**
   * Appends to the hash chain durably before returning; throws when it cannot. Concurrent calls share one
   * transaction (group commit); each resolves only once its own record has committed.
   */
  appendAudit(r: NewAuditRecord): Promise<AuditRecord>;
  /** Batch sizes of the audit log's group commit in this store instance so far (no I/O). */
  auditStats(): AuditStats;
  /** Every chain that has records or a writer, with its head, by id. */
  auditChains(): Promise<AuditChain[]>;
  /** Writes a checkpoint (the other chains' heads) into this store's chain now when any moved since the last; null when none did. */
  auditCheckpoint(): Promise<AuditRecord | null>;
  listAudit(q: AuditQuery): Promise<AuditRecord[]>;
  getAudit(id: string): Promise<AuditRecord | null>;
  /**
   * Stores a new console session. First removes at most 100 sessions that are over (idle or past their end), and
   * afterwards the least recently seen beyond `max`, so a flood of sign-ins cannot grow the table without bound.
   */
  createConsoleSession(s: StoredConsoleSession, rules: SessionRules & { max: number }): Promise<void>;
  /**
   * The live session with this key; null when unknown, idle too long or past its end (such a row is deleted). Its
   * last_seen moves to `now` only when `touchEveryMs` have passed since it last did, so page views are mostly reads.
   */
  touchConsoleSession(key: string, rules: SessionRules & { touchEveryMs: number }): Promise<StoredConsoleSession | null>;
  /** Replaces a session's identity and tokens after a refresh; false when the session is gone (signed out meanwhile). */
  updateConsoleSession(key: string, u: Pick<StoredConsoleSession, "principal" | "sealedRefreshToken" | "idTokenExpiresAt">): Promise<boolean>;
  /** Deletes a session; true when there was one. */
  endConsoleSession(key: string): Promise<boolean>;
  /** Stores a sign-in in progress, removing at most 100 lapsed ones first and the oldest beyond `max` after. */
  startConsoleSignIn(p: StoredSignIn, bound: { now: number; max: number }): Promise<void>;
  /** Takes (deletes and returns) a sign-in, atomically: of two callbacks with one cookie, one gets it. Null when lapsed. */
  takeConsoleSignIn(key: string, now: number): Promise<StoredSignIn | null>;
  /** Resolves when the store answers and is still the one opened (readiness); throws the store's failure otherwise. */
  ready(): Promise<void>;
  close(): Promise<void>;
}
