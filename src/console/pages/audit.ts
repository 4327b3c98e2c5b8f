/** The audit pages for auditors and admins: a filtered, paged list; a record's detail with replay; chain verification. */
import type { AuditRecord } from "../../store/types.ts";
import { formatBytes } from "../data.ts";
import { html, type Html } from "../html.ts";
import { command, shellQuote } from "../layout.ts";
import { highlightSql } from "../sql-highlight.ts";

export interface AuditFilters {
  actor: string;
  action: string;
  outcome: string;
  dataset: string;
  since: string;
  until: string;
}

const OUTCOMES = ["", "ok", "denied", "failed", "pending"];
const ACTIONS = ["", "request", "access", "approve", "deny", "cancel", "revoke", "expire", "query", "query.result", "dry_run", "metadata", "explain", "audit_read", "authenticate", "console"];

const iso = (ms: number) => new Date(ms).toISOString().replace(".000Z", "Z");

function summary(r: AuditRecord): Html {
  const d = r.details as Record<string, unknown>;
  const bits: Html[] = [];
  if (typeof d.request_id === "string") bits.push(html`request ${d.request_id}`);
  if (Array.isArray(d.datasets)) bits.push(html`${(d.datasets as string[]).join(", ")}`);
  if (typeof d.sql === "string") bits.push(html`<code>${d.sql.length > 80 ? `${d.sql.slice(0, 79)}…` : d.sql}</code>`);
  if (typeof d.page === "string") bits.push(html`page ${d.page}`);
  if (typeof d.what === "string") bits.push(html`${d.what}`);
  if (typeof d.row_count === "number") bits.push(html`${d.row_count} rows`);
  if (typeof d.why === "string") bits.push(html`<span class="bad">${d.why}</span>`);
  return html`${bits.map((b, i) => html`${i ? " · " : ""}${b}`)}`;
}

function cliFor(f: AuditFilters): string {
  const parts = ["jit audit list"];
  if (f.actor) parts.push(`--user ${shellQuote(f.actor)}`);
  if (f.action) parts.push(`--action ${shellQuote(f.action)}`);
  if (f.outcome) parts.push(`--outcome ${shellQuote(f.outcome)}`);
  if (f.dataset) parts.push(`--dataset ${shellQuote(f.dataset)}`);
  if (f.since) parts.push(`--since ${shellQuote(f.since)}`);
  if (f.until) parts.push(`--until ${shellQuote(f.until)}`);
  return parts.join(" ");
}

/** The filter form, the page of records (newest first) and the link to the next, older page. */
export function auditListBody(f: AuditFilters, records: AuditRecord[], nextBefore: number | null, error?: string): Html {
  const field = (name: keyof AuditFilters, label: string, hint: string) =>
    html`<div><label for="f-${name}">${label}</label><input type="text" id="f-${name}" name="${name === "actor" ? "user" : name}" value="${f[name]}" placeholder="${hint}"></div>`;
  const select = (name: "action" | "outcome", label: string, options: string[]) =>
    html`<div><label for="f-${name}">${label}</label><select id="f-${name}" name="${name}">${options.map((o) => html`<option value="${o}"${o === f[name] ? html` selected` : ""}>${o || "any"}</option>`)}</select></div>`;
  const params = new URLSearchParams(Object.entries({ user: f.actor, action: f.action, outcome: f.outcome, dataset: f.dataset, since: f.since, until: f.until }).filter(([, v]) => v));
  if (nextBefore !== null) params.set("before", String(nextBefore));
  return html`<h1>Audit log</h1>
<form class="card filters" method="get" action="/console/audit" aria-label="Filter the audit log">
${field("actor", "Actor", "e.g. carol")}${select("action", "Action", ACTIONS)}${select("outcome", "Outcome", OUTCOMES)}
${field("dataset", "Dataset", "e.g. demo.sales")}${field("since", "Since", "2026-12-01 or …T10:00:00Z")}${field("until", "Until", "2026-12-02")}
<div class="actions"><button class="primary" type="submit">Filter</button> <a href="/console/audit">Clear</a></div></form>
<p><a href="/console/audit/verify">Verify the hash chain</a></p>
${error ? html`<p class="notice bad" role="alert">${error}</p>` : ""}
<div class="card scroll"><table class="audit"><caption class="muted">${records.length} record${records.length === 1 ? "" : "s"} on this page</caption>
<thead><tr><th scope="col">#</th><th scope="col">Time (UTC)</th><th scope="col">Actor</th><th scope="col">Action</th><th scope="col">Outcome</th><th scope="col">About</th></tr></thead>
<tbody>${records.map((r) => html`<tr><td><a href="/console/audit/${r.id}">${r.seq}</a></td><td>${iso(r.at)}</td><td>${r.actor}</td><td>${r.action}</td>
<td><span class="${r.outcome === "ok" ? "ok" : r.outcome === "pending" ? "warn" : "bad"}">${r.outcome}</span></td><td>${summary(r)}</td></tr>`)}</tbody></table></div>
${nextBefore !== null ? html`<p><a rel="next" href="/console/audit?${params.toString()}">Older records (before #${nextBefore})</a></p>` : ""}
${command(cliFor(f))}`;
}

const fact = (label: string, value: Html | string | number | null | undefined) =>
  value === undefined || value === null || value === "" ? "" : html`<dt>${label}</dt><dd>${value}</dd>`;

/** One record: identity, client, SQL, decision and its rules, masked columns, rows, bytes, job id, and the raw details. */
export function auditDetailBody(r: AuditRecord, replayable: boolean): Html {
  const d = r.details as Record<string, any>;
  const client = (d.client ?? {}) as Record<string, string>;
  const masked = Array.isArray(d.masked_columns) ? (d.masked_columns as unknown[]).map((m) => (typeof m === "string" ? m : `${(m as { name: string }).name} (${(m as { mask: string }).mask})`)) : [];
  const rules: string[] = [
    ...(Array.isArray(d.decisions) ? (d.decisions as { rule?: string; dataset: string; outcome: string }[]).map((x) => `${x.dataset}: ${x.outcome}${x.rule ? ` by ${x.rule}` : ""}`) : []),
    ...(Array.isArray(d.masked_columns) ? (d.masked_columns as { rules?: string[] }[]).flatMap((m) => m.rules ?? []) : []),
  ];
  const withheld = d.bytes_withheld === true ? " (not shown to the caller: the statement reads a masked column)" : "";
  return html`<h1>Audit record #${r.seq}</h1>
<div class="card"><h2>Who and how</h2><dl class="facts">
${fact("Time (UTC)", iso(r.at))}${fact("Actor", r.actor)}${fact("Subject", r.actorSubject)}${fact("Email", d.email)}
${fact("Groups", Array.isArray(d.groups) ? (d.groups as string[]).join(", ") : "")}
${fact("Client", [client.kind, client.name, client.version].filter(Boolean).join(" "))}${fact("Address", client.address)}
${fact("Action", r.action)}${fact("Outcome", r.outcome)}</dl></div>
<div class="card"><h2>What</h2><dl class="facts">
${fact("Request", d.request_id)}${fact("Grant", d.grant_id ?? (Array.isArray(d.grant_ids) ? (d.grant_ids as string[]).join(", ") : undefined))}
${fact("Datasets", Array.isArray(d.datasets) ? (d.datasets as string[]).join(", ") : "")}${fact("Tables", Array.isArray(d.tables) ? (d.tables as string[]).join(", ") : "")}
${fact("Decision rules", rules.join("; "))}${fact("Masked columns", masked.join(", "))}
${fact("Rows", d.row_count)}${fact("Bytes", d.bytes_processed !== undefined ? `${formatBytes(d.bytes_processed)}${withheld}` : d.bytes_estimate !== undefined ? `${formatBytes(d.bytes_estimate)} (estimate)${withheld}` : undefined)}
${fact("Job id", d.job_id)}${fact("Why", d.why ?? d.error?.message)}${fact("Query record", d.query_audit_id)}</dl>
${typeof d.sql === "string" ? highlightSql(d.sql) : ""}
${replayable ? html`<p><a class="button" href="/console/audit/${r.id}/replay">Replay what the caller received</a></p>` : ""}</div>
<details class="card"><summary>All details as recorded</summary><pre>${JSON.stringify(d, null, 2)}</pre>
<dl class="facts">${fact("Hash", html`<code>${r.hash}</code>`)}${fact("Previous hash", html`<code>${r.prevHash}</code>`)}</dl></details>
${command(`jit audit show ${r.id}`)}`;
}

/** The rows the caller received, exactly as kept (masked as they were). */
export function replayBody(query: AuditRecord, result: AuditRecord): Html {
  const d = result.details as { result?: { columns: { name: string; mask?: string }[]; rows: (Record<string, unknown> | unknown[])[]; truncated: boolean }; row_count?: number };
  const cols = d.result?.columns ?? [];
  const rows = d.result?.rows ?? [];
  const cell = (v: unknown) => (v === null ? html`<span class="muted">NULL</span>` : typeof v === "object" ? JSON.stringify(v) : String(v));
  return html`<h1>Replay of audit record #${query.seq}</h1>
<p>What <strong>${query.actor}</strong> received at ${iso(result.at)}, masked as it was. ${rows.length < (d.row_count ?? 0) ? html`<strong>The log kept the first ${rows.length} of ${d.row_count} rows.</strong>` : ""}</p>
${typeof query.details.sql === "string" ? highlightSql(query.details.sql) : ""}
<div class="card scroll"><table><thead><tr>${cols.map((c) => html`<th scope="col">${c.name}${c.mask ? html` <span class="muted">(${c.mask})</span>` : ""}</th>`)}</tr></thead>
<tbody>${rows.map((row) => html`<tr>${cols.map((c, i) => html`<td>${cell(Array.isArray(row) ? row[i] : row?.[c.name])}</td>`)}</tr>`)}</tbody></table></div>
<p><a href="/console/audit/${query.id}">Back to the record</a></p>${command(`jit audit replay ${query.id}`)}`;
}

export interface VerifyOutcome {
  ok: boolean;
  checked: number;
  /** Every chain's head (one chain per broker process or replica: docs/audit-chains.md). */
  heads: { chain: number; seq: number; hash: string }[];
  crossLinks: number;
  broken?: { chain?: number; seq: number; message: string };
}

/** The verify form and, once run, its plain result. */
export function verifyBody(anchor: string, outcome?: VerifyOutcome, error?: string): Html {
  const heads = outcome?.heads.map((h) => `${h.chain}:${h.seq}:${h.hash}`).join(",") ?? "";
  return html`<h1>Verify the audit log</h1>
<form class="card" method="get" action="/console/audit/verify"><input type="hidden" name="run" value="1">
<label for="anchor">Anchors (optional): the heads <code>CHAIN:SEQ:HASH</code> printed by an earlier verify and kept elsewhere, separated by commas</label>
<input type="text" id="anchor" name="anchor" value="${anchor}" placeholder="e.g. 1:42:9f86d081…,2:17:3c9e…" autocomplete="off" spellcheck="false">
<div class="actions"><button class="primary" type="submit">Verify</button></div></form>
${error ? html`<p class="notice bad" role="alert">${error}</p>` : ""}
${outcome ? (outcome.ok
    ? html`<div class="notice ok" role="status" data-verify="ok"><strong>The log is intact.</strong> ${outcome.checked} records in ${outcome.heads.length} ${outcome.heads.length === 1 ? "chain" : "chains"} checked, ${outcome.crossLinks} cross-links between them${anchor ? html`, and every anchor is still there, unchanged` : ""}.
${heads ? html`<br>Keep these heads to check against later: <code data-heads>${heads}</code>` : ""}</div>`
    : html`<div class="notice bad" role="alert" data-verify="broken"><strong>The log is broken${outcome.broken?.chain !== undefined ? html` in chain ${outcome.broken.chain}` : ""} at record #${outcome.broken?.seq}:</strong> ${outcome.broken?.message}</div>`) : ""}
${command(anchor ? `jit audit verify --anchor ${shellQuote(anchor)}` : "jit audit verify")}`;
}
