/** Inbox, a request's page (the deep link), and "my requests and grants". */
import type { BrokerDeps } from "../../broker/context.ts";
import { formatDuration } from "../../policy/duration.ts";
import type { AccessRequest, Grant } from "../../store/types.ts";
import { decisionRefusal, formatBytes, type StatementPreview } from "../data.ts";
import { html, type Html } from "../html.ts";
import { command, relative, shellQuote, type Viewer } from "../layout.ts";
import { highlightSql } from "../sql-highlight.ts";

const stateClass = (s: string) => (s === "approved" || s === "active" ? "ok" : s === "denied" || s === "revoked" ? "bad" : s === "pending" ? "warn" : "muted");
const badge = (s: string) => html`<span class="badge ${stateClass(s)}">${s}</span>`;

/** The statement an approver consents to: in full, highlighted, with what it reads and what comes back masked. */
function statementBlock(sql: string, preview: StatementPreview | undefined): Html {
  const p = preview;
  return html`<h3>The one statement this approval allows</h3>${highlightSql(sql)}
${p?.error ? html`<p class="why">The broker cannot analyse this statement now: ${p.error}</p>` : p ? html`<dl class="facts">
<dt>Tables read</dt><dd>${(p.tables ?? []).map((t, i) => html`${i ? ", " : ""}<code>${t}</code>`)}</dd>
<dt>Masked columns</dt><dd>${p.masked_columns?.length ? p.masked_columns.map((c, i) => html`${i ? ", " : ""}<code>${c.name}</code> (${c.mask ?? "masked"})`) : "none"}</dd>
<dt>Bytes estimate</dt><dd>${formatBytes(p.bytes_estimate)} (dry run)</dd></dl>` : ""}`;
}

function decideForms(q: AccessRequest, v: Viewer): Html {
  return html`<div class="grid2">
<form class="decide" method="post" action="/console/requests/${q.id}/approve">
<input type="hidden" name="csrf" value="${v.csrf}">
<label for="comment-${q.id}">Comment (optional)</label><textarea id="comment-${q.id}" name="comment" maxlength="1000"></textarea>
<div class="actions"><button class="primary" type="submit">Approve request ${q.id}</button></div></form>
<form class="decide" method="post" action="/console/requests/${q.id}/deny">
<input type="hidden" name="csrf" value="${v.csrf}">
<label for="reason-${q.id}">Reason for denying (required)</label><textarea id="reason-${q.id}" name="reason" required maxlength="1000"></textarea>
<div class="actions"><button class="danger" type="submit">Deny request ${q.id}</button></div></form></div>`;
}

/** The requester's button to withdraw a pending request (POST with the session's CSRF token, like a decision). */
function cancelForm(q: AccessRequest, v: Viewer): Html {
  return html`<form method="post" action="/console/requests/${q.id}/cancel"><input type="hidden" name="csrf" value="${v.csrf}"><button class="plain" type="submit">Cancel request ${q.id}</button></form>`;
}

/** One request as an approver sees it. */
export function requestCard(deps: BrokerDeps, q: AccessRequest, v: Viewer, preview: StatementPreview | undefined, opts: { heading?: "h1" | "h2" } = {}): Html {
  const now = deps.now();
  const refusal = decisionRefusal(deps.policy(), v.principal, q);
  const title = html`<a href="/console/requests/${q.id}">Request ${q.id}</a> ${badge(q.state)}`;
  const asked = formatDuration(q.requestedDurationMs);
  const allowed = formatDuration(q.durationMs);
  return html`<article class="card" aria-labelledby="req-${q.id}">
${opts.heading === "h1" ? html`<h1 id="req-${q.id}">Request ${q.id} ${badge(q.state)}</h1>` : html`<h2 id="req-${q.id}">${title}</h2>`}
<dl class="facts">
<dt>Requester</dt><dd>${q.requester}</dd>
<dt>Datasets</dt><dd>${q.datasets.map((d, i) => html`${i ? ", " : ""}<code>${d}</code>`)}</dd>
<dt>Reason</dt><dd class="reason">${q.reason || html`<span class="muted">(none given)</span>`}</dd>
<dt>Duration</dt><dd>${q.sql ? html`one statement, usable for ${allowed}` : asked === allowed ? allowed : html`asked ${asked}, allowed ${allowed}`}</dd>
<dt>Filed</dt><dd>${relative(q.createdAt, now)}</dd>
${q.state === "pending" ? html`<dt>Expires</dt><dd>${relative(q.expiresAt, now)} if nobody decides</dd>
<dt>Approvers</dt><dd>${q.approverGroups.join(", ") || "none"} (${q.approvals.length} of ${q.minApprovals} approvals)</dd>` : html`<dt>Decided</dt><dd>${q.decidedBy ?? "broker"}${q.decidedAt ? html` ${relative(q.decidedAt, now)}` : ""}${q.decisionReason ? html`: ${q.decisionReason}` : ""}</dd>`}
${q.approvals.map((a) => html`<dt>Approved by</dt><dd>${a.approver}${a.comment ? html`: ${a.comment}` : ""}</dd>`)}
</dl>
${q.sql ? statementBlock(q.sql, preview) : ""}
${refusal === null ? decideForms(q, v) : html`<p class="why" data-why>You cannot decide this request: ${refusal}.</p>`}
${q.state === "pending" && q.requesterSubject === v.principal.subject ? cancelForm(q, v) : ""}
${refusal === null ? html`<details><summary>From a terminal</summary>${command(`jit approve ${q.id} --comment "..."`)}${command(`jit deny ${q.id} --reason "..."`)}</details>` : ""}
</article>`;
}

/** The inbox: pending requests this person may decide, newest first. */
export function inboxBody(deps: BrokerDeps, items: { q: AccessRequest; preview?: StatementPreview }[], v: Viewer, version: string, notice?: Html): Html {
  return html`<h1>Inbox</h1>${notice ?? ""}
<p class="muted">Pending requests you may decide, newest first. This list updates by itself. <span id="live-status" role="status" aria-live="polite"></span></p>
<div data-live="/console/live/inbox" data-version="${version}">
${items.length === 0 ? html`<p class="card">Nothing is waiting for you.</p>` : items.map((i) => requestCard(deps, i.q, v, i.preview))}
</div>${command("jit requests --pending")}`;
}

/** A request's own page (the link in notifications). */
export function requestBody(deps: BrokerDeps, q: AccessRequest, v: Viewer, preview: StatementPreview | undefined, version: string, notice?: Html): Html {
  return html`${notice ?? ""}<div data-live="/console/live/requests/${q.id}" data-version="${version}">${requestCard(deps, q, v, preview, { heading: "h1" })}</div>
<p id="live-status" role="status" aria-live="polite" class="muted"></p>${command("jit requests")}`;
}

function grantRow(g: Grant, now: number, v: Viewer): Html {
  const state = g.revokedAt !== null ? "revoked" : g.usedAt !== null ? "used" : g.expiresAt <= now ? "expired" : "active";
  const cli = g.sqlHash ? `jit query --wait-approval "<the approved statement>"` : `jit query "SELECT * FROM ${g.datasets[0] ?? "dataset"}.<table> LIMIT 10"`;
  return html`<tr><td>${g.id}</td><td>${badge(state)}</td><td>${g.datasets.map((d, i) => html`${i ? ", " : ""}<code>${d}</code>`)}</td>
<td>${state === "active" ? relative(g.expiresAt, now).replace(/^in /, "") + " left" : "–"}</td><td><code>${cli}</code></td>
<td>${state === "active" ? html`<form method="post" action="/console/grants/${g.id}/revoke"><input type="hidden" name="csrf" value="${v.csrf}"><button class="plain" type="submit">Revoke grant ${g.id}</button></form>` : ""}</td></tr>`;
}

/** My requests and grants. */
export function mineBody(deps: BrokerDeps, requests: AccessRequest[], grants: Grant[], v: Viewer, notice?: Html): Html {
  const now = deps.now();
  return html`<h1>My requests and grants</h1>${notice ?? ""}
<section class="card" aria-labelledby="grants-h"><h2 id="grants-h">Grants</h2>
${grants.length === 0 ? html`<p>You hold no grants.</p>` : html`<div class="scroll"><table><thead><tr><th scope="col">Grant</th><th scope="col">State</th><th scope="col">Datasets</th><th scope="col">Time left</th><th scope="col">Use it</th><th scope="col"><span class="muted">Action</span></th></tr></thead>
<tbody>${grants.map((g) => grantRow(g, now, v))}</tbody></table></div>`}
${command("jit grants")}</section>
<section class="card" aria-labelledby="req-h"><h2 id="req-h">Requests</h2>
${requests.length === 0 ? html`<p>You have filed no requests.</p>` : html`<div class="scroll"><table><thead><tr><th scope="col">Request</th><th scope="col">State</th><th scope="col">Datasets</th><th scope="col">Reason</th><th scope="col">When</th><th scope="col"><span class="muted">Action</span></th></tr></thead>
<tbody>${requests.map((q) => html`<tr><td><a href="/console/requests/${q.id}">${q.id}</a></td><td>${badge(q.state)}</td><td>${q.datasets.join(", ")}</td><td>${q.reason}</td>
<td>${q.state === "pending" ? html`expires ${relative(q.expiresAt, now)}` : relative(q.decidedAt ?? q.createdAt, now)}</td>
<td>${q.state === "pending" ? cancelForm(q, v) : ""}</td></tr>`)}</tbody></table></div>`}
<p class="muted">Cancelling withdraws a pending request (from a terminal: <code>jit request cancel ID</code>); otherwise it lapses by itself when it expires.</p>
${command(`jit request ${shellQuote("<dataset>")} --reason "..." --duration 1h`)}</section>`;
}
