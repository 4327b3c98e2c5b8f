/** `jit approve` and `jit deny`: approvers decide from their own terminal. */
import { JitError } from "../../errors.ts";
import type { CliContext } from "../context.ts";
import { fetchRequests } from "./requests.ts";
import { highlightSql, printJson, seconds } from "./util.ts";
import type { RequestView } from "./wait.ts";

async function pickRequest(ctx: CliContext): Promise<string> {
  if (!ctx.io.canPrompt || ctx.flags.json) {
    throw new JitError("usage", "name the request to approve", { hint: "jit requests --pending lists them; then: jit approve ID" });
  }
  const decidable = (await fetchRequests(ctx, { pending: true })).filter((r) => r.can_approve);
  if (decidable.length === 0) throw new JitError("usage", "there is no pending request you may approve");
  const { select } = await import("@inquirer/prompts");
  return select(
    {
      message: "Approve which request?",
      choices: decidable.map((r) => ({
        name: `#${r.id} ${r.requester} → ${r.datasets.join(", ")} for ${seconds(r.duration_seconds)}: ${r.reason}`,
        value: r.id,
        description: r.sql ? `Run once:\n${highlightSql(r.sql, ctx.io.colorErr)}` : undefined,
      })),
    },
    { input: ctx.io.stdin, output: ctx.io.stderr as NodeJS.WriteStream },
  );
}

function describe(r: RequestView): string {
  if (r.state === "approved") return `Request ${r.id} approved: grant ${r.grant_id} for ${r.requester} on ${r.datasets.join(", ")}.`;
  const have = r.approvals.length;
  return `Approval recorded on request ${r.id} (${have} of ${r.min_approvals}); it stays pending until ${r.min_approvals - have} more approver(s) agree.`;
}

/** Approves a request by id, or picks one interactively on a terminal. */
export async function approveCommand(ctx: CliContext, id: string | undefined, opts: { comment?: string }): Promise<void> {
  const target = id ?? (await pickRequest(ctx));
  const client = await ctx.client();
  const { request } = await client.post<{ request: RequestView }>(`/v1/requests/${encodeURIComponent(target)}/approve`, { comment: opts.comment ?? null });
  if (ctx.flags.json) return printJson(ctx, { request });
  ctx.io.out(describe(request));
}

/** Denies a request with a reason. */
export async function denyCommand(ctx: CliContext, id: string, opts: { reason: string }): Promise<void> {
  const client = await ctx.client();
  const { request } = await client.post<{ request: RequestView }>(`/v1/requests/${encodeURIComponent(id)}/deny`, { reason: opts.reason });
  if (ctx.flags.json) return printJson(ctx, { request });
  ctx.io.out(`Request ${request.id} by ${request.requester} denied: ${request.decision_reason}`);
}
