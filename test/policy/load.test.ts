import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { lintPolicy, loadPolicyFile, parsePolicy, type PolicyIssue } from "../../src/policy/load.ts";
import { JitError } from "../../src/errors.ts";

const DEMO = fileURLToPath(new URL("../../data/demo/policy.yaml", import.meta.url));

/** A valid minimal policy's lines; tests splice mistakes into a copy. */
const BASE = [
  "version: 1", //                      1
  "admins: [platform-admins]", //       2
  "datasets:", //                       3
  "  - match: demo.sales", //           4
  "    access:", //                     5
  "      - groups: [analysts]", //      6
  "        approval: auto", //          7
  "        max_duration: 8h", //        8
  "      - groups: [contractors]", //   9
  "        approval: required", //      10
  "        approvers: [analysts]", //   11
  "        max_duration: 1h", //        12
];

function withLine(n: number, text: string, lines = BASE): string {
  const copy = [...lines];
  copy[n - 1] = text;
  return copy.join("\n") + "\n";
}

/** "line:column path: message" for each error, the short form tests compare. */
function errors(text: string): string[] {
  return lintPolicy(text, "p.yaml").errors.map(short);
}
const short = (i: PolicyIssue) => `${i.line}:${i.column} ${i.path}: ${i.message}`;

function only(text: string): string {
  const e = errors(text);
  assert.equal(e.length, 1, `expected exactly one error, got:\n${e.join("\n")}`);
  return e[0]!;
}

test("the demo policy loads with no warnings and says what SPEC's demo table says", () => {
  const policy = loadPolicyFile(DEMO);
  assert.deepEqual(policy.admins, ["platform-admins"]);
  assert.deepEqual(policy.auditors, ["auditors"]);
  assert.deepEqual(policy.datasets.map((d) => d.match), ["demo.sales", "demo.hr"]);
  assert.deepEqual(policy.masking.detectors, ["credit_card", "us_ssn", "email"]);
  const salary = policy.masking.columns.find((c) => c.match === "demo.hr.employees.salary");
  assert.equal(salary?.style, "null", "a bare `style: null` reads as the null mask");
  assert.deepEqual(policy.guardrails, { deny: ["dml", "ddl", "script", "export", "external_query"], maxBytesProcessed: 10e9, maxRows: 10_000 });
  assert.deepEqual(policy.requests, { pendingTtlMs: 86_400_000, perQueryTtlMs: 900_000 });
  assert.deepEqual(lintPolicy(readDemo(), DEMO).warnings, []);
});

test("defaults: groups claim, detectors, guardrails, requests, max_duration 1h, min_approvals 1, reason required", () => {
  const p = parsePolicy(BASE.join("\n"), "p.yaml");
  assert.equal(p.groupsClaim, "groups");
  assert.deepEqual(p.auditors, []);
  assert.deepEqual(p.masking, { columns: [], detectors: ["credit_card", "us_ssn", "email"] });
  assert.equal(p.guardrails.deny.length, 5);
  assert.equal(p.guardrails.maxRows, 10_000);
  const noDuration = parsePolicy(withLine(8, "        reason_required: false"), "p.yaml");
  const rule = noDuration.datasets[0]!.access[0]!;
  assert.equal(rule.maxDurationMs, 3_600_000);
  assert.equal(rule.reasonRequired, false);
  assert.equal(noDuration.datasets[0]!.access[1]!.minApprovals, 1);
  assert.equal(noDuration.datasets[0]!.access[1]!.reasonRequired, true);
  assert.equal(parsePolicy(BASE.join("\n") + "\nguardrails:\n  max_bytes_processed: null\n", "p").guardrails.maxBytesProcessed, null);
});

test("version must be the number 1", () => {
  assert.equal(only(withLine(1, "version: 2")), '1:10 version: unsupported version 2: this jit reads version: 1 (the number)');
  assert.equal(only(withLine(1, "# no version")), '2:1 : missing required key "version" (the policy format version: 1)');
});

test("unknown keys anywhere, with a did-you-mean when close", () => {
  assert.equal(only(withLine(2, "admin: [platform-admins]")), '2:1 admin: unknown key (did you mean "admins"?)');
  assert.deepEqual(errors(withLine(10, "        aproval: required")), [
    '9:9 datasets[0].access[1]: missing required key "approval" (auto | required | per_query)',
    '10:9 datasets[0].access[1].aproval: unknown key (did you mean "approval"?)',
  ]);
  assert.equal(only(BASE.join("\n") + "\nmasking:\n  colums: []\n"), '14:3 masking.colums: unknown key (did you mean "columns"?)');
  assert.match(only(withLine(2, "colour: blue")), /^2:1 colour: unknown key; expected one of version, groups_claim/);
});

test("wrong types and bad enum values name the path and what was expected", () => {
  assert.equal(only(withLine(10, "        approval: sometimes")), '10:19 datasets[0].access[1].approval: expected auto | required | per_query, got "sometimes"');
  assert.equal(only(withLine(6, "      - groups: analysts")), '6:17 datasets[0].access[0].groups: expected a list, got "analysts"');
  assert.equal(only(withLine(6, "      - groups: []")), "6:17 datasets[0].access[0].groups: expected a non-empty list, got a list");
  assert.equal(only(withLine(6, "      - groups: [analysts, 7]")), "6:28 datasets[0].access[0].groups[1]: expected a string, got 7");
  assert.equal(only(withLine(2, "admins: {a: 1}")), "2:9 admins: expected a list, got a mapping");
  assert.equal(only(withLine(8, "        max_duration: 8h\n        reason_required: maybe")), '9:26 datasets[0].access[0].reason_required: expected true or false, got "maybe"');
});

test("bad durations", () => {
  assert.match(only(withLine(8, "        max_duration: 90x")), /^8:23 datasets\[0\]\.access\[0\]\.max_duration: expected a positive duration .*got "90x"$/);
  assert.match(only(withLine(8, "        max_duration: 0m")), /^8:23 .*got "0m"$/);
  assert.match(only(withLine(8, "        max_duration: 3600")), /^8:23 .*got 3600$/);
  assert.match(only(BASE.join("\n") + "\nrequests:\n  pending_ttl: 1w\n"), /^14:16 requests\.pending_ttl: expected a positive duration/);
});

test("unknown mask styles, detectors and guardrail kinds, and bad sizes", () => {
  const masking = ["masking:", "  columns:", "    - match: demo.sales.customers.ssn", "      style: last5", "  detectors: [credit_card, ssn]"];
  assert.deepEqual(errors([...BASE, ...masking].join("\n")), [
    '16:14 masking.columns[0].style: expected redact | null | default | last4 | first4 | hash | sha256 | email | year, got "last5" (did you mean "last4"?)',
    '17:28 masking.detectors[1]: expected credit_card | us_ssn | email | phone | iban, got "ssn"',
  ]);
  const guard = ["guardrails:", "  deny: [dml, drop]", "  max_bytes_processed: 10XB", "  max_rows: 0"];
  assert.deepEqual(errors([...BASE, ...guard].join("\n")).map((e) => e.split(": ")[0]), [
    "14:15 guardrails.deny[1]", "15:24 guardrails.max_bytes_processed", "16:13 guardrails.max_rows",
  ]);
  const inference = ["masking:", "  columns:", "    - match: demo.sales.customers.ssn", "      style: hash", "      inference: sometimes"];
  assert.match(only([...BASE, ...inference].join("\n")), /^17:18 masking\.columns\[0\]\.inference: expected deny \| allow/);
});

test("approval required or per_query without approvers", () => {
  assert.equal(only(withLine(11, "        min_approvals: 1")), "9:9 datasets[0].access[1].approvers: approval: required needs at least one approvers group, e.g. approvers: [data-owners]");
  const perQuery = withLine(10, "        approval: per_query", BASE).replace("approvers: [analysts]", "approvers: []");
  assert.equal(only(perQuery), "11:20 datasets[0].access[1].approvers: approval: per_query needs at least one approvers group, e.g. approvers: [data-owners]");
});

test("min_approvals below 1 or beyond what can be gathered", () => {
  assert.equal(only(withLine(12, "        min_approvals: 0")), "12:24 datasets[0].access[1].min_approvals: expected a whole number from 1 to 10, got 0");
  assert.match(only(withLine(12, "        min_approvals: 11")), /^12:24 .*from 1 to 10, got 11$/);
  assert.match(only(withLine(12, "        min_approvals: 1.5")), /^12:24 .*expected a whole number, got 1.5$/);
});

test("dataset match must be project.dataset and column match project.dataset.table.column", () => {
  assert.equal(only(withLine(4, "  - match: demo")), '4:12 datasets[0].match: expected project.dataset (e.g. demo.sales or demo.*), got "demo" (1 part)');
  assert.match(only(withLine(4, "  - match: demo.sales.customers")), /^4:12 datasets\[0\]\.match: .*\(3 parts\)$/);
  assert.match(only(withLine(4, "  - match: demo..sales")), /^4:12 datasets\[0\]\.match: expected project\.dataset/);
  assert.match(only(withLine(4, "  - match: 'demo.sales; drop'")), /^4:12 datasets\[0\]\.match/);
  assert.equal(errors(withLine(4, '  - match: "*.*"')).length, 0);
  const col = (m: string) => [...BASE, "masking:", "  columns:", `    - match: ${m}`, "      style: redact"].join("\n");
  assert.match(only(col("sales.customers.ssn")), /^15:14 masking\.columns\[0\]\.match: expected project\.dataset\.table\.column .*\(3 parts\)$/);
  assert.equal(errors(col('"*.*.*.email"')).length, 0);
  assert.equal(errors(col("demo.sales.customers.ssn")).length, 0);
});

test("missing required keys point at the mapping that lacks them", () => {
  assert.equal(only(withLine(7, "        reason_required: true")), '6:9 datasets[0].access[0]: missing required key "approval" (auto | required | per_query)');
  assert.equal(only("version: 1\ndatasets:\n  - match: demo.sales\n"), '3:5 datasets[0]: missing required key "access" (a list of rules: groups, approval, max_duration)');
  assert.equal(only("version: 1\ndatasets:\n  - access: [{groups: [a], approval: auto}]\n"),
    '3:5 datasets[0]: missing required key "match" (project.dataset, glob allowed, e.g. demo.sales or demo.*)');
});

test("duplicate YAML keys and YAML syntax errors carry their position", () => {
  assert.deepEqual(errors(withLine(8, "        max_duration: 8h\n        approval: auto")), [
    '9:9 datasets[0].access[0].approval: duplicate key "approval": each key may appear once',
  ]);
  const syntax = errors(withLine(6, "      - groups: [analysts"));
  assert.ok(syntax.length >= 1);
  assert.match(syntax[0]!, /^\d+:\d+ : YAML: /);
  assert.equal(only("version: 1\n---\nversion: 1\n").slice(0, 4), "2:1 ");
  assert.equal(only(""), "1:1 : the file is empty: a policy starts with `version: 1` (see data/demo/policy.yaml)");
  assert.match(only(BASE.join("\n") + "\nauditors: *x\n"), /^1[34]:\d+ /);
});

test("YAML aliases are refused rather than expanded", () => {
  const text = BASE.join("\n").replace("admins: [platform-admins]", "admins: &a [platform-admins]") + "\nauditors: *a\n";
  assert.equal(only(text), "13:11 auditors: YAML aliases (*name) are not allowed in a policy; write the value out");
});

test("every error is reported at once, sorted by position, in one usage JitError", () => {
  const text = [
    "version: 2", "admin: [x]", "datasets:", "  - match: demo", "    access:", "      - groups: [a]",
    "        approval: sometimes", "        max_duration: 90x",
  ].join("\n");
  assert.throws(() => parsePolicy(text, "broker.yaml"), (e: unknown) => {
    assert.ok(e instanceof JitError);
    assert.equal(e.code, "usage");
    const list = e.details.errors as PolicyIssue[];
    assert.deepEqual(list.map((i) => `${i.line}:${i.column}`), ["1:10", "2:1", "4:12", "7:19", "8:23"]);
    assert.deepEqual(list[3], {
      file: "broker.yaml", line: 7, column: 19, path: "datasets[0].access[0].approval",
      message: 'expected auto | required | per_query, got "sometimes"',
    });
    assert.match(e.message, /^invalid policy broker\.yaml \(5 errors\):\n/);
    assert.ok(e.message.includes('broker.yaml:7:19: datasets[0].access[0].approval: expected auto | required | per_query, got "sometimes"'));
    assert.match(e.hint ?? "", /jit policy check broker\.yaml/);
    return true;
  });
});

test("loadPolicyFile: a missing file is a usage error", () => {
  const dir = mkdtempSync(join(tmpdir(), "jit-policy-"));
  assert.throws(() => loadPolicyFile(join(dir, "nope.yaml")), (e: unknown) => e instanceof JitError && e.code === "usage" && /no such file/.test(e.message));
  writeFileSync(join(dir, "p.yaml"), BASE.join("\n"));
  assert.equal(loadPolicyFile(join(dir, "p.yaml")).datasets.length, 1);
});

test("warnings: ignored keys, unknown approver groups, peer-only approval, rules that never decide", () => {
  const text = [
    "version: 1", //                                 1
    "datasets:", //                                  2
    "  - match: demo.sales", //                      3
    "    access:", //                                4
    "      - groups: [analysts]", //                 5
    "        approval: auto", //                     6
    "        approvers: [data-owners]", //           7
    "      - groups: [contractors]", //              8
    "        approval: required", //                 9
    "        approvers: [data-owner]", //            10
    "      - groups: [analysts]", //                 11
    "        approval: required", //                 12
    "        approvers: [analysts]", //              13
    "  - match: demo.hr", //                         14
    "    access:", //                                15
    "      - groups: [data-owners]", //              16
    "        approval: auto", //                     17
  ].join("\n");
  const { policy, errors: errs, warnings } = lintPolicy(text, "w.yaml");
  assert.ok(policy);
  assert.deepEqual(errs, []);
  assert.deepEqual(warnings.map(short), [
    "7:9 datasets[0].access[0].approvers: ignored: approval is auto, nobody is asked",
    '10:9 datasets[0].access[1].approvers: approver group "data-owner" appears nowhere else in the policy (did you mean "data-owners"?): requests stay pending unless your identity provider puts people in it',
    "11:9 datasets[0].access[2]: never decides: for each of its groups a more favourable or earlier rule applies (datasets[0].access[0])",
    "13:9 datasets[0].access[2].approvers: only fellow members of [analysts] can approve these requests; nobody approves their own, so a group of one is never approved",
  ]);
  assert.deepEqual(lintPolicy("version: 1\n", "e.yaml").warnings.map(short), ["1:1 datasets: no datasets: this policy gives nobody access to any data"]);
});

function readDemo(): string {
  return readFileSync(DEMO, "utf8");
}
