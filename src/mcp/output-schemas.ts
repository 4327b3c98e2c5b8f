/**
 * The `outputSchema` of each jit MCP tool: the shape of its `structuredContent`, which is the broker's answer
 * (src/broker/views.ts, metadata.ts, query.ts). Objects are loose: a field the broker adds later is not a
 * validation failure in a client that checks results against the schema, while every field listed is required
 * to have its type. The SDK checks each result against these before it leaves the server.
 */
import { z } from "./sdk.ts";

const time = z.string().describe("an RFC 3339 time (UTC)");
const nullableTime = time.nullable();

const grant = z.looseObject({
  id: z.string(),
  state: z.enum(["active", "expired", "used", "revoked"]),
  holder: z.string(),
  datasets: z.array(z.string()),
  request_id: z.string().nullable(),
  created_at: nullableTime,
  expires_at: nullableTime,
  seconds_left: z.number().int().describe("seconds until the grant expires (0 unless active)"),
  revoked_at: nullableTime,
  revoked_by: z.string().nullable(),
  single_statement: z.boolean().describe("true when the grant runs one approved statement once"),
});

const request = z.looseObject({
  id: z.string(),
  state: z.string().describe("pending, approved, denied, expired or cancelled"),
  requester: z.string(),
  datasets: z.array(z.string()),
  reason: z.string(),
  duration_seconds: z.number().int(),
  created_at: nullableTime,
  expires_at: nullableTime.describe("when a pending request lapses"),
  approver_groups: z.array(z.string()),
  min_approvals: z.number().int(),
  approvals: z.array(z.looseObject({ approver: z.string(), comment: z.string().nullable(), at: nullableTime })),
  decided_by: z.string().nullable(),
  decision_reason: z.string().nullable(),
  grant_id: z.string().nullable(),
  grant: grant.optional().describe("the grant, once approved"),
  sql: z.string().optional().describe("for a single-statement request: the statement approved to run once"),
});

const column = z.looseObject({
  name: z.string(),
  type: z.string().nullable(),
  masked: z.boolean(),
  mask: z.string().optional().describe("the mask style of a masked column, e.g. last4, email, hash"),
});

/** list_datasets: GET /v1/datasets. */
export const listDatasetsOutput = z.looseObject({
  datasets: z.array(z.looseObject({
    dataset: z.string().describe("project.dataset"),
    access: z.enum(["auto", "approval_required", "per_query"]),
    approvers: z.array(z.string()),
    max_duration_seconds: z.number().int().nullable(),
    grant_id: z.string().nullable().describe("a live grant you hold on it, if any"),
    grant_expires_at: nullableTime,
  })),
});

/** list_tables: GET /v1/datasets/:dataset/tables. */
export const listTablesOutput = z.looseObject({
  dataset: z.string(),
  tables: z.array(z.looseObject({ table: z.string().describe("project.dataset.table"), name: z.string() })),
});

/** describe_table: GET /v1/tables/:table. */
export const describeTableOutput = z.looseObject({
  table: z.string(),
  columns: z.array(column.extend({
    type: z.string(),
    inference: z.enum(["deny", "allow"]).optional().describe("deny: the masked column may only be selected, not used in WHERE, JOIN, GROUP BY or ORDER BY"),
  })),
});

/** query: POST /v1/query, a run (rows) or a dry run (decision, bytes_estimate). */
export const queryOutput = z.looseObject({
  columns: z.array(column),
  grant_id: z.string().nullable(),
  audit_id: z.string().describe("the audit record of this call"),
  rows: z.array(z.record(z.string(), z.unknown())).optional().describe("a run: the rows, masked columns masked"),
  row_count: z.number().int().optional(),
  truncated: z.boolean().optional().describe("a run: true when rows were cut at max_rows"),
  masked_cells: z.number().int().optional(),
  bytes_processed: z.number().nullable().optional().describe("null when the query could read a masked column (the figure counts the masked values' sizes)"),
  decision: z.literal("allowed").optional().describe("a dry run: what the broker decided"),
  tables: z.array(z.string()).optional(),
  datasets: z.array(z.string()).optional(),
  masked_columns: z.array(z.string()).optional(),
  bytes_estimate: z.number().nullable().optional().describe("a dry run: the bytes the query would process; null when it could read a masked column"),
  grant_ids: z.array(z.string()).optional(),
});

/** request_access: POST /v1/requests. */
export const requestAccessOutput = z.looseObject({
  request,
  capped_note: z.string().optional().describe("set when the policy shortened the duration asked for"),
});

/** access_status: GET /v1/grants and the pending part of GET /v1/requests?mine=1. */
export const accessStatusOutput = z.looseObject({
  grants: z.array(grant),
  pending_requests: z.array(request),
});
