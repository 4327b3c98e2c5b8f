/** What SQL analysis derives from one statement; consumed by the broker's guardrails and masking. */
import type { Field, TableRef } from "../warehouse/types.ts";

export type StatementKind = "query" | "dml" | "ddl" | "script" | "export" | "external_query" | "other";

/** A source column, fully qualified and lower-cased: table "project.dataset.table", column "ssn". */
export interface ColumnRef {
  table: string;
  column: string;
}

export interface OutputColumn {
  /** The output column's name as the warehouse will return it. */
  name: string;
  /** Every source column this output is derived from (through any expression). */
  sources: ColumnRef[];
}

/** A source column used where its value can be inferred rather than returned (WHERE, JOIN ON, ORDER BY, ...). */
export interface InferenceUse {
  column: ColumnRef;
  clause: string;
}

export interface Analysis {
  kind: StatementKind;
  /** BigQuery statement type name, e.g. "SELECT", "INSERT", "CREATE_TABLE". */
  statementType: string;
  /** Every kind found anywhere in the input, most severe first (a script holding EXPORT DATA lists both). */
  kinds?: StatementKind[];
  /**
   * Every table read (CTE names excluded), fully qualified: a wildcard's matching tables, and a dataset's
   * INFORMATION_SCHEMA view as table "information_schema.<view>" of that dataset.
   */
  tables: TableRef[];
  /** One entry per output column, in order. */
  outputs: OutputColumn[];
  inferenceUses: InferenceUse[];
}

/** Table schemas by fully qualified lower-case "project.dataset.table". */
export type SchemaMap = Map<string, Field[]>;
