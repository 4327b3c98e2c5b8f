/** `jit policy explain`: the decision the policy would make for a person and a statement, and the rules that make it. */
import { JitError } from "../errors.ts";
import { evaluateAccess, isAdmin, isAuditor } from "../policy/evaluate.ts";
import type { Principal } from "../policy/types.ts";
import type { BrokerDeps, Caller } from "./context.ts";
import { analyseStatement, noRuleError, statementDatasets } from "./plan.ts";

/** Explains, without running anything, what the policy decides for `as` (username + groups) running `sql`. */
export async function explainQuery(deps: BrokerDeps, caller: Caller, input: { as: string; groups: string[]; sql: string }) {
  const policy = deps.policy();
  const privileged = isAdmin(policy, caller.principal) || isAuditor(policy, caller.principal);
  const self = input.as === caller.principal.username;
  if (!self && !privileged) {
    throw new JitError("denied", "only admins and auditors may explain decisions for someone else", { hint: `jit policy explain --as ${caller.principal.username} ...` });
  }
  // Everyone else explains as who they are: their groups come from their verified token, never from the request.
  const sameGroups = input.groups.length === 0 || [...input.groups].sort().join("\n") === [...caller.principal.groups].sort().join("\n");
  if (!privileged && !sameGroups) {
    throw new JitError("denied", "only admins and auditors may explain decisions for other groups than their own", {
      hint: `jit policy explain --as ${caller.principal.username} --groups ${caller.principal.groups.join(",")} ...`,
    });
  }
  const who: Principal = privileged
    ? { subject: `explain:${input.as}`, username: input.as, groups: input.groups }
    : caller.principal;
  const datasets = await statementDatasets(input.sql, deps.warehouse.defaultProject);
  const access = datasets.map((d) => {
    const a = evaluateAccess(policy, who, d);
    return { dataset: d, outcome: a.outcome, rule: a.rule?.id ?? null, matched_rules: a.matched ?? [], approvers: a.rule?.approvers ?? [], reasons: a.reasons };
  });
  let statement: Record<string, unknown>;
  try {
    // Access before knowledge: for a dataset no rule gives this person, nothing about its tables is looked up or said.
    const noRule = access.filter((a) => a.outcome === "denied").map((a) => a.dataset);
    if (noRule.length > 0) throw noRuleError(noRule);
    const s = await analyseStatement(deps, input.sql);
    statement = {
      allowed: true,
      kind: s.analysis.kind,
      tables: s.tables,
      bytes_estimate: s.bytesShown,
      masked_columns_read: s.maskedRead,
      columns: s.columns.map((c) => ({
        name: c.name,
        masked: c.style !== null,
        mask: c.style,
        rules: c.rules,
        sources: c.sources.map((x) => `${x.table}.${x.column}`),
      })),
    };
  } catch (err) {
    if (!(err instanceof JitError)) throw err;
    statement = { allowed: false, refused_because: err.message, ...err.details };
  }
  const outcomes = access.map((a) => a.outcome);
  const decision = !statement.allowed || outcomes.includes("denied") ? "denied"
    : outcomes.includes("per_query") ? "per_query"
    : outcomes.includes("approval_required") ? "approval_required" : "auto";
  return { as: { username: input.as, groups: input.groups }, decision, access, statement };
}
