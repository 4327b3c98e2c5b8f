/** The message a Slack incoming webhook renders for a lifecycle event: `text` for notifications, `blocks` for the channel. */
import { formatDuration } from "../policy/duration.ts";
import type { NotifyKind } from "./config.ts";

export interface NotifyEvent {
  kind: NotifyKind;
  request: {
    id: string;
    requester: string;
    datasets: string[];
    reason: string;
    duration_seconds: number;
    approver_groups: string[];
    decided_by?: string | null;
    decision_reason?: string | null;
    sql?: string;
  };
  grantId?: string | null;
  /** Who caused the event (the approver, the revoker); defaults to request.decided_by. */
  actor?: string;
  brokerUrl?: string;
}

// Slack caps a section's text at 3000 characters and a header at 150.
const SECTION_MAX = 2900;
const HEADER_MAX = 150;

/**
 * Escapes Slack's control characters. Reasons and SQL are typed by requesters: unescaped, `<!channel>`
 * would page a whole channel and `<https://evil|jit approve 12>` would dress a link up as a command.
 */
export function slackEscape(s: string): string {
  return s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

const clip = (s: string, max: number) => (s.length > max ? `${s.slice(0, max - 1)}…` : s);
// Backticks would close the code span early; a lookalike keeps the text readable.
const code = (s: string) => `\`${slackEscape(s).replaceAll("`", "ˋ")}\``;
const quote = (s: string) => slackEscape(s).split("\n").map((l) => `>${l}`).join("\n");

function headline(e: NotifyEvent): string {
  const r = e.request;
  const who = e.actor ?? r.decided_by ?? "someone";
  const what = `${r.requester} on ${r.datasets.join(", ")}`;
  switch (e.kind) {
    case "pending": return `Access request #${r.id} needs approval: ${what}`;
    case "approved": return `Access request #${r.id} approved by ${who}: ${what}`;
    case "denied": return `Access request #${r.id} denied by ${who}: ${what}`;
    case "expired": return `Access request #${r.id} expired undecided: ${what}`;
    case "cancelled": return `Access request #${r.id} withdrawn by ${r.requester}: ${what}`;
    case "revoked": return `Grant${e.grantId ? ` #${e.grantId}` : ""} revoked by ${who}: ${what}`;
  }
}

/** The request's page in the broker's web console: one click from the notification to the decision (after sign-in). */
export function consoleLink(brokerUrl: string, id: string): string {
  return new URL(`/console/requests/${encodeURIComponent(id)}`, brokerUrl).href;
}

function commands(id: string): string {
  return `Approve: ${code(`jit approve ${id} --comment "..."`)}\nDeny: ${code(`jit deny ${id} --reason "..."`)}`;
}

/** Builds the Slack message for one event; every user-supplied string is escaped and clipped to Slack's limits. */
export function slackPayload(e: NotifyEvent): { text: string; blocks: unknown[] } {
  const r = e.request;
  const duration = formatDuration(r.duration_seconds * 1000);
  const datasets = r.datasets.map(code).join(", ");
  const title = headline(e);

  let text = `${slackEscape(title)} for ${duration}. Reason: ${slackEscape(clip(r.reason || "(none)", 500))}`;
  if (e.kind === "pending") text += ` To approve: jit approve ${r.id}`;
  if (e.kind === "denied" && r.decision_reason) text += `. Denied because: ${slackEscape(clip(r.decision_reason, 500))}`;

  const fields = [
    { type: "mrkdwn", text: `*Requester*\n${slackEscape(r.requester)}` },
    { type: "mrkdwn", text: `*Datasets*\n${clip(datasets, 1900)}` },
    { type: "mrkdwn", text: `*Duration*\n${duration}` },
  ];
  if (e.kind === "pending" && r.approver_groups.length) fields.push({ type: "mrkdwn", text: `*Approvers*\n${slackEscape(r.approver_groups.join(", "))}` });
  const who = e.actor ?? r.decided_by;
  if (e.kind !== "pending" && who) fields.push({ type: "mrkdwn", text: `*${e.kind === "revoked" ? "Revoked by" : "Decided by"}*\n${slackEscape(who)}` });
  if (e.grantId) fields.push({ type: "mrkdwn", text: `*Grant*\n#${slackEscape(e.grantId)}` });

  const blocks: unknown[] = [
    { type: "header", text: { type: "plain_text", text: clip(title, HEADER_MAX), emoji: false } },
    { type: "section", fields },
    { type: "section", text: { type: "mrkdwn", text: clip(`*Reason*\n${quote(r.reason || "(none given)")}`, SECTION_MAX) } },
  ];
  if (r.sql) blocks.push({ type: "section", text: { type: "mrkdwn", text: `*SQL (this one statement only)*\n\`\`\`${clip(slackEscape(r.sql).replaceAll("```", "ˋˋˋ"), SECTION_MAX - 60)}\`\`\`` } });
  if (e.kind === "denied" && r.decision_reason) {
    blocks.push({ type: "section", text: { type: "mrkdwn", text: clip(`*Why denied*\n${quote(r.decision_reason)}`, SECTION_MAX) } });
  }
  if (e.kind === "pending") blocks.push({ type: "section", text: { type: "mrkdwn", text: commands(r.id) } });
  if (e.brokerUrl) {
    const link = consoleLink(e.brokerUrl, r.id);
    blocks.push({ type: "actions", elements: [{ type: "button", text: { type: "plain_text", text: e.kind === "pending" ? "Open to decide" : "Open in the console" }, url: link }] });
  }
  if (e.brokerUrl) blocks.push({ type: "context", elements: [{ type: "mrkdwn", text: `jit broker ${slackEscape(e.brokerUrl)}` }] });
  // The link goes last and whole: a clipped URL would lead nowhere.
  const link = e.brokerUrl ? consoleLink(e.brokerUrl, r.id) : null;
  return { text: link ? `${clip(text, SECTION_MAX - link.length - 7)} Open: ${link}` : clip(text, SECTION_MAX), blocks };
}
