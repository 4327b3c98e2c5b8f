/** What every broker operation needs: policy, store, warehouse, clock and the audit writer. */
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
  return deps.store.appendAudit({
    at: deps.now(),
    actor: p ? p.username : "anonymous",
    actorSubject: p ? p.subject : null,
    action,
    outcome,
    details: { ...details, groups: p?.groups ?? [], client: caller.client },
  });
}
