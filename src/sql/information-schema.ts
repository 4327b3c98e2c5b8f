/**
 * BigQuery INFORMATION_SCHEMA views the analyser can resolve: the dataset-qualified metadata views, each read as
 * its dataset (so the caller needs a grant on that dataset) with a fixed schema and no source columns (metadata, not
 * data). Region- and project-level views are refused: they span the whole project, and JOBS, SESSIONS and the
 * access views show other people's queries and permissions.
 */
import type { Field, FieldType } from "../warehouse/types.ts";
import { cannotAnalyse, lc } from "./parse.ts";

/** A dataset-qualified INFORMATION_SCHEMA view, e.g. demo.sales.INFORMATION_SCHEMA.COLUMNS (lower-case project and dataset). */
export interface InfoSchemaRef {
  project: string;
  dataset: string;
  /** Upper-case view name, e.g. "COLUMNS". */
  view: string;
}

const s = (name: string): Field => ({ name, type: "STRING" });
const t = (name: string, type: FieldType): Field => ({ name, type });
const strings = (...names: string[]): Field[] => names.map(s);
const TABLE_ID = strings("table_catalog", "table_schema", "table_name");
const POLICY_TAGS: Field = { name: "policy_tags", type: "ARRAY", mode: "REPEATED", fields: [s("element")] };

// Columns and order as BigQuery's documentation lists them (cloud.google.com/bigquery/docs/information-schema-*).
// A column missing here is refused as unknown; `SELECT *` over a view BigQuery has since widened returns more columns
// than analysed, which the broker refuses when it compares the result's shape (fail closed). Name the columns.
// VIEWS.view_definition, TABLES.ddl, COLUMNS.column_default and TABLE_OPTIONS.option_value quote SQL and literals,
// so they can hold data: they are ordinary strings here, and the broker's content detectors scan every string.
const VIEWS: Record<string, Field[]> = {
  TABLES: [
    ...TABLE_ID, ...strings("table_type", "managed_table_type", "is_insertable_into", "is_fine_grained_mutations_enabled", "is_typed", "is_change_history_enabled"),
    t("creation_time", "TIMESTAMP"), ...strings("base_table_catalog", "base_table_schema", "base_table_name"), t("snapshot_time_ms", "TIMESTAMP"),
    ...strings("replica_source_catalog", "replica_source_schema", "replica_source_name", "replication_status", "replication_error", "ddl", "default_collation_name"),
    t("sync_status", "JSON"), t("upsert_stream_apply_watermark", "TIMESTAMP"),
  ],
  COLUMNS: [
    ...TABLE_ID, s("column_name"), t("ordinal_position", "INT64"),
    ...strings("is_nullable", "data_type", "is_generated", "generation_expression", "is_stored", "is_hidden", "is_updatable", "is_system_defined", "is_partitioning_column"),
    t("clustering_ordinal_position", "INT64"), ...strings("collation_name", "column_default", "rounding_mode"), POLICY_TAGS,
  ],
  COLUMN_FIELD_PATHS: [...TABLE_ID, ...strings("column_name", "field_path", "data_type", "description", "collation_name", "rounding_mode"), POLICY_TAGS],
  TABLE_OPTIONS: [...TABLE_ID, ...strings("option_name", "option_type", "option_value")],
  PARTITIONS: [
    ...TABLE_ID, s("partition_id"), t("total_rows", "INT64"), t("total_logical_bytes", "INT64"), t("total_billable_bytes", "INT64"),
    t("last_modified_time", "TIMESTAMP"), s("storage_tier"),
  ],
  VIEWS: [...TABLE_ID, ...strings("view_definition", "check_option", "use_standard_sql")],
};

/** The dataset-level views the analyser resolves, upper-case. */
export const INFO_SCHEMA_VIEWS: readonly string[] = Object.keys(VIEWS);

/** The fixed schema of a supported view (a fresh copy). */
export function infoSchemaFields(view: string): Field[] {
  const fields = VIEWS[view.toUpperCase()];
  if (!fields) throw cannotAnalyse(`INFORMATION_SCHEMA.${view} is not supported`);
  return structuredClone(fields);
}

/** True when a table path names an INFORMATION_SCHEMA view (any part is INFORMATION_SCHEMA). */
export function isInfoSchemaPath(parts: string[]): boolean {
  return parts.some((p) => lc(p) === "information_schema");
}

// Views BigQuery serves only for a whole project or region (named so the refusal says why).
const PROJECT_LEVEL = /^(SCHEMATA|TABLE_STORAGE|STREAMING_TIMELINE|WRITE_API_TIMELINE|SHARED_DATASET_USAGE|RESERVATION|ASSIGNMENT|CAPACITY)/;

const refused = (what: string, why: string) =>
  cannotAnalyse(`${what} is refused: ${why}; query a dataset's own metadata instead, e.g. demo.sales.INFORMATION_SCHEMA.COLUMNS (views: ${INFO_SCHEMA_VIEWS.join(", ")})`);

/**
 * Resolves `[project.]dataset.INFORMATION_SCHEMA.VIEW` to its dataset; every other INFORMATION_SCHEMA path (region- or
 * project-qualified, unqualified, JOBS/SESSIONS/ACCESS views, views not listed above) is refused with the reason.
 */
export function resolveInfoSchema(parts: string[], defaultProject: string): InfoSchemaRef {
  const p = parts.map(lc);
  const name = parts.join(".");
  const at = p.indexOf("information_schema");
  const view = (p[at + 1] ?? "").toUpperCase();
  const qualifiers = p.slice(0, at);
  if (at === -1 || at !== p.length - 2 || view === "" || p.some((x) => x === "" || x.includes("*"))) {
    throw cannotAnalyse(`table name ${name} is not an INFORMATION_SCHEMA view the broker can read`);
  }
  if (/JOBS|SESSIONS/.test(view)) throw refused(name, "it shows other people's queries and sessions across the project");
  if (/ACCESS|PRIVILEGES/.test(view)) throw refused(name, "it shows who may access what across the project");
  if (qualifiers.some((q) => q.startsWith("region-"))) {
    throw refused(name, "region-level INFORMATION_SCHEMA views cover every dataset in the project, not one you hold a grant on");
  }
  if (qualifiers.length === 0) throw refused(name, "INFORMATION_SCHEMA views must be qualified with a dataset");
  if (!VIEWS[view]) {
    throw refused(name, PROJECT_LEVEL.test(view) ? "it is a project-level view covering every dataset" : "the broker has no schema for this view");
  }
  if (qualifiers.length > 2) throw cannotAnalyse(`table name ${name} is not supported`);
  const [project, dataset] = qualifiers.length === 2 ? [qualifiers[0]!, qualifiers[1]!] : [lc(defaultProject), qualifiers[0]!];
  return { project, dataset, view };
}
