/** Pure policy decisions: who may read a dataset and how, who may approve, which mask applies to a column. */
import type { AccessDecision, AccessRule, ColumnMaskRule, MaskStyle, Policy, Principal } from "./types.ts";
import { formatDuration } from "./duration.ts";

const compiled = new Map<string, RegExp>();

/**
 * Case-insensitive glob over dotted BigQuery names: `*` matches any run of characters except `.`,
 * so it never crosses a segment ("demo.*" matches demo.sales, not demo.sales.customers) and a
 * pattern only matches names with the same number of segments. No other character is special.
 */
export function globMatch(pattern: string, value: string): boolean {
  let re = compiled.get(pattern);
  if (!re) {
    const body = pattern.split("*").map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("[^.]*");
    re = new RegExp(`^${body}$`, "i");
    if (compiled.size > 1000) compiled.clear();
    compiled.set(pattern, re);
  }
  return re.test(value);
}

const MODE_RANK = { auto: 3, required: 2, per_query: 1 } as const;

/**
 * Positive when rule `a` is more favourable to the requester than `b`, 0 when equal. Order:
 * approval mode (auto > required > per_query: a required grant, once approved, covers any statement
 * for its duration, per_query only one statement), then longer max_duration, then fewer
 * min_approvals, then reason not required. Equal rules are broken by policy order (first wins).
 */
export function rulePreference(a: AccessRule, b: AccessRule): number {
  return MODE_RANK[a.approval] - MODE_RANK[b.approval]
    || a.maxDurationMs - b.maxDurationMs
    || b.minApprovals - a.minApprovals
    || Number(!a.reasonRequired) - Number(!b.reasonRequired);
}

/**
 * Decides how `principal` may get access to `dataset` ("project.dataset"). Every access rule of every
 * dataset entry whose `match` fits and whose groups intersect the principal's is a candidate; the most
 * favourable one decides (see rulePreference). The policy has no explicit deny: no candidate means denied.
 * Admins and auditors get no implicit data access; only access rules give it.
 */
export function evaluateAccess(policy: Policy, principal: Principal, dataset: string): AccessDecision {
  if (dataset.split(".").length !== 2 || dataset.split(".").some((s) => s === "")) {
    return { dataset, outcome: "denied", reasons: [`${JSON.stringify(dataset)} is not a dataset name: expected project.dataset, e.g. demo.sales`], matched: [] };
  }
  const entries = policy.datasets.filter((d) => globMatch(d.match, dataset));
  const candidates = entries.flatMap((d) => d.access.filter((r) => r.groups.some((g) => principal.groups.includes(g))).map((rule) => ({ rule, entry: d })));
  if (candidates.length === 0) {
    // Never name who does have access (other groups, other rules): a denial tells only what the person may do next.
    return { dataset, outcome: "denied", reasons: [`no rule of the policy gives you access to ${dataset}`], matched: [] };
  }
  // Stable sort keeps policy order among equals, so the first written rule wins a tie.
  const ranked = [...candidates].sort((a, b) => rulePreference(b.rule, a.rule));
  const best = ranked[0]!;
  const describe = ({ rule, entry }: (typeof ranked)[number]) =>
    `${rule.id} (match ${entry.match}, groups [${rule.groups.join(", ")}]): ${ruleSummary(rule)}`;
  const reasons = [`decided by ${describe(best)}`, ...ranked.slice(1).map((c) => `also matched, less favourable: ${describe(c)}`)];
  const outcome = best.rule.approval === "auto" ? "auto" : best.rule.approval === "required" ? "approval_required" : "per_query";
  return { dataset, outcome, rule: best.rule, datasetRuleId: best.entry.id, reasons, matched: ranked.map((c) => c.rule.id) };
}

/** One line on what a rule grants: "auto-approved, up to 8h", "needs 1 approval from [data-owners], up to 1h". */
export function ruleSummary(rule: AccessRule): string {
  const from = `${rule.minApprovals} approval${rule.minApprovals === 1 ? "" : "s"} from [${rule.approvers.join(", ")}]`;
  if (rule.approval === "auto") return `auto-approved, up to ${formatDuration(rule.maxDurationMs)}`;
  if (rule.approval === "required") return `needs ${from}, up to ${formatDuration(rule.maxDurationMs)}`;
  return `each statement needs ${from}`;
}

/** The access rule with this id ("datasets[0].access[1]") in the current policy. */
export function findAccessRule(policy: Policy, id: string): AccessRule | undefined {
  return policy.datasets.flatMap((d) => d.access).find((r) => r.id === id);
}

/**
 * Whether `approver` may approve a request filed by `requester` (a subject or username) under `rule`.
 * Nobody approves their own request, admins included; admins get no implicit approval power; the
 * rule must still be in the current policy unchanged, so a reload never lets old requests through.
 */
export function canApprove(policy: Policy, approver: Principal, rule: AccessRule, requester: string): { allowed: boolean; reason: string } {
  if (requester === approver.subject || requester.toLowerCase() === approver.username.toLowerCase()) {
    return { allowed: false, reason: "nobody approves their own request" };
  }
  const current = findAccessRule(policy, rule.id);
  if (!current || JSON.stringify(current) !== JSON.stringify(rule)) {
    return { allowed: false, reason: `the policy changed since this request was filed (rule ${rule.id}); the requester must request again` };
  }
  if (rule.approval === "auto") return { allowed: false, reason: `rule ${rule.id} is auto-approved: there is nothing to approve` };
  const via = approver.groups.find((g) => rule.approvers.includes(g));
  if (via === undefined) {
    return { allowed: false, reason: `approving under ${rule.id} needs membership in one of [${rule.approvers.join(", ")}]; ${approver.username} is in [${approver.groups.join(", ")}]` };
  }
  return { allowed: true, reason: `${approver.username} is in ${via}, an approver group of ${rule.id}` };
}

/** Strictest first: when several rules match a column, the one whose style reveals least wins. */
export const MASK_STRICTNESS: readonly MaskStyle[] = ["null", "redact", "hash", "sha256", "default", "year", "email", "last4", "first4"];

/**
 * The mask rule for a source column (table "project.dataset.table"), or undefined when it is not
 * sensitive. When several rules match, the strictest style wins (MASK_STRICTNESS; last4 and first4
 * tie, the first written wins) and inference is `deny` if any matching rule denies it (fail closed).
 */
export function maskRuleFor(policy: Policy, columnRef: { table: string; column: string }): ColumnMaskRule | undefined {
  const name = `${columnRef.table}.${columnRef.column}`;
  const matching = policy.masking.columns.filter((c) => globMatch(c.match, name));
  if (matching.length === 0) return undefined;
  const strictest = matching.reduce((a, b) => (strictness(b.style) < strictness(a.style) ? b : a));
  const inference = matching.some((c) => c.inference === "deny") ? "deny" : "allow";
  return inference === strictest.inference ? strictest : { ...strictest, inference };
}

/** The strictest of several styles (an output derived from several masked columns); the first wins a last4/first4 tie. */
export function strictestStyle(styles: readonly MaskStyle[]): MaskStyle {
  if (styles.length === 0) throw new RangeError("strictestStyle needs at least one style");
  return styles.reduce((a, b) => (strictness(b) < strictness(a) ? b : a));
}

// Lower is stricter; first4 ranks with last4.
function strictness(style: MaskStyle): number {
  return MASK_STRICTNESS.indexOf(style === "first4" ? "last4" : style);
}

/** Whether the principal is in one of the policy's admin groups (exact, case-sensitive group names). */
export function isAdmin(policy: Policy, p: Principal): boolean {
  return p.groups.some((g) => policy.admins.includes(g));
}

/** Whether the principal is in one of the policy's auditor groups (exact, case-sensitive group names). */
export function isAuditor(policy: Policy, p: Principal): boolean {
  return p.groups.some((g) => policy.auditors.includes(g));
}
