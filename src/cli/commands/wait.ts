/** Waiting for a request to be decided: a spinner with the time waited on a terminal, plain lines otherwise; Ctrl-C ends it. */
import { JitError } from "../../errors.ts";
import type { BrokerClient } from "../client.ts";
import type { CliContext } from "../context.ts";
import { humanDuration } from "../human.ts";
import { Interrupted, interruption } from "../interrupted.ts";
import { startSpinner } from "../spinner.ts";

export interface RequestView {
  id: string;
  state: "pending" | "approved" | "denied" | "expired" | "cancelled";
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
  statement?: { tables: string[]; masked_columns: Array<{ name: string; mask: string }>; bytes_estimate: number | null } | { error: string };
  grant?: { id: string; expires_at: string; datasets: string[] };
  /** The request's page in the web console (null when the broker has no public_url). */
  console_url?: string | null;
}

/** The request's console page: the broker's link, else the one on the origin this CLI reached (the console shares it). */
export function consoleLinkOf(r: Pick<RequestView, "id" | "console_url">, baseUrl: string): string {
  return r.console_url ?? new URL(`/console/requests/${encodeURIComponent(r.id)}`, `${baseUrl}/`).href;
}

/** The error for a request that is still pending: exit 5, with who must act. */
export function pendingError(r: RequestView): JitError {
  return new JitError("pending", `request ${r.id} is waiting for approval by ${r.approver_groups.join(" or ")}`, {
    hint: `ask an approver to run: jit approve ${r.id}   (then re-run your command, or wait here: jit request wait ${r.id})`,
    details: { request_id: r.id, approver_groups: r.approver_groups },
  });
}

/** The error for a decided-but-not-approved request: exit 4 with the reason. */
export function notApprovedError(r: RequestView): JitError {
  const why = r.state === "denied" ? `denied by ${r.decided_by}: ${r.decision_reason}` : `${r.state}${r.decision_reason ? `: ${r.decision_reason}` : ""}`;
  return new JitError("denied", `request ${r.id} was ${why}`, { details: { request_id: r.id, state: r.state } });
}

/** Polling interval against a broker without long polls: every second for the first half minute, then every 5 s. */
export function pollDelay(elapsedMs: number, firstMs = 1000): number {
  return elapsedMs < 30_000 ? firstMs : Math.max(firstMs, 5000);
}

/** The longest single long poll the CLI asks for: below the idle timeouts of common proxies and load balancers. */
export const LONG_POLL_SECONDS = 25;

/** A broker from before long polls refuses the `wait` parameter (its query strings are strict). */
const noLongPolls = (err: unknown) => err instanceof JitError && err.code === "usage" && /"wait"/.test(err.message);

/**
 * Waits for a request until it is decided, `timeoutMs` passes, or the person presses Ctrl-C; returns the approved request.
 * Each call is a long poll (GET /v1/requests/:id?wait=N): the broker answers when the decision lands, so a wait of
 * minutes is a handful of calls (and audit records), not one a second. Ctrl-C throws Interrupted at once (exit 130),
 * abandoning the call in flight: the request stays pending and `jit request wait ID` resumes.
 */
export async function waitForDecision(ctx: CliContext, client: BrokerClient, id: string, timeoutMs: number, pollMs = 1000): Promise<RequestView> {
  const { io } = ctx;
  const started = Date.now();
  const deadline = started + timeoutMs;
  const text = `waiting for request ${id} to be decided`;
  const quiet = Boolean(ctx.flags.json);
  const spinner = quiet ? null : await startSpinner(io, text);
  if (!spinner && !quiet) io.err(`${text} (up to ${humanDuration(timeoutMs / 1000)}); Ctrl-C stops waiting...`);
  const ticker = spinner ? setInterval(() => spinner.update(`${text} · ${humanDuration((Date.now() - started) / 1000)} (Ctrl-C stops waiting)`), 1000) : undefined;
  const stop = interruption(io.onInterrupt);
  const inFlight = new AbortController();
  const interrupted = stop.promise.then(() => {
    inFlight.abort();
    return "interrupted" as const;
  });
  let longPoll = true;
  try {
    for (;;) {
      // Rounded up: the last call may outlast --timeout by under a second rather than cost another call.
      const wait = longPoll ? Math.min(LONG_POLL_SECONDS, Math.ceil((deadline - Date.now()) / 1000)) : 0;
      const path = `/v1/requests/${encodeURIComponent(id)}${wait > 0 ? `?wait=${wait}` : ""}`;
      const got = await Promise.race([client.get<{ request: RequestView }>(path, { signal: inFlight.signal, timeoutMs: (wait + 10) * 1000 }), interrupted]).catch((err: unknown) => {
        if (stop.fired()) return "interrupted" as const;
        if (wait > 0 && noLongPolls(err)) return "old broker" as const;
        throw err;
      });
      if (got === "interrupted") break;
      if (got === "old broker") {
        longPoll = false;
        continue;
      }
      const { request } = got;
      if (request.state === "approved") {
        spinner?.stop();
        if (!quiet) io.err(`${io.colorErr.green("✔")} request ${id} approved by ${request.decided_by} after ${humanDuration((Date.now() - started) / 1000)}`);
        return request;
      }
      if (request.state !== "pending") {
        spinner?.stop();
        throw notApprovedError(request);
      }
      if (Date.now() >= deadline) {
        throw new JitError("pending", `request ${id} is still pending after ${humanDuration(timeoutMs / 1000)}`, {
          hint: `ask an approver to run: jit approve ${id}   (wait again with: jit request wait ${id})`,
          details: { request_id: id },
        });
      }
      if (wait > 0) continue; // the broker did the waiting
      const delay = Math.min(pollDelay(Date.now() - started, pollMs), Math.max(0, deadline - Date.now()));
      let timer: NodeJS.Timeout | undefined;
      const slept = await Promise.race([new Promise<"slept">((r) => (timer = setTimeout(() => r("slept"), delay))), interrupted]);
      clearTimeout(timer);
      if (slept === "interrupted") break;
    }
    throw new Interrupted(`stopped waiting; request ${id} stays pending. Resume with: jit request wait ${id}`, { request_id: id });
  } finally {
    clearInterval(ticker);
    spinner?.stop();
    stop.dispose();
  }
}
