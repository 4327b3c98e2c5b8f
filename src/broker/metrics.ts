/**
 * The broker's Prometheus metrics (prom-client, loaded only by `broker serve|dev`), served on their own listener
 * (`metrics_listen`, loopback by default), never on the public one. Counts come from the edges the broker already
 * has: the front door's request outcome, every audit append (decisions, rows, masked cells, query latency), the
 * warehouse calls, the in-flight gate and the store (pending requests, live grants, read at scrape time).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type * as Prom from "prom-client";
import { JitError } from "../errors.ts";
import type { AuditRecord, NewAuditRecord, Store } from "../store/types.ts";
import type { RunOptions, Warehouse } from "../warehouse/types.ts";
import type { InFlightGate } from "./in-flight.ts";
import type { RequestOutcome } from "./server.ts";

/** What a store may expose beyond the contract (group commit, a pool); read when present, skipped otherwise. */
interface OptionalStoreStats {
  auditStats?(): { batches?: number; records?: number; maxBatch?: number; failedBatches?: number; pending?: number };
  poolStats?(): { total?: number; idle?: number; waiting?: number };
}

export interface BrokerMetrics {
  readonly registry: Prom.Registry;
  /** For the front door's `observe`. */
  observeRequest(e: RequestOutcome): void;
  /** The store with every audit append timed and counted (decisions, rows, masked cells, query latency). */
  instrumentStore(store: Store): Store;
  /** The warehouse with dry runs and runs timed. */
  instrumentWarehouse(w: Warehouse): Warehouse;
  policyReload(ok: boolean): void;
  /** Readiness of each part (1 ready, 0.5 degraded, 0 failing), set by the readiness check. */
  setPart(part: string, value: number): void;
  /** The Prometheus text exposition. */
  text(): Promise<{ contentType: string; body: string }>;
}

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
const APPEND_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];
/** Label values come from a closed set or are cut short: a label must never carry a value a caller chose freely. */
const label = (v: unknown, max = 40) => (typeof v === "string" ? v.slice(0, max) : "");

/** Builds the metrics of one broker (its own registry: several brokers in one process never share counts). */
export async function createBrokerMetrics(opts: {
  version: string;
  mode: "dev" | "serve";
  gate: InFlightGate;
  /** The store the gauges read at scrape time. */
  store: () => Store;
  now?: () => number;
}): Promise<BrokerMetrics> {
  const prom = await import("prom-client");
  const registry = new prom.Registry();
  const now = opts.now ?? Date.now;
  prom.collectDefaultMetrics({ register: registry, prefix: "jit_" });
  const counter = (name: string, help: string, labelNames: string[] = []) => new prom.Counter({ name, help, labelNames, registers: [registry] });
  const histogram = (name: string, help: string, labelNames: string[], buckets: number[]) => new prom.Histogram({ name, help, labelNames, buckets, registers: [registry] });

  const requests = counter("jit_http_requests_total", "API requests answered, by route and HTTP status.", ["route", "status"]);
  const requestSeconds = histogram("jit_http_request_duration_seconds", "Time from a request's arrival to its answer.", ["route"], LATENCY_BUCKETS);
  const rateLimited = counter("jit_rate_limited_total", "Requests refused with 429 (refused sign-ins past the per-address budget).");
  const shed = counter("jit_shed_total", "Requests refused with 503 before authentication: overloaded (max_in_flight) or draining.", ["reason"]);
  const decisions = counter("jit_decisions_total", "Audited decisions and outcomes, by audit action, outcome and reason kind.", ["action", "outcome", "reason"]);
  const querySeconds = histogram("jit_query_duration_seconds", "A query's time in the broker, from planning to its result record.", ["outcome"], LATENCY_BUCKETS);
  const warehouseSeconds = histogram("jit_warehouse_duration_seconds", "Warehouse calls (dry runs; runs until the last row is read).", ["op", "outcome"], LATENCY_BUCKETS);
  const rows = counter("jit_rows_returned_total", "Result rows returned to callers.");
  const maskedCells = counter("jit_masked_cells_total", "Result cells masked before they were returned.");
  const appendSeconds = histogram("jit_audit_append_duration_seconds", "Time to append one audit record durably.", ["outcome"], APPEND_BUCKETS);
  const reloads = counter("jit_policy_reloads_total", "Policy reloads, by result (a refused reload keeps the previous policy).", ["result"]);
  const parts = new prom.Gauge({ name: "jit_ready", help: "Readiness of each part: 1 ready, 0.5 degraded, 0 failing.", labelNames: ["part"], registers: [registry] });
  new prom.Gauge({
    name: "jit_build_info", help: "The running broker's version and mode.", labelNames: ["version", "mode", "node"], registers: [registry],
    collect() { this.set({ version: opts.version, mode: opts.mode, node: process.version }, 1); },
  });
  new prom.Gauge({ name: "jit_in_flight_requests", help: "Requests in progress.", registers: [registry], collect() { this.set(opts.gate.count); } });
  new prom.Gauge({ name: "jit_max_in_flight", help: "The cap on requests in progress (max_in_flight).", registers: [registry], collect() { this.set(opts.gate.max); } });
  // Read from the store at scrape time; a store that fails leaves the last value (the readiness gauge says why).
  new prom.Gauge({
    name: "jit_pending_requests", help: "Access requests waiting for approval.", registers: [registry],
    async collect() {
      try { this.set((await opts.store().listRequests({ state: "pending", limit: 100_000 })).length); } catch { /* keep the last value */ }
    },
  });
  new prom.Gauge({
    name: "jit_live_grants", help: "Grants in force now.", registers: [registry],
    async collect() {
      try { this.set((await opts.store().listGrants({ activeAt: now() })).filter((g) => g.revokedAt === null).length); } catch { /* keep the last value */ }
    },
  });
  const stats = () => opts.store() as Store & OptionalStoreStats;
  // Group commit (when the store reports it): cumulative, so rate(records) / rate(commits) is the mean batch size.
  const auditGauge = (name: string, help: string, key: "batches" | "records" | "maxBatch" | "failedBatches" | "pending") => new prom.Gauge({
    name, help, registers: [registry],
    collect() { const v = stats().auditStats?.()[key]; if (typeof v === "number") this.set(v); },
  });
  // Registered only for a store that reports them: a gauge without labels would otherwise show a misleading 0.
  if (typeof stats().auditStats === "function") {
    auditGauge("jit_audit_commits", "Audit transactions committed (group commit; only grows).", "batches");
    auditGauge("jit_audit_committed_records", "Audit records those transactions held (only grows).", "records");
    auditGauge("jit_audit_max_batch_size", "The largest audit group commit so far.", "maxBatch");
    auditGauge("jit_audit_failed_commits", "Audit transactions that failed (every request in them was refused).", "failedBatches");
    auditGauge("jit_audit_pending_records", "Audit records waiting for the next transaction now.", "pending");
  }
  if (typeof stats().poolStats === "function") new prom.Gauge({
    name: "jit_store_pool_connections", help: "The store's connection pool (PostgreSQL): total, idle and waiting.", labelNames: ["state"], registers: [registry],
    collect() {
      const s = stats().poolStats?.();
      if (!s) return;
      for (const k of ["total", "idle", "waiting"] as const) if (s[k] !== undefined) this.set({ state: k }, s[k]!);
    },
  });

  const onAppended = (r: NewAuditRecord) => {
    const d = r.details as Record<string, unknown>;
    const err = d.error as { code?: unknown } | undefined;
    decisions.inc({ action: label(r.action), outcome: r.outcome, reason: label(d.refusal ?? err?.code ?? (d.rate_limited ? "rate_limited" : "")) });
    if (r.action !== "query.result") return;
    if (typeof d.duration_ms === "number") querySeconds.observe({ outcome: r.outcome }, d.duration_ms / 1000);
    if (r.outcome !== "ok") return;
    if (typeof d.row_count === "number") rows.inc(d.row_count);
    if (typeof d.masked_cells === "number") maskedCells.inc(d.masked_cells);
  };

  return {
    registry,
    observeRequest(e) {
      if (e.shed) shed.inc({ reason: e.shed });
      if (e.status === 429) rateLimited.inc();
      const route = e.route?.startsWith("plugin ") ? "plugin" : label(e.route ?? "unmatched", 60);
      requests.inc({ route, status: e.status === null ? (e.clientGone ? "client_gone" : "none") : String(e.status) });
      requestSeconds.observe({ route }, e.durationMs / 1000);
    },
    instrumentStore(store) {
      const append = async (r: NewAuditRecord): Promise<AuditRecord> => {
        const end = appendSeconds.startTimer();
        try {
          const rec = await store.appendAudit(r);
          end({ outcome: "ok" });
          onAppended(r);
          return rec;
        } catch (err) {
          end({ outcome: "failed" });
          throw err;
        }
      };
      return new Proxy(store, {
        get(target, prop) {
          if (prop === "appendAudit") return append;
          const v = Reflect.get(target, prop, target) as unknown;
          return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        },
      });
    },
    instrumentWarehouse(w) {
      return new Proxy(w, {
        get(target, prop) {
          if (prop === "dryRun") {
            return async (sql: string) => {
              const started = performance.now();
              try {
                const r = await target.dryRun(sql);
                warehouseSeconds.observe({ op: "dry_run", outcome: "ok" }, (performance.now() - started) / 1000);
                return r;
              } catch (err) {
                warehouseSeconds.observe({ op: "dry_run", outcome: "failed" }, (performance.now() - started) / 1000);
                throw err;
              }
            };
          }
          if (prop === "run") {
            return async (sql: string, o: RunOptions) => {
              const started = performance.now();
              const seconds = () => (performance.now() - started) / 1000;
              let run;
              try {
                run = await target.run(sql, o);
              } catch (err) {
                warehouseSeconds.observe({ op: "run", outcome: "failed" }, seconds());
                throw err;
              }
              return {
                ...run,
                async done() {
                  try {
                    const r = await run.done();
                    warehouseSeconds.observe({ op: "run", outcome: "ok" }, seconds());
                    return r;
                  } catch (err) {
                    warehouseSeconds.observe({ op: "run", outcome: "failed" }, seconds());
                    throw err;
                  }
                },
              };
            };
          }
          const v = Reflect.get(target, prop, target) as unknown;
          return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        },
      });
    },
    policyReload(ok) { reloads.inc({ result: ok ? "ok" : "refused" }); },
    setPart(part, value) { parts.set({ part }, value); },
    async text() { return { contentType: registry.contentType, body: await registry.metrics() }; },
  };
}

/** Serves GET /metrics (and nothing else) on host:port; port 0 picks a free one. */
export async function serveMetrics(metrics: BrokerMetrics, host: string, port: number): Promise<{ url: string; server: Server; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path !== "/metrics" || (req.method !== "GET" && req.method !== "HEAD")) {
      res.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("only GET /metrics is served here\n");
      return;
    }
    metrics.text().then(
      ({ contentType, body }) => res.writeHead(200, { "content-type": contentType, "cache-control": "no-store" }).end(req.method === "HEAD" ? undefined : body),
      (err: unknown) => res.writeHead(500, { "content-type": "text/plain; charset=utf-8" }).end(`metrics failed: ${err instanceof Error ? err.message : String(err)}\n`),
    );
  });
  server.maxConnections = 64;
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) => reject(err.code === "EADDRINUSE"
      ? new JitError("usage", `metrics_listen ${host}:${port} is already in use`, { hint: 'set another metrics_listen in broker.yaml (e.g. "127.0.0.1:9465"), or metrics_listen: off' })
      : err));
    server.listen(port, host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const shown = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${shown}:${addr.port}/metrics`,
    server,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
