/** What SQL analysis derives from one statement; consumed by the broker's guardrails and masking. */
import type { Field, TableRef } from "../warehouse/types.ts";
import type { Mentions } from "./mentions.ts";

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
  /**
   * True when the output is one source column's own value, projected unchanged (through aliases, CTEs, derived
   * tables, `*`, ANY_VALUE, and UNION ALL branches that all supply that same column or NULL). Only such an output
   * may carry a masked column: any other output that derives from one lets the query choose what it reveals.
   */
  direct: boolean;
}

/**
 * A source column used other than by projecting it: as a function or operator argument, in a predicate, grouping,
 * ordering or window, in FROM (UNNEST), in DISTINCT or a set operation, in a subquery's value. The answer (its
 * values, its row count, whether it fails) may then depend on the column's value.
 */
export interface ColumnUse {
  column: ColumnRef;
  /** Where, as a person reads it: "WHERE", "JOIN ON", "CONCAT()", "operator =", "UNNEST", "INTERSECT", ... */
  construct: string;
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
  /** Every use of a source column other than projecting it, query clauses first. */
  uses: ColumnUse[];
  /** Every name the statement mentions and whether it reads whole rows: what the warehouse may count bytes of. */
  mentions: Mentions;
}

/** Table schemas by fully qualified lower-case "project.dataset.table". */
export type SchemaMap = Map<string, Field[]>;
