/** Turns jit errors into MCP tool errors whose text tells the agent exactly what a person must do next. */
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { JitError } from "../errors.ts";
import type { BrokerClient } from "../cli/client.ts";

interface PendingRequest {
  id: string;
  state: string;
  datasets: string[];
  approver_groups: string[];
  /** Set on single-statement requests (access per_query). */
  sql?: string;
}

interface DatasetAccess {
  dataset: string;
  access: string;
  approvers: string[];
}

const list = (xs: string[]) => xs.join(", ");
/** Drops a trailing full stop so messages can be joined into sentences. */
const bare = (s: string) => s.replace(/[.\s]+$/, "");
const approversText = (groups: string[]) => (groups.length ? `a member of ${groups.join(" or ")}` : "an approver");

/** A tool error result: `isError` with one text block, as MCP wants for failures the model should read. */
export function toolError(text: string): CallToolResult {
  return { isError: true, content: [{ type: "text", text }] };
}

/** Best effort: the error is already certain; the caller's pending requests and dataset rules only make the instructions precise. */
async function lookups(client: BrokerClient | undefined): Promise<{ pending: PendingRequest[]; access: DatasetAccess[] }> {
  if (!client) return { pending: [], access: [] };
  const [reqs, sets] = await Promise.allSettled([
    client.get<{ requests: PendingRequest[] }>("/v1/requests?mine=1&pending=1"),
    client.get<{ datasets: DatasetAccess[] }>("/v1/datasets"),
  ]);
  return {
    pending: reqs.status === "fulfilled" ? reqs.value.requests.filter((r) => r.state === "pending") : [],
    access: sets.status === "fulfilled" ? sets.value.datasets : [],
  };
}

/** A dataset approved one statement at a time: the exact SQL must be approved, then it runs once. */
async function perStatementText(client: BrokerClient | undefined, message: string, sql: string | undefined): Promise<string> {
  const { pending } = await lookups(client);
  const same = sql === undefined ? undefined : pending.find((r) => r.sql?.trim() === sql.trim());
  if (same) {
    return `Running this statement on ${list(same.datasets)} needs approval of this exact SQL. Request ${same.id} is pending; ` +
      `ask ${approversText(same.approver_groups)} to run: jit approve ${same.id}\n` +
      "Call access_status to see when it is approved, then call query again with exactly the same SQL (the approval runs it once). Do not file it again.";
  }
  return `${message}. Call the request_access tool with \`sql\` set to exactly this statement and a reason; a person must approve it (jit approve ID), ` +
    "then call query again with the same SQL (the approval runs it once). Or ask a person to run: jit query --wait-approval \"<the same SQL>\"";
}

/** What to tell the agent when no grant covers the datasets a query needs: a pending request to wait for, or how to ask. */
async function missingGrantText(client: BrokerClient | undefined, missing: string[]): Promise<string> {
  const { pending, access } = await lookups(client);
  const lines: string[] = [];
  const waiting = new Set<string>();
  for (const r of pending.filter((x) => !x.sql)) {
    const covers = r.datasets.filter((d) => missing.includes(d));
    if (covers.length === 0) continue;
    covers.forEach((d) => waiting.add(d));
    lines.push(
      `Access to ${list(covers)} needs approval. Request ${r.id} is pending; ask ${approversText(r.approver_groups)} to run: jit approve ${r.id}`,
    );
  }
  const unrequested = missing.filter((d) => !waiting.has(d));
  if (unrequested.length > 0) {
    const how = unrequested.map((d) => {
      const a = access.find((x) => x.dataset === d);
      if (a?.access === "auto") return `${d} is granted at once when requested`;
      if (a?.access === "approval_required") return `${d} needs approval by ${approversText(a.approvers)}`;
      return undefined;
    }).filter(Boolean);
    lines.push(
      `No active grant covers ${list(unrequested)}${how.length ? ` (${how.join("; ")})` : ""}. ` +
        `Call the request_access tool with datasets ${JSON.stringify(unrequested)} and a reason, ` +
        `or ask a person to run: jit request ${unrequested.join(" ")} --reason "..."`,
    );
  }
  if (waiting.size > 0) lines.push("Call access_status to see when it is approved, then retry this call. Do not file another request for the same datasets.");
  else lines.push("Then retry this call.");
  return lines.join("\n");
}

/**
 * Maps any failure of a tool call to a tool error; `client` (when there is one) lets it look up pending requests,
 * `sql` (for query) lets it match a pending single-statement request.
 */
export async function explainError(
  err: unknown,
  client: BrokerClient | undefined,
  log: (line: string) => void,
  sql?: string,
): Promise<CallToolResult> {
  if (!(err instanceof JitError)) {
    const e = err instanceof Error ? err : new Error(String(err));
    log(`jit mcp: unexpected error: ${e.stack ?? e.message}`);
    return toolError(`jit failed unexpectedly: ${bare(e.message)}. This is a bug in jit; a person can see details in the MCP server's log.`);
  }
  const hint = err.hint ? ` Hint: ${bare(err.hint)}.` : "";
  const message = bare(err.message);
  switch (err.code) {
    case "unauthenticated":
      return toolError(
        `Not signed in to jit: ${message}. A person must run \`jit login\` in a terminal${err.hint ? ` (${bare(err.hint)})` : ""}; ` +
          "then retry this call. The jit MCP server picks up the new sign-in without a restart.",
      );
    case "denied": {
      const missing = err.details.missing_datasets;
      if (err.details.approval === "per_query") return toolError(await perStatementText(client, message, sql));
      if (Array.isArray(missing) && missing.length > 0) return toolError(await missingGrantText(client, missing as string[]));
      return toolError(`Denied by jit: ${message}.${hint} Do not retry the same call unchanged; change it, or ask a person.`);
    }
    case "pending": {
      const id = typeof err.details.request_id === "string" ? err.details.request_id : undefined;
      return toolError(`Waiting for approval: ${message}.${id ? ` A person must run: jit approve ${id}.` : hint} Call access_status to check, then retry.`);
    }
    case "query_failed":
      return toolError(`The warehouse rejected the query: ${message}.${hint} Fix the SQL and retry.`);
    case "unreachable": {
      const wait = err.details.retry_after_s;
      if (typeof wait === "number") {
        // Overloaded, draining or its store briefly down: the broker said when to come back; no person needs to act yet.
        return toolError(`The jit broker is busy or briefly unavailable: ${message}. Wait ${wait} second${wait === 1 ? "" : "s"}, then retry this exact call; if it keeps failing, tell a person the broker is unavailable.`);
      }
      return toolError(`Cannot reach the jit broker: ${message}.${hint} A person must check that the broker is running; then retry.`);
    }
    case "usage":
      return toolError(`${message}.${hint}`);
    default:
      log(`jit mcp: ${err.code}: ${err.message}`);
      return toolError(`jit failed: ${message}.${hint}`);
  }
}
