/**
 * The two policy knobs of opaque masking, through the real dev broker: the keyed `hash` style uses a key of each
 * source column's own, so no literal, other column or computed value is ever hashed with a masked column's key
 * (no dictionary attack), and `inference: allow` lets a column be used anywhere while anything computed from it comes
 * back masked with a constant of its type.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { keyedHash } from "../../src/masking/styles.ts";
import { copyDemoData, DATA_DIR, demo } from "../fixtures/demo-data.ts";
import { type CorpusBroker, startCorpusBroker } from "./corpus-harness.ts";

const C = "demo.sales.customers";
const E = "demo.hr.employees";
const SSN1 = demo.customers[0]!.ssn!;

/** The demo policy with customers' and employees' SSNs under `hash`, and e-mails under `inference: allow`. */
function policyVariant(): string {
  const yaml = readFileSync(join(DATA_DIR, "policy.yaml"), "utf8")
    .replace(/(- match: demo\.sales\.customers\.ssn\n\s+style:) last4/, "$1 hash")
    .replace(/(- match: demo\.hr\.employees\.ssn\n\s+style:) last4/, "$1 hash")
    .replace(/(- match: "\*\.\*\.\*\.email"\n(\s+)style: email)/, "$1\n$2inference: allow");
  assert.equal((yaml.match(/style: hash/g) ?? []).length, 2, "both SSN rules now hash");
  assert.match(yaml, /inference: allow/);
  return yaml;
}

describe("masking policies: per-column hash keys and inference: allow", { timeout: 60_000 }, () => {
  const key = randomBytes(32);
  let b: CorpusBroker;
  let dir: string;
  before(async () => {
    // Customer 2 and employee 1001 get customer 1's SSN: one value in two rows of one column, and in another column.
    dir = copyDemoData(mkdtempSync(join(tmpdir(), "jit-hash-")), [
      { file: "customers.csv", key: "2", from: demo.customers[1]!.ssn!, to: SSN1 },
      { file: "employees.csv", key: "1001", from: demo.employees[0]!.ssn!, to: SSN1 },
    ]);
    b = await startCorpusBroker({ warehouseDataDir: dir, hashKeyHex: key.toString("hex"), policyYaml: policyVariant() });
  });
  after(async () => {
    await b?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("hash: one value hashes alike within a column, differently in another column, and never under the broker key itself", async () => {
    const c = await b.bob.query(`SELECT id, ssn FROM ${C} WHERE id IN (1, 2) ORDER BY id`);
    assert.equal(c.status, 200, c.text.slice(0, 300));
    assert.deepEqual(c.body.columns.map((x: { mask?: string }) => x.mask ?? null), [null, "hash"]);
    const [h1, h2] = c.body.rows.map((r: { ssn: string }) => r.ssn);
    assert.match(h1, /^[0-9a-f]{64}$/);
    assert.equal(h1, h2, "the same SSN in one column hashes alike (hashed ids still join)");
    const again = await b.bob.query(`SELECT ssn FROM ${C} WHERE id = 1`);
    assert.equal(again.body.rows[0].ssn, h1, "stable across queries");
    const e = await b.bob.query(`SELECT employee_id, ssn FROM ${E} WHERE employee_id = 1001`);
    assert.equal(e.status, 200, e.text.slice(0, 300));
    assert.notEqual(e.body.rows[0].ssn, h1, "the same SSN in another column hashes differently");
    assert.notEqual(h1, keyedHash(SSN1, key), "not the broker key itself: a key derived for the column");
  });

  test("hash: no query gets a guess, another column or a computed value hashed with the SSN column's key", async () => {
    const { body } = await b.bob.query(`SELECT ssn FROM ${C} WHERE id = 1`);
    const target = body.rows[0].ssn as string;
    const attempts = [
      `SELECT ssn FROM ${C} UNION ALL SELECT '${SSN1}'`,
      `SELECT ssn FROM ${C} UNION ALL SELECT city FROM ${C}`,
      `SELECT ssn FROM ${C} UNION ALL SELECT ssn FROM ${E}`,
      `SELECT CONCAT(SUBSTR(ssn, 1, 0), '${SSN1}') AS ssn FROM ${C} WHERE id = 1`,
      `SELECT CONCAT(SUBSTR(ssn, 1, 1), '') AS d FROM ${C} WHERE id = 1`,
      `SELECT COALESCE(NULLIF(ssn, ssn), '${SSN1}') AS ssn FROM ${C} WHERE id = 1`,
      `SELECT IF(FALSE, ssn, '${SSN1}') AS ssn FROM ${C} WHERE id = 1`,
      `WITH g AS (SELECT '${SSN1}' AS ssn) SELECT ssn FROM ${C} UNION ALL SELECT ssn FROM g`,
    ];
    for (const sql of attempts) {
      const r = await b.bob.query(sql);
      assert.equal(r.status, 403, `${sql}: HTTP ${r.status} ${r.text.slice(0, 200)}`);
      assert.ok(["demo.sales.customers.ssn", "demo.hr.employees.ssn"].includes(r.body.error.column), `${sql}: ${r.body.error.message}`);
      assert.ok(!r.text.includes(target), sql);
    }
    const literal = await b.bob.query(`SELECT '${SSN1}' AS ssn`);
    assert.equal(literal.status, 200);
    assert.ok(!literal.text.includes(target), "a typed SSN is caught by the detector, never hashed with the column's key");
  });

  test("inference: allow: the e-mail may be filtered and grouped on, and computed outputs come back as a constant of their type", async () => {
    const like = await b.alice.query(`SELECT COUNT(*) AS n FROM ${C} WHERE email LIKE 's%'`);
    assert.equal(like.status, 200, like.text.slice(0, 300));
    assert.deepEqual(like.body.rows, [{ n: demo.customers.filter((c) => c.email!.startsWith("s")).length }]);
    const grouped = await b.alice.query(`SELECT email, COUNT(*) AS n FROM ${C} GROUP BY email`);
    assert.equal(grouped.status, 200, grouped.text.slice(0, 300));
    assert.equal(grouped.body.row_count, new Set(demo.customers.map((c) => c.email)).size);
    assert.ok(grouped.body.rows.every((r: { email: string }) => /^XXXXX@/.test(r.email)), "the projected e-mail keeps its style");
    const computed = await b.alice.query(`SELECT UPPER(email) AS u, LENGTH(email) AS n, CONCAT(SUBSTR(email, 1, 0), '7') AS g FROM ${C} WHERE id <= 3`);
    assert.equal(computed.status, 200, computed.text.slice(0, 300));
    assert.deepEqual(computed.body.columns.map((c: { name: string; type: string; mask: string }) => [c.name, c.type, c.mask]), [["u", "STRING", "redact"], ["n", "INT64", "redact"], ["g", "STRING", "redact"]]);
    assert.deepEqual(computed.body.rows, Array(3).fill({ u: "[REDACTED]", n: 0, g: "[REDACTED]" }), "a constant, never a hash or a part of a value the query chose");
    const still = await b.alice.query(`SELECT COUNT(*) AS n FROM ${C} WHERE ssn LIKE '7%'`);
    assert.equal(still.status, 403, "columns without the allowance stay opaque");
    assert.equal(still.body.error.column, "demo.sales.customers.ssn");
  });
});
