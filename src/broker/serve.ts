/** `jit broker serve`: the production broker from broker.yaml: real IdP, BigQuery, SQLite or PostgreSQL, policy reloads. */
import { closeAnalysisWorker } from "../sql/offload.ts";
import { readFileSync, statSync, watch, type FSWatcher } from "node:fs";
import type { Server } from "node:http";
import { JitError } from "../errors.ts";
import { loadPolicyFile } from "../policy/load.ts";
import type { Policy } from "../policy/types.ts";
import { openStore } from "../store/open.ts";
import type { Warehouse } from "../warehouse/types.ts";
import { withSchemaCache } from "../warehouse/schema-cache.ts";
import type { BrokerConfig } from "./config.ts";
import type { BrokerDeps } from "./context.ts";
import { createInFlightGate } from "./in-flight.ts";
import { createReadiness } from "./readiness.ts";
import { createBrokerHandler, listen } from "./server.ts";
import { drain, type ShutdownReport } from "./shutdown.ts";
import { createTokenVerifier } from "./verify-token.ts";

/** Refuses a private key file others may read (exit 2), as `jit login` refuses a loose credentials file. */
export function checkPrivateFile(file: string, setting: string): void {
  let mode: number;
  try {
    mode = statSync(file).mode;
  } catch (err) {
    throw new JitError("usage", `cannot read ${setting} ${file}: ${(err as NodeJS.ErrnoException).code}`, { hint: `check ${setting} in broker.yaml` });
  }
  if ((mode & 0o077) !== 0) {
    throw new JitError("usage", `${setting} ${file} is accessible by other users (mode ${(mode & 0o777).toString(8).padStart(4, "0")}); refusing to start`, {
      hint: `chmod 600 ${file}`,
    });
  }
}

/** Reads the masking key: at least 32 bytes of hex, in a file nobody else may read. */
export function readHashKey(file: string): Buffer {
  let st;
  try {
    st = statSync(file);
  } catch (err) {
    throw new JitError("usage", `cannot read masking.hash_key_file ${file}: ${(err as NodeJS.ErrnoException).code}`, {
      hint: `create one: openssl rand -hex 32 > ${file} && chmod 600 ${file}`,
    });
  }
  if ((st.mode & 0o077) !== 0) throw new JitError("usage", `${file} is readable by others (mode ${(st.mode & 0o777).toString(8)})`, { hint: `chmod 600 ${file}` });
  const key = Buffer.from(readFileSync(file, "utf8").trim(), "hex");
  if (key.length < 32) throw new JitError("usage", `${file} must hold at least 32 random bytes as hex`, { hint: `openssl rand -hex 32 > ${file}` });
  return key;
}

/** A policy that can be swapped while the broker runs; an invalid new file is refused and the old one stays. */
export function reloadablePolicy(file: string, log: (line: string) => void) {
  let current: Policy = loadPolicyFile(file);
  return {
    get: () => current,
    reload(why: string): boolean {
      try {
        current = loadPolicyFile(file);
        log(`policy reloaded from ${file} (${why})`);
        return true;
      } catch (err) {
        log(`policy reload refused (${why}); keeping the previous policy: ${err instanceof Error ? err.message : String(err)}`);
        return false;
      }
    },
  };
}

export interface RunningBroker {
  url: string;
  /** The /metrics URL, when metrics are on. */
  metricsUrl: string | null;
  server: Server;
  deps: BrokerDeps;
  reloadPolicy(why: string): boolean;
  /** Drains (SIGTERM): not ready at once, in-flight requests finish within `shutdown_grace` or are cancelled; then closes. */
  shutdown(): Promise<ShutdownReport>;
  close(): Promise<void>;
}

/** Starts the production broker from a validated config. */
export async function startBroker(cfg: BrokerConfig, opts: { version: string; log: (line: string) => void }): Promise<RunningBroker> {
  const { log } = opts;
  const policy = reloadablePolicy(cfg.policyFile, log);
  const hashKey = readHashKey(cfg.hashKeyFile);
  if (cfg.tls) checkPrivateFile(cfg.tls.keyFile, "tls.key_file");
  if (cfg.warehouse.kind === "bigquery" && cfg.warehouse.bigquery.keyFile) checkPrivateFile(cfg.warehouse.bigquery.keyFile, "warehouse.bigquery.key_file");
  const gate = createInFlightGate(cfg.maxInFlight);
  const rawStore = await openStore(cfg.store, { log });
  let store = rawStore;
  const metrics = cfg.metricsListen
    ? await (await import("./metrics.ts")).createBrokerMetrics({ version: opts.version, mode: "serve", gate, store: () => store })
    : undefined;
  if (metrics) store = metrics.instrumentStore(rawStore);
  let warehouse: Warehouse;
  let warehouseFor: BrokerDeps["warehouseFor"];
  if (cfg.warehouse.kind === "bigquery") {
    const { openBigQueryWarehouse } = await import("../warehouse/bigquery.ts");
    const bq = await openBigQueryWarehouse(cfg.warehouse.bigquery);
    warehouse = bq;
    warehouseFor = (groups, grantExpiresAt) => {
      const w = bq.forPrincipal({ groups, grantExpiresAt });
      return metrics ? metrics.instrumentWarehouse(w) : w;
    };
  } else {
    const { openDemoWarehouse } = await import("../warehouse/duckdb.ts");
    warehouse = await openDemoWarehouse();
  }
  const rawWarehouse = warehouse;
  let notifier: { notify(e: import("../notify/webhook.ts").NotifyEvent): void; close(): Promise<void> } | undefined;
  if (cfg.notify) {
    const { createNotifier, validateNotifyConfig } = await import("../notify/webhook.ts");
    notifier = createNotifier(validateNotifyConfig(cfg.notify, "notify").config, { log });
  }
  // Table schemas are cached for a few seconds (every query reads them) and dropped when the policy reloads;
  // warehouseFor keeps the uncached per-group warehouses, which read no schemas.
  const cached = withSchemaCache(warehouse);
  warehouse = metrics ? metrics.instrumentWarehouse(cached) : cached;
  const reload = (why: string): boolean => {
    const ok = policy.reload(why);
    if (ok) cached.invalidate();
    metrics?.policyReload(ok);
    return ok;
  };
  const verifyToken = createTokenVerifier({
    issuer: cfg.identity.issuer, audience: cfg.identity.audience, clientId: cfg.identity.clientId, jwksUri: cfg.identity.jwksUri,
    groupsClaim: policy.get().groupsClaim, maxTokenAgeSeconds: cfg.identity.maxTokenAgeS,
    jwksMaxAgeMs: cfg.identity.keysRefreshMs, jwksCooldownMs: Math.min(30_000, cfg.identity.keysRefreshMs),
  });
  // The keys are fetched now, not on the first sign-in; until they are, /readyz says starting.
  verifyToken.poke();
  const deps: BrokerDeps = {
    policy: policy.get,
    store,
    warehouse,
    warehouseFor,
    verifyToken,
    loginSettings: { issuer: cfg.identity.issuer, client_id: cfg.identity.clientId, scopes: cfg.identity.scopes, audience: cfg.identity.audience },
    now: Date.now,
    hashKey,
    mode: "serve",
    version: opts.version,
    log,
    replayMaxRows: cfg.audit.replayMaxRows,
    publicUrl: cfg.publicUrl,
    notify: notifier ? (e) => notifier.notify({ ...e, brokerUrl: cfg.publicUrl }) : undefined,
  };
  deps.readiness = createReadiness({
    store: rawStore, warehouse: rawWarehouse, identity: verifyToken, draining: () => gate.draining,
    identityProbeMs: Math.min(60_000, cfg.identity.keysRefreshMs),
    setPart: metrics ? (part, v) => metrics.setPart(part, v) : undefined,
  });
  // No dev plugin: the dev IdP and /dev/device/approve never exist in serve mode.
  const handler = createBrokerHandler(deps, undefined, { gate, observe: metrics ? (e) => metrics.observeRequest(e) : undefined });
  const tls = cfg.tls ? { cert: readFileSync(cfg.tls.certFile), key: readFileSync(cfg.tls.keyFile) } : undefined;
  const metricsServer = metrics && cfg.metricsListen ? await (await import("./metrics.ts")).serveMetrics(metrics, cfg.metricsListen.host, cfg.metricsListen.port) : undefined;
  let server: Server;
  let url: string;
  try {
    ({ server, url } = await listen(handler, cfg.listen.host, cfg.listen.port, tls));
  } catch (err) {
    await metricsServer?.close();
    await Promise.allSettled([rawWarehouse.close(), rawStore.close(), notifier?.close()]);
    throw err;
  }
  let watcher: FSWatcher | undefined;
  let debounce: NodeJS.Timeout | undefined;
  try {
    watcher = watch(cfg.policyFile, () => {
      clearTimeout(debounce);
      debounce = setTimeout(() => reload("file changed"), 200);
    });
  } catch {
    log(`cannot watch ${cfg.policyFile}; reload the policy with SIGHUP`);
  }
  let closing: Promise<void> | undefined;
  const closeRest = async () => {
    watcher?.close();
    clearTimeout(debounce);
    await metricsServer?.close();
    await Promise.allSettled([rawWarehouse.close(), notifier?.close(), closeAnalysisWorker()]);
    // The store last: cancelled queries wrote their records before this.
    await rawStore.close().catch(() => {});
  };
  return {
    url,
    metricsUrl: metricsServer?.url ?? null,
    server,
    deps,
    reloadPolicy: reload,
    async shutdown() {
      const report = await drain({ servers: [server], gate, graceMs: cfg.shutdownGraceMs, log });
      closing ??= closeRest();
      await closing;
      return report;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      closing ??= closeRest();
      await closing;
    },
  };
}
