/** Warnings about a valid policy: things that load fine but will probably not do what the author meant. */
import { rulePreference } from "./evaluate.ts";
import { closest, type PolicyIssue } from "./issues.ts";
import type { AccessRule, Policy } from "./types.ts";
import { join, type Reader } from "./yaml-read.ts";

/**
 * What is flagged (never fatal; `jit policy check` prints these as warnings):
 * - no `datasets` at all: nobody can read anything;
 * - `approvers` or `min_approvals` on an `approval: auto` rule: ignored;
 * - an approvers group that appears nowhere else (in no `groups`, `admins`, `auditors`, nor another
 *   rule's `approvers`): a typo or a group nobody is known to be in, so requests may stay pending;
 * - approvers that are all among the rule's own requesting groups: only peers approve each other,
 *   and since nobody approves their own request, a group of one can never be approved;
 * - a rule that never decides: for each of its groups an earlier or more favourable rule on a
 *   dataset entry with the same `match` wins (see evaluateAccess for the order).
 */
export function policyWarnings(policy: Policy, r: Reader): PolicyIssue[] {
  const out: PolicyIssue[] = [];
  const at = (path: string) => r.positions.get(path) ?? r.positions.get(path.replace(/\.[^.[]+$/, "")) ?? { line: 1, column: 1 };
  const warn = (path: string, message: string) => out.push(r.issue(at(path), path, message));
  if (policy.datasets.length === 0) warn("datasets", "no datasets: this policy gives nobody access to any data");

  const rules = policy.datasets.flatMap((d) => d.access.map((rule) => ({ rule, match: d.match.toLowerCase() })));
  for (const { rule } of rules) {
    if (rule.approval === "auto") {
      if (r.positions.has(join(rule.id, "approvers"))) warn(join(rule.id, "approvers"), "ignored: approval is auto, nobody is asked");
      if (r.positions.has(join(rule.id, "min_approvals"))) warn(join(rule.id, "min_approvals"), "ignored: approval is auto, nobody is asked");
      continue;
    }
    for (const group of rule.approvers) {
      if (knownElsewhere(policy, group, rule)) continue;
      const near = closest(group, allGroups(policy).filter((g) => g !== group));
      const guess = near ? ` (did you mean ${JSON.stringify(near)}?)` : "";
      warn(join(rule.id, "approvers"), `approver group ${JSON.stringify(group)} appears nowhere else in the policy${guess}: requests stay pending unless your identity provider puts people in it`);
    }
    if (rule.approvers.every((g) => rule.groups.includes(g))) {
      warn(join(rule.id, "approvers"), `only fellow members of [${rule.approvers.join(", ")}] can approve these requests; nobody approves their own, so a group of one is never approved`);
    }
  }

  rules.forEach(({ rule, match }, i) => {
    const winners = rule.groups.map((g) => rules.find(({ rule: other, match: m }, j) =>
      j !== i && m === match && other.groups.includes(g) && (rulePreference(other, rule) > 0 || (rulePreference(other, rule) === 0 && j < i))));
    if (winners.every((w) => w !== undefined)) {
      const by = [...new Set(winners.map((w) => w!.rule.id))].join(", ");
      warn(rule.id, `never decides: for each of its groups a more favourable or earlier rule applies (${by})`);
    }
  });
  return out;
}

function allGroups(policy: Policy): string[] {
  const rules = policy.datasets.flatMap((d) => d.access);
  return [...new Set([...policy.admins, ...policy.auditors, ...rules.flatMap((r) => [...r.groups, ...r.approvers])])];
}

function knownElsewhere(policy: Policy, group: string, self: AccessRule): boolean {
  if (policy.admins.includes(group) || policy.auditors.includes(group)) return true;
  return policy.datasets.some((d) => d.access.some((r) => r.groups.includes(group) || (r !== self && r.approvers.includes(group))));
}
