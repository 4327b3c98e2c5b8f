/** authorize(): the front door's pure decision, with the rules that decided it. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { type Authorization, authorize, type RequestFacts } from "../../src/policy/authorize.ts";
import { loadPolicyFile } from "../../src/policy/load.ts";
import type { Principal } from "../../src/policy/types.ts";

const policy = { ...loadPolicyFile(fileURLToPath(new URL("../../data/demo/policy.yaml", import.meta.url))), admins: ["platform-admins"] };
const who = (username: string, groups: string[], subject = `sub-${username}`): Principal => ({ subject, username, groups });
const alice = who("alice", ["analysts"]);
const bob = who("bob", ["data-owners"]);
const carol = who("carol", ["contractors"]);
const dave = who("dave", ["auditors"]);
const ops = who("ops", ["platform-admins"]);
const imposter = who("bob", [], "sub-imposter");

const refusal = (a: Authorization) => (a.allowed ? null : a.refusal);

const carolsRequest: RequestFacts = {
  id: "7", state: "pending", requesterSubject: "sub-carol", ruleIds: ["datasets[0].access[2]"], approverGroups: ["data-owners"], approvals: [],
};

test("public actions need no principal; everything else refuses an anonymous caller", () => {
  assert.equal(authorize(policy, null, "health.read", { kind: "service" }).allowed, true);
  const anon = authorize(policy, null, "whoami.read", { kind: "self" });
  assert.deepEqual(anon, { allowed: false, rules: [], reason: "not signed in", refusal: "forbidden" });
});

test("metadata.read on datasets: a rule decides, and a refusal never names who does have access", () => {
  const ok = authorize(policy, alice, "metadata.read", { kind: "datasets", datasets: ["demo.hr"] });
  assert.deepEqual(ok, { allowed: true, rules: ["datasets[1].access[1]"], reason: "a rule gives access" });
  const no = authorize(policy, carol, "metadata.read", { kind: "datasets", datasets: ["demo.hr"] });
  assert.equal(no.allowed, false);
  assert.equal(no.reason, "no rule of the policy gives you access to demo.hr");
  assert.doesNotMatch(JSON.stringify(no), /data-owners|analysts|access\[/);
  // A dataset nobody has a rule for reads exactly like one that carol has no rule for.
  assert.equal(authorize(policy, carol, "metadata.read", { kind: "datasets", datasets: ["demo.nosuch"] }).reason, "no rule of the policy gives you access to demo.nosuch");
});

test("request.file: datasets are decided at the door; a statement is decided by its datasets later", () => {
  assert.deepEqual(authorize(policy, carol, "request.file", { kind: "datasets", datasets: ["demo.sales"] }).rules, ["datasets[0].access[2]"]);
  const hr = authorize(policy, carol, "request.file", { kind: "datasets", datasets: ["demo.sales", "demo.hr"] });
  assert.equal(hr.allowed, false);
  assert.equal(hr.reason, "no rule of the policy gives you access to demo.hr");
  assert.equal(authorize(policy, carol, "request.file", { kind: "statement" }).allowed, true);
});

test("request.read: by subject, never by user name; approver groups and admins see it, others get 'missing'", () => {
  const r = { kind: "request", id: "7", request: carolsRequest } as const;
  assert.equal(authorize(policy, carol, "request.read", r).allowed, true);
  assert.equal(authorize(policy, bob, "request.read", r).allowed, true);
  assert.deepEqual(authorize(policy, ops, "request.read", r).rules, ["admins"]);
  const a = authorize(policy, alice, "request.read", r);
  assert.deepEqual(a, { allowed: false, rules: [], reason: "there is no request 7 that you may see", refusal: "missing" });
  // bob approved a request; someone else whose token also says "bob" must not see it through the name.
  const decided = { ...carolsRequest, state: "approved", approvals: [{ approverSubject: "sub-bob" }], approverGroups: ["data-owners"] };
  assert.equal(authorize(policy, imposter, "request.read", { kind: "request", id: "7", request: decided }).allowed, false);
  assert.equal(authorize(policy, who("carol", ["contractors"], "sub-other"), "request.read", r).allowed, false, "same name, other subject: not the requester");
  assert.equal(refusal(authorize(policy, alice, "request.read", { kind: "request", id: "9", request: null })), "missing");
});

test("request.cancel: the requester only, by subject; approvers are told why (403), others learn nothing (404)", () => {
  const r = { kind: "request", id: "7", request: carolsRequest } as const;
  assert.deepEqual(authorize(policy, carol, "request.cancel", r), { allowed: true, rules: [], reason: "the requester" });
  const approver = authorize(policy, bob, "request.cancel", r);
  assert.equal(refusal(approver), "forbidden");
  assert.match(approver.allowed === false ? approver.message ?? "" : "", /only the person who filed it may withdraw it/);
  assert.equal(refusal(authorize(policy, ops, "request.cancel", r)), "forbidden", "admins see it but may not withdraw it");
  assert.equal(refusal(authorize(policy, alice, "request.cancel", r)), "missing");
  assert.equal(refusal(authorize(policy, who("carol", ["contractors"], "sub-other"), "request.cancel", r)), "missing", "same name, other subject");
  assert.equal(refusal(authorize(policy, carol, "request.cancel", { kind: "request", id: "8", request: null })), "missing");
});

test("request.decide: approvers under every rule; never one's own; not twice; an unknown id is missing", () => {
  const r = { kind: "request", id: "7", request: carolsRequest } as const;
  assert.deepEqual(authorize(policy, bob, "request.decide", r), { allowed: true, rules: ["datasets[0].access[2]"], reason: "an approver under every rule of the request" });
  const self = authorize(policy, carol, "request.decide", r);
  assert.equal(self.allowed, false);
  assert.equal(self.reason, "nobody approves their own request");
  assert.equal(self.allowed === false && self.message, "you may not decide request 7: nobody approves their own request");
  assert.equal(authorize(policy, alice, "request.decide", r).allowed, false);
  assert.equal(authorize(policy, ops, "request.decide", r).allowed, false, "admins approve nothing by role");
  assert.equal(authorize(policy, imposter, "request.decide", r).allowed, false, "a name is not a group");
  const done = authorize(policy, bob, "request.decide", { kind: "request", id: "7", request: { ...carolsRequest, state: "approved" } });
  assert.equal(done.allowed === false && done.reason, "request 7 is already approved");
  assert.equal(refusal(authorize(policy, bob, "request.decide", { kind: "request", id: "8", request: null })), "missing");
  // alice may not see carol's request: deciding it tells her nothing of it, not even that it is already decided.
  assert.deepEqual(authorize(policy, alice, "request.decide", r), { allowed: false, rules: [], reason: "there is no request 7 that you may see", refusal: "missing" });
  assert.equal(refusal(authorize(policy, alice, "request.decide", { kind: "request", id: "7", request: { ...carolsRequest, state: "approved" } })), "missing");
  assert.equal(refusal(authorize(policy, imposter, "request.decide", r)), "missing");
  const stale = authorize(policy, bob, "request.decide", { kind: "request", id: "7", request: { ...carolsRequest, ruleIds: ["datasets[9].access[0]"] } });
  assert.match(stale.reason, /policy changed/);
});

test("grant.revoke: holder, admin, or an approver of every dataset of the grant", () => {
  const g = (datasets: string[]) => ({ kind: "grant", id: "3", grant: { id: "3", holderSubject: "sub-carol", datasets } }) as const;
  assert.equal(authorize(policy, carol, "grant.revoke", g(["demo.sales"])).reason, "the holder");
  assert.deepEqual(authorize(policy, bob, "grant.revoke", g(["demo.sales"])).rules, ["datasets[0]"]);
  assert.deepEqual(authorize(policy, ops, "grant.revoke", g(["demo.sales"])).rules, ["admins"]);
  // alice answers for none of its datasets: she is told there is no such grant, exactly as for an unknown id.
  assert.deepEqual(authorize(policy, alice, "grant.revoke", g(["demo.sales"])), { allowed: false, rules: [], reason: "there is no grant 3 that you may see", refusal: "missing" });
  // bob answers for demo.sales but not for a dataset without a rule: he knows of the grant, and is told who may revoke it.
  const part = authorize(policy, bob, "grant.revoke", g(["demo.sales", "other.set"]));
  assert.equal(part.allowed === false && part.refusal, "forbidden");
  assert.equal(authorize(policy, who("carol", [], "sub-other"), "grant.revoke", g(["demo.sales"])).allowed, false, "the holder is a subject");
  assert.equal(refusal(authorize(policy, alice, "grant.revoke", { kind: "grant", id: "4", grant: null })), "missing");
});

test("audit: auditors and admins read and verify everything; everyone reads their own records only", () => {
  assert.deepEqual(authorize(policy, dave, "audit.read", { kind: "audit_log", scope: "all" }).rules, ["auditors"]);
  assert.deepEqual(authorize(policy, ops, "audit.verify", { kind: "audit_log", scope: "all" }).rules, ["admins"]);
  assert.equal(authorize(policy, alice, "audit.read", { kind: "audit_log", scope: "all" }).allowed, false);
  assert.equal(authorize(policy, alice, "audit.read", { kind: "audit_log", scope: "own" }).allowed, true);
  assert.equal(authorize(policy, alice, "audit.verify", { kind: "audit_log", scope: "all" }).allowed, false);
  const rec = (actorSubject: string | null) => ({ kind: "audit_record", id: "5", record: { actorSubject } }) as const;
  assert.equal(authorize(policy, alice, "audit.read", rec("sub-alice")).allowed, true);
  assert.equal(refusal(authorize(policy, who("alice", [], "sub-other"), "audit.read", rec("sub-alice"))), "missing");
  assert.equal(authorize(policy, dave, "audit.read", rec(null)).allowed, true);
  assert.equal(refusal(authorize(policy, dave, "audit.read", { kind: "audit_record", id: "6", record: null })), "missing");
});

test("policy.explain: oneself with one's own groups, or anyone for auditors and admins", () => {
  assert.equal(authorize(policy, alice, "policy.explain", { kind: "explain", as: "alice", groups: ["analysts"] }).allowed, true);
  assert.equal(authorize(policy, alice, "policy.explain", { kind: "explain", as: "alice", groups: [] }).allowed, true, "no groups: her own");
  const probe = authorize(policy, alice, "policy.explain", { kind: "explain", as: "alice", groups: ["data-owners"] });
  assert.equal(probe.reason, "only admins and auditors may explain decisions for other groups than their own", "no probing other groups' rules");
  assert.equal(authorize(policy, alice, "policy.explain", { kind: "explain", as: "carol", groups: ["contractors"] }).allowed, false);
  assert.deepEqual(authorize(policy, dave, "policy.explain", { kind: "explain", as: "carol", groups: ["contractors"] }).rules, ["auditors"]);
});

test("an action on a resource it does not apply to is refused (fail closed)", () => {
  const r = authorize(policy, bob, "grant.revoke", { kind: "self" });
  assert.equal(r.allowed, false);
  assert.equal(r.reason, "grant.revoke does not apply to a self");
});
