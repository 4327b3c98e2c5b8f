/**
 * The broker's front-door decision: may this principal perform this action on this resource?
 * Pure over the policy and the resource as loaded (an id that names nothing is a resource too: `null`),
 * it returns the decision and the rules that decided it, for the audit record. Dataset-level decisions
 * for SQL (which grants cover a statement) are made later by the query planner; this is the door.
 */
import { canApprove, evaluateAccess, findAccessRule, globMatch, isAdmin, isAuditor } from "./evaluate.ts";
import type { Policy, Principal } from "./types.ts";

/** Everything the broker's API does, one name per kind of act. */
export type Action =
  | "health.read" | "login_settings.read"
  | "whoami.read"
  | "request.file" | "request.list" | "request.read" | "request.decide" | "request.cancel"
  | "grant.list" | "grant.revoke"
  | "query.run"
  | "metadata.read"
  | "policy.read" | "policy.explain"
  | "audit.read" | "audit.verify"
  // The web console's own acts: its inbox (the pending requests one may decide, each chosen by request.decide) and
  // signing out of a console session.
  | "inbox.read" | "session.end";

/** The parts of a stored request the decision looks at. */
export interface RequestFacts {
  id: string;
  state: string;
  requesterSubject: string;
  ruleIds: string[];
  approverGroups: string[];
  approvals: Array<{ approverSubject: string }>;
}

/** The parts of a stored grant the decision looks at. */
export interface GrantFacts {
  id: string;
  holderSubject: string;
  datasets: string[];
}

/** What an action is performed on. */
export type Resource =
  | { kind: "service" }
  | { kind: "self" }
  | { kind: "requests" }
  | { kind: "request"; id: string; request: RequestFacts | null }
  | { kind: "grant"; id: string; grant: GrantFacts | null }
  | { kind: "datasets"; datasets: string[] }
  | { kind: "catalog" }
  | { kind: "statement" }
  | { kind: "explain"; as: string; groups: string[] }
  | { kind: "audit_log"; scope: "all" | "own" }
  | { kind: "audit_record"; id: string; record: { actorSubject: string | null } | null };

/** The front door's answer. `missing` refusals look like "nothing there" (404) so ids cannot be probed. */
export type Authorization =
  | { allowed: true; rules: string[]; reason: string }
  | { allowed: false; rules: string[]; reason: string; refusal: "forbidden" | "missing"; message?: string };

const allow = (reason: string, rules: string[] = []): Authorization => ({ allowed: true, rules, reason });
/** `reason` is what the audit record keeps; `message`, when given, is what the caller reads instead. */
const forbid = (reason: string, rules: string[] = [], message?: string): Authorization =>
  ({ allowed: false, rules, reason, refusal: "forbidden", ...(message ? { message } : {}) });
const missing = (reason: string): Authorization => ({ allowed: false, rules: [], reason, refusal: "missing" });

const reader = (policy: Policy, p: Principal) =>
  isAuditor(policy, p) ? "auditors" : isAdmin(policy, p) ? "admins" : null;

/** Whether `p` may decide a pending request under the current policy; the reason when not. */
export function decideRefusal(policy: Policy, p: Principal, r: RequestFacts): string | null {
  if (p.subject === r.requesterSubject) return "nobody approves their own request";
  for (const id of r.ruleIds) {
    const rule = findAccessRule(policy, id);
    if (!rule) return `the policy changed since request ${r.id} was filed (rule ${id} is gone); ask the requester to file it again`;
    if (rule.approval === "auto") continue;
    const verdict = canApprove(policy, p, rule, r.requesterSubject);
    if (!verdict.allowed) return verdict.reason;
  }
  return null;
}

/**
 * Who may see a request: its requester, admins, its approvers (by subject), and anyone in one of its
 * approver groups (the people who answer for that data, whether or not they decided it). Never by user
 * name: a different subject whose token claims the same name sees nothing.
 */
export function maySeeRequest(policy: Policy, p: Principal, r: RequestFacts): Authorization {
  if (r.requesterSubject === p.subject) return allow("the requester");
  if (isAdmin(policy, p)) return allow("an admin", ["admins"]);
  if (r.approvals.some((a) => a.approverSubject === p.subject)) return allow("an approver of it");
  const via = p.groups.find((g) => r.approverGroups.includes(g));
  if (via !== undefined) return allow(`in ${via}, an approver group of it`);
  return missing(`there is no request ${r.id} that you may see`);
}

/** Who may revoke a grant: its holder, an admin, or an approver of every dataset it covers. */
function mayRevoke(policy: Policy, p: Principal, g: GrantFacts): Authorization {
  if (g.holderSubject === p.subject) return allow("the holder");
  if (isAdmin(policy, p)) return allow("an admin", ["admins"]);
  const rules = g.datasets.map((d) => policy.datasets.find((e) => globMatch(e.match, d) && e.access.some((a) => a.approvers.some((x) => p.groups.includes(x)))));
  if (rules.every((r) => r !== undefined)) return allow("an approver of its datasets", rules.map((r) => r!.id));
  // Only someone who answers for part of it learns that the grant exists; anyone else is told there is none (404).
  if (rules.every((r) => r === undefined)) return missing(`there is no grant ${g.id} that you may see`);
  return forbid(`you may not revoke grant ${g.id}: only its holder, an approver of its datasets, or an admin may`);
}

/** Decides whether `principal` may perform `action` on `resource`. Unknown combinations are refused (fail closed). */
export function authorize(policy: Policy, principal: Principal | null, action: Action, resource: Resource): Authorization {
  if (action === "health.read" || action === "login_settings.read") return allow("public");
  if (principal === null) return forbid("not signed in");
  const p = principal;
  switch (action) {
    case "whoami.read":
    case "request.list":
    case "grant.list":
    case "inbox.read":
      return allow("any signed-in person, for their own view");
    case "policy.read":
      // The rules are no secret from the people they apply to (jit policy explain shows how they decide).
      return allow("any signed-in person reads the policy in force");
    case "session.end":
      return allow("any signed-in person may end their own session");
    case "query.run":
      // Which grants cover the statement is decided by the planner, from the SQL alone, before any lookup.
      return allow("any signed-in person may submit a statement; its datasets decide");
    case "request.file": {
      if (resource.kind === "statement") return allow("any signed-in person may file a statement; its datasets decide");
      if (resource.kind !== "datasets") break;
      const decisions = resource.datasets.map((d) => evaluateAccess(policy, p, d));
      const refused = decisions.filter((d) => d.outcome === "denied");
      if (refused.length > 0) return forbid(refused.map((d) => d.reasons[0]).join("; "));
      return allow("a rule gives access to every dataset", decisions.map((d) => d.rule!.id));
    }
    case "request.read":
      if (resource.kind !== "request") break;
      return resource.request ? maySeeRequest(policy, p, resource.request) : missing(`there is no request ${resource.id} that you may see`);
    case "request.decide": {
      if (resource.kind !== "request") break;
      const r = resource.request;
      if (!r) return missing(`there is no request ${resource.id} that you may see`);
      // Someone who may not see the request learns nothing of it, not even its state or who may decide it (404).
      const seen = maySeeRequest(policy, p, r);
      if (!seen.allowed) return seen;
      if (r.state !== "pending") return forbid(`request ${r.id} is already ${r.state}`);
      const refusal = decideRefusal(policy, p, r);
      return refusal ? forbid(refusal, [], `you may not decide request ${r.id}: ${refusal}`) : allow("an approver under every rule of the request", r.ruleIds);
    }
    case "request.cancel": {
      if (resource.kind !== "request") break;
      const r = resource.request;
      // Someone who may not see the request learns nothing about it (404); others who see it are told who may cancel.
      const seen = r ? maySeeRequest(policy, p, r) : missing(`there is no request ${resource.id} that you may see`);
      if (!seen.allowed || !r) return seen;
      if (r.requesterSubject !== p.subject) return forbid(`only the person who filed request ${r.id} may withdraw it`, [], `you may not cancel request ${r.id}: only the person who filed it may withdraw it (approvers deny instead: jit deny ${r.id} --reason TEXT)`);
      return allow("the requester");
    }
    case "grant.revoke":
      if (resource.kind !== "grant") break;
      return resource.grant ? mayRevoke(policy, p, resource.grant) : missing(`there is no grant ${resource.id} that you may see`);
    case "metadata.read": {
      if (resource.kind === "catalog") return allow("any signed-in person sees the datasets a rule gives them");
      if (resource.kind !== "datasets") break;
      const decisions = resource.datasets.map((d) => evaluateAccess(policy, p, d));
      const refused = decisions.find((d) => d.outcome === "denied");
      if (refused) return forbid(refused.reasons[0]!);
      return allow("a rule gives access", decisions.map((d) => d.rule!.id));
    }
    case "policy.explain": {
      if (resource.kind !== "explain") break;
      const role = reader(policy, p);
      if (role) return allow(`${role} may explain decisions for anyone`, [role]);
      if (resource.as !== p.username) return forbid("only admins and auditors may explain decisions for someone else");
      // No groups means one's own; naming others would probe the rules of groups one is not in.
      const own = new Set(p.groups);
      const sameGroups = resource.groups.length === 0 || (new Set(resource.groups).size === own.size && resource.groups.every((g) => own.has(g)));
      return sameGroups ? allow("explaining for oneself") : forbid("only admins and auditors may explain decisions for other groups than their own");
    }
    case "audit.read": {
      if (resource.kind === "audit_log") {
        if (resource.scope === "own") return allow("everyone reads their own records");
        const role = reader(policy, p);
        return role ? allow(`${role} read the whole log`, [role]) : forbid("only auditors and admins may read the whole audit log");
      }
      if (resource.kind !== "audit_record") break;
      const rec = resource.record;
      const role = reader(policy, p);
      if (rec && role) return allow(`${role} read the whole log`, [role]);
      if (rec && rec.actorSubject === p.subject) return allow("one's own record");
      return missing(`there is no audit record ${resource.id} that you may read`);
    }
    case "audit.verify": {
      const role = reader(policy, p);
      return role ? allow(`${role} verify the log`, [role]) : forbid("only auditors and admins may verify the audit log");
    }
  }
  return forbid(`${action} does not apply to a ${resource.kind}`);
}
