/**
 * A warehouse whose table schemas and table lists are remembered for a short time: every query looks up the schema of
 * each table it names, and on BigQuery each lookup is a REST call. Dry runs and runs always reach the warehouse, so a
 * column that no longer exists is still refused there; `invalidate()` (on policy reload) makes the next lookups fresh.
 */
import type { DryRunResult, Field, RunOptions, RunResult, TableRef, Warehouse } from "./types.ts";
import { Lru } from "./lru.ts";

/** How long a schema or table list is trusted. */
export const SCHEMA_TTL_MS = 10_000;
const MAX_ENTRIES = 1024;

export interface SchemaCacheOptions {
  ttlMs?: number;
  now?: () => number;
}

/** A warehouse with cached catalogue lookups. */
export type CachedWarehouse = Warehouse & {
  /** Forgets every cached schema and table list (call it when the policy is reloaded or the catalogue is known to have changed). */
  invalidate(): void;
};

interface Entry<T> {
  value: Promise<T>;
  expires: number;
}

/** Wraps `inner` so tableSchema and listTables answers are reused for `ttlMs`; concurrent lookups of one table share one call. */
export function withSchemaCache(inner: Warehouse, opts: SchemaCacheOptions = {}): CachedWarehouse {
  return new SchemaCachingWarehouse(inner, opts.ttlMs ?? SCHEMA_TTL_MS, opts.now ?? Date.now);
}

class SchemaCachingWarehouse implements CachedWarehouse {
  readonly #inner: Warehouse;
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #schemas = new Lru<string, Entry<Field[]>>(MAX_ENTRIES);
  readonly #tables = new Lru<string, Entry<string[]>>(MAX_ENTRIES);
  constructor(inner: Warehouse, ttlMs: number, now: () => number) {
    this.#inner = inner;
    this.#ttlMs = ttlMs;
    this.#now = now;
  }

  get defaultProject(): string {
    return this.#inner.defaultProject;
  }

  invalidate(): void {
    this.#schemas.clear();
    this.#tables.clear();
  }

  async #cached<T>(cache: Lru<string, Entry<T>>, key: string, load: () => Promise<T>): Promise<T> {
    const now = this.#now();
    const hit = cache.get(key);
    if (hit && hit.expires > now) return hit.value;
    const value = load();
    const entry = { value, expires: now + this.#ttlMs };
    cache.set(key, entry);
    // A failure (not found, unreachable) is never remembered: the next lookup asks again.
    value.catch(() => { if (cache.get(key) === entry) cache.delete(key); });
    return value;
  }

  async tableSchema(table: TableRef): Promise<Field[]> {
    const key = `${table.project}\u0000${table.dataset}\u0000${table.table}`;
    // Callers get their own copy: one that modifies its schema cannot change what the next query is checked against.
    return structuredClone(await this.#cached(this.#schemas, key, () => this.#inner.tableSchema({ ...table })));
  }

  async listTables(dataset: string): Promise<string[]> {
    return [...await this.#cached(this.#tables, dataset, () => this.#inner.listTables(dataset))];
  }

  dryRun(sql: string): Promise<DryRunResult> {
    return this.#inner.dryRun(sql);
  }

  run(sql: string, opts: RunOptions): Promise<RunResult> {
    return this.#inner.run(sql, opts);
  }

  listDatasets(): Promise<string[]> {
    return this.#inner.listDatasets();
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}
