/** `jit requests`: the caller's requests and those they may approve. */
import type { CliContext } from "../context.ts";
import { toSimpleTable } from "../output.ts";
import { fit, highlightSql, printJson, printLong, relative, seconds } from "./util.ts";
import { processedBytes } from "../human.ts";
import { consoleLinkOf, type RequestView } from "./wait.ts";

/** Fetches requests visible to the caller. */
export async function fetchRequests(ctx: CliContext, q: { pending?: boolean; mine?: boolean }): Promise<RequestView[]> {
  const params = new URLSearchParams();
  if (q.pending) params.set("pending", "1");
  if (q.mine) params.set("mine", "1");
  const client = await ctx.client();
  const { requests } = await client.get<{ requests: RequestView[] }>(`/v1/requests?${params}`);
  return requests;
}

/** Lists requests as a table or JSON. */
export async function requestsCommand(ctx: CliContext, opts: { pending?: boolean; mine?: boolean }): Promise<void> {
  const requests = await fetchRequests(ctx, opts);
  if (ctx.flags.json) return printJson(ctx, { requests });
  if (requests.length === 0) {
    ctx.io.err(opts.pending ? "No pending requests you may see." : "No requests.");
    return;
  }
  // The reason goes last: it is the column that gives way when the terminal is narrow.
  // A pending request this person may decide reads "to approve": one word instead of a mostly empty column.
  const lines = [toSimpleTable(
    ["id", "state", "requester", "datasets", "for", "filed", "expires", "reason"],
    requests.map((r) => [
      r.id, r.can_approve ? "to approve" : r.state, r.requester, r.datasets.join(", "), seconds(r.duration_seconds), relative(r.created_at),
      r.state === "pending" ? relative(r.expires_at) : "-", r.reason,
    ]),
    { ...fit(ctx), flexible: ["reason", "datasets"] },
  )];
  const out = (line: string) => lines.push(line);
  for (const r of requests.filter((x) => x.sql && x.state === "pending")) {
    out(`\nRequest ${r.id}: ${r.requester} asks to run this statement once (${r.reason || "no reason given"}):`);
    out(highlightSql(r.sql!, ctx.io.color));
    const st = r.statement;
    if (st && "error" in st) out(`  ${ctx.io.color.red(`would be refused: ${st.error}`)}`);
    else if (st) {
      out(`  reads: ${st.tables.join(", ")}`);
      out(`  masked in the result: ${st.masked_columns.map((m) => `${m.name} (${m.mask})`).join(", ") || "nothing"}`);
      out(`  estimate: ${processedBytes(st.bytes_estimate)}`);
    }
  }
  // Links to what still needs someone (gh prints URLs the same way): a click from the terminal to the console page.
  const open = requests.filter((r) => r.state === "pending").slice(0, 5);
  if (open.length) {
    const base = (await ctx.client()).baseUrl;
    out("");
    for (const r of open) out(`Request ${r.id}: ${consoleLinkOf(r, base)}`);
  }
  await printLong(ctx, lines.join("\n"));
  if (requests.some((r) => r.can_approve)) ctx.io.err("Decide with: jit approve (a picker), jit approve ID, or jit deny ID --reason TEXT");
}
