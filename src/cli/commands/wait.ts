/** Waiting for a request to be decided: a spinner on a terminal, plain lines otherwise. */
import { JitError } from "../../errors.ts";
import type { BrokerClient } from "../client.ts";
import type { CliContext } from "../context.ts";

export interface RequestView {
  id: string;
  state: "pending" | "approved" | "denied" | "expired";
  requester: string;
  datasets: string[];
  reason: string;
  duration_seconds: number;
  approver_groups: string[];
  min_approvals: number;
  approvals: Array<{ approver: string; comment: string | null; at: string }>;
  decided_by: string | null;
  decision_reason: string | null;
  grant_id: string | null;
  expires_at: string;
  created_at: string;
  sql?: string;
  can_approve?: boolean;
  statement?: { tables: string[]; masked_columns: Array<{ name: string; mask: string }>; bytes_estimate: number } | { error: string };
  grant?: { id: string; expires_at: string; datasets: string[] };
}

/** The error for a request that is still pending: exit 5, with who must act. */
export function pendingError(r: RequestView): JitError {
  return new JitError("pending", `request ${r.id} is waiting for approval by ${r.approver_groups.join(" or ")}`, {
    hint: `ask an approver to run: jit approve ${r.id}   (then you can re-run your command; add --wait to wait here)`,
    details: { request_id: r.id, approver_groups: r.approver_groups },
  });
}

/** The error for a decided-but-not-approved request: exit 4 with the reason. */
export function notApprovedError(r: RequestView): JitError {
  const why = r.state === "denied" ? `denied by ${r.decided_by}: ${r.decision_reason}` : `${r.state}${r.decision_reason ? `: ${r.decision_reason}` : ""}`;
  return new JitError("denied", `request ${r.id} was ${why}`, { details: { request_id: r.id, state: r.state } });
}

/** Polls a request until it is decided or `timeoutMs` passes; returns the approved request, throws otherwise. */
export async function waitForDecision(ctx: CliContext, client: BrokerClient, id: string, timeoutMs: number, pollMs = 1000): Promise<RequestView> {
  const { io } = ctx;
  const deadline = Date.now() + timeoutMs;
  const text = `waiting for request ${id} to be decided`;
  const spinner = io.canPrompt && !ctx.flags.json ? (await import("ora")).default({ text, stream: io.stderr as NodeJS.WriteStream }).start() : null;
  if (!spinner && !ctx.flags.json) io.err(`${text} (up to ${Math.round(timeoutMs / 1000)}s)...`);
  try {
    for (;;) {
      const { request } = await client.get<{ request: RequestView }>(`/v1/requests/${encodeURIComponent(id)}`);
      if (request.state === "approved") {
        spinner?.succeed(`request ${id} approved by ${request.decided_by}`);
        return request;
      }
      if (request.state !== "pending") {
        spinner?.fail(`request ${id} ${request.state}`);
        throw notApprovedError(request);
      }
      if (Date.now() >= deadline) {
        spinner?.stop();
        throw new JitError("pending", `request ${id} is still pending after ${Math.round(timeoutMs / 1000)}s`, {
          hint: `ask an approver to run: jit approve ${id}`,
          details: { request_id: id },
        });
      }
      await new Promise((r) => setTimeout(r, Math.min(pollMs, Math.max(0, deadline - Date.now()))));
    }
  } finally {
    spinner?.stop();
  }
}
