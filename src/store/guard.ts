/** One error path for every store call: whatever an implementation throws becomes the broker's store error (see failure.ts). */
import type { JitError } from "../errors.ts";
import type { Store } from "./types.ts";

/** Every Store method that talks to the database (close, kind and auditStats excluded). */
const CALLS = [
  "createRequest", "getRequest", "listRequests", "approveRequest", "denyRequest", "cancelRequest", "expirePending", "getGrant", "listGrants",
  "revokeGrant", "consumeGrant", "appendAudit", "auditChains", "auditCheckpoint", "listAudit", "getAudit", "ready",
  "createConsoleSession", "touchConsoleSession", "updateConsoleSession", "endConsoleSession", "startConsoleSignIn", "takeConsoleSignIn",
] as const satisfies readonly (keyof Store)[];

/**
 * Wraps a store so that each call first runs `before` (a check that the store is still the one opened, which throws
 * when it is not) and maps any failure through `fail`.
 */
export function guardStore(inner: Store, opts: { before?: () => void; fail: (op: string, err: unknown) => JitError }): Store {
  const outer: Record<string, unknown> = {
    kind: inner.kind,
    close: () => inner.close(),
    auditStats: () => inner.auditStats(),
  };
  // A store with a connection pool (PostgreSQL) reports it; read-only and never touches the database.
  const pooled = inner as Store & { poolStats?: () => unknown };
  if (typeof pooled.poolStats === "function") outer.poolStats = () => pooled.poolStats!();
  for (const op of CALLS) {
    const fn = (inner[op] as (...a: unknown[]) => Promise<unknown>).bind(inner);
    outer[op] = async (...args: unknown[]) => {
      try {
        opts.before?.();
        return await fn(...args);
      } catch (err) {
        throw opts.fail(op, err);
      }
    };
  }
  return outer as unknown as Store;
}
