/**
 * The broker's wire contract, declared once: the parameters, query strings and bodies of every API route.
 * The broker validates against these (strict: an unknown field or a malformed value is a 400 naming it);
 * the CLI's client and the MCP tools use the inferred types (type-only imports, so `jit --help` never loads zod).
 */
import { z } from "zod";

/** The most records one page of the audit log returns; a larger `limit` is capped to it. */
export const MAX_PAGE = 1000;

// Store ids are decimal row ids; "01", "1e0" or " 1" are not ids.
const id = (what: string) => z.string().regex(/^[1-9][0-9]{0,17}$/, `names no ${what} (${what} ids are whole numbers)`);
const flag = z.enum(["0", "1"], { message: 'must be "1" or "0"' }).optional();
const text = (max: number) => z.string().max(max, `must be at most ${max} characters`);
const wholeNumber = (what: string) => z.string().regex(/^[0-9]{1,15}$/, `must be ${what}`).transform(Number);

/** `:id` of /v1/requests/:id and its actions. */
export const RequestIdParams = z.strictObject({ id: id("request") });
/** `:id` of /v1/grants/:id/revoke. */
export const GrantIdParams = z.strictObject({ id: id("grant") });
/** `:id` of /v1/audit/:id. */
export const AuditIdParams = z.strictObject({ id: id("audit record") });
/** `:dataset` of /v1/datasets/:dataset/tables. */
export const DatasetParams = z.strictObject({ dataset: text(300) });
/** `:table` of /v1/tables/:table. */
export const TableParams = z.strictObject({ table: text(400) });

/** No query string at all. */
export const NoQuery = z.strictObject({});
/** GET /v1/requests. */
export const RequestsQuery = z.strictObject({ pending: flag, mine: flag });
/** The longest long poll one GET /v1/requests/:id?wait=SECONDS may ask for. */
export const MAX_WAIT_SECONDS = 60;
/** GET /v1/requests/:id: `wait` holds the answer until the request leaves pending or that many seconds pass. */
export const RequestReadQuery = z.strictObject({
  wait: wholeNumber(`a whole number of seconds from 0 to ${MAX_WAIT_SECONDS}`)
    .refine((n) => n <= MAX_WAIT_SECONDS, `must be at most ${MAX_WAIT_SECONDS} seconds (wait longer by asking again)`).optional(),
});
/** GET /v1/grants. */
export const GrantsQuery = z.strictObject({ all: flag });
/** GET /v1/audit: filters, and a page of seqs after `after` and before `before` (both exclusive). */
export const AuditListQuery = z.strictObject({
  mine: flag,
  user: text(200).optional(),
  action: text(100).optional(),
  outcome: z.enum(["ok", "denied", "failed", "pending"]).optional(),
  dataset: text(300).optional(),
  since: text(64).optional(),
  until: text(64).optional(),
  after: wholeNumber("a record sequence number (a whole number)").optional(),
  before: wholeNumber("a record sequence number (a whole number)").optional(),
  // asc (the default, for clients that page with next_after) or desc: newest first, paged with next_before.
  order: z.enum(["asc", "desc"], { message: 'must be "asc" or "desc"' }).optional(),
  limit: wholeNumber(`a whole number from 1 to ${MAX_PAGE}`).refine((n) => n >= 1, `must be at least 1`).transform((n) => Math.min(n, MAX_PAGE)).optional(),
});
/** GET /v1/audit/verify. `anchor`: one CHAIN:SEQ:HASH per chain, comma-separated (about 90 characters each). */
export const AuditVerifyQuery = z.strictObject({ anchor: text(20_000).optional() });

/** The longest reason or comment a person may write (shown to approvers, kept in the audit log). */
export const MAX_REASON = 1000;

/** POST /v1/requests: datasets for a period, or one exact statement (`sql`) to run once. */
export const FileRequestBody = z.strictObject({
  datasets: z.array(text(300)).max(100, "must list at most 100 datasets").optional(),
  sql: z.string().optional(),
  reason: text(MAX_REASON).optional(),
  duration_seconds: z.number().int("must be a whole number of seconds").min(1, "must be at least 1 second").optional(),
}).refine((b) => (b.sql === undefined) !== (b.datasets === undefined), {
  message: 'the request body must give either "datasets" (a list of dataset names) or "sql" (one statement), not both or neither',
});
/** POST /v1/requests/:id/approve. */
export const ApproveBody = z.strictObject({ comment: text(MAX_REASON).nullable().optional() });
/** POST /v1/requests/:id/deny. */
export const DenyBody = z.strictObject({ reason: text(MAX_REASON) });
/** POST /v1/grants/:id/revoke. */
export const RevokeBody = z.strictObject({ reason: text(MAX_REASON).nullable().optional() });
/** POST /v1/query. */
export const QueryBody = z.strictObject({
  sql: z.string(),
  max_rows: z.number().int("must be a whole number").min(0, "must be at least 0").optional(),
  dry_run: z.boolean().optional(),
});
/** POST /v1/policy/explain. */
export const ExplainBody = z.strictObject({
  as: text(200),
  groups: z.array(text(200)).max(200, "must list at most 200 groups"),
  sql: z.string(),
});
/** POST /dev/device/approve (dev mode only). */
export const DeviceApproveBody = z.strictObject({ user_code: text(64), username: text(200), password: text(200) });
/** A route without a body: any body sent is refused rather than ignored. */
export const NoBody = z.strictObject({});

export type FileRequestInput = z.input<typeof FileRequestBody>;
export type ApproveInput = z.input<typeof ApproveBody>;
export type DenyInput = z.input<typeof DenyBody>;
export type RevokeInput = z.input<typeof RevokeBody>;
export type QueryInput = z.input<typeof QueryBody>;
export type ExplainInput = z.input<typeof ExplainBody>;
export type DeviceApproveInput = z.input<typeof DeviceApproveBody>;
export type AuditListParams = z.input<typeof AuditListQuery>;

/** One line naming what is wrong with an input: `"max_rows" must be a whole number`. */
export function describeIssues(where: string, error: z.ZodError): string {
  return error.issues.slice(0, 3).map((i) => {
    if (i.code === "unrecognized_keys") return `${where} has an unknown field ${i.keys.map((k) => JSON.stringify(k)).join(", ")}`;
    if (i.code === "custom" && i.path.length === 0) return i.message; // a rule across fields names them itself
    const field = i.path.length ? `"${i.path.map(String).join(".")}"` : where;
    const msg = i.code === "invalid_type" ? `must be ${i.expected === "array" ? "a list" : `a ${i.expected}`}` : i.message;
    return `${field} ${msg}`;
  }).join("; ");
}
