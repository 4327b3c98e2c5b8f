/** The access tools of `jit mcp`: request_access files a time-boxed request, access_status shows grants and pending requests. */
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { z } from "./sdk.ts";
import type { RequestView as RequestViewWire } from "../api/views.ts";
import { parseDuration } from "../policy/duration.ts";
import { accessStatusOutput, requestAccessOutput } from "./output-schemas.ts";
import { guarded, toolResult, type ToolContext } from "./result.ts";

type RequestView = Pick<RequestViewWire, "id" | "state" | "datasets" | "duration_seconds" | "approver_groups" | "decided_by" | "decision_reason" | "grant_id" | "sql"> & {
  grant?: { expires_at: string | null };
};

const groupsText = (groups: string[]) => (groups.length ? groups.join(" or ") : "an approver");

/** What the broker said beside the request: it reused a pending twin, or a live grant already covers the ask. */
export interface FiledAs {
  capped_note?: string;
  reused?: string;
  covered_by_grant?: string;
}

/** The instruction for a request in a given state: what happens next and who must act. */
export function requestNote(r: RequestView, cappedNote?: string, filed: FiledAs = {}): string {
  const capped = cappedNote ? ` The duration was ${cappedNote}.` : "";
  if (filed.covered_by_grant) {
    return `Already granted: grant ${filed.covered_by_grant} covers ${r.datasets.join(", ")} until ${r.grant?.expires_at ?? "later"}; nothing new was filed. You can call query now.`;
  }
  if (filed.reused && r.state === "pending") {
    return `Request ${r.id} for ${r.datasets.join(", ")} was already pending (the broker reused it instead of filing a copy). ` +
      `A person in ${groupsText(r.approver_groups)} must run: jit approve ${r.id}. Call access_status to see when it is approved.`;
  }
  if (r.state === "approved") {
    const by = r.decided_by === "policy" ? "auto-approved by policy" : `approved by ${r.decided_by}`;
    return `Granted: grant ${r.grant_id} on ${r.datasets.join(", ")}, ${by}, expires ${r.grant?.expires_at ?? "later"}.${capped} You can call query now.`;
  }
  if (r.state === "pending" && r.sql) {
    return `Request ${r.id} asks to run this exact statement on ${r.datasets.join(", ")} once. A person in ${groupsText(r.approver_groups)} must run: jit approve ${r.id}. ` +
      "Call access_status to see when it is approved, then call query with exactly the same SQL. Do not file it again.";
  }
  if (r.state === "pending") {
    return `Request ${r.id} for ${r.datasets.join(", ")} is pending approval. A person in ${groupsText(r.approver_groups)} must run: jit approve ${r.id}.${capped} ` +
      "Call access_status to see when it is approved, then run the query. Do not file the same request again.";
  }
  return `Request ${r.id} is ${r.state}${r.decision_reason ? `: ${r.decision_reason}` : ""}.`;
}

/** Registers request_access and access_status on the server. */
export function registerAccessTools(server: McpServer, ctx: ToolContext): void {
  server.registerTool("request_access", {
    title: "Request access to datasets",
    description:
      "Files a time-boxed access request for one or more datasets, as the signed-in person. The policy decides: granted at once, " +
      "pending until a person approves it (the answer names the request id and the command the approver runs), or denied. " +
      "For a per_query dataset, pass the exact statement as `sql`: it is approved to run once. " +
      "Give a truthful reason: it is recorded in the audit log and shown to approvers.",
    inputSchema: {
      datasets: z.array(z.string().min(1)).min(1).describe('datasets as project.dataset, e.g. ["demo.sales"]'),
      reason: z.string().min(1).describe("why the access is needed, e.g. the task you were given"),
      duration: z.string().regex(/^(?:\d+d)?(?:\d+h)?(?:\d+m)?(?:\d+s)?$/).optional().describe(
        'how long the grant lasts: whole numbers with units d, h, m, s, largest first, no spaces, e.g. "45s", "30m", "1h30m", "8h", "2d" ' +
          "(default 1h; the policy's max_duration caps it and the answer says so)",
      ),
      sql: z.string().optional().describe(
        "only for datasets whose access is per_query: the exact statement to approve; once approved, query runs it once (duration is ignored)",
      ),
    },
    outputSchema: requestAccessOutput,
    annotations: { title: "Request access", readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  }, ({ datasets, reason, duration, sql }) => guarded(ctx, async (client) => {
    const durationMs = duration === undefined ? undefined : parseDuration(duration);
    // A per_query dataset is approved for one exact statement; the broker reads the datasets from the SQL itself.
    const body = sql !== undefined
      ? { sql, reason }
      : { datasets, reason, duration_seconds: durationMs === undefined ? undefined : durationMs / 1000 };
    // The broker answers a repeated ask with the pending twin or the covering grant (one rule for CLI, API and MCP).
    const res = await client.post<{ request: RequestView } & FiledAs>("/v1/requests", body);
    return toolResult(res as unknown as Record<string, unknown>, requestNote(res.request, res.capped_note, res));
  }));

  server.registerTool("access_status", {
    title: "Access status",
    description:
      "Shows the signed-in person's live grants (datasets, expiry, seconds left) and their requests still pending approval. " +
      "Call it after request_access to see whether a pending request was approved.",
    inputSchema: {},
    outputSchema: accessStatusOutput,
    annotations: { title: "Access status", readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  }, () => guarded(ctx, async (client) => {
    const [grants, requests] = await Promise.all([
      client.get<{ grants: Array<{ datasets: string[]; expires_at: string }> }>("/v1/grants"),
      client.get<{ requests: RequestView[] }>("/v1/requests?mine=1&pending=1"),
    ]);
    const pending = requests.requests.filter((r) => r.state === "pending");
    const lines = grants.grants.map((g) => `Grant on ${g.datasets.join(", ")} until ${g.expires_at}.`);
    for (const r of pending) lines.push(`Request ${r.id} for ${r.datasets.join(", ")} is pending; a person in ${groupsText(r.approver_groups)} must run: jit approve ${r.id}.`);
    if (lines.length === 0) lines.push("No live grants and no pending requests: call request_access before query.");
    return toolResult({ grants: grants.grants, pending_requests: pending }, lines.join("\n"));
  }));
}
