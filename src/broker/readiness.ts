/**
 * /readyz: whether this replica should get traffic, part by part. The store must answer and take writes (no audit
 * record, no answer), the identity provider's keys must be loaded, the warehouse must answer; while starting or
 * draining the replica is not ready either. An IdP that is down while its cached keys still verify tokens is
 * "degraded" but ready (200): every replica shares the same IdP, so taking them all out would turn an IdP outage
 * the cache rides through into a full outage. The body names each part; `jit_ready{part}` carries the same.
 */
import type { Store } from "../store/types.ts";
import type { Warehouse } from "../warehouse/types.ts";
import type { IdentityStatus } from "./jwks-cache.ts";

export interface PartReport {
  ok: boolean;
  state: "ok" | "degraded" | "failing" | "starting";
  problem?: string;
  [k: string]: unknown;
}

export interface ReadinessReport {
  ready: boolean;
  status: "ready" | "degraded" | "starting" | "draining" | "not_ready";
  parts: Record<string, PartReport>;
}

export interface ReadinessOptions {
  store: Store;
  warehouse?: Warehouse;
  identity?: { status(): IdentityStatus; poke(intervalMs?: number): void };
  draining(): boolean;
  /** A warehouse answer is reused this long, so probes do not spend warehouse calls (default 15 s). */
  warehouseTtlMs?: number;
  /** Each part's check gives up after this long (default 3 s). */
  timeoutMs?: number;
  /** How often a probe re-reads the IdP's keys, so an outage shows (default 60 s). */
  identityProbeMs?: number;
  setPart?(part: string, value: number): void;
  now?: () => number;
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err)).split("\n")[0]!.slice(0, 300);

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms); })])
    .finally(() => clearTimeout(timer));
}

/** Builds the readiness check /readyz answers with. */
export function createReadiness(opts: ReadinessOptions): () => Promise<ReadinessReport> {
  const now = opts.now ?? Date.now;
  const timeoutMs = opts.timeoutMs ?? 3000;
  const ttl = opts.warehouseTtlMs ?? 15_000;
  let warehouseSeen: { at: number; report: PartReport } | undefined;

  const storePart = async (): Promise<PartReport> => {
    try {
      await within(opts.store.ready(), timeoutMs, "the store");
      return { ok: true, state: "ok", kind: opts.store.kind };
    } catch (err) {
      return { ok: false, state: "failing", kind: opts.store.kind, problem: message(err) };
    }
  };
  const warehousePart = async (): Promise<PartReport | undefined> => {
    const w = opts.warehouse;
    if (!w) return undefined;
    if (warehouseSeen && now() - warehouseSeen.at < ttl) return warehouseSeen.report;
    let report: PartReport;
    try {
      await within(w.listDatasets(), timeoutMs, "the warehouse");
      report = { ok: true, state: "ok" };
    } catch (err) {
      report = { ok: false, state: "failing", problem: message(err) };
    }
    warehouseSeen = { at: now(), report };
    return report;
  };
  const identityPart = (): PartReport | undefined => {
    if (!opts.identity) return undefined;
    opts.identity.poke(opts.identityProbeMs);
    const s = opts.identity.status();
    const base = { keys: s.keys, fetched_at: s.fetchedAt === null ? null : new Date(s.fetchedAt).toISOString() };
    if (s.state === "ok") return { ok: true, state: "ok", ...base };
    if (s.state === "degraded") {
      return { ok: true, state: "degraded", ...base, problem: `the identity provider cannot be reached (${s.lastError}); tokens signed by the ${s.keys} cached key(s) still verify until they expire` };
    }
    return { ok: false, state: "starting", ...base, problem: s.lastError ? `the identity provider's keys are not loaded yet: ${s.lastError}` : "the identity provider's keys are not loaded yet" };
  };

  return async () => {
    const [store, warehouse] = await Promise.all([storePart(), warehousePart()]);
    const identity = identityPart();
    const parts: Record<string, PartReport> = { store };
    if (identity) parts.identity = identity;
    if (warehouse) parts.warehouse = warehouse;
    const draining = opts.draining();
    parts.lifecycle = draining ? { ok: false, state: "failing", problem: "the broker is shutting down (draining in-flight requests)" } : { ok: true, state: "ok" };
    for (const [name, p] of Object.entries(parts)) opts.setPart?.(name, p.ok ? (p.state === "degraded" ? 0.5 : 1) : 0);
    const ready = Object.values(parts).every((p) => p.ok);
    const status = draining ? "draining"
      : identity?.state === "starting" ? "starting"
      : !ready ? "not_ready"
      : Object.values(parts).some((p) => p.state === "degraded") ? "degraded" : "ready";
    return { ready, status, parts };
  };
}
