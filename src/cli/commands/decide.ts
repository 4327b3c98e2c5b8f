/** `jit approve` and `jit deny`: approvers decide from their own terminal; with no id, a picker. */
import type { Readable } from "node:stream";
import { JitError } from "../../errors.ts";
import type { CliContext } from "../context.ts";
import { processedBytes } from "../human.ts";
import { Interrupted } from "../interrupted.ts";
import { fetchRequests } from "./requests.ts";
import { highlightSql, printJson, relative, seconds } from "./util.ts";
import type { RequestView } from "./wait.ts";

type Decision = { action: "approve"; comment: string | null } | { action: "deny"; reason: string };

/** An inquirer prompt's way of saying the person left (Ctrl-C, or Esc through our abort signal). */
const leftPrompt = (err: unknown) => ["ExitPromptError", "AbortPromptError", "CancelPromptError"].includes((err as Error)?.name);

/** Esc (a lone ESC byte; arrow keys arrive as ESC [ A in one chunk) aborts the prompt that is showing. */
function escapeAborts(input: Readable): { signal: AbortSignal; dispose: () => void } {
  const ac = new AbortController();
  const onData = (chunk: Buffer | string) => {
    if (chunk.toString() === "\u001b") ac.abort();
  };
  input.on("data", onData);
  return { signal: ac.signal, dispose: () => void input.off("data", onData) };
}

function choiceLine(r: RequestView): string {
  return `#${r.id} ${r.requester} → ${r.datasets.join(", ")} for ${seconds(r.duration_seconds)}, filed ${relative(r.created_at)}: ${r.reason || "no reason given"}`;
}

function preview(ctx: CliContext, r: RequestView): string | undefined {
  if (!r.sql) return undefined;
  const st = r.statement;
  const about = st && "error" in st ? `\nwould be refused: ${st.error}` : st ? `\nreads ${st.tables.join(", ")} · masked: ${st.masked_columns.map((m) => m.name).join(", ") || "nothing"} · ${processedBytes(st.bytes_estimate)}` : "";
  return `Runs once:\n${highlightSql(r.sql, ctx.io.colorErr)}${about}`;
}

/** The picker: which request, then approve (optional comment) or deny (a reason), then a confirmation. */
async function pickAndDecide(ctx: CliContext, comment: string | undefined): Promise<{ id: string; decision: Decision }> {
  if (!ctx.io.canPrompt || ctx.flags.json) {
    throw new JitError("usage", "name the request to approve", { hint: "jit requests --pending lists them; then: jit approve ID" });
  }
  const decidable = (await fetchRequests(ctx, { pending: true })).filter((r) => r.can_approve);
  if (decidable.length === 0) throw new JitError("usage", "there is no pending request you may approve", { hint: "jit requests --pending shows what is waiting" });
  const { select, input, confirm } = await import("@inquirer/prompts");
  const esc = escapeAborts(ctx.io.stdin);
  const context = { input: ctx.io.stdin, output: ctx.io.stderr as NodeJS.WriteStream, signal: esc.signal, clearPromptOnDone: false };
  try {
    const id = await select({
      message: "Which request? (Enter to decide, Esc to leave)",
      choices: decidable.map((r) => ({ name: choiceLine(r), value: r.id, description: preview(ctx, r) })),
    }, context);
    const r = decidable.find((x) => x.id === id)!;
    const action = await select<"approve" | "deny">({
      message: `Request ${r.id} by ${r.requester} on ${r.datasets.join(", ")}:`,
      choices: [
        { name: "Approve", value: "approve", description: `grants ${r.requester} ${r.datasets.join(", ")} for ${seconds(r.duration_seconds)}` },
        { name: "Deny", value: "deny", description: "the reason is shown to the requester" },
      ],
    }, context);
    let decision: Decision;
    if (action === "approve") {
      const text = comment ?? (await input({ message: "Comment (optional, recorded with the approval):" }, context));
      decision = { action, comment: text.trim() || null };
    } else {
      const reason = await input({ message: "Reason (shown to the requester):", validate: (v) => (v.trim() ? true : "a reason is required to deny") }, context);
      decision = { action, reason: reason.trim() };
    }
    const sure = await confirm({ message: `${action === "approve" ? "Approve" : "Deny"} request ${r.id}?`, default: true }, context);
    if (!sure) throw new Interrupted("nothing decided; the request stays pending");
    return { id, decision };
  } catch (err) {
    // Leaving the picker is a choice, not a failure: exit 130 with no "unexpected error".
    if (leftPrompt(err)) throw new Interrupted();
    throw err;
  } finally {
    esc.dispose();
  }
}

function describe(r: RequestView): string {
  if (r.state === "approved") return `Request ${r.id} approved: grant ${r.grant_id} for ${r.requester} on ${r.datasets.join(", ")}.`;
  const have = r.approvals.length;
  return `Approval recorded on request ${r.id} (${have} of ${r.min_approvals}); it stays pending until ${r.min_approvals - have} more approver(s) agree.`;
}

async function approve(ctx: CliContext, id: string, comment: string | null): Promise<void> {
  const client = await ctx.client();
  const { request } = await client.post<{ request: RequestView }>(`/v1/requests/${encodeURIComponent(id)}/approve`, { comment });
  if (ctx.flags.json) return printJson(ctx, { request });
  ctx.io.out(describe(request));
}

async function deny(ctx: CliContext, id: string, reason: string): Promise<void> {
  const client = await ctx.client();
  const { request } = await client.post<{ request: RequestView }>(`/v1/requests/${encodeURIComponent(id)}/deny`, { reason });
  if (ctx.flags.json) return printJson(ctx, { request });
  ctx.io.out(`Request ${request.id} by ${request.requester} denied: ${request.decision_reason}`);
}

/** Approves a request by id, or on a terminal picks one and approves or denies it. */
export async function approveCommand(ctx: CliContext, id: string | undefined, opts: { comment?: string }): Promise<void> {
  if (id !== undefined) return approve(ctx, id, opts.comment ?? null);
  const picked = await pickAndDecide(ctx, opts.comment);
  if (picked.decision.action === "approve") return approve(ctx, picked.id, picked.decision.comment);
  return deny(ctx, picked.id, picked.decision.reason);
}

/** Denies a request with a reason. */
export async function denyCommand(ctx: CliContext, id: string, opts: { reason: string }): Promise<void> {
  return deny(ctx, id, opts.reason);
}
