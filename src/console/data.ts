/**
 * What the console's pages show of the broker's rules: why a visible request cannot be decided (the buttons it
 * offers), the statement preview, human bytes. Who may see or do what is decided by the pipeline (routes.ts).
 */
import { approvalRefusal, statementPreview } from "../broker/access.ts";
import type { Policy, Principal } from "../policy/types.ts";
import type { AccessRequest } from "../store/types.ts";

/** What a single-statement request would read and return under the current policy (as GET /v1/requests shows). */
export type StatementPreview = Awaited<ReturnType<typeof statementPreview>>;
export { statementPreview };

/** Why `p` may not decide `q` now, or null when they may. */
export function decisionRefusal(policy: Policy, p: Principal, q: AccessRequest): string | null {
  if (q.state !== "pending") return `this request is already ${q.state}${q.decidedBy ? ` (by ${q.decidedBy})` : ""}`;
  return approvalRefusal(policy, p, q);
}

/** Human bytes: 1.2 MB. */
export function formatBytes(n: number | null | undefined): string {
  if (n === null) return "not shown (the statement reads a masked column)";
  if (n === undefined) return "unknown";
  const units = ["B", "kB", "MB", "GB", "TB", "PB"];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) (v /= 1000), i++;
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}
