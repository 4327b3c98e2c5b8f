/** `jit request`: ask for a time-boxed grant; auto-approved, pending approval, or denied as the policy says. */
import { parseDuration } from "../../policy/duration.ts";
import type { CliContext } from "../context.ts";
import { jitName, printJson, relative, seconds } from "./util.ts";
import { consoleLinkOf, pendingError, type RequestView, waitForDecision } from "./wait.ts";

/** Files a request and, with --wait, waits for its decision. */
export async function requestCommand(
  ctx: CliContext,
  datasets: string[],
  opts: { reason?: string; duration?: string; wait?: boolean; timeout: string },
): Promise<void> {
  const durationMs = opts.duration === undefined ? undefined : parseDuration(opts.duration);
  const timeoutMs = parseDuration(opts.timeout);
  const client = await ctx.client();
  const res = await client.post<{ request: RequestView; capped_note?: string; reused?: string; covered_by_grant?: string }>("/v1/requests", {
    datasets,
    reason: opts.reason ?? "",
    duration_seconds: durationMs === undefined ? undefined : durationMs / 1000,
  });
  let r = res.request;
  const { io } = ctx;
  // With --json the note travels in the JSON output; stderr is kept for the error object alone.
  if (res.capped_note && !ctx.flags.json) io.err(io.colorErr.yellow(`note: the duration was ${res.capped_note}`));
  if (res.reused && !ctx.flags.json) {
    io.err(`Reusing pending request ${r.id} (filed ${relative(r.created_at)}${r.reason ? ` with reason: ${r.reason}` : ""}); nothing new was filed.`);
  }
  if (r.state === "pending" && opts.wait) r = await waitForDecision(ctx, client, r.id, timeoutMs);
  if (ctx.flags.json) {
    printJson(ctx, {
      request: r,
      ...(res.capped_note ? { note: `the duration was ${res.capped_note}` } : {}),
      ...(res.reused ? { reused: res.reused } : {}),
      ...(res.covered_by_grant ? { covered_by_grant: res.covered_by_grant } : {}),
    });
  }
  if (r.state === "pending") {
    if (!ctx.flags.json) {
      io.out(`Request ${r.id} for ${r.datasets.join(", ")} (${seconds(r.duration_seconds)}) is pending approval.`);
      io.out(`  Console: ${consoleLinkOf(r, client.baseUrl)}   (withdraw it with: ${jitName(io.env)} request cancel ${r.id})`);
    }
    throw pendingError(r);
  }
  if (!ctx.flags.json && res.covered_by_grant) {
    io.out(`${io.color.green("✔")} Already covered: grant ${res.covered_by_grant} on ${r.grant?.datasets.join(", ") ?? r.datasets.join(", ")} expires ${relative(r.grant?.expires_at)}; no new grant was made.`);
    io.out(`  Next: ${jitName(io.env)} query "SELECT ... FROM ${datasetsOf(r)[0]}.<table>"`);
  } else if (!ctx.flags.json) {
    const expires = r.grant?.expires_at;
    io.out(`${io.color.green("✔")} Grant ${r.grant_id} on ${r.datasets.join(", ")}: ${r.decided_by === "policy" ? "auto-approved by policy" : `approved by ${r.decided_by}`}, expires ${relative(expires)}.`);
    io.out(`  Next: ${jitName(io.env)} query "SELECT ... FROM ${r.datasets[0]}.<table>"   (${jitName(io.env)} tables ${r.datasets[0]} lists them)`);
  }
}

const datasetsOf = (r: RequestView) => r.grant?.datasets ?? r.datasets;
