/** The PostgreSQL store: several broker replicas share one database; row locks keep them consistent, and each appends to its own audit chain. */
import type { Pool, PoolClient } from "pg";
import { checkSchemaName, createPool, describeTarget, rollbackAndRelease } from "./postgres-connect.ts";
import { storeFailure } from "./failure.ts";
import { AuditBatcher, type AuditChainOptions, type ChainHead, type LinkedRecord } from "./audit-batch.ts";
import { type ConsoleSessionMethods, consoleSessionTables, pgRunner } from "./console-sessions.ts";
import { guardStore } from "./guard.ts";
import { auditFromRow, chainFromRow, grantFromRow, requestFromRow, undecidable, writerName } from "./rows.ts";
import type {
  AccessRequest, Approval, ApproveResult, AuditChain, AuditQuery, AuditRecord, AuditStats, Grant, NewAuditRecord, NewRequest, RequestState, Store,
} from "./types.ts";

type Row = Record<string, unknown>;
/** Anything that runs a parameterised query: the pool (autocommit) or a client inside a transaction. */
type Db = Pick<PoolClient, "query">;

/** The request row with its grant id, which lives on the grant (grants.request_id is UNIQUE). */
const REQUEST_SELECT = "SELECT r.*, (SELECT g.id FROM grants g WHERE g.request_id = r.id) AS grant_id FROM requests r";

/** Ids are BIGSERIAL decimals; anything else is "not found" rather than a database error. */
const rowId = (id: string): string | null => (/^[1-9][0-9]{0,17}$/.test(id) ? id : null);

/** Opens the PostgreSQL store at `url` (schema `public` unless given), applying migrations; the password never appears in errors. */
export async function openPostgresStore(url: string, opts: { schema?: string; poolSize?: number } & AuditChainOptions = {}): Promise<Store> {
  const schema = opts.schema ?? "public";
  checkSchemaName(schema);
  const pool = await createPool(url, schema, opts.poolSize ?? 10, describeTarget(url));
  let chain: number;
  try {
    chain = await claimChain(pool);
  } catch (err) {
    await pool.end().catch(() => {});
    throw storeFailure("postgres", "open", err);
  }
  return guardStore(new PostgresStore(pool, chain, opts), { fail: (op, err) => storeFailure("postgres", op, err) });
}

/**
 * Takes the lowest chain whose writer closed it cleanly, or starts a new one: this store instance alone appends to it.
 * SKIP LOCKED: replicas starting together take different chains instead of waiting for each other.
 */
async function claimChain(pool: Pool): Promise<number> {
  const now = Date.now();
  const reused = await pool.query(
    `UPDATE audit_chains SET closed_at = NULL, writer = $1, opened_at = $2
     WHERE id = (SELECT id FROM audit_chains WHERE closed_at IS NOT NULL ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id`,
    [writerName(), now],
  );
  if (reused.rowCount) return Number(reused.rows[0].id);
  return Number((await pool.query("INSERT INTO audit_chains (writer, opened_at) VALUES ($1, $2) RETURNING id", [writerName(), now])).rows[0].id);
}

/** Runs fn in one transaction on one pooled connection. */
async function tx<T>(pool: Pool, fn: (c: PoolClient) => Promise<T>): Promise<T> {
  const c = await pool.connect();
  try {
    await c.query("BEGIN");
    const out = await fn(c);
    await c.query("COMMIT");
    c.release();
    return out;
  } catch (err) {
    await rollbackAndRelease(c, err);
    throw err;
  }
}

/** Builds "WHERE a = $1 AND b = $2" with numbered parameters. */
function where(conds: [string, unknown][]): { clause: string; args: unknown[] } {
  const args = conds.map(([, v]) => v);
  const parts = conds.map(([sql], i) => sql.replace("?", `$${i + 1}`));
  return { clause: parts.length ? `WHERE ${parts.join(" AND ")}` : "", args };
}

// The class gets these from consoleSessionTables() in its constructor.
interface PostgresStore extends ConsoleSessionMethods {}

class PostgresStore implements Store {
  readonly kind = "postgres" as const;
  readonly #pool: Pool;
  readonly #chain: number;
  #closed = false;
  readonly #audit: AuditBatcher;

  constructor(pool: Pool, chain: number, opts: AuditChainOptions) {
    this.#pool = pool;
    // The console-session methods (src/store/console-sessions.ts) are the same statements on both stores.
    Object.assign(this, consoleSessionTables(pgRunner(pool)));
    this.#chain = chain;
    // Only this instance appends to its chain, so the head it committed last is the head: no read, no lock per batch.
    this.#audit = new AuditBatcher(
      { write: (known, link) => this.#writeBatch(known, link), chains: () => this.auditChains() },
      { chain, trustHead: true, checkpointMs: opts.checkpointMs, checkpointEvery: opts.checkpointEvery },
    );
  }

  async createRequest(r: NewRequest): Promise<{ request: AccessRequest; grant: Grant | null }> {
    return tx(this.#pool, async (c) => {
      const auto = r.autoApprove;
      const res = await c.query(
        `INSERT INTO requests (requester, requester_subject, datasets, reason, duration_ms, requested_duration_ms, state,
           created_at, expires_at, rule_ids, approver_groups, min_approvals, sql_text, sql_hash, decided_at, decided_by, decision_reason)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) RETURNING id`,
        [
          r.requester, r.requesterSubject, JSON.stringify(r.datasets), r.reason, r.durationMs, r.requestedDurationMs,
          auto ? "approved" : "pending", r.createdAt, r.expiresAt, JSON.stringify(r.ruleIds),
          JSON.stringify(r.approverGroups), r.minApprovals, r.sql ?? null, r.sqlHash ?? null,
          auto ? r.createdAt : null, auto ? "policy" : null, auto ? "auto-approved by policy" : null,
        ],
      );
      const id = String(res.rows[0].id);
      const grant = auto ? await insertGrant(c, id, r.grantExpiresAt ?? r.createdAt + r.durationMs, r.createdAt) : null;
      return { request: (await loadRequest(c, id))!, grant };
    });
  }

  async getRequest(id: string): Promise<AccessRequest | null> {
    const key = rowId(id);
    return key ? loadRequest(this.#pool, key) : null;
  }

  async listRequests(q: { requesterSubject?: string; state?: RequestState; limit?: number }): Promise<AccessRequest[]> {
    const conds: [string, unknown][] = [];
    if (q.requesterSubject) conds.push(["r.requester_subject = ?", q.requesterSubject]);
    if (q.state) conds.push(["r.state = ?", q.state]);
    const { clause, args } = where(conds);
    const rows = (await this.#pool.query(`${REQUEST_SELECT} ${clause} ORDER BY r.id DESC LIMIT $${args.length + 1}`, [...args, q.limit ?? 200])).rows;
    return withApprovals(this.#pool, rows);
  }

  async approveRequest(id: string, a: Approval, grantExpiresAt: (approvedAt: number) => number): Promise<ApproveResult> {
    const key = rowId(id);
    if (!key) return { ok: false, reason: "not_found", request: null };
    return tx(this.#pool, async (c): Promise<ApproveResult> => {
      // The row lock makes concurrent approvals of one request (on any replica) take turns, so only one can reach min approvals.
      const req = await loadRequest(c, key, true);
      const refused = undecidable(req, a.at);
      if (refused || !req) return refused!;
      if (req.approvals.some((x) => x.approverSubject === a.approverSubject)) {
        return { ok: false, reason: "already_approved_by_you", request: req };
      }
      await c.query("INSERT INTO approvals (request_id, approver, approver_subject, comment, at) VALUES ($1, $2, $3, $4, $5)", [
        key, a.approver, a.approverSubject, a.comment, a.at,
      ]);
      let grant: Grant | null = null;
      if (req.approvals.length + 1 >= req.minApprovals) {
        grant = await insertGrant(c, key, grantExpiresAt(a.at), a.at);
        await c.query("UPDATE requests SET state = 'approved', decided_at = $1, decided_by = $2, decision_reason = $3 WHERE id = $4", [
          a.at, a.approver, a.comment, key,
        ]);
      }
      return { ok: true, request: (await loadRequest(c, key))!, grant };
    });
  }

  async denyRequest(id: string, by: string, reason: string, at: number): Promise<ApproveResult> {
    return this.#endPending(id, at, "UPDATE requests SET state = 'denied', decided_at = $1, decided_by = $2, decision_reason = $3 WHERE id = $4", [at, by, reason]);
  }

  async cancelRequest(id: string, bySubject: string, at: number): Promise<ApproveResult> {
    return this.#endPending(
      id, at, "UPDATE requests SET state = 'cancelled', decided_at = $1, decided_by = requester, decision_reason = 'withdrawn by the requester' WHERE id = $2", [at],
      (req) => (req.requesterSubject === bySubject ? null : { ok: false, reason: "not_requester", request: req }),
    );
  }

  /**
   * Ends a pending request (denied, withdrawn) with `sql`, whose last parameter is the row id. The row lock orders it
   * against a concurrent approval: exactly one of them finds the request pending. `check` may still refuse.
   */
  async #endPending(id: string, at: number, sql: string, args: unknown[], check?: (req: AccessRequest) => ApproveResult | null): Promise<ApproveResult> {
    const key = rowId(id);
    if (!key) return { ok: false, reason: "not_found", request: null };
    return tx(this.#pool, async (c): Promise<ApproveResult> => {
      const req = await loadRequest(c, key, true);
      const refused = undecidable(req, at);
      if (refused || !req) return refused!;
      const no = check?.(req);
      if (no) return no;
      await c.query(sql, [...args, key]);
      return { ok: true, request: (await loadRequest(c, key))!, grant: null };
    });
  }

  async expirePending(now: number): Promise<AccessRequest[]> {
    return tx(this.#pool, async (c) => {
      // The UPDATE re-checks state after waiting on a row lock, so each request is expired (and returned) by one replica only.
      const res = await c.query(
        `UPDATE requests SET state = 'expired', decided_at = expires_at, decided_by = 'broker',
           decision_reason = 'no decision before the request expired'
         WHERE state = 'pending' AND expires_at <= $1 RETURNING id`,
        [now],
      );
      if (res.rowCount === 0) return [];
      const rows = (await c.query(`${REQUEST_SELECT} WHERE r.id = ANY($1::bigint[]) ORDER BY r.id`, [res.rows.map((r) => String(r.id))])).rows;
      return withApprovals(c, rows);
    });
  }

  async getGrant(id: string): Promise<Grant | null> {
    const key = rowId(id);
    if (!key) return null;
    const row = (await this.#pool.query("SELECT * FROM grants WHERE id = $1", [key])).rows[0] as Row | undefined;
    return row ? grantFromRow(row) : null;
  }

  async listGrants(q: { holderSubject?: string; activeAt?: number }): Promise<Grant[]> {
    const conds: [string, unknown][] = [];
    if (q.holderSubject) conds.push(["holder_subject = ?", q.holderSubject]);
    if (q.activeAt !== undefined) conds.push(["revoked_at IS NULL AND used_at IS NULL AND expires_at > ?", q.activeAt]);
    const { clause, args } = where(conds);
    return (await this.#pool.query(`SELECT * FROM grants ${clause} ORDER BY id DESC LIMIT 500`, args)).rows.map(grantFromRow);
  }

  async revokeGrant(id: string, by: string, at: number): Promise<Grant | null> {
    const key = rowId(id);
    if (!key) return null;
    return tx(this.#pool, async (c) => {
      await c.query("UPDATE grants SET revoked_at = $1, revoked_by = $2 WHERE id = $3 AND revoked_at IS NULL", [at, by, key]);
      const row = (await c.query("SELECT * FROM grants WHERE id = $1", [key])).rows[0] as Row | undefined;
      return row ? grantFromRow(row) : null;
    });
  }

  async consumeGrant(id: string, at: number): Promise<boolean> {
    const key = rowId(id);
    if (!key) return false;
    const res = await this.#pool.query("UPDATE grants SET used_at = $1 WHERE id = $2 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $1", [at, key]);
    return res.rowCount === 1;
  }

  /** Failures become "the audit log could not record this request" with their cause, in guard.ts / failure.ts. */
  async appendAudit(r: NewAuditRecord): Promise<AuditRecord> {
    return this.#audit.append(r);
  }

  /** Batch sizes of the audit log's group commit so far. */
  auditStats(): AuditStats {
    return this.#audit.stats();
  }

  /** The connection pool now: open connections, idle ones, and callers waiting for one (the /metrics gauge). */
  poolStats(): { total: number; idle: number; waiting: number } {
    return { total: this.#pool.totalCount, idle: this.#pool.idleCount, waiting: this.#pool.waitingCount };
  }

  async auditCheckpoint(): Promise<AuditRecord | null> {
    return this.#audit.checkpoint();
  }

  /** Chains named in audit_chains or holding records (a loose index scan: one probe per chain), with their heads. */
  async auditChains(): Promise<AuditChain[]> {
    const rows = (await this.#pool.query(
      `WITH RECURSIVE used(id) AS (SELECT min(chain) FROM audit UNION ALL SELECT (SELECT min(chain) FROM audit WHERE chain > used.id) FROM used WHERE used.id IS NOT NULL)
       SELECT ids.id, c.writer, c.opened_at, c.closed_at, h.chain_seq, h.hash, h.action
       FROM (SELECT id FROM used WHERE id IS NOT NULL UNION SELECT id FROM audit_chains) ids
       LEFT JOIN audit_chains c ON c.id = ids.id
       LEFT JOIN LATERAL (SELECT chain_seq, hash, action FROM audit a WHERE a.chain = ids.id ORDER BY chain_seq DESC LIMIT 1) h ON true
       ORDER BY ids.id`,
    )).rows as Row[];
    return rows.map((r) => chainFromRow(r, r.chain_seq === null ? undefined : r));
  }

  /**
   * One batch, one statement: a multi-row INSERT is its own transaction (one commit, one WAL flush), and holds no lock
   * anyone else waits for: no other writer appends to this chain. The head is read first only when not known.
   */
  async #writeBatch(known: ChainHead | null | undefined, link: (head: ChainHead | null) => LinkedRecord[]): Promise<AuditRecord[]> {
    let head = known;
    if (head === undefined) {
      const last = (await this.#pool.query("SELECT chain_seq, hash FROM audit WHERE chain = $1 ORDER BY chain_seq DESC LIMIT 1", [this.#chain])).rows[0] as Row | undefined;
      head = last ? { seq: Number(last.chain_seq), hash: String(last.hash) } : null;
    }
    const rows = link(head);
    const res = await this.#pool.query(
      `INSERT INTO audit (chain, chain_seq, at, actor, actor_subject, action, outcome, details, prev_hash, hash)
       SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[])
       RETURNING seq, chain_seq`,
      [
        rows.map((r) => r.chain), rows.map((r) => r.chainSeq), rows.map((r) => r.at), rows.map((r) => r.actor), rows.map((r) => r.actorSubject),
        rows.map((r) => r.action), rows.map((r) => r.outcome), rows.map((r) => r.detailsText), rows.map((r) => r.prevHash), rows.map((r) => r.hash),
      ],
    );
    const seqs = new Map(res.rows.map((x: Row) => [Number(x.chain_seq), Number(x.seq)]));
    return rows.map(({ detailsText: _, ...r }) => {
      const seq = seqs.get(r.chainSeq)!;
      return { ...r, id: String(seq), seq };
    });
  }

  async ready(): Promise<void> {
    const row = (await this.#pool.query(
      "SELECT pg_is_in_recovery() AS standby, current_setting('transaction_read_only') AS ro, (SELECT count(*) FROM schema_migrations) AS migrations",
    )).rows[0] as Row;
    // A standby or a read-only session answers reads but cannot take the audit log: not ready.
    if (row.standby === true || row.ro === "on") throw Object.assign(new Error("the database accepts no writes"), { code: "25006" });
  }

  async listAudit(q: AuditQuery): Promise<AuditRecord[]> {
    const conds: [string, unknown][] = [];
    if (q.actor) conds.push(["actor = ?", q.actor]);
    if (q.action) conds.push(["action = ?", q.action]);
    if (q.outcome) conds.push(["outcome = ?", q.outcome]);
    if (q.since !== undefined) conds.push(["at >= ?", q.since]);
    if (q.until !== undefined) conds.push(["at < ?", q.until]);
    if (q.afterSeq !== undefined) conds.push(["seq > ?", q.afterSeq]);
    if (q.beforeSeq !== undefined) conds.push(["seq < ?", q.beforeSeq]);
    if (q.chain !== undefined) conds.push(["chain = ?", q.chain]);
    if (q.afterChainSeq !== undefined) conds.push(["chain_seq > ?", q.afterChainSeq]);
    const { clause, args } = where(conds);
    const sql = `SELECT * FROM audit ${clause} ORDER BY ${q.chain !== undefined ? "chain_seq" : "seq"} ${q.newestFirst ? "DESC" : "ASC"} LIMIT $${args.length + 1}`;
    return (await this.#pool.query(sql, [...args, q.limit ?? 1000])).rows.map(auditFromRow);
  }

  async getAudit(id: string): Promise<AuditRecord | null> {
    const key = rowId(id);
    if (!key) return null;
    const row = (await this.#pool.query("SELECT * FROM audit WHERE seq = $1", [key])).rows[0] as Row | undefined;
    return row ? auditFromRow(row) : null;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // Appends already accepted are written (or fail) before the pool ends; later ones are refused.
    await this.#audit.close();
    try {
      // Handed back for the next writer to take (a writer that died keeps its chain: nobody else may append to it).
      await this.#pool.query("UPDATE audit_chains SET closed_at = $1 WHERE id = $2", [Date.now(), this.#chain]);
    } catch {
      // The database is gone or refuses writes: the chain stays held, and the next writer starts another.
    } finally {
      await this.#pool.end();
    }
  }
}

/** Loads one request with its approvals; `lock` takes the row lock (FOR UPDATE) for a decision. */
async function loadRequest(db: Db, id: string, lock = false): Promise<AccessRequest | null> {
  const row = (await db.query(`${REQUEST_SELECT} WHERE r.id = $1${lock ? " FOR UPDATE OF r" : ""}`, [id])).rows[0] as Row | undefined;
  if (!row) return null;
  const approvals = (await db.query("SELECT * FROM approvals WHERE request_id = $1 ORDER BY at, approver_subject", [id])).rows;
  return requestFromRow(row, approvals);
}

/** Attaches approvals to many request rows with one query. */
async function withApprovals(db: Db, rows: Row[]): Promise<AccessRequest[]> {
  if (rows.length === 0) return [];
  const ids = rows.map((r) => String(r.id));
  const all = (await db.query("SELECT * FROM approvals WHERE request_id = ANY($1::bigint[]) ORDER BY at, approver_subject", [ids])).rows as Row[];
  const byRequest = new Map<string, Row[]>();
  for (const a of all) {
    const key = String(a.request_id);
    byRequest.set(key, [...(byRequest.get(key) ?? []), a]);
  }
  return rows.map((r) => requestFromRow(r, byRequest.get(String(r.id)) ?? []));
}

/** Creates the grant for an approved request, copying holder, datasets and SQL binding from the request row. */
async function insertGrant(c: PoolClient, requestId: string, expiresAt: number, createdAt: number): Promise<Grant> {
  const res = await c.query(
    `INSERT INTO grants (request_id, holder, holder_subject, datasets, created_at, expires_at, sql_hash)
     SELECT id, requester, requester_subject, datasets, $2, $3, sql_hash FROM requests WHERE id = $1 RETURNING *`,
    [requestId, createdAt, expiresAt],
  );
  return grantFromRow(res.rows[0] as Row);
}
