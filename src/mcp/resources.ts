/** Table schemas as MCP resources: bigquery://project/dataset/table, listed from what the signed-in person may see. */
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { ResourceTemplate } from "./sdk.ts";
import type { ReadResourceResult } from "@modelcontextprotocol/sdk/types.js";
import { JitError } from "../errors.ts";
import type { ToolContext } from "./result.ts";
import { maskedColumnsNote, type TableSchema } from "./tools.ts";

/** The resource URI of a table named project.dataset.table. */
export function tableUri(table: string): string {
  const [project, dataset, name] = table.split(".");
  return `bigquery://${project}/${dataset}/${name}`;
}

/** Resource errors are JSON-RPC errors (there is no isError for resources), so the message carries the instruction. */
function resourceError(err: unknown): Error {
  if (err instanceof JitError) return new Error(`${err.message}${err.hint ? ` (${err.hint})` : ""}`);
  return err instanceof Error ? err : new Error(String(err));
}

/** Registers the table-schema resource template with its list callback. */
export function registerTableResources(server: McpServer, ctx: ToolContext): void {
  const template = new ResourceTemplate("bigquery://{project}/{dataset}/{table}", {
    list: async () => {
      try {
        const client = await ctx.client();
        const { datasets } = await client.get<{ datasets: Array<{ dataset: string }> }>("/v1/datasets");
        const perDataset = await Promise.all(datasets.map((d) =>
          client.get<{ tables: Array<{ table: string }> }>(`/v1/datasets/${encodeURIComponent(d.dataset)}/tables`)));
        return {
          resources: perDataset.flatMap((t) => t.tables).map((t) => ({
            uri: tableUri(t.table),
            name: t.table,
            title: `Schema of ${t.table}`,
            mimeType: "application/json",
          })),
        };
      } catch (err) {
        throw resourceError(err);
      }
    },
  });
  server.registerResource("table-schema", template, {
    title: "Table schema",
    description: "A table's columns and types, with masked columns marked (jit describe).",
    mimeType: "application/json",
  }, async (uri, vars): Promise<ReadResourceResult> => {
    const part = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v) ?? "";
    const name = `${part(vars.project)}.${part(vars.dataset)}.${part(vars.table)}`;
    try {
      const client = await ctx.client();
      const schema = await client.get<TableSchema>(`/v1/tables/${encodeURIComponent(name)}`);
      const note = maskedColumnsNote(schema);
      return { contents: [{ uri: uri.href, mimeType: "application/json", text: JSON.stringify(note ? { ...schema, note } : schema) }] };
    } catch (err) {
      throw resourceError(err);
    }
  });
}
