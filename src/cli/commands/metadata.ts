/** `jit datasets`, `jit tables`, `jit describe`: what this person may see, masked columns marked. */
import type { CliContext } from "../context.ts";
import { toSimpleTable } from "../output.ts";
import { fit, printJson, printLong, relative, seconds } from "./util.ts";

/** Lists datasets the caller may use or request. */
export async function datasetsCommand(ctx: CliContext): Promise<void> {
  const client = await ctx.client();
  const res = await client.get<{ datasets: Array<{ dataset: string; access: string; approvers: string[]; max_duration_seconds: number | null; grant_id: string | null; grant_expires_at: string | null }> }>("/v1/datasets");
  if (ctx.flags.json) return printJson(ctx, res);
  if (res.datasets.length === 0) return ctx.io.err("No datasets you may use or request; an admin grants access in the policy.");
  const how = (a: string, approvers: string[]) => (a === "auto" ? "auto-approved" : a === "per_query" ? `each statement approved by ${approvers.join(" or ")}` : `approval by ${approvers.join(" or ")}`);
  await printLong(ctx, toSimpleTable(
    ["dataset", "access", "max duration", "grant"],
    res.datasets.map((d) => [d.dataset, how(d.access, d.approvers), d.max_duration_seconds ? seconds(d.max_duration_seconds) : "-", d.grant_id ? `${d.grant_id} (expires ${relative(d.grant_expires_at)})` : "none"]),
    { ...fit(ctx), flexible: ["access"] },
  ));
}

/** Lists a dataset's tables. */
export async function tablesCommand(ctx: CliContext, dataset: string): Promise<void> {
  const client = await ctx.client();
  const res = await client.get<{ dataset: string; tables: Array<{ table: string; name: string }> }>(`/v1/datasets/${encodeURIComponent(dataset)}/tables`);
  if (ctx.flags.json) return printJson(ctx, res);
  for (const t of res.tables) ctx.io.out(t.table);
}

/** Shows a table's columns with masked ones marked. */
export async function describeCommand(ctx: CliContext, table: string): Promise<void> {
  const client = await ctx.client();
  const res = await client.get<{ table: string; columns: Array<{ name: string; type: string; masked: boolean; mask?: string; inference?: string }> }>(`/v1/tables/${encodeURIComponent(table)}`);
  if (ctx.flags.json) return printJson(ctx, res);
  ctx.io.out(res.table);
  await printLong(ctx, toSimpleTable(
    ["column", "type", "masked"],
    res.columns.map((c) => [c.name, c.type, c.masked ? `${c.mask}${c.inference === "deny" ? " (not usable in WHERE/JOIN/ORDER BY)" : ""}` : ""]),
    { ...fit(ctx), flexible: ["masked"] },
  ));
}
