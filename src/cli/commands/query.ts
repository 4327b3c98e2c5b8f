/** `jit query`: SQL through the broker in table, JSON, JSONL or CSV; made to be spawned by MCP servers. */
import { readFile } from "node:fs/promises";
import { text } from "node:stream/consumers";
import { JitError } from "../../errors.ts";
import { parseDuration } from "../../policy/duration.ts";
import type { CliContext } from "../context.ts";
import { type ColumnView, type Format, maskLegend, toCsv, toJsonl, toTable } from "../output.ts";
import { joinWrapped } from "../table.ts";
import { processedBytes } from "../human.ts";
import { fit, intFlag, printJson, printLong } from "./util.ts";
import { type RequestView, waitForDecision } from "./wait.ts";

export interface QueryResult {
  columns: ColumnView[];
  rows: Record<string, unknown>[];
  row_count: number;
  truncated: boolean;
  masked_cells: number;
  /** Null when the statement reads a masked column (the figure would depend on masked values). */
  bytes_processed: number | null;
  grant_id: string | null;
  audit_id: string;
}

interface QueryOpts {
  file?: string;
  format?: Format;
  maxRows?: string;
  dryRun?: boolean;
  waitApproval?: boolean;
  reason?: string;
  timeout: string;
}

async function readSql(ctx: CliContext, sql: string | undefined, file: string | undefined): Promise<string> {
  if (sql !== undefined && file !== undefined) throw new JitError("usage", "give the SQL as an argument or with --file, not both");
  if (file !== undefined) {
    try {
      return await readFile(file, "utf8");
    } catch (err) {
      throw new JitError("usage", `cannot read --file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  if (sql !== undefined) return sql;
  if (!ctx.io.isStdinTTY) return text(ctx.io.stdin);
  throw new JitError("usage", "no SQL given", { hint: 'jit query "SELECT ..." (or --file F, or pipe it on stdin)' });
}

/** A query may run for minutes in the warehouse; every other call gets the short answer timeout. */
const QUERY_TIMEOUT_MS = 10 * 60_000;

/** Rows a table shows by default on a terminal: a screenful, less the header, rule, summary and prompt. */
export function screenRows(rows: number | undefined): number {
  return Math.max(10, (rows ?? 26) - 6);
}

/** `--json` is JSON: another --format with it is a contradiction, not a choice to make silently. */
export function checkFormat(json: boolean | undefined, format: Format | undefined, jq?: string): void {
  if (json && format !== undefined && format !== "json") {
    const flag = jq !== undefined ? "--jq" : "--json";
    throw new JitError("usage", `${flag} and --format ${format} contradict each other`, { hint: `use one: --format ${format}, or ${flag}` });
  }
}

const plural = (n: number, word: string) => `${n.toLocaleString("en-US")} ${word}${n === 1 ? "" : "s"}`;

/** A result as a table plus its summary line ("showing 20 of 6,000 rows ... · 70.5 kB processed · audit 9"). */
function tableAndSummary(ctx: CliContext, res: QueryResult, page: number | undefined): { table: string; summary: string } {
  const { io } = ctx;
  const shown = page !== undefined && res.rows.length > page ? res.rows.slice(0, page) : res.rows;
  const table = toTable(res.columns, shown, (s) => io.color.yellow(s), fit(ctx));
  const total = `${plural(res.row_count, "row")}${res.truncated ? " (cut at the row limit)" : ""}`;
  const parts = [shown.length < res.rows.length ? `showing ${shown.length} of ${total} (use --max-rows or --format)` : total];
  if (res.masked_cells) parts.push(plural(res.masked_cells, "masked cell"));
  parts.push(processedBytes(res.bytes_processed), `audit ${res.audit_id}`);
  if (res.grant_id) parts.push(`grant ${res.grant_id}`);
  const legend = maskLegend(res.columns, shown, io.stdoutColumns);
  const summary = joinWrapped(parts, io.stderrColumns ?? io.stdoutColumns);
  return { table, summary: io.colorErr.dim(legend ? `${legend}\n${summary}` : summary) };
}

/** Writes a query result in the chosen format, straight to stdout; the summary goes to stderr. */
export function printResult(ctx: CliContext, res: QueryResult, format: Format, page?: number): void {
  const { io } = ctx;
  if (format === "json") return printJson(ctx, res, { compact: true });
  if (format === "jsonl") return void io.stdout.write(toJsonl(res.rows));
  if (format === "csv") return void io.stdout.write(toCsv(res.columns, res.rows));
  const { table, summary } = tableAndSummary(ctx, res, page);
  io.out(table);
  io.err(summary);
}

/** Like printResult, but a table taller than the terminal goes through the pager (the summary follows it). */
export async function printResultPaged(ctx: CliContext, res: QueryResult, format: Format, page?: number): Promise<void> {
  if (format !== "table") return printResult(ctx, res, format);
  const { table, summary } = tableAndSummary(ctx, res, page);
  await printLong(ctx, table);
  ctx.io.err(summary);
}

/** Runs SQL through the broker; a syntax error points at the spot, a missing table names the ones there are. */
export async function queryCommand(ctx: CliContext, sqlArg: string | undefined, opts: QueryOpts): Promise<void> {
  const sql = await readSql(ctx, sqlArg, opts.file);
  try {
    await runQuery(ctx, sql, opts);
  } catch (err) {
    const { explainQueryError } = await import("../sql-error.ts");
    throw await explainQueryError(err, sql, { excerpt: !ctx.flags.json || ctx.flags.jq !== undefined, tables: () => ctx.client({ timeoutMs: 3000 }) });
  }
}

/** With --wait-approval, files the missing request and waits first. */
async function runQuery(ctx: CliContext, sql: string, opts: QueryOpts): Promise<void> {
  if (!sql.trim()) throw new JitError("usage", "the SQL is empty", { hint: 'jit query "SELECT ..."' });
  const maxRows = intFlag(opts.maxRows, "max-rows");
  const timeoutMs = parseDuration(opts.timeout);
  checkFormat(ctx.flags.json, opts.format, ctx.flags.jq);
  const format: Format = opts.format ?? (ctx.flags.json ? "json" : ctx.io.isStdoutTTY ? "table" : "json");
  const client = await ctx.client({ timeoutMs: QUERY_TIMEOUT_MS });
  const body = { sql, max_rows: maxRows, dry_run: Boolean(opts.dryRun) };
  const send = () => client.post<QueryResult & Record<string, unknown>>("/v1/query", body);

  let res;
  try {
    res = await send();
  } catch (err) {
    const missing = err instanceof JitError ? (err.details.missing_datasets as string[] | undefined) : undefined;
    if (!opts.waitApproval || !missing?.length) throw err;
    const perQuery = (err as JitError).details.approval === "per_query";
    const reason = opts.reason ?? (perQuery ? "jit query --wait-approval" : `jit query --wait-approval: ${sql.replace(/\s+/g, " ").slice(0, 200)}`);
    // A single-statement dataset is approved for this exact SQL; others get a time-boxed grant on the datasets.
    const filed = await client.post<{ request: RequestView; reused?: string }>("/v1/requests", perQuery ? { sql, reason } : { datasets: missing, reason });
    if (filed.request.state === "pending") {
      if (!ctx.flags.json) ctx.io.err(`${filed.reused ? "Reusing pending" : "Filed"} request ${filed.request.id} for ${missing.join(", ")}; an approver can run: jit approve ${filed.request.id}`);
      await waitForDecision(ctx, client, filed.request.id, timeoutMs);
    }
    res = await send();
  }
  if (opts.dryRun) {
    if (ctx.flags.json || format !== "table") return printJson(ctx, res);
    const d = res as unknown as { tables: string[]; masked_columns: string[]; bytes_estimate: number | null; grant_ids: string[] };
    ctx.io.out(`decision:       allowed`);
    ctx.io.out(`tables:         ${d.tables.join(", ") || "none"}`);
    ctx.io.out(`masked columns: ${d.masked_columns.join(", ") || "none"}`);
    ctx.io.out(`estimate:       ${processedBytes(d.bytes_estimate)}`);
    ctx.io.out(`grants:         ${d.grant_ids.join(", ") || "none needed"}`);
    return;
  }
  // On a terminal a table shows a screenful unless --max-rows asked for more; other formats get every row.
  const page = format === "table" && ctx.io.isStdoutTTY && maxRows === undefined ? screenRows(ctx.io.stdoutRows) : undefined;
  await printResultPaged(ctx, res, format, page);
}
