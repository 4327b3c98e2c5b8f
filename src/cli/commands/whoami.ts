/** `jit whoami`: identity, groups, token expiry and where tokens are kept, broker URL, active grants and pending requests. */
import { loadSession } from "../../auth/session.ts";
import type { CliContext } from "../context.ts";
import { printJson, relative } from "./util.ts";
import { consoleLinkOf, type RequestView } from "./wait.ts";

interface Me {
  username: string;
  email: string | null;
  groups: string[];
  admin: boolean;
  auditor: boolean;
  grants: Array<{ id: string; datasets: string[]; expires_at: string }>;
  /** Absent from brokers before it was added. */
  pending_requests?: RequestView[];
}

/** Prints who the caller is, as the broker verified them. */
export async function whoamiCommand(ctx: CliContext): Promise<void> {
  const client = await ctx.client();
  const me = await client.get<Me>("/v1/whoami");
  const creds = await ctx.credentials();
  const session = await loadSession(creds, client.baseUrl);
  const expiresAt = session ? new Date(session.expires_at * 1000).toISOString() : null;
  const pending = me.pending_requests ?? [];
  const tokenStore = { kind: creds.kind, location: creds.location };
  if (ctx.flags.json) {
    printJson(ctx, { broker: client.baseUrl, ...me, pending_requests: pending, token_expires_at: expiresAt, token_store: tokenStore });
    return;
  }
  const { io } = ctx;
  io.out(`${io.color.bold(me.username)}${me.email ? ` <${me.email}>` : ""}`);
  io.out(`  groups:  ${me.groups.join(", ") || "none"}${me.admin ? " (admin)" : ""}${me.auditor ? " (auditor)" : ""}`);
  io.out(`  broker:  ${client.baseUrl}`);
  io.out(`  token:   expires ${relative(expiresAt)} (refreshed automatically)`);
  io.out(`  tokens:  ${creds.kind === "keychain" ? `OS keychain (${creds.location}), service "jit", entry ${client.baseUrl}` : `file ${creds.location} (plaintext, mode 0600; JIT_CREDENTIAL_STORE=file)`}`);
  if (me.grants.length === 0) io.out("  grants:  none active");
  for (const g of me.grants) io.out(`  grant ${g.id}: ${g.datasets.join(", ")}, expires ${relative(g.expires_at)}`);
  if (pending.length === 0) io.out("  pending: no requests waiting for approval");
  for (const r of pending) {
    io.out(`  request ${r.id}: ${r.datasets.join(", ")} pending approval by ${r.approver_groups.join(" or ") || "an approver"}, filed ${relative(r.created_at)}: ${consoleLinkOf(r, client.baseUrl)}`);
  }
  if (pending.length) io.err(`Wait with: jit request wait ${pending[0]!.id}   (or withdraw: jit request cancel ${pending[0]!.id})`);
}
