/** The policy in force (read-only) and the explain form, with the same rules as `jit policy explain`. */
import { ruleSummary } from "../../policy/evaluate.ts";
import { formatDuration } from "../../policy/duration.ts";
import type { Policy } from "../../policy/types.ts";
import { formatBytes } from "../data.ts";
import { html, type Html } from "../html.ts";
import { command, shellQuote } from "../layout.ts";

export interface ExplainInput {
  as: string;
  groups: string;
  sql: string;
}

/** The policy as tables: dataset rules, masking, guardrails, request lifetimes. */
function policyTables(p: Policy): Html {
  return html`<section class="card" aria-labelledby="pol-ds"><h2 id="pol-ds">Datasets</h2><div class="scroll"><table>
<thead><tr><th scope="col">Dataset</th><th scope="col">Groups</th><th scope="col">Approval</th><th scope="col">Approvers</th><th scope="col">Max duration</th><th scope="col">Rule</th></tr></thead>
<tbody>${p.datasets.flatMap((d) => d.access.map((a) => html`<tr><td><code>${d.match}</code></td><td>${a.groups.join(", ")}</td><td>${ruleSummary(a)}</td>
<td>${a.approvers.join(", ") || "–"}</td><td>${a.approval === "per_query" ? "one statement" : formatDuration(a.maxDurationMs)}</td><td><code>${a.id}</code></td></tr>`))}</tbody></table></div></section>
<section class="card" aria-labelledby="pol-mask"><h2 id="pol-mask">Masking</h2><div class="scroll"><table>
<thead><tr><th scope="col">Column</th><th scope="col">Style</th><th scope="col">Inference</th></tr></thead>
<tbody>${p.masking.columns.map((c) => html`<tr><td><code>${c.match}</code></td><td>${c.style}</td><td>${c.inference}</td></tr>`)}</tbody></table></div>
<p>Content detectors on every returned value: ${p.masking.detectors.join(", ") || "none"}.</p></section>
<section class="card" aria-labelledby="pol-guard"><h2 id="pol-guard">Guardrails and lifetimes</h2><dl class="facts">
<dt>Statement kinds refused</dt><dd>${p.guardrails.deny.join(", ") || "none"}</dd>
<dt>Most bytes a query may scan</dt><dd>${p.guardrails.maxBytesProcessed === null ? "no limit" : formatBytes(p.guardrails.maxBytesProcessed)}</dd>
<dt>Most rows returned</dt><dd>${p.guardrails.maxRows}</dd>
<dt>Admins</dt><dd>${p.admins.join(", ") || "none"}</dd><dt>Auditors</dt><dd>${p.auditors.join(", ") || "none"}</dd>
<dt>Pending requests lapse after</dt><dd>${formatDuration(p.requests.pendingTtlMs)}</dd>
<dt>A single-statement approval lasts</dt><dd>${formatDuration(p.requests.perQueryTtlMs)}</dd></dl></section>`;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the explain result is the API's JSON shape
function explainResult(r: any): Html {
  const s = r.statement as Record<string, any>;
  return html`<section class="card" aria-labelledby="exp-r" data-explain="${r.decision}"><h2 id="exp-r">Decision: ${r.decision}</h2>
<div class="scroll"><table><thead><tr><th scope="col">Dataset</th><th scope="col">Outcome</th><th scope="col">Rule</th><th scope="col">Approvers</th><th scope="col">Why</th></tr></thead>
<tbody>${(r.access as any[]).map((a) => html`<tr><td><code>${a.dataset}</code></td><td>${a.outcome}</td><td>${a.rule ?? "–"}</td><td>${(a.approvers as string[]).join(", ") || "–"}</td><td>${(a.reasons as string[]).join("; ")}</td></tr>`)}</tbody></table></div>
${s.allowed ? html`<dl class="facts"><dt>Tables</dt><dd>${(s.tables as string[]).join(", ")}</dd><dt>Bytes estimate</dt><dd>${formatBytes(s.bytes_estimate)}</dd></dl>
<div class="scroll"><table><thead><tr><th scope="col">Column</th><th scope="col">Masked</th><th scope="col">Rules</th><th scope="col">From</th></tr></thead>
<tbody>${(s.columns as any[]).map((c) => html`<tr><td>${c.name}</td><td>${c.masked ? c.mask : "no"}</td><td>${(c.rules as string[]).join(", ")}</td><td>${(c.sources as string[]).join(", ")}</td></tr>`)}</tbody></table></div>`
    : html`<p class="why">The statement would be refused: ${s.refused_because}</p>`}</section>`;
}

/** The policy page with the explain form (and its result when one was asked). */
export function policyBody(p: Policy, csrf: string, input: ExplainInput, privileged: boolean, result?: unknown, error?: string): Html {
  const cli = `jit policy explain --as ${shellQuote(input.as || "<user>")} --groups ${shellQuote(input.groups || "<groups>")} ${shellQuote(input.sql || "SELECT ...")}`;
  return html`<h1>Policy in force</h1><p class="muted">Read-only. Admins change it in the broker's policy file; <code>jit policy check FILE</code> validates an edit.</p>
<section class="card" aria-labelledby="exp-h"><h2 id="exp-h">Explain a decision</h2>
<form method="post" action="/console/policy/explain" class="decide">
<input type="hidden" name="csrf" value="${csrf}">
${privileged ? html`<div class="grid2"><div><label for="x-as">As user</label><input type="text" id="x-as" name="as" value="${input.as}"></div>
<div><label for="x-groups">Groups (comma-separated)</label><input type="text" id="x-groups" name="groups" value="${input.groups}"></div></div>`
    : html`<p class="muted">You explain as yourself, with the groups of your sign-in (auditors and admins may explain for others).</p>`}
<label for="x-sql">SQL</label><textarea id="x-sql" name="sql" required spellcheck="false">${input.sql}</textarea>
<div class="actions"><button class="primary" type="submit">Explain</button></div></form>
${error ? html`<p class="notice bad" role="alert">${error}</p>` : ""}</section>
${result ? explainResult(result) : ""}${command(cli)}
${policyTables(p)}`;
}
