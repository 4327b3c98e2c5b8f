/** `jit audit list|show|replay|verify|export`: the audit log, for auditors and admins (and everyone for their own records). */
import { JitError } from "../../errors.ts";
import type { CliContext } from "../context.ts";
import { type Format, toSimpleTable } from "../output.ts";
import { checkFormat, printResultPaged, type QueryResult } from "./query.ts";
import { tryParseDuration } from "../../policy/duration.ts";
import { localTime } from "../human.ts";
import { fit, intFlag, jitName, printJson, printLong, relative } from "./util.ts";

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
  const count = (n: unknown, one: string) => `${n} ${one}${n === 1 ? "" : "s"}`;
  if (typeof d.row_count === "number") parts.push(`${count(d.row_count, "row")}, ${count(d.masked_cells, "masked cell")}`);
  if (typeof d.what === "string" && parts.length === 0) parts.push([d.what, d.table ?? d.dataset ?? d.id].filter(Boolean).join(" "));
  const err = d.error as { message?: string } | undefined;
  if (err?.message) parts.push(`→ ${err.message}`);
  if (typeof d.why === "string") parts.push(`→ ${d.why}`);
  // The table cuts it to the terminal; the demo and pipes get the line whole up to 110 characters.
  const line = parts.join(" · ");
  return line.length > 110 ? `${line.slice(0, 109)}…` : line;
}

/** A --since/--until value for the broker: "10m", "2h", "7d" mean that long before `now`; anything else passes as a time. */
export function timeFlag(raw: string | undefined, now: number = Date.now()): string | undefined {
  if (raw === undefined) return undefined;
  const ago = tryParseDuration(raw);
  return ago === undefined ? raw : new Date(now - ago).toISOString();
}

/** A page of the list as `--json` prints it: records newest first and the cursor for the next page. */
type ListPage = { records: AuditView[]; next_before: number | null } | { records: AuditView[]; next_after: number | null };

/** A flag value as typed in a shell: bare when it is safe, else single-quoted. */
const shellArg = (v: string) => (/^[\w@%+=:,./-]+$/.test(v) ? v : `'${v.replaceAll("'", "'\\''")}'`);

/**
 * Lists audit records with filters, newest first, in local time with zone and age. One page per call: the newest
 * `--limit` records below `--before` (and above `--after`), or with `--after` alone the ones right after it; a footer
 * on stderr names the command for the next page.
 */
export async function auditListCommand(ctx: CliContext, opts: Record<string, string | boolean | undefined>): Promise<void> {
  const limit = intFlag(opts.limit as string | undefined, "limit") ?? 50;
  const before = intFlag(opts.before as string | undefined, "before");
  const after = intFlag(opts.after as string | undefined, "after");
  // The filters as the broker gets them, kept to repeat in the next page's command (durations resolved, so it is the same window).
  const filters: [string, string | undefined][] = [];
  if (opts.mine) filters.push(["mine", undefined]);
  for (const k of ["user", "action", "outcome", "dataset"] as const) if (typeof opts[k] === "string") filters.push([k, opts[k] as string]);
  for (const k of ["since", "until"] as const) if (typeof opts[k] === "string") filters.push([k, timeFlag(opts[k] as string)!]);
  // --after alone asks for what came next (newer): the records right after it, oldest first from the broker.
  const forward = after !== undefined && before === undefined;
  const params = new URLSearchParams({ order: forward ? "asc" : "desc", limit: String(limit) });
  for (const [k, v] of filters) params.set(k, v ?? "1");
  if (after !== undefined) params.set("after", String(after));
  if (before !== undefined) params.set("before", String(before));
  const client = await ctx.client();
  const res = await client.get<{ records: AuditView[]; next_after?: number | null; next_before?: number | null }>(`/v1/audit?${params}`);
  const records = forward ? res.records.reverse() : res.records;
  const page: ListPage = forward ? { records, next_after: res.next_after ?? null } : { records, next_before: res.next_before ?? null };
  if (ctx.flags.json) return printJson(ctx, page);
  const next = "next_before" in page ? page.next_before : page.next_after;
  if (records.length > 0) {
    const now = Date.now();
    const rows = records.map((r) => [r.id, localTime(r.at), relative(r.at, now), r.actor, r.action, r.outcome, summarise(r)]);
    await printLong(ctx, toSimpleTable(["id", "time", "age", "actor", "action", "outcome", "what"], rows, { ...fit(ctx), flexible: ["what"] }));
  } else {
    ctx.io.err(next === null ? "No audit records match." : "No audit records match on this page.");
  }
  if (next === null) return;
  // A page the filters left short (or empty) is not the end: only the broker's cursor says so.
  const args = filters.map(([k, v]) => (v === undefined ? `--${k}` : `--${k} ${shellArg(v)}`));
  if (limit !== 50) args.push(`--limit ${limit}`);
  const cursor = forward ? `--after ${next}` : `--before ${next}${after !== undefined ? ` --after ${after}` : ""}`;
  ctx.io.err(`${forward ? "newer" : "older"} records: ${jitName(ctx.io.env)} audit list ${[cursor, ...args].join(" ")}`);
}

/** Shows one record in full. */
export async function auditShowCommand(ctx: CliContext, id: string): Promise<void> {
  const client = await ctx.client();
  const { record } = await client.get<{ record: AuditView }>(`/v1/audit/${encodeURIComponent(id)}`);
  printJson(ctx, record);
}

/** Prints what the caller of a query received, from the result kept with its record (found by the broker). */
export async function auditReplayCommand(ctx: CliContext, id: string, opts: { format?: Format }): Promise<void> {
  checkFormat(ctx.flags.json, opts.format, ctx.flags.jq);
  const client = await ctx.client();
  const { result: done } = await client.get<{ query: AuditView; result: AuditView }>(`/v1/audit/${encodeURIComponent(id)}/replay`);
  const d = done?.details as { result?: { columns: QueryResult["columns"]; rows: QueryResult["rows"]; truncated: boolean }; row_count: number; masked_cells: number; bytes_processed: number; bytes_withheld?: boolean; query_audit_id: string } | undefined;
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
    // What the caller received: no figure when the broker withheld it (the statement read a masked column).
    bytes_processed: d.bytes_withheld ? null : d.bytes_processed,
    grant_id: null,
    audit_id: d.query_audit_id,
  };
  await printResultPaged(ctx, result, opts.format ?? (ctx.flags.json ? "json" : ctx.io.isStdoutTTY ? "table" : "json"));
}

interface VerifyResponse {
  ok: boolean;
  checked: number;
  broken?: { chain?: number; seq: number; message: string };
  head?: { seq: number; hash: string } | null;
  heads?: { chain: number; seq: number; hash: string }[];
  crossLinks?: number;
}

/**
 * Verifies every audit chain and the cross-links between them; a break exits 4 naming the first broken record.
 * `--anchor` (repeatable, or comma-separated): a head per chain printed by an earlier verify, CHAIN:SEQ:HASH (SEQ:HASH
 * for chain 1), which must still be there unchanged.
 */
export async function auditVerifyCommand(ctx: CliContext, opts: { anchor?: string | string[] }): Promise<void> {
  const anchors = (typeof opts.anchor === "string" ? [opts.anchor] : opts.anchor ?? []).flatMap((a) => a.split(/[\s,]+/)).filter(Boolean);
  const client = await ctx.client();
  const query = anchors.length ? `?anchor=${encodeURIComponent(anchors.join(","))}` : "";
  const res = await client.get<VerifyResponse>(`/v1/audit/verify${query}`);
  if (!res.ok) {
    if (ctx.flags.json) printJson(ctx, res);
    throw new JitError("denied", `audit chain broken: ${res.broken!.message}`, { details: { broken: res.broken } });
  }
  if (ctx.flags.json) return printJson(ctx, res);
  const heads = res.heads ?? (res.head ? [{ chain: 1, ...res.head }] : []);
  const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? "" : "s"}`;
  const chains = heads.length > 1 ? ` in ${heads.length} chains` : "";
  const links = res.crossLinks ? `, ${plural(res.crossLinks, "cross-link")} checked` : "";
  const anchored = anchors.length ? `, ${anchors.length === 1 ? "anchor" : "anchors"} found unchanged` : "";
  ctx.io.out(`Audit ${heads.length > 1 ? "chains" : "chain"} intact: ${plural(res.checked, "record")}${chains} verified${links}${anchored}.`);
  if (heads.length === 0) return;
  const flags = heads.map((h) => `--anchor ${h.chain}:${h.seq}:${h.hash}`).join(" ");
  if (heads.length === 1) return ctx.io.out(`Head: ${heads[0]!.chain}:${heads[0]!.seq}:${heads[0]!.hash}   (keep it; later: jit audit verify ${flags})`);
  ctx.io.out("Heads (keep them outside the broker; later: jit audit verify --anchor HEAD, once per chain):");
  for (const h of heads) ctx.io.out(`  ${h.chain}:${h.seq}:${h.hash}`);
}

/** Exports records as JSON Lines, paging through the whole log. */
export async function auditExportCommand(ctx: CliContext, opts: { since?: string }): Promise<void> {
  const client = await ctx.client();
  let after = 0;
  for (;;) {
    const params = new URLSearchParams({ limit: "1000", after: String(after) });
    if (opts.since) params.set("since", timeFlag(opts.since)!);
    const res = await client.get<{ records: AuditView[]; next_after: number | null }>(`/v1/audit?${params}`);
    for (const r of res.records) ctx.io.out(JSON.stringify(r));
    if (res.next_after === null) break;
    after = res.next_after;
  }
}
