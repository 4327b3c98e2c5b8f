/**
 * Small adapters over broker logic that routes.ts and audit-routes.ts keep private (the console must not edit them):
 * who may see a request, the statement preview approvers judge, and who may read the whole audit log.
 */
import { approvalRefusal } from "../broker/access.ts";
import type { BrokerDeps } from "../broker/context.ts";
import { isAdmin, isAuditor } from "../policy/evaluate.ts";
import type { Policy, Principal } from "../policy/types.ts";
import type { AccessRequest } from "../store/types.ts";

/** Same rule as the API's: its requester, admins, whoever decided it, and while pending whoever may decide it. */
export function maySeeRequest(policy: Policy, p: Principal, q: AccessRequest): boolean {
  if (q.requesterSubject === p.subject || isAdmin(policy, p) || q.decidedBy === p.username) return true;
  return q.state === "pending" && approvalRefusal(policy, p, q) === null;
}

/** Auditors and admins read the whole audit log. */
export const mayReadAudit = (policy: Policy, p: Principal): boolean => isAuditor(policy, p) || isAdmin(policy, p);

export interface StatementPreview {
  tables?: string[];
  masked_columns?: { name: string; mask: string | null }[];
  bytes_estimate?: number | null;
  error?: string;
}

/** What a single-statement request would read and return under the current policy (as GET /v1/requests shows). */
export async function statementPreview(deps: BrokerDeps, sql: string): Promise<StatementPreview> {
  try {
    const { analyseStatement } = await import("../broker/plan.ts");
    const s = await analyseStatement(deps, sql);
    return { tables: s.tables, masked_columns: s.columns.filter((c) => c.style).map((c) => ({ name: c.name, mask: c.style })), bytes_estimate: s.bytesEstimate };
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  }
}

/** Why `p` may not decide `q` now, or null when they may. */
export function decisionRefusal(policy: Policy, p: Principal, q: AccessRequest): string | null {
  if (q.state !== "pending") return `this request is already ${q.state}${q.decidedBy ? ` (by ${q.decidedBy})` : ""}`;
  return approvalRefusal(policy, p, q);
}

/** Human bytes: 1.2 MB. */
export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return "unknown";
  const units = ["B", "kB", "MB", "GB", "TB", "PB"];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) (v /= 1000), i++;
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}
