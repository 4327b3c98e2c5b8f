/** Opens the configured store; each implementation is imported only when chosen, so SQLite users never load pg. */
import { JitError } from "../errors.ts";
import type { AuditChainOptions } from "./audit-batch.ts";
import type { Store } from "./types.ts";

export type StoreSpec = { kind: "sqlite"; path: string } | { kind: "postgres"; url: string; schema?: string };

/** Opens (and migrates) the store the broker is configured with; `log` hears of a store lost while it runs. It takes an audit chain of its own. */
export async function openStore(spec: StoreSpec, opts: { log?: (line: string) => void } & AuditChainOptions = {}): Promise<Store> {
  if (spec.kind === "sqlite") {
    const { openSqliteStore } = await import("./sqlite.ts");
    return openSqliteStore(spec.path, opts);
  }
  if (spec.kind !== "postgres") {
    throw new JitError("usage", `unknown store kind "${String((spec as { kind?: unknown }).kind)}"`, { hint: "set the store kind to sqlite or postgres" });
  }
  const { openPostgresStore } = await import("./postgres.ts");
  return openPostgresStore(spec.url, { ...opts, schema: spec.schema });
}
