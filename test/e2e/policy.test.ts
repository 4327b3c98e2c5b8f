/** `jit policy check` and `jit policy explain` through the binary. */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type DevBrokerProcess, runJit, startBroker, userEnv } from "./harness.ts";

const DEMO_POLICY = new URL("../../data/demo/policy.yaml", import.meta.url).pathname;

describe("jit policy", { timeout: 60_000 }, () => {
  let broker: DevBrokerProcess;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "jit-policy-"));
    broker = await startBroker();
    for (const u of ["alice", "dave"]) assert.equal((await broker.login(u)).code, 0);
  });
  after(async () => {
    await broker?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("check: the demo policy is valid; a broken one lists every error with file:line:column, exit 2", async () => {
    const ok = await runJit(["policy", "check", DEMO_POLICY], userEnv(dir, undefined));
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /valid policy/);
    const bad = join(dir, "bad.yaml");
    writeFileSync(bad, [
      "version: 1",
      "datasets:",
      "  - match: demo.sales",
      "    access:",
      "      - groups: [contractors]",
      "        approval: required",
      "        max_duration: 90x",
      "masking:",
      "  columns:",
      "    - match: demo.sales.customers.ssn",
      "      style: scramble",
      "colour: blue",
    ].join("\n"));
    const r = await runJit(["policy", "check", bad, "--json"], userEnv(dir, undefined));
    assert.equal(r.code, 2);
    const err = JSON.parse(r.stderr) as { error: { errors: Array<{ line: number; column: number; path: string; message: string }> } };
    const lines = err.error.errors.map((e) => e.line).sort((a, b) => a - b);
    assert.ok(lines.includes(7), "bad duration on line 7");
    assert.ok(lines.includes(11), "unknown mask style on line 11");
    assert.ok(lines.includes(12), "unknown key on line 12");
    assert.ok(err.error.errors.some((e) => /approvers/.test(e.message)), "approval required without approvers");
    const human = await runJit(["policy", "check", bad], userEnv(dir, undefined));
    assert.match(human.stderr, /bad\.yaml:7:\d+:/);
  });

  test("explain: decision and the rules behind it, for an auditor asking about someone else", async () => {
    const r = await runJit(["policy", "explain", "--as", "carol", "--groups", "contractors", "--json", "SELECT full_name, ssn FROM demo.sales.customers"], broker.env("dave"));
    assert.equal(r.code, 0, r.stderr);
    const e = JSON.parse(r.stdout) as { decision: string; access: Array<{ rule: string; approvers: string[] }>; statement: { columns: Array<{ name: string; masked: boolean; rules: string[] }> } };
    assert.equal(e.decision, "approval_required");
    assert.equal(e.access[0]!.rule, "datasets[0].access[2]");
    assert.deepEqual(e.access[0]!.approvers, ["data-owners"]);
    assert.deepEqual(e.statement.columns.map((c) => [c.name, c.masked]), [["full_name", false], ["ssn", true]]);

    const hr = await runJit(["policy", "explain", "--as", "carol", "--groups", "contractors", "SELECT COUNT(*) AS n FROM demo.hr.employees"], broker.env("dave"));
    assert.equal(hr.code, 4);
    assert.match(hr.stdout, /denied/);

    const inference = await runJit(["policy", "explain", "--as", "alice", "--groups", "analysts", "SELECT city FROM demo.sales.customers ORDER BY ssn"], broker.env("alice"));
    assert.equal(inference.code, 4);
    assert.match(inference.stdout, /statement refused: .*ssn.*ORDER BY/);

    const nosy = await runJit(["policy", "explain", "--as", "carol", "--groups", "contractors", "SELECT 1"], broker.env("alice"));
    assert.equal(nosy.code, 4);
    assert.match(nosy.stderr, /only admins and auditors/);
  });
});
