/**
 * The demo warehouse: an in-memory DuckDB holding project `demo` (datasets sales and hr) loaded
 * from the committed CSV files, answering BigQuery SQL through duckdb-dialect.ts.
 */
import { randomUUID } from "node:crypto";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { DuckDBConnection, DuckDBInstance, DuckDBType } from "@duckdb/node-api";
import type { DryRunResult, Field, RunOptions, RunResult, Row, TableRef, Warehouse } from "./types.ts";
import { WarehouseQueryError } from "./types.ts";
import { quoteIdent, translateToDuckDB, type Translation } from "./duckdb-dialect.ts";
import { MACROS } from "./duckdb-functions.ts";
import { fieldOf, jsonValue, typeIdNames, type TypeIdNames } from "./duckdb-values.ts";
import { ConnectionPool } from "./duckdb-pool.ts";
import { Lru } from "./lru.ts";

const PROJECT = "demo";

interface TableDef {
  dataset: string;
  table: string;
  file: string;
  columns: readonly (readonly [string, string])[];
}

const TABLES: readonly TableDef[] = [
  {
    dataset: "sales", table: "customers", file: "customers.csv",
    columns: [["id", "BIGINT"], ["full_name", "VARCHAR"], ["email", "VARCHAR"], ["phone", "VARCHAR"], ["ssn", "VARCHAR"],
      ["card_number", "VARCHAR"], ["city", "VARCHAR"], ["signup_date", "DATE"]],
  },
  {
    dataset: "sales", table: "orders", file: "orders.csv",
    columns: [["order_id", "BIGINT"], ["customer_id", "BIGINT"], ["amount", "DECIMAL(18,2)"], ["status", "VARCHAR"],
      ["created_at", "TIMESTAMPTZ"]],
  },
  {
    dataset: "hr", table: "employees", file: "employees.csv",
    columns: [["employee_id", "BIGINT"], ["full_name", "VARCHAR"], ["email", "VARCHAR"], ["ssn", "VARCHAR"],
      ["department", "VARCHAR"], ["salary", "DECIMAL(18,2)"]],
  },
];

interface LoadedTable {
  ref: TableRef;
  schema: Field[];
  /** BigQuery-style logical bytes per column (strings: 2 + UTF-8 length per value; others fixed). */
  columnBytes: Map<string, number>;
}

const sqlString = (s: string): string => `'${s.replace(/'/g, "''")}'`;
const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

function notFoundTable(parts: readonly string[]): never {
  throw new WarehouseQueryError(`Not found: Table ${parts.join(".")}`, { reason: "notFound" });
}

/** The demo warehouse, with a door for its owner that queries never use. */
export type DemoWarehouse = Warehouse & {
  /** Runs a statement as the demo data's owner (DDL or DML, not a query: tests change a table under a running broker), then re-reads the schemas. */
  administer(sql: string): Promise<void>;
  /** How often the warehouse opened a connection, translated a statement and prepared a dry run: fewer than statements run means reuse. */
  stats(): { connectionsOpened: number; translations: number; dryRunsPrepared: number };
};

/** Translations kept by statement text: the broker dry-runs then runs each statement, and clients repeat theirs. */
const TRANSLATIONS = 512;
const TRANSLATION_MAX_CHARS = 32_768;

/** Opens the in-memory demo warehouse (project `demo`), loading data/demo/*.csv or opts.dataDir. */
export async function openDemoWarehouse(opts: { dataDir?: string } = {}): Promise<DemoWarehouse> {
  const duck = await import("@duckdb/node-api");
  const names = typeIdNames(duck.DuckDBTypeId as unknown as Record<string, string | number>);
  // ../../data/demo/ from both src/warehouse and dist/warehouse.
  const dataDir = resolve(opts.dataDir ?? fileURLToPath(new URL("../../data/demo/", import.meta.url)));
  const instance = await duck.DuckDBInstance.create(":memory:");
  const tables = new Map<string, LoadedTable>();
  const setup = await instance.connect();
  try {
    await setup.run(`ATTACH ':memory:' AS ${PROJECT}`);
    for (const ds of new Set(TABLES.map((t) => t.dataset))) await setup.run(`CREATE SCHEMA ${PROJECT}.${ds}`);
    for (const def of TABLES) tables.set(`${def.dataset}.${def.table}`, await loadTable(setup, def, dataDir, names));
    for (const macro of MACROS) await setup.run(macro);
    // Queries never touch files, extensions or settings: close those doors once the data is in.
    await setup.run("SET autoinstall_known_extensions = false");
    await setup.run("SET autoload_known_extensions = false");
    await setup.run("SET enable_external_access = false");
    await setup.run("SET lock_configuration = true");
  } catch (err) {
    instance.closeSync();
    throw err instanceof WarehouseQueryError ? err : new WarehouseQueryError(`Loading the demo warehouse failed: ${message(err)}`);
  } finally {
    setup.closeSync();
  }
  return new DuckDBWarehouse(instance, tables, names);
}

async function loadTable(conn: DuckDBConnection, def: TableDef, dataDir: string, names: TypeIdNames): Promise<LoadedTable> {
  const target = `${PROJECT}.${def.dataset}.${def.table}`;
  const columnDefs = def.columns.map(([n, t]) => `${quoteIdent(n)} ${t}`).join(", ");
  await conn.run(`CREATE TABLE ${target} (${columnDefs})`);
  const path = join(dataDir, def.file);
  const csvColumns = `{${def.columns.map(([n, t]) => `${sqlString(n)}: ${sqlString(t)}`).join(", ")}}`;
  await conn.run(
    `INSERT INTO ${target} SELECT * FROM read_csv(${sqlString(path)}, header = true, delim = ',', quote = '"', escape = '"', auto_detect = false, columns = ${csvColumns})`,
  );
  const described = await conn.prepare(`SELECT * FROM ${target}`);
  const schema = Array.from({ length: described.columnCount }, (_, i) => fieldOf(described.columnName(i), described.columnType(i), names));
  described.destroySync();
  const sizes = def.columns.map(([n, t]) =>
    t === "VARCHAR" ? `coalesce(sum(2 + strlen(${quoteIdent(n)})), 0)` : `count(*) * ${t.startsWith("DECIMAL") ? 16 : 8}`,
  );
  const reader = await conn.runAndReadAll(`SELECT ${sizes.join(", ")} FROM ${target}`);
  const row = reader.getRows()[0] ?? [];
  const columnBytes = new Map(def.columns.map(([n], i) => [n, Number(row[i] ?? 0)]));
  return { ref: { project: PROJECT, dataset: def.dataset, table: def.table }, schema, columnBytes };
}

class DuckDBWarehouse implements DemoWarehouse {
  readonly defaultProject = PROJECT;
  readonly #instance: DuckDBInstance;
  readonly #pool: ConnectionPool;
  readonly #tables: Map<string, LoadedTable>;
  readonly #names: TypeIdNames;
  // Only successes are kept: a translation depends on the SQL text and the (fixed) set of tables, nothing else.
  readonly #translations = new Lru<string, Translation>(TRANSLATIONS);
  // A dry run's answer depends on the text and the catalogue, which only administer() changes (and then clears this).
  readonly #dryRuns = new Lru<string, DryRunResult>(TRANSLATIONS);
  /** Bumped before and after every administer(): a dry run that overlapped one is not remembered. */
  #catalogVersion = 0;
  #prepared = 0;
  #translated = 0;

  constructor(instance: DuckDBInstance, tables: Map<string, LoadedTable>, names: TypeIdNames) {
    this.#instance = instance;
    this.#pool = new ConnectionPool(instance);
    this.#tables = tables;
    this.#names = names;
  }

  stats(): { connectionsOpened: number; translations: number; dryRunsPrepared: number } {
    return { connectionsOpened: this.#pool.opened, translations: this.#translated, dryRunsPrepared: this.#prepared };
  }

  /** Resolves "dataset.table" or "project.dataset.table" (case-insensitive) to a loaded table. */
  #resolve = (parts: string[]): TableRef => {
    const lower = parts.map((p) => p.toLowerCase());
    const [project, dataset, table] = lower.length === 2 ? [PROJECT, ...lower] : lower;
    if (lower.length < 2 || lower.length > 3 || project !== PROJECT) return notFoundTable(parts);
    return this.#tables.get(`${dataset}.${table}`)?.ref ?? notFoundTable(lower.length === 2 ? [PROJECT, ...parts] : parts);
  };

  #translate(sql: string): Translation {
    const hit = this.#translations.get(sql);
    if (hit) return hit;
    const t = translateToDuckDB(sql, this.#resolve);
    this.#translated++;
    if (sql.length <= TRANSLATION_MAX_CHARS) this.#translations.set(sql, t);
    return t;
  }

  /** BigQuery bills the columns a query names; without column lineage, count every column whose name appears. */
  #bytes(t: Translation): number {
    let total = 0;
    for (const ref of t.tables) {
      const loaded = this.#tables.get(`${ref.dataset}.${ref.table}`);
      for (const [column, bytes] of loaded?.columnBytes ?? []) if (t.selectsStar || t.identifiers.has(column)) total += bytes;
    }
    return total;
  }

  #schema(count: number, name: (i: number) => string, type: (i: number) => DuckDBType): Field[] {
    return Array.from({ length: count }, (_, i) => fieldOf(name(i), type(i), this.#names));
  }

  async dryRun(sql: string): Promise<DryRunResult> {
    // Callers get their own copy: one that changes its answer cannot change the next caller's.
    const hit = this.#dryRuns.get(sql);
    if (hit) return structuredClone(hit);
    const t = this.#translate(sql);
    const version = this.#catalogVersion;
    const conn = await this.#pool.acquire();
    let ok = false;
    try {
      this.#prepared++;
      const prepared = await conn.prepare(t.sql);
      const schema = this.#schema(prepared.columnCount, (i) => prepared.columnName(i), (i) => prepared.columnType(i));
      prepared.destroySync();
      ok = true;
      const result = { statementType: t.statementType, referencedTables: t.tables.map((r) => ({ ...r })), bytesProcessed: this.#bytes(t), schema };
      if (sql.length <= TRANSLATION_MAX_CHARS && version === this.#catalogVersion && version % 2 === 0) this.#dryRuns.set(sql, structuredClone(result));
      return result;
    } catch (err) {
      throw new WarehouseQueryError(message(err), { reason: "invalidQuery" });
    } finally {
      this.#pool.release(conn, ok);
    }
  }

  async run(sql: string, opts: RunOptions): Promise<RunResult> {
    const t = this.#translate(sql);
    const jobId = `duckdb_${randomUUID()}`;
    const maxRows = Math.max(0, Math.floor(opts.maxRows));
    const conn = await this.#pool.acquire();
    let interrupted = false;
    let failed = false;
    const onAbort = (): void => {
      interrupted = true;
      conn.interrupt();
    };
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    let released = false;
    // The listener goes before the connection goes back: an abort after that must not interrupt someone else's query.
    const cleanup = (): void => {
      if (released) return;
      released = true;
      opts.signal?.removeEventListener("abort", onAbort);
      this.#pool.release(conn, !interrupted && !failed);
    };
    const fail = (err: unknown): WarehouseQueryError =>
      err instanceof WarehouseQueryError ? err : new WarehouseQueryError(opts.signal?.aborted ? "Query cancelled" : message(err), { jobId, reason: opts.signal?.aborted ? "stopped" : "invalidQuery" });

    let result: Awaited<ReturnType<DuckDBConnection["stream"]>>;
    try {
      if (opts.signal?.aborted) throw new Error("aborted");
      result = await conn.stream(t.sql);
    } catch (err) {
      failed = true;
      cleanup();
      throw fail(err);
    }
    const types = result.columnTypes();
    const columnNames = result.deduplicatedColumnNames();
    const schema = this.#schema(types.length, (i) => columnNames[i]!, (i) => types[i]!);
    const bytesProcessed = this.#bytes(t);
    const names = this.#names;

    let settle!: { resolve: (v: { truncated: boolean; bytesProcessed: number; jobId: string }) => void; reject: (e: unknown) => void };
    const finished = new Promise<{ truncated: boolean; bytesProcessed: number; jobId: string }>((resolve, reject) => { settle = { resolve, reject }; });
    finished.catch(() => {}); // a caller that only iterates sees the error there
    const stream = result;

    async function* rows(): AsyncGenerator<Row> {
      let emitted = 0;
      let truncated = false;
      try {
        for (;;) {
          if (opts.signal?.aborted) throw new Error("aborted");
          const chunk = await stream.fetchChunk();
          if (!chunk || chunk.rowCount === 0) break;
          const chunkRows = chunk.getRows();
          for (const values of chunkRows) {
            if (emitted >= maxRows) { truncated = true; break; }
            const row: Row = {};
            values.forEach((v, i) => { row[columnNames[i]!] = jsonValue(v, types[i]!, names); });
            emitted++;
            yield row;
          }
          if (truncated) break;
          if (emitted >= maxRows) {
            // Peek once more: only a further row makes the result truncated.
            const next = await stream.fetchChunk();
            truncated = !!next && next.rowCount > 0;
            break;
          }
        }
        settle.resolve({ truncated, bytesProcessed, jobId });
      } catch (err) {
        failed = true;
        const e = fail(err);
        settle.reject(e);
        throw e;
      } finally {
        settle.resolve({ truncated, bytesProcessed, jobId }); // no-op unless the consumer stopped early
        cleanup();
      }
    }

    return { schema, rows: rows(), done: () => finished };
  }

  async listDatasets(): Promise<string[]> {
    return [...new Set([...this.#tables.values()].map((t) => `${PROJECT}.${t.ref.dataset}`))].sort();
  }

  async listTables(dataset: string): Promise<string[]> {
    const parts = dataset.toLowerCase().split(".");
    const [project, ds] = parts.length === 1 ? [PROJECT, parts[0]] : parts;
    const found = [...this.#tables.values()].filter((t) => parts.length <= 2 && project === PROJECT && t.ref.dataset === ds);
    if (found.length === 0) throw new WarehouseQueryError(`Not found: Dataset ${parts.length === 1 ? `${PROJECT}.${dataset}` : dataset}`, { reason: "notFound" });
    return found.map((t) => t.ref.table).sort();
  }

  async tableSchema(table: TableRef): Promise<Field[]> {
    const ref = this.#resolve([table.project, table.dataset, table.table]);
    return structuredClone(this.#tables.get(`${ref.dataset}.${ref.table}`)!.schema);
  }

  async administer(sql: string): Promise<void> {
    const conn = await this.#instance.connect();
    this.#catalogVersion++;
    this.#dryRuns.clear();
    try {
      await conn.run(sql);
      for (const loaded of this.#tables.values()) {
        const described = await conn.prepare(`SELECT * FROM ${[PROJECT, loaded.ref.dataset, loaded.ref.table].map(quoteIdent).join(".")}`);
        loaded.schema = this.#schema(described.columnCount, (i) => described.columnName(i), (i) => described.columnType(i));
        described.destroySync();
      }
    } catch (err) {
      throw new WarehouseQueryError(message(err), { reason: "invalidQuery" });
    } finally {
      this.#catalogVersion++;
      this.#dryRuns.clear();
      conn.closeSync();
    }
  }

  async close(): Promise<void> {
    this.#pool.close();
    this.#instance.closeSync();
  }
}
