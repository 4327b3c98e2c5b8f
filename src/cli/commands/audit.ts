/** `jit audit list|show|replay|verify|export`: the audit log, for auditors and admins (and everyone for their own records). */
import { JitError } from "../../errors.ts";
import type { CliContext } from "../context.ts";
import { type Format, toSimpleTable } from "../output.ts";
import { printResult, type QueryResult } from "./query.ts";
import { intFlag, printJson } from "./util.ts";

export interface AuditView {
  id: string;
  seq: number;
  at: string;
  actor: string;
  action: string;
  outcome: string;
  details: Record<string, unknown>;
  hash: string;
}

/** One line summarising a record: what was asked and what happened. */
export function summarise(r: AuditView): string {
  const d = r.details;
  const parts: string[] = [];
  if (typeof d.sql === "string") parts.push(d.sql.replace(/\s+/g, " ").slice(0, 80));
  if (Array.isArray(d.datasets) && typeof d.sql !== "string") parts.push((d.datasets as string[]).join(", "));
  if (d.request_id) parts.push(`request ${d.request_id}`);
  if (d.grant_id) parts.push(`grant ${d.grant_id}`);
  if (typeof d.row_count === "number") parts.push(`${d.row_count} rows, ${d.masked_cells} masked cells`);
  const err = d.error as { message?: string } | undefined;
  if (err?.message) parts.push(`→ ${err.message}`);
  if (typeof d.why === "string") parts.push(`→ ${d.why}`);
  const line = parts.join(" · ");
  return line.length > 110 ? `${line.slice(0, 109)}…` : line;
}

/** Lists audit records with filters. */
export async function auditListCommand(ctx: CliContext, opts: Record<string, string | boolean | undefined>): Promise<void> {
  const limit = intFlag(opts.limit as string | undefined, "limit") ?? 50;
  const params = new URLSearchParams({ limit: String(limit) });
  for (const k of ["user", "action", "outcome", "dataset", "since", "until"] as const) if (typeof opts[k] === "string") params.set(k, opts[k] as string);
  if (opts.mine) params.set("mine", "1");
  const client = await ctx.client();
  const res = await client.get<{ records: AuditView[] }>(`/v1/audit?${params}`);
  if (ctx.flags.json) return printJson(ctx, res);
  ctx.io.out(toSimpleTable(["id", "time", "actor", "action", "outcome", "what"], res.records.map((r) => [r.id, r.at.replace("T", " ").slice(0, 19), r.actor, r.action, r.outcome, summarise(r)])));
}

/** Shows one record in full. */
export async function auditShowCommand(ctx: CliContext, id: string): Promise<void> {
  const client = await ctx.client();
  const { record } = await client.get<{ record: AuditView }>(`/v1/audit/${encodeURIComponent(id)}`);
  printJson(ctx, record);
}

/** Prints what the caller of a query received, from the result kept with its record. */
export async function auditReplayCommand(ctx: CliContext, id: string, opts: { format?: Format }): Promise<void> {
  const client = await ctx.client();
  const { record } = await client.get<{ record: AuditView }>(`/v1/audit/${encodeURIComponent(id)}`);
  let done: AuditView | undefined = record.details.result ? record : undefined;
  if (!done && record.action === "query") {
    const { records } = await client.get<{ records: AuditView[] }>(`/v1/audit?action=query.result&after=${record.seq}&limit=1000`);
    done = records.find((r) => r.details.query_audit_id === record.id);
  }
  const d = done?.details as { result?: { columns: QueryResult["columns"]; rows: QueryResult["rows"]; truncated: boolean }; row_count: number; masked_cells: number; bytes_processed: number; query_audit_id: string } | undefined;
  if (!d?.result) throw new JitError("usage", `audit record ${id} holds no query result to replay`, { hint: "jit audit list --action query" });
  const kept = d.result.rows.length;
  // Over the broker's replay cap only the first rows were kept: say so rather than pass them off as the whole answer.
  if (kept < d.row_count && !ctx.flags.json) ctx.io.err(`note: the audit log kept the first ${kept} of the ${d.row_count} rows the caller received`);
  const result: QueryResult = {
    columns: d.result.columns,
    rows: d.result.rows,
    row_count: d.row_count,
    truncated: d.result.truncated,
    masked_cells: d.masked_cells,
    bytes_processed: d.bytes_processed,
    grant_id: null,
    audit_id: d.query_audit_id,
  };
  printResult(ctx, result, opts.format ?? (ctx.flags.json ? "json" : ctx.io.isStdoutTTY ? "table" : "json"));
}

/** Verifies the hash chain; a broken chain exits 4 naming the first broken record. */
export async function auditVerifyCommand(ctx: CliContext, opts: { anchor?: string }): Promise<void> {
  const client = await ctx.client();
  const query = opts.anchor ? `?anchor=${encodeURIComponent(opts.anchor)}` : "";
  const res = await client.get<{ ok: boolean; checked: number; broken?: { seq: number; message: string }; head?: { seq: number; hash: string } | null }>(`/v1/audit/verify${query}`);
  if (!res.ok) {
    if (ctx.flags.json) printJson(ctx, res);
    throw new JitError("denied", `audit chain broken: ${res.broken!.message}`, { details: { broken: res.broken } });
  }
  if (ctx.flags.json) return printJson(ctx, res);
  ctx.io.out(`Audit chain intact: ${res.checked} records verified${opts.anchor ? ", anchor found unchanged" : ""}.`);
  if (res.head) ctx.io.out(`Head: ${res.head.seq}:${res.head.hash}   (keep it; later: jit audit verify --anchor ${res.head.seq}:${res.head.hash})`);
}

/** Exports records as JSON Lines, paging through the whole log. */
export async function auditExportCommand(ctx: CliContext, opts: { since?: string }): Promise<void> {
  const client = await ctx.client();
  let after = 0;
  for (;;) {
    const params = new URLSearchParams({ limit: "1000", after: String(after) });
    if (opts.since) params.set("since", opts.since);
    const res = await client.get<{ records: AuditView[]; next_after: number | null }>(`/v1/audit?${params}`);
    for (const r of res.records) ctx.io.out(JSON.stringify(r));
    if (res.next_after === null) break;
    after = res.next_after;
  }
}
