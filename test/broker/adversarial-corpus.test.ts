/**
 * The adversarial corpus (test/fixtures/adversarial-queries.ts) through the real dev broker on the real demo data
 * (POST /v1/query). Two checks per query: the decision (masked with exactly the expected outputs and styles, or
 * refused naming the column and the construct), and that the answer carries no raw sensitive value of the demo
 * CSVs, no reversible transform of one (reversed, base64, hex, digits only), and no per-row number equal to a
 * digit, character code, run of digits or length of one (or an employee's salary).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ADVERSARIAL, type AdversarialCase, type Family, SSN } from "../fixtures/adversarial-queries.ts";
import { type CorpusBroker, demo, forbiddenStrings, indexForbidden, leaksIn, numberLeaks, type QueryAnswer, startCorpusBroker } from "./corpus-harness.ts";

const forbidden = indexForbidden(forbiddenStrings());

/** What a value under each partial or whole style looks like on the wire. */
const SHAPES: Record<string, (v: unknown) => boolean> = {
  last4: (v) => typeof v === "string" && /^XXXXX.{4}$/u.test(v),
  first4: (v) => typeof v === "string" && /^.{4}XXXXX$/u.test(v),
  email: (v) => typeof v === "string" && /^XXXXX@[^@\s]+$/.test(v),
  redact: (v) => v === "[REDACTED]",
  null: (v) => v === null,
  hash: (v) => typeof v === "string" && /^[0-9a-f]{64}$/.test(v),
};

const lower = (s: unknown) => String(s).toLowerCase();

/** Checks one answer: nothing leaked, then the expected decision. Throws on failure. */
function check(c: AdversarialCase, r: QueryAnswer): void {
  const leaks = leaksIn(r.text, forbidden, c.sql);
  assert.deepEqual(leaks.slice(0, 5), [], `leaked (HTTP ${r.status}): ${r.text.slice(0, 300)}`);
  assert.deepEqual(numberLeaks(r.body).slice(0, 5), [], `per-row numbers carry a sensitive value (HTTP ${r.status}): ${r.text.slice(0, 300)}`);
  const e = c.expect;
  if (c.demoCannot && e.kind !== "refused") {
    assert.equal(r.status, 422, `the demo warehouse was expected to fail (${c.demoCannot}): HTTP ${r.status} ${r.text.slice(0, 200)}`);
    assert.equal(r.body.error.code, "query_failed");
    return;
  }
  if (e.kind === "refused") {
    assert.equal(r.status, 403, `expected a refusal (403), got HTTP ${r.status}: ${r.text.slice(0, 300)}`);
    assert.equal(r.body.error.code, "denied");
    assert.ok(typeof r.body.error.hint === "string" && r.body.error.hint.length > 0, `a refusal says what to do instead: ${r.text.slice(0, 300)}`);
    for (const [k, v] of Object.entries(e.details ?? {})) assert.deepEqual(r.body.error[k], v, `error.${k}: ${r.text.slice(0, 300)}`);
    if (e.columns.length === 0) assert.equal(r.body.error.column, undefined, `refused without naming a column: ${r.text.slice(0, 300)}`);
    const named = e.columns.filter((x) => x !== "");
    if (named.length > 0) {
      const got = r.body.error.column;
      const ok = named.includes(got) || (e.columns.includes("") && got === undefined);
      assert.ok(ok, `refused naming column ${JSON.stringify(got)} (construct ${JSON.stringify(r.body.error.construct)}), expected one of ${named.join(", ")}: ${r.body.error.message}`);
      if (got !== undefined && e.constructs.length > 0) {
        assert.ok(e.constructs.map(lower).includes(lower(r.body.error.construct)),
          `refused in construct ${JSON.stringify(r.body.error.construct)}, expected one of ${e.constructs.join(" | ")}: ${r.body.error.message}`);
      }
    }
    return;
  }
  assert.equal(r.status, 200, `expected an answer, got HTTP ${r.status}: ${r.text.slice(0, 300)}`);
  assert.ok(r.body.row_count > 0, "answered with rows");
  const columns: Array<{ name: string; masked: boolean; mask?: string }> = r.body.columns;
  const names = columns.map((col) => col.name);
  for (const row of r.body.rows.slice(0, 1)) assert.deepEqual(Object.keys(row), names, "each row has the answer's columns, by the same names");
  if (e.kind === "masked") {
    const got = Object.fromEntries(columns.filter((col) => col.masked).map((col) => [col.name, col.mask]));
    assert.deepEqual(got, e.outputs, `masked outputs ${JSON.stringify(columns)}`);
    for (const [name, style] of Object.entries(e.outputs)) {
      const bad = r.body.rows.map((row: Record<string, unknown>) => row[name]).filter((v: unknown) => v !== null && !SHAPES[style]!(v));
      assert.deepEqual(bad.slice(0, 3), [], `${name} values do not look like style ${style}`);
    }
    return;
  }
  assert.deepEqual(columns.filter((col) => col.masked).map((col) => col.name), [], "no output is masked by a column style");
  if (e.kind === "clear") assert.equal(r.body.masked_cells, 0, `no detector fired: ${r.text.slice(0, 300)}`);
  else assert.ok(r.body.masked_cells > 0, `the content detectors masked a cell: ${r.text.slice(0, 300)}`);
}

const FAMILIES: Family[] = [
  "projection", "wildcards", "functions", "row-count and cardinality oracles", "set operations and DISTINCT", "error oracles",
  "hash dictionary", "UNION literals", "correlated subqueries", "FROM-clause functions", "JSON/ARRAY/STRUCT", "whole-row values",
  "INFORMATION_SCHEMA", "content detectors",
];

test("the corpus has at least 200 queries, every family, and both decisions", () => {
  assert.ok(ADVERSARIAL.length >= 200, `${ADVERSARIAL.length} queries`);
  for (const f of FAMILIES) assert.ok(ADVERSARIAL.filter((c) => c.family === f).length >= 5, `family ${f}`);
  assert.ok(ADVERSARIAL.filter((c) => c.expect.kind === "refused").length >= 120);
  assert.ok(ADVERSARIAL.filter((c) => c.expect.kind === "masked").length >= 30);
  const names = new Set(ADVERSARIAL.map((c) => `${c.family}: ${c.name}`));
  assert.equal(names.size, ADVERSARIAL.length, "case names are unique");
  assert.ok(forbidden.size > 20_000, "forbidden strings cover every person and transform");
});

describe("adversarial corpus through the broker", { timeout: 120_000 }, () => {
  let b: CorpusBroker;
  before(async () => { b = await startCorpusBroker(); });
  after(async () => { await b?.close(); });

  for (const f of FAMILIES) {
    describe(f, () => {
      for (const c of ADVERSARIAL.filter((x) => x.family === f)) {
        test(`${c.expect.kind}: ${c.name}`, c.todo ? { todo: c.todo } : {}, async () => {
          check(c, await (c.as === "bob" ? b.bob : b.alice).query(c.sql));
        });
      }
    });
  }
});

describe("the checks can fail", () => {
  const masked: AdversarialCase = { family: "projection", name: "fake", sql: "SELECT 1", expect: { kind: "masked", outputs: { ssn: "last4" } } };
  const fake = (status: number, body: unknown): QueryAnswer => ({ status, text: JSON.stringify(body), body });

  test("an unmasked answer with a base64 demo SSN is caught", () => {
    const ssn = demo.customers[5]!.ssn!;
    assert.throws(() => check(masked, fake(200, { rows: [{ x: Buffer.from(ssn.replace(/-/g, "")).toString("base64") }] })), /leaked/);
  });

  test("per-row character codes of the SSN are caught, lined up by id or by position", () => {
    const codes = demo.customers.map((c) => ({ id: Number(c.id), d: c.ssn!.charCodeAt(2) }));
    const columns = [{ name: "id", masked: false }, { name: "d", masked: false }];
    assert.throws(() => check(masked, fake(200, { columns, rows: [...codes].reverse(), row_count: codes.length })), /per-row numbers/);
    assert.throws(() => check(masked, fake(200, { columns: [columns[1]], rows: codes.map(({ d }) => ({ d })), row_count: codes.length })), /per-row numbers/);
    const digits = demo.employees.map((e) => ({ employee_id: Number(e.employee_id), k: Math.floor(Number(e.salary) / 1000) }));
    assert.throws(() => check(masked, fake(200, { columns: [{ name: "employee_id", masked: false }, { name: "k", masked: false }], rows: digits, row_count: digits.length })), /per-row numbers/);
  });

  test("the issue's attacks, answered raw by the demo warehouse without the broker, are caught as per-row digits", async () => {
    const { openDemoWarehouse } = await import("../../src/warehouse/duckdb.ts");
    const w = await openDemoWarehouse();
    let n = 0;
    try {
      const attacks = ["COUNT over GENERATE_ARRAY of each SSN digit (issue 11)", "hr: salary via GENERATE_ARRAY (issue 11)",
        "ASCII per character rebuilds the phone (issue 11)", "ASCII per character rebuilds the e-mail (issue 11)"];
      for (const c of ADVERSARIAL.filter((x) => attacks.includes(x.name))) {
        const run = await w.run(c.sql, { maxRows: 10_000 });
        const rows = [];
        for await (const r of run.rows) rows.push(r);
        const body = { columns: run.schema.map((f) => ({ name: f.name, masked: false })), rows, row_count: rows.length, masked_cells: 0 };
        assert.throws(() => check(masked, fake(200, body)), /per-row numbers carry a sensitive value/, c.name);
        n++;
      }
      assert.equal(n, attacks.length);
    } finally {
      await w.close();
    }
  });

  test("a refusal that names the wrong column or construct is caught", () => {
    const c: AdversarialCase = { family: "functions", name: "fake", sql: "SELECT 1", expect: { kind: "refused", columns: [SSN], constructs: ["WHERE"] } };
    const err = (column: string, construct: string) => fake(403, { error: { code: "denied", message: "m", hint: "h", column, construct } });
    assert.throws(() => check(c, err("demo.sales.customers.email", "WHERE")), /naming column/);
    assert.throws(() => check(c, err(SSN, "GROUP BY")), /construct/);
    assert.doesNotThrow(() => check(c, err(SSN, "where")));
    assert.throws(() => check(c, fake(200, { columns: [], rows: [{ a: 1 }], row_count: 1 })), /expected a refusal/);
  });

  test("an answer with an unexpected masked output, or a value not in its style, is caught", () => {
    const body = (v: string) => ({ columns: [{ name: "ssn", masked: true, mask: "last4" }, { name: "n", masked: true, mask: "hash" }], rows: [{ ssn: v, n: "x" }], row_count: 1, masked_cells: 2 });
    assert.throws(() => check(masked, fake(200, body("XXXXX4575"))), /masked outputs/);
    const one = { columns: [{ name: "ssn", masked: true, mask: "last4" }], rows: [{ ssn: "XXX-XX-4575" }], row_count: 1, masked_cells: 1 };
    assert.throws(() => check(masked, fake(200, one)), /do not look like/);
  });
});
