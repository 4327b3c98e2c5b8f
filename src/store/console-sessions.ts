/**
 * Console sessions and sign-ins in progress, for both stores: the same statements over a tiny runner (SQLite or a pg
 * pool), so that every replica behind a load balancer, and a restarted broker, knows the sessions the others made.
 * No statement needs a transaction: each decision (expire, touch, take) is one conditional statement that re-checks
 * its condition in the database, so two replicas acting on one row at once cannot undo each other.
 */
import type { SQLInputValue, StatementSync } from "node:sqlite";
import type { Pool } from "pg";
import type { Principal } from "../policy/types.ts";
import type { SessionRules, StoredConsoleSession, StoredSignIn, Store } from "./types.ts";

type Row = Record<string, unknown>;

/** Runs one statement with `?` placeholders: `all` for rows, `run` for the number of rows changed. */
export interface SqlRunner {
  all(sql: string, args: unknown[]): Promise<Row[]>;
  run(sql: string, args: unknown[]): Promise<number>;
}

/** Rows removed per sweep: enough to keep up with sign-ins, small enough that a sign-in never waits on a long delete. */
const SWEEP = 100;
/** Rows trimmed past the bound per call (a flood is trimmed over several calls, never in one long statement). */
const TRIM = 1000;

const num = (v: unknown): number => Number(v);

function sessionFromRow(r: Row): StoredConsoleSession {
  return {
    key: String(r.key),
    principal: JSON.parse(String(r.principal)) as Principal,
    csrf: String(r.csrf),
    sealedRefreshToken: r.refresh_token_sealed === null || r.refresh_token_sealed === undefined ? null : String(r.refresh_token_sealed),
    idTokenExpiresAt: num(r.id_token_expires_at),
    createdAt: num(r.created_at),
    lastSeen: num(r.last_seen),
    expiresAt: num(r.expires_at),
  };
}

export type ConsoleSessionMethods = Pick<Store,
  "createConsoleSession" | "touchConsoleSession" | "updateConsoleSession" | "endConsoleSession" | "startConsoleSignIn" | "takeConsoleSignIn">;

/** The store's console-session methods over `db`. */
export function consoleSessionTables(db: SqlRunner): ConsoleSessionMethods {
  /** Over: past its absolute end, or unused for longer than the idle time (the same test everywhere). */
  const OVER = "(expires_at <= ? OR last_seen < ?)";
  const over = (r: SessionRules) => [r.now, r.now - r.idleMs];

  /** Deletes the oldest rows past `max` (ordered by `order`), at most TRIM of them, once the table has grown past it. */
  async function trim(table: string, order: string, max: number): Promise<void> {
    const [count] = await db.all(`SELECT count(*) AS n FROM ${table}`, []);
    if (num(count?.n) <= max) return;
    await db.run(`DELETE FROM ${table} WHERE key IN (SELECT key FROM ${table} ORDER BY ${order} DESC, key DESC LIMIT ? OFFSET ?)`, [TRIM, max]);
  }

  return {
    async createConsoleSession(s, rules) {
      await db.run(`DELETE FROM console_sessions WHERE key IN (SELECT key FROM console_sessions WHERE ${OVER} LIMIT ${SWEEP})`, over(rules));
      await db.run(
        `INSERT INTO console_sessions (key, principal, csrf, refresh_token_sealed, id_token_expires_at, created_at, last_seen, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        [s.key, JSON.stringify(s.principal), s.csrf, s.sealedRefreshToken, s.idTokenExpiresAt, s.createdAt, s.lastSeen, s.expiresAt],
      );
      await trim("console_sessions", "last_seen", rules.max);
    },

    async touchConsoleSession(key, rules) {
      const [row] = await db.all("SELECT * FROM console_sessions WHERE key = ?", [key]);
      if (!row) return null;
      const s = sessionFromRow(row);
      if (s.expiresAt <= rules.now || s.lastSeen < rules.now - rules.idleMs) {
        // Conditional: another replica may have just touched it, and then it is not ours to delete (this request still
        // counts as too late: it was judged on what it read).
        await db.run(`DELETE FROM console_sessions WHERE key = ? AND ${OVER}`, [key, ...over(rules)]);
        return null;
      }
      if (rules.now - s.lastSeen >= rules.touchEveryMs) {
        await db.run("UPDATE console_sessions SET last_seen = ? WHERE key = ? AND last_seen < ?", [rules.now, key, rules.now]);
        s.lastSeen = rules.now;
      }
      return s;
    },

    async updateConsoleSession(key, u) {
      const changed = await db.run(
        "UPDATE console_sessions SET principal = ?, refresh_token_sealed = ?, id_token_expires_at = ? WHERE key = ?",
        [JSON.stringify(u.principal), u.sealedRefreshToken, u.idTokenExpiresAt, key],
      );
      return changed === 1;
    },

    async endConsoleSession(key) {
      return (await db.run("DELETE FROM console_sessions WHERE key = ?", [key])) > 0;
    },

    async startConsoleSignIn(p, bound) {
      await db.run(`DELETE FROM console_sign_ins WHERE key IN (SELECT key FROM console_sign_ins WHERE expires_at <= ? LIMIT ${SWEEP})`, [bound.now]);
      await db.run("INSERT INTO console_sign_ins (key, sealed, created_at, expires_at) VALUES (?, ?, ?, ?)", [p.key, p.sealed, p.createdAt, p.expiresAt]);
      await trim("console_sign_ins", "created_at", bound.max);
    },

    async takeConsoleSignIn(key, now) {
      // One statement: of two callbacks racing with one cookie (on two replicas), exactly one gets the row.
      const [row] = await db.all("DELETE FROM console_sign_ins WHERE key = ? RETURNING *", [key]);
      if (!row || num(row.expires_at) <= now) return null;
      const taken: StoredSignIn = { key: String(row.key), sealed: String(row.sealed), createdAt: num(row.created_at), expiresAt: num(row.expires_at) };
      return taken;
    },
  };
}

/** The runner over a SQLite connection (statements are synchronous there; the promise is only the shape). */
export function sqliteRunner(prepare: (sql: string) => StatementSync): SqlRunner {
  return {
    all: async (sql, args) => prepare(sql).all(...(args as SQLInputValue[])) as Row[],
    run: async (sql, args) => Number(prepare(sql).run(...(args as SQLInputValue[])).changes),
  };
}

/** The runner over a pg pool: `?` becomes `$1, $2, …` (no statement here has a `?` anywhere else). */
export function pgRunner(pool: Pick<Pool, "query">): SqlRunner {
  const numbered = (sql: string) => {
    let i = 0;
    return sql.replace(/\?/g, () => `$${++i}`);
  };
  return {
    all: async (sql, args) => (await pool.query(numbered(sql), args)).rows as Row[],
    run: async (sql, args) => (await pool.query(numbered(sql), args)).rowCount ?? 0,
  };
}
