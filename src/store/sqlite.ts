/** The SQLite store (node:sqlite): one file in the broker's data dir, WAL, every write in an immediate transaction. */
import { DatabaseSync } from "node:sqlite";
import { JitError } from "../errors.ts";
import { describeCause, probeWritable, storeFailure, storeUnavailable } from "./failure.ts";
import { prepareStoreFiles, storeIdentity, type FileIdentity } from "./sqlite-files.ts";
import { AuditBatcher, type AuditChainOptions, type ChainHead, type LinkedRecord } from "./audit-batch.ts";
import { type ConsoleSessionMethods, consoleSessionTables, sqliteRunner } from "./console-sessions.ts";
import { type Prepare, statementCache } from "./sqlite-statements.ts";
import { guardStore } from "./guard.ts";
import { auditFromRow, chainFromRow, grantFromRow, requestFromRow, undecidable, writerName } from "./rows.ts";
import type {
  AccessRequest, Approval, ApproveResult, AuditChain, AuditQuery, AuditRecord, AuditStats, Grant, NewAuditRecord, NewRequest, RequestState, Store,
} from "./types.ts";

/** Schema migrations, applied in order once each; never edit a released one, append a new one. */
const MIGRATIONS: string[] = [
  `CREATE TABLE requests (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     requester TEXT NOT NULL, requester_subject TEXT NOT NULL,
     datasets TEXT NOT NULL, reason TEXT NOT NULL,
     duration_ms INTEGER NOT NULL, requested_duration_ms INTEGER NOT NULL,
     state TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
     rule_ids TEXT NOT NULL, approver_groups TEXT NOT NULL, min_approvals INTEGER NOT NULL,
     decided_at INTEGER, decided_by TEXT, decision_reason TEXT, grant_id INTEGER,
     sql_text TEXT, sql_hash TEXT);
   CREATE INDEX requests_state ON requests(state, expires_at);
   CREATE TABLE approvals (
     request_id INTEGER NOT NULL REFERENCES requests(id), approver TEXT NOT NULL,
     approver_subject TEXT NOT NULL, comment TEXT, at INTEGER NOT NULL,
     PRIMARY KEY (request_id, approver_subject));
   CREATE TABLE grants (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     request_id INTEGER NOT NULL UNIQUE REFERENCES requests(id),
     holder TEXT NOT NULL, holder_subject TEXT NOT NULL, datasets TEXT NOT NULL,
     created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
     revoked_at INTEGER, revoked_by TEXT, sql_hash TEXT, used_at INTEGER);
   CREATE INDEX grants_holder ON grants(holder_subject, expires_at);
   CREATE TABLE audit (
     seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, actor TEXT NOT NULL, actor_subject TEXT,
     action TEXT NOT NULL, outcome TEXT NOT NULL, details TEXT NOT NULL,
     prev_hash TEXT NOT NULL, hash TEXT NOT NULL);`,
  // A chain per writer (docs/audit-chains.md): the records so far become chain 1, closed, for the first writer to take.
  `CREATE TABLE audit_chains (id INTEGER PRIMARY KEY, writer TEXT NOT NULL, opened_at INTEGER NOT NULL, closed_at INTEGER);
   INSERT INTO audit_chains (id, writer, opened_at, closed_at) VALUES (1, 'first writer', CAST(unixepoch('subsec') * 1000 AS INTEGER), CAST(unixepoch('subsec') * 1000 AS INTEGER));
   ALTER TABLE audit ADD COLUMN chain INTEGER NOT NULL DEFAULT 1;
   ALTER TABLE audit ADD COLUMN chain_seq INTEGER NOT NULL DEFAULT 0;
   UPDATE audit SET chain_seq = seq;
   CREATE UNIQUE INDEX audit_chain_seq ON audit(chain, chain_seq);
   CREATE INDEX audit_action ON audit(action, seq);`,
  // Console sessions and sign-ins in progress (src/store/console-sessions.ts), keyed by a hash of the cookie value.
  `CREATE TABLE console_sessions (
     key TEXT PRIMARY KEY, principal TEXT NOT NULL, csrf TEXT NOT NULL, refresh_token_sealed TEXT,
     id_token_expires_at INTEGER NOT NULL, created_at INTEGER NOT NULL, last_seen INTEGER NOT NULL, expires_at INTEGER NOT NULL);
   CREATE INDEX console_sessions_last_seen ON console_sessions(last_seen);
   CREATE INDEX console_sessions_expires_at ON console_sessions(expires_at);
   CREATE TABLE console_sign_ins (key TEXT PRIMARY KEY, sealed TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL);
   CREATE INDEX console_sign_ins_expires_at ON console_sign_ins(expires_at);
   CREATE INDEX console_sign_ins_created_at ON console_sign_ins(created_at);`,
];

type Row = Record<string, unknown>;

/**
 * Opens (creating when needed) the SQLite store at `path` and brings its schema up to date. Its files are 0600 in a
 * 0700 directory whatever the umask, and a file others may read is refused. Every later call first checks that the
 * file is still the one opened: once it was removed or replaced, the store refuses everything (and logs why, once).
 */
export function openSqliteStore(path: string, opts: { log?: (line: string) => void } & AuditChainOptions = {}): Store {
  const memory = path === ":memory:";
  let db: DatabaseSync;
  try {
    if (!memory) prepareStoreFiles(path);
    db = new DatabaseSync(path);
    // busy_timeout first: several brokers opening one new file at once must wait for each other, not fail.
    db.exec("PRAGMA busy_timeout = 5000");
    enableWal(db);
    db.exec("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;");
    migrate(db);
  } catch (err) {
    if (err instanceof JitError) throw err;
    throw new JitError("internal", `cannot open the SQLite store ${path}: ${describeCause("sqlite", err, path)}`, {
      hint: "check the store's directory (it must exist or be creatable, be writable by the broker's user and have free space)",
      cause: err,
    });
  }
  let chain: number;
  try {
    chain = claimChain(db);
  } catch (err) {
    db.close();
    throw new JitError("internal", `cannot open the SQLite store ${path}: ${describeCause("sqlite", err, path)}`, {
      hint: "check the store's directory (it must be writable by the broker's user and have free space)",
      cause: err,
    });
  }
  const inner = new SqliteStore(db, path, chain, opts);
  const opened = memory ? null : storeIdentity(path);
  let lost: JitError | null = null;
  const before = () => {
    if (lost) throw lost;
    // Closing the last connection removes the WAL itself; a closed store fails on its own ("not open").
    if (!opened || !db.isOpen) return;
    const now = storeIdentity(path);
    const problem = !now.db ? "the store file was removed" : now.db.ino !== opened.db!.ino || now.db.dev !== opened.db!.dev ? "the store file was replaced"
      : opened.wal && (!now.wal || now.wal.ino !== opened.wal.ino || now.wal.dev !== opened.wal.dev) ? "the store's write-ahead log was removed or replaced" : null;
    if (!problem) return;
    lost = storeUnavailable("sqlite", `${now.db ? "ESTALE" : "ENOENT"}: ${problem} while the broker ran; it serves nothing until restarted`);
    opts.log?.(`store lost: ${problem} (${path}, ${inodes(opened, now)}) while the broker ran; refusing every request from now on. ` +
      "Restore the file (or point store.sqlite at the right one) and restart the broker; records written since it went are not on disk.");
    throw lost;
  };
  return guardStore(inner, { before, fail: (op, err) => storeFailure("sqlite", op, err, path) });
}

const inodes = (was: { db: FileIdentity | null; wal: FileIdentity | null }, now: { db: FileIdentity | null; wal: FileIdentity | null }) =>
  `inode ${was.db?.ino} -> ${now.db ? now.db.ino : "missing"}${was.wal ? `, wal inode ${was.wal.ino} -> ${now.wal ? now.wal.ino : "missing"}` : ""}`;

/** Switching to WAL needs a moment with no other connection; SQLite answers BUSY at once instead of waiting, so retry. */
function enableWal(db: DatabaseSync): void {
  for (let attempt = 0; ; attempt++) {
    try {
      db.exec("PRAGMA journal_mode = WAL");
      return;
    } catch (err) {
      if (attempt >= 50 || !/locked|busy/i.test((err as Error).message)) throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
  }
}

function migrate(db: DatabaseSync): void {
  immediate(db, () => db.exec("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)"));
  MIGRATIONS.forEach((sql, i) => {
    const version = i + 1;
    // Checked inside the write lock: another process may have applied it since we looked.
    immediate(db, () => {
      if (db.prepare("SELECT 1 FROM schema_migrations WHERE version = ?").get(version)) return;
      db.exec(sql);
      db.prepare("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)").run(version, Date.now());
    });
  });
}

/** Takes the lowest chain whose writer closed it cleanly, or starts a new one: this store instance alone appends to it. */
function claimChain(db: DatabaseSync): number {
  return immediate(db, () => {
    const free = db.prepare("SELECT id FROM audit_chains WHERE closed_at IS NOT NULL ORDER BY id LIMIT 1").get() as Row | undefined;
    const now = Date.now();
    if (free) {
      db.prepare("UPDATE audit_chains SET closed_at = NULL, writer = ?, opened_at = ? WHERE id = ?").run(writerName(), now, Number(free.id));
      return Number(free.id);
    }
    return Number(db.prepare("INSERT INTO audit_chains (writer, opened_at) VALUES (?, ?)").run(writerName(), now).lastInsertRowid);
  });
}

/** A decimal row id, or null for anything else ("01", "1e0", " 1" are not ids). */
function rowId(id: string): number | null {
  return /^[1-9][0-9]{0,15}$/.test(id) ? Number(id) : null;
}

/** Runs fn inside BEGIN IMMEDIATE so concurrent writers (other broker processes) serialise. */
function immediate<T>(db: DatabaseSync, fn: () => T): T {
  db.exec("BEGIN IMMEDIATE");
  try {
    const out = fn();
    db.exec("COMMIT");
    return out;
  } catch (err) {
    try {
      db.exec("ROLLBACK");
    } catch {
      // The original error says what went wrong; a failed rollback must not hide it.
    }
    throw err;
  }
}

// The class gets these from consoleSessionTables() in its constructor.
interface SqliteStore extends ConsoleSessionMethods {}

class SqliteStore implements Store {
  readonly kind = "sqlite" as const;
  readonly #db: DatabaseSync;
  readonly #sql: Prepare;
  readonly #path: string;

  readonly #audit: AuditBatcher;
  readonly #chain: number;

  constructor(db: DatabaseSync, path: string, chain: number, opts: AuditChainOptions) {
    this.#db = db;
    this.#sql = statementCache(db);
    // The console-session methods (src/store/console-sessions.ts) are the same statements on both stores.
    Object.assign(this, consoleSessionTables(sqliteRunner(this.#sql)));
    this.#path = path;
    this.#chain = chain;
    this.#audit = new AuditBatcher(
      { write: (_known, link) => this.#writeBatch(link), chains: () => this.#chains() },
      { chain, checkpointMs: opts.checkpointMs, checkpointEvery: opts.checkpointEvery },
    );
  }

  async ready(): Promise<void> {
    this.#sql("SELECT 1 FROM schema_migrations LIMIT 1").get();
    // A replica that cannot write its audit log is not ready, even while reads still work.
    const blocked = this.#path === ":memory:" ? null : probeWritable(this.#path);
    if (blocked) throw new JitError("internal", `the SQLite store cannot be written: ${blocked.code}: ${blocked.reason}`, { details: { store: "sqlite" } });
  }

  async createRequest(r: NewRequest): Promise<{ request: AccessRequest; grant: Grant | null }> {
    return immediate(this.#db, () => {
      const res = this.#sql(
          `INSERT INTO requests (requester, requester_subject, datasets, reason, duration_ms, requested_duration_ms, state,
             created_at, expires_at, rule_ids, approver_groups, min_approvals, sql_text, sql_hash, decided_at, decided_by, decision_reason)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          r.requester, r.requesterSubject, JSON.stringify(r.datasets), r.reason, r.durationMs, r.requestedDurationMs,
          r.autoApprove ? "approved" : "pending", r.createdAt, r.expiresAt, JSON.stringify(r.ruleIds),
          JSON.stringify(r.approverGroups), r.minApprovals, r.sql ?? null, r.sqlHash ?? null,
          r.autoApprove ? r.createdAt : null, r.autoApprove ? "policy" : null, r.autoApprove ? "auto-approved by policy" : null,
        );
      const id = Number(res.lastInsertRowid);
      let grant: Grant | null = null;
      if (r.autoApprove) grant = this.#insertGrant(id, r.grantExpiresAt ?? r.createdAt + r.durationMs, r.createdAt);
      return { request: this.#request(id)!, grant };
    });
  }

  async getRequest(id: string): Promise<AccessRequest | null> {
    const key = rowId(id);
    return key === null ? null : this.#request(key);
  }

  async listRequests(q: { requesterSubject?: string; state?: RequestState; limit?: number }): Promise<AccessRequest[]> {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (q.requesterSubject) (where.push("requester_subject = ?"), args.push(q.requesterSubject));
    if (q.state) (where.push("state = ?"), args.push(q.state));
    const sql = `SELECT r.*, (SELECT g.id FROM grants g WHERE g.request_id = r.id) AS grant_id FROM requests r ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY r.id DESC LIMIT ?`;
    const rows = this.#sql(sql).all(...args, q.limit ?? 200) as Row[];
    return rows.map((row) => requestFromRow(row, this.#approvals(Number(row.id))));
  }

  async approveRequest(id: string, a: Approval, grantExpiresAt: (approvedAt: number) => number): Promise<ApproveResult> {
    const key = rowId(id);
    if (key === null) return { ok: false, reason: "not_found", request: null };
    return immediate(this.#db, () => {
      const req = this.#request(key);
      const refused = undecidable(req, a.at);
      if (refused || !req) return refused!;
      if (req.approvals.some((x) => x.approverSubject === a.approverSubject)) {
        return { ok: false, reason: "already_approved_by_you", request: req } as const;
      }
      this.#sql("INSERT INTO approvals (request_id, approver, approver_subject, comment, at) VALUES (?, ?, ?, ?, ?)")
        .run(Number(id), a.approver, a.approverSubject, a.comment, a.at);
      let grant: Grant | null = null;
      if (req.approvals.length + 1 >= req.minApprovals) {
        grant = this.#insertGrant(Number(id), grantExpiresAt(a.at), a.at);
        this.#sql("UPDATE requests SET state = 'approved', decided_at = ?, decided_by = ?, decision_reason = ? WHERE id = ?")
          .run(a.at, a.approver, a.comment, Number(id));
      }
      return { ok: true, request: this.#request(Number(id))!, grant } as const;
    });
  }

  async denyRequest(id: string, by: string, reason: string, at: number): Promise<ApproveResult> {
    return this.#endPending(id, at, "UPDATE requests SET state = 'denied', decided_at = ?, decided_by = ?, decision_reason = ? WHERE id = ?", [at, by, reason]);
  }

  async cancelRequest(id: string, bySubject: string, at: number): Promise<ApproveResult> {
    return this.#endPending(
      id, at, "UPDATE requests SET state = 'cancelled', decided_at = ?, decided_by = requester, decision_reason = 'withdrawn by the requester' WHERE id = ?", [at],
      (req) => (req.requesterSubject === bySubject ? null : { ok: false, reason: "not_requester", request: req }),
    );
  }

  /** Ends a pending request (denied, withdrawn) with `sql`, whose last parameter is the row id; `check` may still refuse. */
  async #endPending(id: string, at: number, sql: string, args: (string | number)[], check?: (req: AccessRequest) => ApproveResult | null): Promise<ApproveResult> {
    const key = rowId(id);
    if (key === null) return { ok: false, reason: "not_found", request: null };
    return immediate(this.#db, () => {
      const req = this.#request(key);
      const refused = undecidable(req, at);
      if (refused || !req) return refused!;
      const no = check?.(req);
      if (no) return no;
      this.#sql(sql).run(...args, key);
      return { ok: true, request: this.#request(key)!, grant: null } as const;
    });
  }

  async expirePending(now: number): Promise<AccessRequest[]> {
    return immediate(this.#db, () => {
      const rows = this.#sql("SELECT id FROM requests WHERE state = 'pending' AND expires_at <= ?").all(now) as Row[];
      this.#sql("UPDATE requests SET state = 'expired', decided_at = expires_at, decided_by = 'broker', decision_reason = 'no decision before the request expired' WHERE state = 'pending' AND expires_at <= ?")
        .run(now);
      return rows.map((r) => this.#request(Number(r.id))!);
    });
  }

  async getGrant(id: string): Promise<Grant | null> {
    const key = rowId(id);
    if (key === null) return null;
    const row = this.#sql("SELECT * FROM grants WHERE id = ?").get(key) as Row | undefined;
    return row ? grantFromRow(row) : null;
  }

  async listGrants(q: { holderSubject?: string; activeAt?: number }): Promise<Grant[]> {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (q.holderSubject) (where.push("holder_subject = ?"), args.push(q.holderSubject));
    if (q.activeAt !== undefined) {
      where.push("revoked_at IS NULL AND used_at IS NULL AND expires_at > ?");
      args.push(q.activeAt);
    }
    const sql = `SELECT * FROM grants ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY id DESC LIMIT 500`;
    return (this.#sql(sql).all(...args) as Row[]).map(grantFromRow);
  }

  async revokeGrant(id: string, by: string, at: number): Promise<Grant | null> {
    if (rowId(id) === null) return null;
    return immediate(this.#db, () => {
      this.#sql("UPDATE grants SET revoked_at = ?, revoked_by = ? WHERE id = ? AND revoked_at IS NULL").run(at, by, Number(id));
      const row = this.#sql("SELECT * FROM grants WHERE id = ?").get(Number(id)) as Row | undefined;
      return row ? grantFromRow(row) : null;
    });
  }

  async consumeGrant(id: string, at: number): Promise<boolean> {
    const key = rowId(id);
    if (key === null) return false;
    const res = this.#sql("UPDATE grants SET used_at = ? WHERE id = ? AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?")
      .run(at, key, at);
    return Number(res.changes) === 1;
  }

  /** Failures become "the audit log could not record this request" with their cause, in guard.ts / failure.ts. */
  async appendAudit(r: NewAuditRecord): Promise<AuditRecord> {
    return this.#audit.append(r);
  }

  /** Batch sizes of the audit log's group commit so far. */
  auditStats(): AuditStats {
    return this.#audit.stats();
  }

  async auditChains(): Promise<AuditChain[]> {
    return this.#chains();
  }

  async auditCheckpoint(): Promise<AuditRecord | null> {
    return this.#audit.checkpoint();
  }

  /** One batch in one immediate transaction; the head is read under the write lock, so nothing stale is linked to. */
  #writeBatch(link: (head: ChainHead | null) => LinkedRecord[]): AuditRecord[] {
    return immediate(this.#db, () => {
      const last = this.#sql("SELECT chain_seq, hash FROM audit WHERE chain = ? ORDER BY chain_seq DESC LIMIT 1").get(this.#chain) as Row | undefined;
      const rows = link(last ? { seq: Number(last.chain_seq), hash: String(last.hash) } : null);
      const insert = this.#sql(
        "INSERT INTO audit (chain, chain_seq, at, actor, actor_subject, action, outcome, details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      );
      return rows.map(({ detailsText, ...r }) => {
        const seq = Number(insert.run(r.chain, r.chainSeq, r.at, r.actor, r.actorSubject, r.action, r.outcome, detailsText, r.prevHash, r.hash).lastInsertRowid);
        return { ...r, id: String(seq), seq };
      });
    });
  }

  /** Chains named in audit_chains or holding records (a loose index scan: one probe per chain), with their heads. */
  #chains(): AuditChain[] {
    const rows = this.#sql(
      `WITH RECURSIVE used(id) AS (SELECT min(chain) FROM audit UNION ALL SELECT (SELECT min(chain) FROM audit WHERE chain > used.id) FROM used WHERE used.id IS NOT NULL)
       SELECT ids.id, c.writer, c.opened_at, c.closed_at FROM (SELECT id FROM used WHERE id IS NOT NULL UNION SELECT id FROM audit_chains) ids
       LEFT JOIN audit_chains c ON c.id = ids.id ORDER BY ids.id`,
    ).all() as Row[];
    const head = this.#sql("SELECT chain_seq, hash, action FROM audit WHERE chain = ? ORDER BY chain_seq DESC LIMIT 1");
    return rows.map((r) => chainFromRow(r, head.get(Number(r.id)) as Row | undefined));
  }

  async listAudit(q: AuditQuery): Promise<AuditRecord[]> {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (q.actor) (where.push("actor = ?"), args.push(q.actor));
    if (q.action) (where.push("action = ?"), args.push(q.action));
    if (q.outcome) (where.push("outcome = ?"), args.push(q.outcome));
    if (q.since !== undefined) (where.push("at >= ?"), args.push(q.since));
    if (q.until !== undefined) (where.push("at < ?"), args.push(q.until));
    if (q.afterSeq !== undefined) (where.push("seq > ?"), args.push(q.afterSeq));
    if (q.beforeSeq !== undefined) (where.push("seq < ?"), args.push(q.beforeSeq));
    if (q.chain !== undefined) (where.push("chain = ?"), args.push(q.chain));
    if (q.afterChainSeq !== undefined) (where.push("chain_seq > ?"), args.push(q.afterChainSeq));
    const order = q.chain !== undefined ? "chain_seq" : "seq";
    const sql = `SELECT * FROM audit ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY ${order} ${q.newestFirst ? "DESC" : "ASC"} LIMIT ?`;
    return (this.#sql(sql).all(...args, q.limit ?? 1000) as Row[]).map(auditFromRow);
  }

  async getAudit(id: string): Promise<AuditRecord | null> {
    const key = rowId(id);
    if (key === null) return null;
    const row = this.#sql("SELECT * FROM audit WHERE seq = ?").get(key) as Row | undefined;
    return row ? auditFromRow(row) : null;
  }

  async close(): Promise<void> {
    // Appends already accepted are written (or fail) before the file closes; later ones are refused.
    await this.#audit.close();
    if (!this.#db.isOpen) return;
    try {
      // Handed back for the next writer to take (a writer that died keeps its chain: nobody else may append to it).
      this.#sql("UPDATE audit_chains SET closed_at = ? WHERE id = ?").run(Date.now(), this.#chain);
    } finally {
      this.#db.close();
    }
  }

  #request(id: number): AccessRequest | null {
    const row = this.#sql("SELECT * FROM requests WHERE id = ?").get(id) as Row | undefined;
    if (!row) return null;
    const grant = this.#sql("SELECT id FROM grants WHERE request_id = ?").get(id) as Row | undefined;
    return requestFromRow({ ...row, grant_id: grant?.id ?? null }, this.#approvals(id));
  }

  #approvals(requestId: number): Row[] {
    return this.#sql("SELECT * FROM approvals WHERE request_id = ? ORDER BY at").all(requestId) as Row[];
  }

  #insertGrant(requestId: number, expiresAt: number, createdAt: number): Grant {
    const req = this.#sql("SELECT * FROM requests WHERE id = ?").get(requestId) as Row;
    const res = this.#sql("INSERT INTO grants (request_id, holder, holder_subject, datasets, created_at, expires_at, sql_hash) VALUES (?, ?, ?, ?, ?, ?, ?)")
      .run(requestId, req.requester as string, req.requester_subject as string, req.datasets as string, createdAt, expiresAt, (req.sql_hash as string | null) ?? null);
    return grantFromRow(this.#sql("SELECT * FROM grants WHERE id = ?").get(Number(res.lastInsertRowid)) as Row);
  }
}
