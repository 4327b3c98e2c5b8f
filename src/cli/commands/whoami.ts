/** `jit whoami`: identity, groups, token expiry, broker URL and active grants. */
import { loadSession } from "../../auth/session.ts";
import type { CliContext } from "../context.ts";
import { printJson, relative } from "./util.ts";

interface Me {
  username: string;
  email: string | null;
  groups: string[];
  admin: boolean;
  auditor: boolean;
  grants: Array<{ id: string; datasets: string[]; expires_at: string }>;
}

/** Prints who the caller is, as the broker verified them. */
export async function whoamiCommand(ctx: CliContext): Promise<void> {
  const client = await ctx.client();
  const me = await client.get<Me>("/v1/whoami");
  const session = await loadSession(await ctx.credentials(), client.baseUrl);
  const expiresAt = session ? new Date(session.expires_at * 1000).toISOString() : null;
  if (ctx.flags.json) {
    printJson(ctx, { broker: client.baseUrl, ...me, token_expires_at: expiresAt });
    return;
  }
  const { io } = ctx;
  io.out(`${io.color.bold(me.username)}${me.email ? ` <${me.email}>` : ""}`);
  io.out(`  groups:  ${me.groups.join(", ") || "none"}${me.admin ? " (admin)" : ""}${me.auditor ? " (auditor)" : ""}`);
  io.out(`  broker:  ${client.baseUrl}`);
  io.out(`  token:   expires ${relative(expiresAt)} (refreshed automatically)`);
  if (me.grants.length === 0) io.out("  grants:  none active");
  for (const g of me.grants) io.out(`  grant ${g.id}: ${g.datasets.join(", ")}, expires ${relative(g.expires_at)}`);
}
