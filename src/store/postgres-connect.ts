/** Opening a PostgreSQL pool for the store: schema name checks, migrations under an advisory lock, error mapping. */
import type { Pool, PoolClient } from "pg";
import { JitError } from "../errors.ts";

/** Schema migrations, applied in order once each; never edit a released one, append a new one. Columns match sqlite.ts. */
const MIGRATIONS: string[] = [
  `CREATE TABLE requests (
     id BIGSERIAL PRIMARY KEY,
     requester TEXT NOT NULL, requester_subject TEXT NOT NULL,
     datasets TEXT NOT NULL, reason TEXT NOT NULL,
     duration_ms BIGINT NOT NULL, requested_duration_ms BIGINT NOT NULL,
     state TEXT NOT NULL, created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL,
     rule_ids TEXT NOT NULL, approver_groups TEXT NOT NULL, min_approvals INTEGER NOT NULL,
     decided_at BIGINT, decided_by TEXT, decision_reason TEXT,
     sql_text TEXT, sql_hash TEXT);
   CREATE INDEX requests_state ON requests(state, expires_at);
   CREATE INDEX requests_requester ON requests(requester_subject, id);
   CREATE TABLE approvals (
     request_id BIGINT NOT NULL REFERENCES requests(id), approver TEXT NOT NULL,
     approver_subject TEXT NOT NULL, comment TEXT, at BIGINT NOT NULL,
     PRIMARY KEY (request_id, approver_subject));
   CREATE TABLE grants (
     id BIGSERIAL PRIMARY KEY,
     request_id BIGINT NOT NULL UNIQUE REFERENCES requests(id),
     holder TEXT NOT NULL, holder_subject TEXT NOT NULL, datasets TEXT NOT NULL,
     created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL,
     revoked_at BIGINT, revoked_by TEXT, sql_hash TEXT, used_at BIGINT);
   CREATE INDEX grants_holder ON grants(holder_subject, expires_at);
   CREATE TABLE audit (
     seq BIGINT PRIMARY KEY, at BIGINT NOT NULL, actor TEXT NOT NULL, actor_subject TEXT,
     action TEXT NOT NULL, outcome TEXT NOT NULL, details TEXT NOT NULL,
     prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
   CREATE INDEX audit_at ON audit(at);`,
  // A chain per writer (docs/audit-chains.md): the records so far become chain 1, closed, for the first writer to
  // take; seq becomes a plain number across chains, from a sequence (no lock), and is no longer hashed.
  `CREATE TABLE audit_chains (id BIGSERIAL PRIMARY KEY, writer TEXT NOT NULL, opened_at BIGINT NOT NULL, closed_at BIGINT);
   INSERT INTO audit_chains (writer, opened_at, closed_at) VALUES ('first writer', (extract(epoch FROM now()) * 1000)::bigint, (extract(epoch FROM now()) * 1000)::bigint);
   ALTER TABLE audit ADD COLUMN chain BIGINT NOT NULL DEFAULT 1, ADD COLUMN chain_seq BIGINT;
   UPDATE audit SET chain_seq = seq;
   ALTER TABLE audit ALTER COLUMN chain_seq SET NOT NULL, ALTER COLUMN chain DROP DEFAULT;
   CREATE UNIQUE INDEX audit_chain_seq ON audit(chain, chain_seq);
   CREATE INDEX audit_action ON audit(action, seq);
   CREATE SEQUENCE audit_seq OWNED BY audit.seq;
   SELECT setval('audit_seq', COALESCE((SELECT max(seq) FROM audit), 0) + 1, false);
   ALTER TABLE audit ALTER COLUMN seq SET DEFAULT nextval('audit_seq');`,
  // Console sessions and sign-ins in progress (src/store/console-sessions.ts), keyed by a hash of the cookie value.
  `CREATE TABLE console_sessions (
     key TEXT PRIMARY KEY, principal TEXT NOT NULL, csrf TEXT NOT NULL, refresh_token_sealed TEXT,
     id_token_expires_at BIGINT NOT NULL, created_at BIGINT NOT NULL, last_seen BIGINT NOT NULL, expires_at BIGINT NOT NULL);
   CREATE INDEX console_sessions_last_seen ON console_sessions(last_seen);
   CREATE INDEX console_sessions_expires_at ON console_sessions(expires_at);
   CREATE TABLE console_sign_ins (key TEXT PRIMARY KEY, sealed TEXT NOT NULL, created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL);
   CREATE INDEX console_sign_ins_expires_at ON console_sign_ins(expires_at);
   CREATE INDEX console_sign_ins_created_at ON console_sign_ins(created_at);`,
];

/** Lower-case identifiers only, so the name needs no quoting in search_path or DDL. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Errors that mean "could not get a working connection" rather than "the database refused a statement". */
const NETWORK_CODES = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "ECONNRESET", "EHOSTUNREACH", "ENETUNREACH", "EPIPE"]);

/** Names the server without credentials: host:port/database, or "the PostgreSQL server" when the URL does not parse. */
export function describeTarget(url: string): string {
  try {
    const u = new URL(url);
    const host = u.hostname || u.searchParams.get("host") || "localhost";
    const db = decodeURIComponent(u.pathname.replace(/^\//, ""));
    return `${host}:${u.port || "5432"}${db ? `/${db}` : ""}`;
  } catch {
    return "the PostgreSQL server";
  }
}

/** Checks the schema name before it reaches any SQL. */
export function checkSchemaName(schema: string): void {
  if (!SCHEMA_NAME.test(schema)) {
    throw new JitError("usage", `the PostgreSQL schema name "${schema.slice(0, 80)}" is not allowed`, {
      hint: "use lower-case letters, digits and underscores (at most 63), starting with a letter or underscore",
    });
  }
}

/** Creates the pool; search_path is a startup option so every connection of the pool uses the store's schema. */
export async function createPool(url: string, schema: string, poolSize: number, target: string): Promise<Pool> {
  if (!/^postgres(ql)?:\/\//.test(url)) {
    throw new JitError("usage", "the PostgreSQL store needs a postgres:// URL", {
      hint: "pass a URL such as postgres://USER@HOST:5432/DB (put the password in PGPASSWORD, not in shell history)",
    });
  }
  const pg = (await import("pg")).default;
  let pool: Pool | undefined;
  try {
    pool = new pg.Pool({
      connectionString: url,
      max: poolSize,
      options: `-c search_path=${schema}`,
      connectionTimeoutMillis: 10_000,
      // The schema in the name tells replicas of different stores apart in pg_stat_activity.
      application_name: `jit-broker:${schema}`,
    });
    // A connection the server ends (pg_terminate_backend, a restart, a failover) emits 'error' on its client, idle in
    // the pool or checked out between two queries; with no listener that event would end the broker. The pool drops
    // an idle one; a checked-out one fails its next query, and tx()/rollbackAndRelease() then destroy it.
    pool.on("error", () => {});
    pool.on("connect", (client) => client.on("error", () => {}));
    await migrate(pool, schema);
    return pool;
  } catch (err) {
    await pool?.end().catch(() => {});
    throw openError(err, target);
  }
}

/** Applies pending migrations in one transaction under a per-schema advisory lock, so replicas starting together take turns. */
async function migrate(pool: Pool, schema: string): Promise<void> {
  const c = await pool.connect();
  try {
    await c.query("BEGIN");
    await c.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`jit.migrate.${schema}`]);
    const exists = await c.query("SELECT 1 FROM pg_namespace WHERE nspname = $1", [schema]);
    // Only when missing: CREATE SCHEMA IF NOT EXISTS still needs CREATE on the database, which a least-privilege role lacks.
    if (exists.rowCount === 0) await c.query(`CREATE SCHEMA ${schema}`);
    await c.query("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)");
    const done = new Set((await c.query("SELECT version FROM schema_migrations")).rows.map((r) => Number(r.version)));
    for (const [i, sql] of MIGRATIONS.entries()) {
      if (done.has(i + 1)) continue;
      await c.query(sql);
      await c.query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)", [i + 1, Date.now()]);
    }
    await c.query("COMMIT");
    c.release();
  } catch (err) {
    await rollbackAndRelease(c, err);
    throw err;
  }
}

/** Rolls back; a connection that cannot even roll back is destroyed rather than returned to the pool. */
export async function rollbackAndRelease(c: PoolClient, cause: unknown): Promise<void> {
  try {
    await c.query("ROLLBACK");
    c.release();
  } catch {
    c.release(cause instanceof Error ? cause : new Error("rollback failed"));
  }
}

function openError(err: unknown, target: string): JitError {
  if (err instanceof JitError) return err;
  const code = String((err as { code?: unknown })?.code ?? "");
  const message = err instanceof Error ? err.message : String(err);
  // 08: connection exception; 28: bad credentials; 3D000: no such database; 57P03: server starting up or shutting down.
  const cannotConnect = NETWORK_CODES.has(code) || /^(08|28)/.test(code) || code === "3D000" || code === "57P03" ||
    /timeout expired|Connection terminated/i.test(message);
  if (cannotConnect) {
    return new JitError("unreachable", `cannot connect to PostgreSQL at ${target}: ${message}`, {
      hint: "check that the database is running and reachable from the broker, and the URL's user and database, then start the broker again",
      details: { store: "postgres", target },
    });
  }
  return new JitError("internal", `the PostgreSQL store at ${target} could not be prepared: ${message}`, {
    hint: "check the database role's privileges (it needs to create tables in its schema) and the broker's log",
    details: { store: "postgres", target },
  });
}
