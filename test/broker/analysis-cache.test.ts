/**
 * The broker remembers a statement's inspection and analysis by its text (and the schemas it was analysed with), never
 * a decision: the same text asked again after a policy reload, by another person, or after a table's schema changed
 * gets the answer the current policy, grants and schemas give, not the one remembered.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parsePolicy } from "../../src/policy/load.ts";
import type { DemoWarehouse } from "../../src/warehouse/duckdb.ts";
import { DATA_DIR } from "../fixtures/demo-data.ts";
import { type CorpusBroker, startCorpusBroker } from "./corpus-harness.ts";

const DEMO_POLICY = readFileSync(join(DATA_DIR, "policy.yaml"), "utf8");
const EMAIL_RULE = /(- match: "\*\.\*\.\*\.email"\n(\s+)style: email)/;

describe("cached analysis never carries a decision", { timeout: 60_000 }, () => {
  let b: CorpusBroker;
  before(async () => {
    b = await startCorpusBroker();
  });
  after(async () => {
    await b?.close();
  });
  const usePolicy = (yaml: string) => {
    const policy = parsePolicy(yaml, "policy.yaml");
    b.broker.deps.policy = () => policy;
  };

  test("a policy reload changes the answer to the very same text: masking, then opacity", async () => {
    const sql = "SELECT id, email FROM demo.sales.customers WHERE id = 1";
    const first = await b.alice.query(sql);
    assert.equal(first.status, 200, first.text);
    assert.equal(first.body.columns[1].mask, "email");
    // The e-mail rule is dropped: the same statement now returns the column unmasked.
    usePolicy(DEMO_POLICY.replace(EMAIL_RULE, "- match: demo.nowhere.none.none\n$2style: email"));
    const unmasked = await b.alice.query(sql);
    assert.equal(unmasked.status, 200, unmasked.text);
    assert.equal(unmasked.body.columns[1].masked, false);
    // (The content detectors still catch the address; what changed is that no column rule applies.)
    assert.notEqual(unmasked.body.rows[0].email, first.body.rows[0].email);

    // A filter on a masked column is refused (inference: deny), allowed under inference: allow, refused again after.
    const filter = "SELECT id FROM demo.sales.customers WHERE email LIKE 'a%' ORDER BY id LIMIT 3";
    usePolicy(DEMO_POLICY);
    const refused = await b.alice.query(filter);
    assert.equal(refused.status, 403, refused.text);
    usePolicy(DEMO_POLICY.replace(EMAIL_RULE, "$1\n$2inference: allow"));
    const allowed = await b.alice.query(filter);
    assert.equal(allowed.status, 200, allowed.text);
    usePolicy(DEMO_POLICY);
    const again = await b.alice.query(filter);
    assert.equal(again.status, 403, again.text);
  });

  test("what one person may run is not what another may: the text bob ran is refused to alice", async () => {
    usePolicy(DEMO_POLICY);
    const sql = "SELECT employee_id, department FROM demo.hr.employees ORDER BY employee_id LIMIT 2";
    const bob = await b.bob.query(sql);
    assert.equal(bob.status, 200, bob.text);
    const alice = await b.alice.query(sql);
    assert.equal(alice.status, 403, alice.text);
    assert.equal(alice.body.error.code, "denied");
  });

  test("a schema change is analysed afresh: a dropped column is refused, not answered from memory", async () => {
    usePolicy(DEMO_POLICY);
    const sql = "SELECT id, phone FROM demo.sales.customers WHERE id = 2";
    const before = await b.alice.query(sql);
    assert.equal(before.status, 200, before.text);
    await (b.broker.deps.warehouse as DemoWarehouse).administer("ALTER TABLE demo.sales.customers DROP COLUMN phone");
    const afterDrop = await b.alice.query(sql);
    assert.notEqual(afterDrop.status, 200, afterDrop.text);
    const star = await b.alice.query("SELECT * FROM demo.sales.customers WHERE id = 2");
    assert.equal(star.status, 200, star.text);
    assert.ok(!star.body.columns.some((c: { name: string }) => c.name === "phone"), "SELECT * has no phone column any more");
  });
});
