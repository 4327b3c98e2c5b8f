import { test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { loadPolicyFile, parsePolicy } from "../../src/policy/load.ts";
import {
  canApprove, evaluateAccess, findAccessRule, globMatch, isAdmin, isAuditor, maskRuleFor, strictestStyle,
} from "../../src/policy/evaluate.ts";
import type { Principal } from "../../src/policy/types.ts";

const policy = loadPolicyFile(fileURLToPath(new URL("../../data/demo/policy.yaml", import.meta.url)));
const who = (username: string, groups: string[]): Principal => ({ subject: `sub-${username}`, username, groups });
const alice = who("alice", ["analysts"]);
const bob = who("bob", ["data-owners"]);
const carol = who("carol", ["contractors"]);
const dave = who("dave", ["auditors"]);
const root = who("root", ["platform-admins", "data-owners"]);

test("globMatch: * stays within one dot-separated part, case-insensitive, nothing else is special", () => {
  assert.ok(globMatch("demo.*", "demo.sales"));
  assert.ok(globMatch("demo.*", "DEMO.Sales"));
  assert.ok(!globMatch("demo.*", "demo.sales.customers"));
  assert.ok(!globMatch("demo.*", "demo"));
  assert.ok(globMatch("*.*.*.email", "demo.sales.customers.email"));
  assert.ok(!globMatch("*.*.*.email", "demo.sales.customers.email2"));
  assert.ok(!globMatch("*.*.*.email", "sales.customers.email"));
  assert.ok(globMatch("demo.sales_*", "demo.sales_eu"));
  assert.ok(globMatch("demo.sales_*", "demo.sales_"));
  assert.ok(!globMatch("demo.sales", "demo.salesX"));
  assert.ok(!globMatch("demo.s.les", "demo.sales"), "a dot is literal, not any character");
  assert.ok(!globMatch("demo.sa?es", "demo.sales"), "? is literal");
});

test("alice: demo.sales auto up to 8h; demo.hr needs a data-owner's approval for each statement", () => {
  const sales = evaluateAccess(policy, alice, "demo.sales");
  assert.equal(sales.outcome, "auto");
  assert.equal(sales.rule?.maxDurationMs, 8 * 3_600_000);
  assert.equal(sales.datasetRuleId, "datasets[0]");
  assert.deepEqual(sales.matched, ["datasets[0].access[0]"]);
  assert.match(sales.reasons[0]!, /^decided by datasets\[0\]\.access\[0\] \(match demo\.sales, groups \[analysts\]\): auto-approved, up to 8h$/);
  const hr = evaluateAccess(policy, alice, "demo.hr");
  assert.equal(hr.outcome, "per_query");
  assert.deepEqual(hr.rule?.approvers, ["data-owners"]);
  assert.equal(hr.rule?.minApprovals, 1);
});

test("bob: demo.sales and demo.hr both auto", () => {
  for (const d of ["demo.sales", "demo.hr"]) {
    const decision = evaluateAccess(policy, bob, d);
    assert.equal(decision.outcome, "auto", d);
    assert.equal(decision.rule?.maxDurationMs, 8 * 3_600_000);
  }
});

test("carol: demo.sales needs one approval, at most 1h; demo.hr denied", () => {
  const sales = evaluateAccess(policy, carol, "demo.sales");
  assert.equal(sales.outcome, "approval_required");
  assert.equal(sales.rule?.maxDurationMs, 3_600_000);
  assert.deepEqual(sales.rule?.approvers, ["data-owners"]);
  const hr = evaluateAccess(policy, carol, "demo.hr");
  assert.equal(hr.outcome, "denied");
  assert.equal(hr.rule, undefined);
  assert.deepEqual(hr.reasons, ["no rule of the policy gives you access to demo.hr"], "a denial never names the groups that do have access");
});

test("dave (auditor) and admins get no data access from their role", () => {
  for (const d of ["demo.sales", "demo.hr"]) assert.equal(evaluateAccess(policy, dave, d).outcome, "denied");
  assert.equal(evaluateAccess(policy, who("ops", ["platform-admins"]), "demo.sales").outcome, "denied");
  assert.equal(evaluateAccess(policy, who("nobody", []), "demo.sales").reasons[0], "no rule of the policy gives you access to demo.sales");
  assert.equal(evaluateAccess(policy, alice, "demo.other").outcome, "denied");
  assert.equal(evaluateAccess(policy, alice, "demo.sales.customers").outcome, "denied", "a table is not a dataset");
  assert.equal(evaluateAccess(policy, alice, "DEMO.SALES").outcome, "auto", "names match case-insensitively");
});

test("the most favourable rule decides; the others are reported", () => {
  const p = parsePolicy([
    "version: 1",
    "datasets:",
    "  - match: demo.*",
    "    access:",
    "      - {groups: [analysts], approval: required, approvers: [owners], max_duration: 8h}",
    "      - {groups: [analysts], approval: per_query, approvers: [owners]}",
    "  - match: demo.sales",
    "    access:",
    "      - {groups: [interns], approval: auto, max_duration: 1h}",
    "      - {groups: [analysts], approval: auto, max_duration: 2h}",
    "      - {groups: [analysts], approval: auto, max_duration: 4h}",
  ].join("\n"), "p.yaml");
  const both = who("x", ["interns", "analysts"]);
  const d = evaluateAccess(p, both, "demo.sales");
  assert.equal(d.outcome, "auto");
  assert.equal(d.rule?.id, "datasets[1].access[2]", "auto beats required; the longer duration breaks the tie");
  assert.deepEqual(d.matched, ["datasets[1].access[2]", "datasets[1].access[1]", "datasets[1].access[0]", "datasets[0].access[0]", "datasets[0].access[1]"]);
  assert.equal(d.reasons.length, 5);
  assert.match(d.reasons[1]!, /^also matched, less favourable: datasets\[1\]\.access\[1\]/);
  const other = evaluateAccess(p, both, "demo.hr");
  assert.equal(other.outcome, "approval_required", "required beats per_query");
  assert.equal(other.rule?.id, "datasets[0].access[0]");
});

test("canApprove: approvers' groups only, never one's own request, not even an admin", () => {
  const salesContractors = evaluateAccess(policy, carol, "demo.sales").rule!;
  assert.deepEqual(canApprove(policy, bob, salesContractors, "carol"), { allowed: true, reason: "bob is in data-owners, an approver group of datasets[0].access[2]" });
  const wrong = canApprove(policy, alice, salesContractors, "carol");
  assert.equal(wrong.allowed, false);
  assert.match(wrong.reason, /needs membership in one of \[data-owners\]; alice is in \[analysts\]/);
  assert.equal(canApprove(policy, dave, salesContractors, "carol").allowed, false);
  assert.equal(canApprove(policy, who("ops", ["platform-admins"]), salesContractors, "carol").allowed, false, "admins approve nothing by role");
  // root is an admin *and* a data-owner, and still cannot approve their own request.
  const self = canApprove(policy, root, salesContractors, "root");
  assert.deepEqual(self, { allowed: false, reason: "nobody approves their own request" });
  assert.equal(canApprove(policy, root, salesContractors, "sub-root").allowed, false, "the subject counts as the requester too");
  assert.equal(canApprove(policy, root, salesContractors, "carol").allowed, true);
});

test("canApprove refuses auto rules and rules the current policy no longer has unchanged", () => {
  const auto = findAccessRule(policy, "datasets[0].access[0]")!;
  assert.equal(canApprove(policy, bob, auto, "alice").allowed, false);
  const stale = { ...findAccessRule(policy, "datasets[0].access[2]")!, approvers: ["contractors"] };
  const verdict = canApprove(policy, carol, stale, "alice");
  assert.equal(verdict.allowed, false);
  assert.match(verdict.reason, /policy changed/);
});

test("maskRuleFor: demo columns, and nothing for unlisted ones", () => {
  const style = (table: string, column: string) => maskRuleFor(policy, { table, column })?.style;
  assert.equal(style("demo.sales.customers", "ssn"), "last4");
  assert.equal(style("demo.sales.customers", "card_number"), "last4");
  assert.equal(style("demo.sales.customers", "email"), "email");
  assert.equal(style("demo.hr.employees", "email"), "email");
  assert.equal(style("demo.sales.customers", "phone"), "redact");
  assert.equal(style("demo.hr.employees", "ssn"), "last4");
  assert.equal(style("demo.hr.employees", "salary"), "null");
  assert.equal(style("demo.hr.employees", "full_name"), undefined);
  assert.equal(style("demo.sales.orders", "amount"), undefined);
  assert.equal(maskRuleFor(policy, { table: "demo.sales.customers", column: "ssn" })?.inference, "deny");
});

test("maskRuleFor: the strictest style wins, and any inference deny wins", () => {
  const p = parsePolicy([
    "version: 1",
    "masking:",
    "  columns:",
    "    - {match: '*.*.*.ssn', style: last4, inference: allow}",
    "    - {match: 'demo.*.*.ssn', style: hash, inference: allow}",
    "    - {match: 'demo.hr.*.ssn', style: redact}",
    "    - {match: 'demo.hr.people.ssn', style: email, inference: allow}",
    "    - {match: '*.*.*.card', style: first4, inference: allow}",
    "    - {match: '*.*.cards.card', style: last4, inference: allow}",
  ].join("\n"), "p.yaml");
  const rule = (table: string, column: string) => maskRuleFor(p, { table, column });
  assert.equal(rule("other.x.t", "ssn")?.style, "last4");
  assert.equal(rule("demo.sales.t", "ssn")?.style, "hash");
  assert.equal(rule("demo.sales.t", "ssn")?.inference, "allow");
  const hr = rule("demo.hr.people", "ssn");
  assert.equal(hr?.style, "redact");
  assert.equal(hr?.id, "masking.columns[2]");
  assert.equal(hr?.inference, "deny");
  assert.equal(rule("demo.x.cards", "card")?.style, "first4", "last4 and first4 tie; the first written wins");
  assert.equal(strictestStyle(["email", "null", "last4"]), "null");
  assert.equal(strictestStyle(["year", "default", "sha256"]), "sha256");
  assert.equal(strictestStyle(["last4", "email"]), "email");
});

test("isAdmin and isAuditor by exact group name", () => {
  assert.ok(isAdmin(policy, who("ops", ["platform-admins"])));
  assert.ok(!isAdmin(policy, who("ops", ["Platform-Admins"])));
  assert.ok(!isAdmin(policy, dave));
  assert.ok(isAuditor(policy, dave));
  assert.ok(!isAuditor(policy, bob));
});
