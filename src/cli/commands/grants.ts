/** `jit grants` and `jit revoke`. */
import type { CliContext } from "../context.ts";
import { toSimpleTable } from "../output.ts";
import { fit, printJson, printLong, relative } from "./util.ts";

interface GrantView {
  id: string;
  state: string;
  holder: string;
  datasets: string[];
  request_id: string;
  expires_at: string;
  seconds_left: number;
  single_statement: boolean;
}

/** Lists the caller's grants with their time left. */
export async function grantsCommand(ctx: CliContext, opts: { all?: boolean }): Promise<void> {
  const client = await ctx.client();
  const { grants } = await client.get<{ grants: GrantView[] }>(`/v1/grants${opts.all ? "?all=1" : ""}`);
  if (ctx.flags.json) return printJson(ctx, { grants });
  if (grants.length === 0) {
    ctx.io.err(`No ${opts.all ? "" : "active "}grants. Ask for one with: jit request DATASET --reason TEXT`);
    return;
  }
  await printLong(ctx, toSimpleTable(
    ["id", "state", "datasets", "expires", "request"],
    grants.map((g) => [g.id, g.state, g.datasets.join(", ") + (g.single_statement ? " (one statement)" : ""), g.state === "active" ? relative(g.expires_at) : "-", g.request_id]),
    { ...fit(ctx), flexible: ["datasets"] },
  ));
}

/** Ends a grant now. */
export async function revokeCommand(ctx: CliContext, id: string, opts: { reason?: string }): Promise<void> {
  const client = await ctx.client();
  const { grant } = await client.post<{ grant: GrantView }>(`/v1/grants/${encodeURIComponent(id)}/revoke`, { reason: opts.reason ?? null });
  if (ctx.flags.json) return printJson(ctx, { grant });
  ctx.io.out(`Grant ${grant.id} (${grant.holder} on ${grant.datasets.join(", ")}) revoked.`);
}
