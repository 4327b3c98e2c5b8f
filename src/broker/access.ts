/** The grant lifecycle on the broker: file a request, approve, deny, revoke, expire. Policy decides; the store commits. */
import { JitError } from "../errors.ts";
import { decideRefusal } from "../policy/authorize.ts";
import { evaluateAccess, globMatch, isAdmin } from "../policy/evaluate.ts";
import type { AccessDecision, Policy, Principal } from "../policy/types.ts";
import { formatDuration } from "../policy/duration.ts";
import type { AccessRequest, Grant } from "../store/types.ts";
import { appendOrRefuse, audit, type BrokerDeps, type Caller, type LifecycleEvent } from "./context.ts";
import { announceChange } from "./request-wait.ts";
import { grantView, requestView } from "./views.ts";

const DATASET_RE = /^[a-z0-9_-]+(\.[a-z0-9_]+)?$/i;

/** Qualifies `dataset` or `project.dataset` with the warehouse's default project, lower-cased. */
export function qualifyDataset(raw: string, defaultProject: string): string {
  const name = raw.trim().replaceAll("`", "");
  if (!DATASET_RE.test(name)) {
    throw new JitError("usage", `"${raw}" is not a dataset name`, { hint: "name datasets as project.dataset, e.g. demo.sales" });
  }
  return (name.includes(".") ? name : `${defaultProject}.${name}`).toLowerCase();
}

const MAX_REASON = 1000;

/** Reasons are shown to approvers and kept in the audit log: bounded, so nobody files a novel. */
export function checkReason(reason: string): void {
  if (reason.length > MAX_REASON) throw new JitError("usage", `the reason is ${reason.length} characters; at most ${MAX_REASON}`);
}

export interface FileRequestInput {
  datasets: string[];
  reason: string;
  durationMs?: number;
}

/** What a single-statement request would read and return, under the current policy, for approvers to judge. */
export async function statementPreview(deps: BrokerDeps, sql: string) {
  const { analyseStatement } = await import("./plan.ts");
  try {
    const s = await analyseStatement(deps, sql);
    return { tables: s.tables, masked_columns: s.columns.filter((c) => c.style).map((c) => ({ name: c.name, mask: c.style })), bytes_estimate: s.bytesShown };
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  }
}

/** Files a single-statement request: the exact SQL goes to the approvers, and its grant will run it once. */
export async function fileStatementRequest(deps: BrokerDeps, caller: Caller, sql: string, reason: string) {
  const { analyseStatement, noRuleError, statementDatasets, statementHash } = await import("./plan.ts");
  const policy = deps.policy();
  const p = caller.principal;
  if (!sql.trim()) throw new JitError("usage", "no SQL given for a single-statement request");
  checkReason(reason.trim());
  // Access before knowledge: decide on the datasets the SQL names before any schema lookup, analysis or preview,
  // so a person with no rule learns the same about a table or column that exists and one that does not.
  const refuseUnless = async (datasets: string[]) => {
    const decisions = datasets.map((d) => evaluateAccess(policy, p, d));
    const denied = decisions.filter((d) => d.outcome === "denied");
    if (denied.length === 0) return decisions;
    await audit(deps, caller, "request", "denied", { sql, datasets, decisions: decisionsDetail(decisions) });
    throw noRuleError(denied.map((d) => d.dataset));
  };
  const named = await statementDatasets(sql, deps.warehouse.defaultProject);
  await refuseUnless(named);
  const stmt = await analyseStatement(deps, sql);
  // The analysis may find more (wildcard tables, views of INFORMATION_SCHEMA): every one is decided too.
  const decisions = await refuseUnless([...new Set([...named, ...stmt.datasets])].sort());
  const live = await liveGrants(deps, p);
  const needed = decisions.filter((d) => d.outcome === "per_query" && !live.some((g) => g.sqlHash === null && g.datasets.includes(d.dataset)));
  if (needed.length === 0) {
    throw new JitError("usage", "this statement needs no single-statement approval", {
      hint: `ask for a grant with: jit request ${stmt.datasets.join(" ")} --reason "..."`,
    });
  }
  const rules = needed.map((d) => d.rule!);
  if (!reason.trim() && rules.some((r) => r.reasonRequired)) {
    throw new JitError("usage", "a reason is required for this request", { hint: 'add --reason "what it is for"' });
  }
  const hash = statementHash(sql);
  // Asked again (an agent retrying, a second terminal): answer with what exists instead of filing a twin.
  const unused = live.find((g) => g.sqlHash === hash);
  if (unused) return coveredAnswer(deps, caller, unused, { sql, datasets: stmt.datasets, reason: reason.trim(), single_statement: true });
  const twin = await pendingTwin(deps, p, (q) => q.sqlHash === hash);
  if (twin) return reusedAnswer(deps, caller, twin, { sql, datasets: stmt.datasets, reason: reason.trim(), single_statement: true });
  const now = deps.now();
  const ttl = policy.requests.perQueryTtlMs;
  const { request } = await deps.store.createRequest({
    requester: p.username,
    requesterSubject: p.subject,
    datasets: needed.map((d) => d.dataset),
    reason: reason.trim(),
    durationMs: ttl,
    requestedDurationMs: ttl,
    createdAt: now,
    expiresAt: now + policy.requests.pendingTtlMs,
    ruleIds: rules.map((r) => r.id),
    approverGroups: [...new Set(rules.flatMap((r) => r.approvers))],
    minApprovals: Math.max(1, ...rules.map((r) => r.minApprovals)),
    sql,
    sqlHash: hash,
    autoApprove: false,
  });
  await audit(deps, caller, "request", "pending", {
    sql, request_id: request.id, datasets: request.datasets, tables: stmt.tables, reason: request.reason, state: request.state,
    masked_columns: stmt.columns.filter((c) => c.style).map((c) => c.name), bytes_estimate: stmt.bytesEstimate, single_statement: true,
  });
  deps.log(`single-statement request ${request.id} by ${p.username} on ${request.datasets.join(", ")} is pending approval`);
  deps.notify?.(lifecycleEvent("pending", request, null, p.username));
  return { request: requestView(request, null, deps.publicUrl) };
}

/** Files a request: denied, auto-approved (grant issued) or pending, as the policy decides for every dataset. */
export async function fileRequest(deps: BrokerDeps, caller: Caller, input: FileRequestInput) {
  const policy = deps.policy();
  const p = caller.principal;
  const datasets = [...new Set(input.datasets.map((d) => qualifyDataset(d, deps.warehouse.defaultProject)))];
  if (datasets.length === 0) throw new JitError("usage", "name at least one dataset", { hint: 'jit request demo.sales --reason "..."' });
  const decisions = datasets.map((d) => evaluateAccess(policy, p, d));
  const denied = decisions.filter((d) => d.outcome === "denied");
  const reason = input.reason.trim();
  checkReason(reason);
  const base = { datasets, reason, requested_duration_ms: input.durationMs ?? null, decisions: decisionsDetail(decisions) };
  if (denied.length > 0) {
    await audit(deps, caller, "request", "denied", base);
    throw new JitError("denied", denied.map((d) => d.reasons[0]).join("; "), {
      hint: "ask a platform admin to change the policy, or request a dataset you may use (jit datasets)",
      details: { datasets: denied.map((d) => d.dataset) },
    });
  }
  const rules = decisions.map((d) => d.rule!);
  if (rules.some((r) => r.approval === "per_query")) {
    throw new JitError("usage", "this dataset is approved one statement at a time, not for a period", {
      hint: 'run the statement with: jit query --wait-approval "SELECT ..."',
    });
  }
  if (!reason && rules.some((r) => r.reasonRequired)) {
    await audit(deps, caller, "request", "denied", { ...base, why: "missing reason" });
    throw new JitError("usage", "a reason is required for this request", { hint: `jit request ${datasets.join(" ")} --reason "what it is for"` });
  }
  const maxMs = Math.min(...rules.map((r) => r.maxDurationMs));
  const requestedMs = input.durationMs ?? Math.min(maxMs, 60 * 60 * 1000);
  const durationMs = Math.min(requestedMs, maxMs);
  const needsApproval = rules.filter((r) => r.approval === "required");
  const now = deps.now();
  // A live grant on every dataset with most of the asked time left answers the request: no overlapping grant. One
  // running out sooner is not "covered": asking again then is how a person extends, and files a request as usual.
  const covering = (await liveGrants(deps, p)).find((g) => g.sqlHash === null && g.expiresAt - now >= COVERED_SHARE * durationMs && datasets.every((d) => g.datasets.includes(d)));
  if (covering) return coveredAnswer(deps, caller, covering, base);
  const twin = await pendingTwin(deps, p, (q) => q.sql === null && sameDatasets(q.datasets, datasets));
  if (twin) return reusedAnswer(deps, caller, twin, base);
  const { request, grant } = await deps.store.createRequest({
    requester: p.username,
    requesterSubject: p.subject,
    datasets,
    reason,
    durationMs,
    requestedDurationMs: requestedMs,
    createdAt: now,
    expiresAt: now + policy.requests.pendingTtlMs,
    ruleIds: rules.map((r) => r.id),
    approverGroups: [...new Set(needsApproval.flatMap((r) => r.approvers))],
    minApprovals: Math.max(0, ...needsApproval.map((r) => r.minApprovals)),
    autoApprove: needsApproval.length === 0,
    grantExpiresAt: now + durationMs,
  });
  const capped = durationMs < requestedMs ? `capped at ${formatDuration(maxMs)} by policy` : undefined;
  await audit(deps, caller, "request", grant ? "ok" : "pending", {
    ...base,
    request_id: request.id,
    grant_id: grant?.id,
    state: request.state,
    duration_ms: durationMs,
    capped,
  });
  if (!grant) {
    deps.log(`request ${request.id} by ${p.username} for ${datasets.join(", ")} is pending approval`);
    deps.notify?.(lifecycleEvent("pending", request, null, p.username));
  }
  return { request: requestView(request, grant, deps.publicUrl), capped_note: capped };
}

/** How much of the asked duration a live grant must still have to count as covering a new request. */
const COVERED_SHARE = 0.9;

const sameDatasets = (a: string[], b: string[]) => a.length === b.length && [...a].sort().join("\n") === [...b].sort().join("\n");

/** The caller's own pending request that `match`es (same datasets, or same statement), if one is still live. */
async function pendingTwin(deps: BrokerDeps, p: Principal, match: (q: AccessRequest) => boolean): Promise<AccessRequest | undefined> {
  await expireDue(deps);
  const now = deps.now();
  return (await deps.store.listRequests({ requesterSubject: p.subject, state: "pending", limit: 200 })).find((q) => q.expiresAt > now && match(q));
}

const cappedNote = (r: AccessRequest) => (r.durationMs < r.requestedDurationMs ? `capped at ${formatDuration(r.durationMs)} by policy` : undefined);

/**
 * An identical request is pending: it is the answer (`reused` names it), so approvers see one request, not a pile of
 * copies; the asking is still recorded. Its reason and duration are those it was filed with.
 */
async function reusedAnswer(deps: BrokerDeps, caller: Caller, twin: AccessRequest, asked: Record<string, unknown>) {
  await audit(deps, caller, "request", "pending", { ...asked, request_id: twin.id, reused_request: twin.id, state: twin.state });
  return { request: requestView(twin, null, deps.publicUrl), reused: twin.id, capped_note: cappedNote(twin) };
}

/** A live grant already covers what was asked: it is the answer (`covered_by_grant`), and no grant is added. */
async function coveredAnswer(deps: BrokerDeps, caller: Caller, grant: Grant, asked: Record<string, unknown>) {
  const origin = await deps.store.getRequest(grant.requestId);
  await audit(deps, caller, "request", "ok", { ...asked, request_id: grant.requestId, covered_by_grant: grant.id, state: origin?.state });
  return { request: requestView(origin!, grant, deps.publicUrl), covered_by_grant: grant.id };
}

function decisionsDetail(decisions: AccessDecision[]) {
  return decisions.map((d) => ({ dataset: d.dataset, outcome: d.outcome, rule: d.rule?.id, reasons: d.reasons }));
}

/** Checks that `approver` may decide `req` under the current policy; returns the reason when not. */
export function approvalRefusal(policy: Policy, approver: Principal, req: AccessRequest): string | null {
  return decideRefusal(policy, approver, req);
}

async function loadDecidable(deps: BrokerDeps, caller: Caller, id: string, action: string): Promise<AccessRequest> {
  await expireDue(deps);
  const req = await deps.store.getRequest(id);
  if (!req) throw new JitError("usage", `there is no request ${id}`, { hint: "jit requests --pending" });
  if (req.state !== "pending") {
    await audit(deps, caller, action, "denied", { request_id: id, why: `request is ${req.state}` });
    throw new JitError("denied", `request ${id} is already ${req.state}${req.decidedBy ? ` (by ${req.decidedBy})` : ""}`, {
      hint: "jit requests --pending",
    });
  }
  const refusal = approvalRefusal(deps.policy(), caller.principal, req);
  if (refusal) {
    await audit(deps, caller, action, "denied", { request_id: id, why: refusal });
    throw new JitError("denied", `you may not decide request ${id}: ${refusal}`);
  }
  return req;
}

/** Approves a pending request; the grant is issued when enough distinct approvers agreed. */
export async function approveRequest(deps: BrokerDeps, caller: Caller, id: string, comment: string | null) {
  const req = await loadDecidable(deps, caller, id, "approve");
  const res = await deps.store.approveRequest(
    id,
    { approver: caller.principal.username, approverSubject: caller.principal.subject, comment, at: deps.now() },
    (at) => at + req.durationMs,
  );
  if (!res.ok) {
    await audit(deps, caller, "approve", "denied", { request_id: id, why: res.reason });
    const why = res.reason === "already_approved_by_you" ? "you already approved it" : `it is ${res.request?.state ?? "gone"}`;
    throw new JitError("denied", `request ${id} cannot be approved: ${why}`, { hint: "jit requests --pending" });
  }
  await audit(deps, caller, "approve", "ok", {
    request_id: id, requester: req.requester, datasets: req.datasets, comment, grant_id: res.grant?.id, state: res.request.state,
  });
  announceChange(deps, id);
  if (res.request.state === "approved") deps.notify?.(lifecycleEvent("approved", res.request, res.grant?.id, caller.principal.username));
  return { request: requestView(res.request, res.grant, deps.publicUrl) };
}

/** Denies a pending request; one deny ends it. */
export async function denyRequest(deps: BrokerDeps, caller: Caller, id: string, reason: string) {
  if (!reason.trim()) throw new JitError("usage", "a reason is required to deny a request", { hint: `jit deny ${id} --reason "why"` });
  checkReason(reason.trim());
  const req = await loadDecidable(deps, caller, id, "deny");
  const res = await deps.store.denyRequest(id, caller.principal.username, reason.trim(), deps.now());
  if (!res.ok) throw new JitError("denied", `request ${id} cannot be denied: it is ${res.request?.state ?? "gone"}`);
  await audit(deps, caller, "deny", "ok", { request_id: id, requester: req.requester, datasets: req.datasets, reason });
  announceChange(deps, id);
  deps.notify?.(lifecycleEvent("denied", res.request, null, caller.principal.username));
  return { request: requestView(res.request, null, deps.publicUrl) };
}

/**
 * Withdraws a pending request on its requester's behalf (the front door let only the requester through). A request
 * already decided, expired or withdrawn is a conflict (409): it is recorded and nothing changes.
 */
export async function cancelRequest(deps: BrokerDeps, caller: Caller, id: string) {
  await expireDue(deps);
  const res = await deps.store.cancelRequest(id, caller.principal.subject, deps.now());
  if (!res.ok) {
    const state = res.request?.state ?? "gone";
    await audit(deps, caller, "cancel", "denied", { request_id: id, why: res.reason === "not_requester" ? "not the requester" : `request is ${state}` });
    if (res.reason === "not_requester") throw new JitError("denied", `you may not cancel request ${id}: only the person who filed it may withdraw it`);
    if (res.reason === "not_found") throw new JitError("usage", `there is no request ${id} that you may see`, { hint: "jit requests --mine", details: { status: 404 } });
    const by = res.request?.decidedBy && res.request.decidedBy !== res.request.requester ? ` (by ${res.request.decidedBy})` : "";
    throw new JitError("denied", `request ${id} cannot be cancelled: it is already ${state === "pending" ? "expired" : state}${by}`, {
      hint: state === "approved" ? `end its grant instead: jit revoke ${res.request?.grantId ?? "GRANT_ID"}` : "jit requests --mine",
      details: { status: 409, request_id: id, state },
    });
  }
  await audit(deps, caller, "cancel", "ok", { request_id: id, datasets: res.request.datasets, state: res.request.state });
  deps.log(`request ${id} was withdrawn by its requester ${caller.principal.username}`);
  announceChange(deps, id);
  deps.notify?.(lifecycleEvent("cancelled", res.request, null, caller.principal.username));
  return { request: requestView(res.request, null, deps.publicUrl) };
}

/** True when `p` holds an approver group of any rule on `dataset`: the people who answer for that data. */
export function isDatasetApprover(policy: Policy, p: Principal, dataset: string): boolean {
  return policy.datasets.some((d) => globMatch(d.match, dataset) && d.access.some((a) => a.approvers.some((g) => p.groups.includes(g))));
}

/** Ends a grant now: its holder, an approver of its datasets, or an admin. */
export async function revokeGrant(deps: BrokerDeps, caller: Caller, id: string, reason: string | null = null) {
  const g = await deps.store.getGrant(id);
  if (!g) throw new JitError("usage", `there is no grant ${id}`, { hint: "jit grants --all" });
  const p = caller.principal;
  const policy = deps.policy();
  const req = await deps.store.getRequest(g.requestId);
  const approver = g.datasets.every((d) => isDatasetApprover(policy, p, d));
  if (g.holderSubject !== p.subject && !isAdmin(policy, p) && !approver) {
    await audit(deps, caller, "revoke", "denied", { grant_id: id, holder: g.holder });
    throw new JitError("denied", `you may not revoke grant ${id}: only its holder, an approver of its datasets, or an admin may`);
  }
  const now = deps.now();
  const ended = g.revokedAt !== null ? `revoked by ${g.revokedBy}` : g.usedAt !== null ? "used" : g.expiresAt <= now ? "expired" : null;
  if (ended) {
    await audit(deps, caller, "revoke", "denied", { grant_id: id, holder: g.holder, why: `grant is already ${ended}` });
    throw new JitError("denied", `grant ${id} has already ended (${ended})`, { hint: "jit grants lists the active ones" });
  }
  const revoked = (await deps.store.revokeGrant(id, p.username, now))!;
  await audit(deps, caller, "revoke", "ok", { grant_id: id, holder: g.holder, datasets: g.datasets, reason });
  if (req) deps.notify?.(lifecycleEvent("revoked", req, id, p.username));
  return { grant: grantView(revoked, deps.now()) };
}

/** Marks lapsed pending requests expired, with an audit record each. */
export async function expireDue(deps: BrokerDeps): Promise<void> {
  const expired = await deps.store.expirePending(deps.now());
  for (const r of expired) {
    await appendOrRefuse(deps, {
      at: deps.now(), actor: "broker", actorSubject: null, action: "expire", outcome: "ok",
      details: { request_id: r.id, requester: r.requester, datasets: r.datasets },
    });
    announceChange(deps, r.id);
    deps.notify?.(lifecycleEvent("expired", r, null, "broker"));
  }
}

function lifecycleEvent(kind: LifecycleEvent["kind"], r: AccessRequest, grantId: string | null | undefined, actor: string): LifecycleEvent {
  const v = requestView(r);
  return {
    kind,
    request: {
      id: v.id, requester: v.requester, datasets: v.datasets, reason: v.reason, duration_seconds: v.duration_seconds,
      approver_groups: v.approver_groups, decided_by: v.decided_by, decision_reason: v.decision_reason, sql: v.sql,
    },
    grantId,
    actor,
  };
}

/** The live grants of a principal covering each dataset. */
export async function liveGrants(deps: BrokerDeps, p: Principal): Promise<Grant[]> {
  return deps.store.listGrants({ holderSubject: p.subject, activeAt: deps.now() });
}
