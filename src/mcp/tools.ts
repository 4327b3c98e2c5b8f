/** The read tools of `jit mcp`: list_datasets, list_tables, describe_table and query, each a thin adapter over the broker API. */
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { z } from "./sdk.ts";
import type { TableView } from "../api/views.ts";
import { describeTableOutput, listDatasetsOutput, listTablesOutput, queryOutput } from "./output-schemas.ts";
import { guarded, toolResult, type ToolContext } from "./result.ts";

/** A column of GET /v1/tables/:table, as the broker declares it. */
export type TableColumn = TableView["columns"][number];

/** GET /v1/tables/:table, as the broker declares it. */
export type TableSchema = TableView;

const READ = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false } as const;

/** The note that tells a model which columns come back masked and where they may not be used. */
export function maskedColumnsNote(schema: TableSchema): string | undefined {
  const masked = schema.columns.filter((c) => c.masked);
  if (masked.length === 0) return undefined;
  const names = masked.map((c) => `${c.name} (${c.mask})`).join(", ");
  const noInference = masked.filter((c) => c.inference !== "allow").map((c) => c.name);
  const lines = [
    `Masked columns of ${schema.table}: ${names}. The broker returns them masked by policy; do not ask a person for their raw values.`,
  ];
  if (noInference.length > 0) {
    lines.push(
      `${noInference.join(", ")} cannot be used in WHERE, JOIN ON, GROUP BY, ORDER BY, HAVING, window PARTITION/ORDER BY or LIKE/REGEXP tests: ` +
        "the broker denies such queries. Select them only as output columns.",
    );
  }
  return lines.join("\n");
}

/** Registers list_datasets, list_tables, describe_table and query on the server. */
export function registerReadTools(server: McpServer, ctx: ToolContext): void {
  server.registerTool("list_datasets", {
    title: "List datasets",
    description:
      "Lists the BigQuery datasets (project.dataset) you may query or request through jit, acting as the signed-in person. " +
      "For each: `access` is `auto` (request_access grants it at once), `approval_required` (a person in `approvers` must approve a " +
      "time-boxed grant) or `per_query` (a person approves each exact statement: call request_access with `sql`), " +
      "and `grant_id` is set when you already hold a live grant and can call query now.",
    inputSchema: {},
    outputSchema: listDatasetsOutput,
    annotations: { title: "List datasets", ...READ },
  }, () => guarded(ctx, async (client) => {
    const res = await client.get<{ datasets: Array<{ grant_id: string | null }> }>("/v1/datasets");
    const granted = res.datasets.filter((d) => d.grant_id).length;
    return toolResult(res, `${res.datasets.length} dataset(s); you hold a live grant on ${granted}. Without a grant, call request_access before query.`);
  }));

  server.registerTool("list_tables", {
    title: "List tables",
    description: "Lists the tables of one dataset, e.g. dataset \"demo.sales\" → demo.sales.customers, demo.sales.orders. Call describe_table for columns.",
    inputSchema: { dataset: z.string().min(1).describe('the dataset as project.dataset, e.g. "demo.sales"') },
    outputSchema: listTablesOutput,
    annotations: { title: "List tables", ...READ },
  }, ({ dataset }) => guarded(ctx, async (client) =>
    toolResult(await client.get(`/v1/datasets/${encodeURIComponent(dataset)}/tables`))));

  server.registerTool("describe_table", {
    title: "Describe table",
    description:
      "Shows a table's columns and types. Columns with `masked: true` are returned masked (the `mask` style says how, e.g. last4); " +
      "do not ask for their raw values, and do not use them in WHERE, JOIN, GROUP BY or ORDER BY: the broker denies such queries.",
    inputSchema: { table: z.string().min(1).describe('the table as project.dataset.table, e.g. "demo.sales.customers"') },
    outputSchema: describeTableOutput,
    annotations: { title: "Describe table", ...READ },
  }, ({ table }) => guarded(ctx, async (client) => {
    const schema = await client.get<TableSchema>(`/v1/tables/${encodeURIComponent(table)}`);
    return toolResult(schema as unknown as Record<string, unknown>, maskedColumnsNote(schema));
  }));

  server.registerTool("query", {
    title: "Run a SQL query",
    description:
      "Runs one BigQuery Standard SQL SELECT through the jit broker as the signed-in person and returns JSON: " +
      "columns (masked ones marked), rows, row_count, truncated, masked_cells, bytes_processed (null when the query could read a masked column), audit_id. " +
      "Needs a live grant on every dataset the query reads (see access_status / request_access). " +
      "Masked columns come back masked and may not be used in WHERE, JOIN, GROUP BY or ORDER BY. " +
      "Name tables in full (project.dataset.table). Prefer aggregates and LIMIT; rows are capped at max_rows. " +
      "dry_run checks the query and shows tables, masked columns and the bytes estimate without running it. Every call is audited.",
    inputSchema: {
      sql: z.string().min(1).describe("one SELECT statement in BigQuery Standard SQL"),
      max_rows: z.number().int().min(1).max(10_000).default(100).describe("return at most this many rows, 1 to 10000 (default 100; the policy may cap it lower)"),
      dry_run: z.boolean().default(false).describe("check the query and estimate bytes without running it"),
    },
    outputSchema: queryOutput,
    annotations: { title: "Run a SQL query", ...READ, idempotentHint: false },
  }, ({ sql, max_rows, dry_run }) => guarded(ctx, async (client) => {
    const res = await client.post<Record<string, unknown>>("/v1/query", { sql, max_rows, dry_run });
    if (dry_run) return toolResult(res, "Dry run only: nothing was executed. Call query again without dry_run to run it.");
    const notes: string[] = [];
    if (res.truncated === true) notes.push(`Only the first ${res.row_count} rows are shown (truncated): aggregate in SQL or raise max_rows.`);
    const masked = (res.columns as Array<{ name: string; masked?: boolean; mask?: string }>).filter((c) => c.masked);
    if (masked.length > 0) notes.push(`Masked by policy: ${masked.map((c) => `${c.name} (${c.mask})`).join(", ")}; the values shown are all you will get.`);
    return toolResult(res, notes.join("\n") || undefined);
  }, sql));
}
