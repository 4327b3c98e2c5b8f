/**
 * What a failed store call means, for the caller and for the operator: a lost connection is "unreachable" (503, retry),
 * anything else "internal"; either way the message names the cause (an errno-style code and a plain reason) so the
 * broker's log line says what to fix, without addresses or credentials.
 */
import { accessSync, constants, statfsSync } from "node:fs";
import { dirname } from "node:path";
import { JitError } from "../errors.ts";

export type StoreKind = "sqlite" | "postgres";

const NAME: Record<StoreKind, string> = { sqlite: "SQLite", postgres: "PostgreSQL" };

/** Socket-level failures: the database is not reachable right now. */
const NETWORK: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset by the server",
  EPIPE: "connection closed by the server",
  ETIMEDOUT: "connection timed out",
  ENOTFOUND: "host name not found",
  EAI_AGAIN: "host name lookup failed",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
};

/** SQLSTATEs that mean the connection, not the statement, failed (class 08, and the server ending sessions). */
const PG_CONNECTION: Record<string, string> = {
  "57P01": "the server terminated the connection (administrator command)",
  "57P02": "the server terminated the connection (crash shutdown)",
  "57P03": "the server is starting up or shutting down",
  "57P05": "the server ended an idle session",
  "53300": "the server has too many connections",
};

/** SQLSTATEs an operator fixes on the database side, named by the errno they amount to. */
const PG_OPERATOR: Record<string, [string, string]> = {
  "53100": ["ENOSPC", "the database server is out of disk space"],
  "53200": ["ENOMEM", "the database server is out of memory"],
  "25006": ["EROFS", "the database accepts no writes (a standby, or default_transaction_read_only)"],
  "42501": ["EACCES", "the broker's database role lacks a privilege"],
};

/** pg's own messages for a client whose connection is gone (they carry no code). */
const PG_LOST = /Connection terminated|not queryable|timeout exceeded when trying to connect|terminating connection/i;

/** SQLite primary result codes (the low byte of an extended code). */
const SQLITE_PERM = 3, SQLITE_READONLY = 8, SQLITE_IOERR = 10, SQLITE_FULL = 13, SQLITE_CANTOPEN = 14;

const firstLine = (s: string) => s.split("\n")[0]!.slice(0, 200);

/** Why the files at `path` cannot be written: the file system says so directly (access(2), statfs(2)). */
export function probeWritable(path: string): { code: string; reason: string } | null {
  const dir = dirname(path);
  if (!dir || path === ":memory:") return null;
  try {
    if (statfsSync(dir).bavail === 0) return { code: "ENOSPC", reason: "no space left on the device holding the store" };
  } catch {
    // the directory itself may be gone; access() below says how
  }
  for (const target of [path, dir]) {
    try {
      accessSync(target, constants.W_OK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? "";
      if (code === "EROFS") return { code, reason: "the store's file system is mounted read-only" };
      if (code === "EACCES" || code === "EPERM") return { code, reason: "the broker's user may not write the store's files (permission denied)" };
      if (code === "ENOENT") return { code, reason: "the store's file or directory does not exist" };
    }
  }
  return null;
}

/** The cause as "CODE: plain reason" (probing the store's files for SQLite errors that do not say which). */
export function describeCause(kind: StoreKind, err: unknown, path?: string): string {
  const e = err as { code?: unknown; errcode?: unknown; message?: unknown };
  const code = typeof e?.code === "string" ? e.code : "";
  const message = err instanceof Error ? firstLine(err.message) : firstLine(String(err));
  if (kind === "postgres") {
    if (NETWORK[code]) return `${code}: ${NETWORK[code]}`;
    if (PG_CONNECTION[code]) return `${code}: ${PG_CONNECTION[code]}`;
    if (/^08/.test(code)) return `${code}: the connection to the database failed`;
    const op = PG_OPERATOR[code];
    if (op) return `${op[0]} (${code}): ${op[1]}${code === "42501" ? ` (${message})` : ""}`;
    if (PG_LOST.test(message)) return "ECONNRESET: the connection to the database was lost";
    return code ? `${code}: ${message}` : message;
  }
  const primary = typeof e?.errcode === "number" ? e.errcode & 0xff : -1;
  if (primary === SQLITE_FULL) return "ENOSPC: no space left on the device holding the store (SQLITE_FULL)";
  if ([SQLITE_PERM, SQLITE_READONLY, SQLITE_IOERR, SQLITE_CANTOPEN].includes(primary) && path) {
    const probed = probeWritable(path);
    if (probed) return `${probed.code}: ${probed.reason} (SQLite: ${message})`;
  }
  if (primary === SQLITE_IOERR) return `EIO: disk I/O error (SQLite: ${message})`;
  if (primary === SQLITE_READONLY) return `EROFS: the store was opened read-only (SQLite: ${message})`;
  return message;
}

/** True when the error means the store could not be reached (the connection failed), not that it refused the work. */
export function isConnectionLoss(kind: StoreKind, err: unknown): boolean {
  if (kind !== "postgres") return false;
  const code = String((err as { code?: unknown })?.code ?? "");
  const message = err instanceof Error ? err.message : String(err);
  return code in NETWORK || code in PG_CONNECTION || /^08/.test(code) || PG_LOST.test(message);
}

const AUDIT_REFUSAL = "the audit log could not record this request, so it was not carried out";

/** The store is unavailable: 503, exit 7 in the CLI, naming the store. */
export function storeUnavailable(kind: StoreKind, cause: string, opts: { audit?: boolean; err?: unknown } = {}): JitError {
  const what = `the broker's ${NAME[kind]} store is unavailable (${cause})`;
  return new JitError("unreachable", opts.audit ? `${AUDIT_REFUSAL}: ${what}` : what, {
    hint: "retry in a moment; if it persists, the broker's operators must check its store",
    details: { status: 503, store: kind },
    cause: opts.err,
  });
}

/** Maps whatever a store call threw to the one error the broker answers with; `op` is the Store method's name. */
export function storeFailure(kind: StoreKind, op: string, err: unknown, path?: string): JitError {
  const audit = op === "appendAudit";
  if (err instanceof JitError) {
    // Already decided (a usage error, a lost store); audit refusals still say they are ones.
    return audit && err.code !== "unreachable" && !err.message.startsWith(AUDIT_REFUSAL)
      ? new JitError(err.code, `${AUDIT_REFUSAL}: ${err.message}`, { hint: err.hint, details: err.details, cause: err })
      : err;
  }
  const cause = describeCause(kind, err, path);
  if (isConnectionLoss(kind, err)) return storeUnavailable(kind, cause, { audit, err });
  const hint = kind === "sqlite"
    ? "check the broker's data directory (disk space, permissions, a read-only mount) and its log"
    : "check the broker's PostgreSQL database (disk space, read-only mode, the role's privileges) and the broker's log";
  return new JitError("internal", audit ? `${AUDIT_REFUSAL}: ${cause}` : `the broker's ${NAME[kind]} store failed (${op}): ${cause}`, {
    hint,
    details: { store: kind },
    cause: err,
  });
}
