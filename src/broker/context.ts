/** What every broker operation needs: policy, store, warehouse, clock and the audit writer. */
import { JitError } from "../errors.ts";
import type { Policy, Principal } from "../policy/types.ts";
import type { NewAuditRecord, Store } from "../store/types.ts";
import type { Warehouse } from "../warehouse/types.ts";

/** The public login settings the CLI reads before a device login. */
export interface LoginSettings {
  issuer: string;
  client_id: string;
  scopes: string;
  audience: string;
}

export interface BrokerDeps {
  /** The current policy (a getter: the policy may be reloaded while the broker runs). */
  policy(): Policy;
  store: Store;
  warehouse: Warehouse;
  verifyToken(token: string): Promise<Principal>;
  loginSettings: LoginSettings;
  /** Epoch milliseconds; injected so tests move time without sleeping. */
  now(): number;
  /** Key for the `hash` mask style (HMAC-SHA256). */
  hashKey: Buffer;
  mode: "dev" | "serve";
  version: string;
  log(line: string): void;
  /** The warehouse acting for a caller's groups (per-group service-account impersonation), when configured. */
  warehouseFor?(groups: string[], grantExpiresAt?: number): Warehouse;
  /** How many result rows an audit record keeps for replay (default 1000). */
  replayMaxRows?: number;
  /** The broker's public URL (`public_url`; the listen URL in dev): the console links in request views. */
  publicUrl?: string;
  /** Fire-and-forget notification of a request's state change (webhooks); never blocks. */
  notify?(event: LifecycleEvent): void;
  /** What /readyz answers (readiness.ts); a store-only check when absent. */
  readiness?(): Promise<import("./readiness.ts").ReadinessReport>;
}

/** A request's state change, as sent to notification sinks. */
export interface LifecycleEvent {
  kind: "pending" | "approved" | "denied" | "expired" | "revoked" | "cancelled";
  request: {
    id: string; requester: string; datasets: string[]; reason: string; duration_seconds: number;
    approver_groups: string[]; decided_by?: string | null; decision_reason?: string | null; sql?: string;
  };
  grantId?: string | null;
  actor?: string;
}

/** Who is calling and through what, as recorded in the audit log. */
export interface Caller {
  principal: Principal;
  client: { kind: string; name: string; version: string; address: string };
}

/** Writes one audit record for a caller; throws (fail closed) when the store cannot take it. */
export async function audit(
  deps: BrokerDeps,
  caller: Caller | { principal: null; client: Caller["client"] },
  action: string,
  outcome: NewAuditRecord["outcome"],
  details: Record<string, unknown>,
) {
  const p = caller.principal;
  return appendOrRefuse(deps, {
    at: deps.now(),
    actor: p ? p.username : "anonymous",
    actorSubject: p ? p.subject : null,
    action,
    outcome,
    details: { ...details, email: p?.email ?? null, groups: p?.groups ?? [], client: caller.client },
  });
}

/** Appends an audit record; any failure becomes the one refusal a caller sees (fail closed, whatever the store threw). */
export async function appendOrRefuse(deps: BrokerDeps, record: NewAuditRecord) {
  try {
    return await deps.store.appendAudit(record);
  } catch (err) {
    deps.log(`audit write failed: ${err instanceof Error ? err.message : String(err)}`);
    if (err instanceof JitError && err.code === "unreachable") throw err; // the store is down: 503 naming it, retry (exit 7)
    throw new JitError("internal", "the audit log could not record this request, so it was not carried out", {
      hint: "the broker's operators must check its store (disk, database); nothing ran",
    });
  }
}
