/** `jit request show|wait|cancel ID`, over the broker's GET /v1/requests/:id and POST /v1/requests/:id/cancel. */
import { parseDuration } from "../../policy/duration.ts";
import type { CliContext } from "../context.ts";
import { localTime } from "../human.ts";
import { highlightSql, jitName, printJson, relative, seconds } from "./util.ts";
import { consoleLinkOf, notApprovedError, type RequestView, waitForDecision } from "./wait.ts";

async function fetchRequest(ctx: CliContext, id: string): Promise<RequestView> {
  const client = await ctx.client();
  const { request } = await client.get<{ request: RequestView }>(`/v1/requests/${encodeURIComponent(id)}`);
  return request;
}

/** Prints one request in full. */
export async function requestShowCommand(ctx: CliContext, id: string): Promise<void> {
  const r = await fetchRequest(ctx, id);
  if (ctx.flags.json) return printJson(ctx, { request: r });
  const { io } = ctx;
  const c = io.color;
  const state = r.state === "approved" ? c.green(r.state) : r.state === "pending" ? c.yellow(r.state) : c.red(r.state);
  io.out(`${c.bold(`Request ${r.id}`)}  ${state}`);
  io.out(`  requester:  ${r.requester}`);
  io.out(`  datasets:   ${r.datasets.join(", ")} for ${seconds(r.duration_seconds)}`);
  io.out(`  reason:     ${r.reason || "-"}`);
  io.out(`  filed:      ${localTime(r.created_at)} (${relative(r.created_at)})`);
  if (r.state === "pending") {
    io.out(`  approvers:  ${r.approver_groups.join(" or ")} (${r.approvals.length} of ${r.min_approvals} approvals)`);
    io.out(`  expires:    ${relative(r.expires_at)} unless decided`);
  }
  for (const a of r.approvals) io.out(`  approved by ${a.approver} ${relative(a.at)}${a.comment ? `: ${a.comment}` : ""}`);
  if (r.decided_by && r.state !== "pending") io.out(`  decided by: ${r.decided_by}${r.decision_reason ? ` (${r.decision_reason})` : ""}`);
  if (r.grant_id) io.out(`  grant:      ${r.grant_id}${r.grant ? `, expires ${relative(r.grant.expires_at)}` : ""}`);
  if (r.sql) io.out(`  statement (runs once):\n${highlightSql(r.sql, c)}`);
  io.out(`  console:    ${consoleLinkOf(r, (await ctx.client()).baseUrl)}`);
  if (r.state === "pending") {
    io.err(r.can_approve ? `Approve with: jit approve ${r.id}   (or: jit deny ${r.id} --reason TEXT)` : `Wait for the decision with: jit request wait ${r.id}`);
  }
}

/** Waits for a request's decision: exit 0 when approved, 4 when denied or expired, 5 on timeout, 130 on Ctrl-C. */
export async function requestWaitCommand(ctx: CliContext, id: string, opts: { timeout?: string }): Promise<void> {
  // `--timeout` is declared on `jit request` too; commander hands it to whichever command it reached first.
  const timeoutMs = parseDuration(opts.timeout ?? (ctx.flags as { timeout?: string }).timeout ?? "15m");
  const client = await ctx.client();
  const first = await fetchRequest(ctx, id);
  if (first.state !== "pending" && first.state !== "approved") throw notApprovedError(first);
  const r = first.state === "approved" ? first : await waitForDecision(ctx, client, id, timeoutMs);
  if (ctx.flags.json) return printJson(ctx, { request: r });
  const next = r.sql ? `run the same statement again with ${jitName(ctx.io.env)} query` : `${jitName(ctx.io.env)} query "SELECT ... FROM ${r.datasets[0]}.<table>"`;
  ctx.io.out(`Grant ${r.grant_id} on ${r.datasets.join(", ")}${r.grant ? `, expires ${relative(r.grant.expires_at)}` : ""}. Next: ${next}`);
}

/** Withdraws the caller's own pending request: exit 0; 4 when it is decided already or not theirs. */
export async function requestCancelCommand(ctx: CliContext, id: string): Promise<void> {
  const client = await ctx.client();
  const { request } = await client.post<{ request: RequestView }>(`/v1/requests/${encodeURIComponent(id)}/cancel`, {});
  if (ctx.flags.json) return printJson(ctx, { request });
  ctx.io.out(`Request ${request.id} for ${request.datasets.join(", ")} is withdrawn; nobody can approve it now.`);
}
