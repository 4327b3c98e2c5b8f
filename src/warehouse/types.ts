/** The warehouse contract shared by BigQuery (production) and DuckDB (demo). */

/** BigQuery standard SQL type names, as jit reports them. */
export type FieldType =
  | "STRING" | "INT64" | "FLOAT64" | "NUMERIC" | "BIGNUMERIC" | "BOOL" | "DATE" | "DATETIME" | "TIME"
  | "TIMESTAMP" | "BYTES" | "JSON" | "GEOGRAPHY" | "ARRAY" | "STRUCT" | "INTERVAL";

export interface Field {
  name: string;
  type: FieldType;
  /** For ARRAY: the element field; for STRUCT: its fields. */
  fields?: Field[];
  mode?: "NULLABLE" | "REQUIRED" | "REPEATED";
}

/** A fully qualified table: project.dataset.table. */
export interface TableRef {
  project: string;
  dataset: string;
  table: string;
}

/** A row as jit emits it: JSON-ready values per SPEC.md (INT64 outside the safe range and NUMERIC as strings, TIMESTAMP RFC 3339, NULL as null). */
export type Row = Record<string, unknown>;

export interface DryRunResult {
  statementType: string;
  referencedTables: TableRef[];
  bytesProcessed: number;
  schema: Field[];
}

export interface RunOptions {
  maxRows: number;
  maxBytesBilled?: number;
  labels?: Record<string, string>;
  signal?: AbortSignal;
  /** The caller's groups: a warehouse configured with per-group impersonation runs the query as their service account. */
  principalGroups?: string[];
  /** When the covering grant ends (epoch ms): an impersonated credential never outlives it. */
  grantExpiresAt?: number;
}

export interface RunResult {
  schema: Field[];
  /** Rows in order; at most maxRows are yielded. */
  rows: AsyncIterable<Row>;
  /** Resolves after `rows` is drained: whether more rows existed than maxRows, bytes processed, job id. */
  done(): Promise<{ truncated: boolean; bytesProcessed: number; jobId: string }>;
}

export interface Warehouse {
  /** Default project for unqualified dataset names (e.g. "demo"). */
  readonly defaultProject: string;
  dryRun(sql: string): Promise<DryRunResult>;
  run(sql: string, opts: RunOptions): Promise<RunResult>;
  listDatasets(): Promise<string[]>; // "project.dataset"
  listTables(dataset: string): Promise<string[]>; // table names
  tableSchema(table: TableRef): Promise<Field[]>;
  close(): Promise<void>;
}

/**
 * Error raised by a warehouse for a query it rejected or failed (exit 6). Reasons with a meaning of their own:
 * `unreachable` (exit 7) and `brokerRefused`: the broker's own configuration refused before the warehouse saw it (exit 4).
 */
export class WarehouseQueryError extends Error {
  readonly jobId: string | undefined;
  readonly reason: string | undefined;
  constructor(message: string, opts: { jobId?: string; reason?: string } = {}) {
    super(message);
    this.name = "WarehouseQueryError";
    this.jobId = opts.jobId;
    this.reason = opts.reason;
  }
}
