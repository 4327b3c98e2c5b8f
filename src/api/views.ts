/**
 * The broker's response shapes, as the routes build them (src/broker/views.ts, metadata.ts): type-only, so the
 * CLI and the MCP tools read the same contract the broker writes without loading any broker code.
 */
import type { describeTable, listDatasets, listTables } from "../broker/metadata.ts";
import type { auditView, grantView, requestView } from "../broker/views.ts";

/** A request as GET/POST /v1/requests... answer it. */
export type RequestView = ReturnType<typeof requestView>;
/** A grant as /v1/grants answers it. */
export type GrantView = ReturnType<typeof grantView>;
/** An audit record as /v1/audit answers it. */
export type AuditView = ReturnType<typeof auditView>;
/** GET /v1/datasets. */
export type DatasetsView = Awaited<ReturnType<typeof listDatasets>>;
/** GET /v1/datasets/:dataset/tables. */
export type TablesView = Awaited<ReturnType<typeof listTables>>;
/** GET /v1/tables/:table. */
export type TableView = Awaited<ReturnType<typeof describeTable>>;
