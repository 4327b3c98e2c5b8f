/**
 * Noninterference, the property behind "masked means opaque" (docs/masking.md): the answer to a query may depend on
 * a masked value only in its masked cells. One dev broker answers random queries (test/fixtures/random-queries.ts)
 * from the real demo warehouse and from warehouses loaded from copies of the demo CSVs that differ in ONE masked
 * value; for every query the answers must agree outside masked cells: the same decision (refused with the same error,
 * or answered), the same columns, row count, unmasked cells, bytes and failure.
 *
 * Seeded: JIT_PROPERTY_SEED=<n> replays a run (a failure prints its seed); JIT_PROPERTY_SEED=random explores.
 * The warehouse is swapped through the broker's `deps` between requests (it is read per request); src has no option.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { openDemoWarehouse } from "../../src/warehouse/duckdb.ts";
import type { Row, Warehouse } from "../../src/warehouse/types.ts";
import { copyDemoData, type DemoEdit } from "../fixtures/demo-data.ts";
import { randomQueries, type RandomQuery } from "../fixtures/random-queries.ts";
import { type CorpusBroker, type QueryAnswer, startCorpusBroker } from "./corpus-harness.ts";

const SEED = process.env.JIT_PROPERTY_SEED === "random" ? Math.floor(Math.random() * 2 ** 31) : Number(process.env.JIT_PROPERTY_SEED ?? 20261202);
const COUNT = Number(process.env.JIT_PROPERTY_COUNT ?? 300);

/**
 * Each variant differs from the demo data in one masked value of the same type. The shorter e-mail changes the
 * column's stored size, which the warehouse's byte figures count: the broker must not let that through either.
 */
const VARIANTS: Record<string, { edit: DemoEdit; reads: RegExp }> = {
  "customer 1's SSN": { edit: { file: "customers.csv", key: "1", from: "757-41-4575", to: "102-63-8841" }, reads: /customers/ },
  "employee 1001's salary": { edit: { file: "employees.csv", key: "1001", from: "84250.00", to: "151730.00" }, reads: /employees/ },
  "customer 3's e-mail": { edit: { file: "customers.csv", key: "3", from: "priya.wright@example.com", to: "wright.priya@example.com" }, reads: /customers/ },
  "customer 3's e-mail, shorter": { edit: { file: "customers.csv", key: "3", from: "priya.wright@example.com", to: "p.wright@example.com" }, reads: /customers/ },
};

/** What must be equal between two answers: everything but masked cells and per-request ids. */
export function differences(a: QueryAnswer, b: QueryAnswer, ordered: boolean): string[] {
  if (a.status !== b.status) return [`HTTP ${a.status} vs ${b.status}: ${a.text.slice(0, 200)} | ${b.text.slice(0, 200)}`];
  if (a.status !== 200) {
    const strip = (e: Record<string, unknown>) => { const { job_id: _, ...rest } = e; return rest; };
    try {
      assert.deepEqual(strip(a.body.error), strip(b.body.error));
      return [];
    } catch {
      return [`errors differ: ${JSON.stringify(a.body.error)} | ${JSON.stringify(b.body.error)}`];
    }
  }
  const out: string[] = [];
  for (const k of ["columns", "row_count", "truncated", "masked_cells", "bytes_processed"]) {
    if (JSON.stringify(a.body[k]) !== JSON.stringify(b.body[k])) out.push(`${k}: ${JSON.stringify(a.body[k])} vs ${JSON.stringify(b.body[k])}`);
  }
  if (out.length) return out;
  const clear = a.body.columns.filter((c: { masked: boolean }) => !c.masked).map((c: { name: string }) => c.name) as string[];
  const visible = (rows: Row[]) => rows.map((r) => JSON.stringify(clear.map((n) => r[n] ?? null)));
  const [ra, rb] = [visible(a.body.rows), visible(b.body.rows)];
  if (!ordered) { ra.sort(); rb.sort(); }
  const i = ra.findIndex((x, j) => x !== rb[j]);
  return i < 0 ? [] : [`unmasked cells of row ${i} differ: ${ra[i]} vs ${rb[i]}`];
}

/** Whether the masked cells of two (equal-shaped) answers differ: the changed value did reach the answer. */
function maskedCellsDiffer(a: QueryAnswer, b: QueryAnswer): boolean {
  if (a.status !== 200 || b.status !== 200) return false;
  const masked = a.body.columns.filter((c: { masked: boolean }) => c.masked).map((c: { name: string }) => c.name) as string[];
  return masked.length > 0 && JSON.stringify(a.body.rows.map((r: Row) => masked.map((n) => r[n]))) !== JSON.stringify(b.body.rows.map((r: Row) => masked.map((n) => r[n])));
}

/** A raw warehouse answer in the broker's shape, with nothing masked: the comparison a leak would produce. */
async function raw(w: Warehouse, sql: string): Promise<QueryAnswer> {
  try {
    const run = await w.run(sql, { maxRows: 10_000 });
    const rows: Row[] = [];
    for await (const r of run.rows) rows.push(r);
    const done = await run.done();
    const body = { columns: run.schema.map((f) => ({ name: f.name, type: f.type, masked: false })), rows, row_count: rows.length, truncated: done.truncated, masked_cells: 0, bytes_processed: done.bytesProcessed };
    return { status: 200, text: JSON.stringify(body), body };
  } catch (err) {
    const body = { error: { code: "query_failed", message: err instanceof Error ? err.message : String(err) } };
    return { status: 422, text: JSON.stringify(body), body };
  }
}

describe(`noninterference: answers differ only in masked cells (seed ${SEED}, ${COUNT} queries)`, { timeout: 120_000 }, () => {
  let b: CorpusBroker;
  let original: Warehouse;
  const dirs: string[] = [];
  const changed = new Map<string, Warehouse>();
  const queries = randomQueries(SEED, COUNT);

  before(async () => {
    b = await startCorpusBroker();
    original = b.broker.deps.warehouse;
    for (const [name, v] of Object.entries(VARIANTS)) {
      const dir = copyDemoData(mkdtempSync(join(tmpdir(), "jit-variant-")), [v.edit]);
      dirs.push(dir);
      changed.set(name, await openDemoWarehouse({ dataDir: dir }));
    }
  });
  after(async () => {
    if (b) b.broker.deps.warehouse = original;
    await Promise.all([...changed.values()].map((w) => w.close()));
    await b?.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  const ask = async (w: Warehouse, sql: string): Promise<QueryAnswer> => {
    b.broker.deps.warehouse = w;
    try {
      return await b.bob.query(sql);
    } finally {
      b.broker.deps.warehouse = original;
    }
  };

  test("each variant really differs from the demo data in its one value", async () => {
    const probes: Record<string, string> = {
      "customer 1's SSN": "SELECT ssn FROM demo.sales.customers WHERE id = 1",
      "employee 1001's salary": "SELECT salary FROM demo.hr.employees WHERE employee_id = 1001",
      "customer 3's e-mail": "SELECT email FROM demo.sales.customers WHERE id = 3",
      "customer 3's e-mail, shorter": "SELECT email FROM demo.sales.customers WHERE id = 3",
    };
    for (const [name, sql] of Object.entries(probes)) {
      const [x, y] = [await raw(original, sql), await raw(changed.get(name)!, sql)];
      assert.deepEqual([x, y].map((r) => Object.values(r.body.rows[0])[0]), [VARIANTS[name]!.edit.from, VARIANTS[name]!.edit.to], name);
      const edited = VARIANTS[name]!.edit.file === "customers.csv" ? "demo.sales.customers" : "demo.hr.employees";
      for (const table of [edited, edited === "demo.hr.employees" ? "demo.sales.customers" : "demo.hr.employees"]) {
        const all = `SELECT * FROM ${table}`;
        const [ra, rb] = [await raw(original, all), await raw(changed.get(name)!, all)];
        const differing = ra.body.rows.filter((r: Row, i: number) => JSON.stringify(r) !== JSON.stringify(rb.body.rows[i])).length;
        assert.equal(differing, VARIANTS[name]!.edit.file === `${table.split(".")[2]}.csv` ? 1 : 0, `${name}: rows of ${table} that differ`);
      }
    }
  });

  test("the comparison catches a leak: a query that computes on a masked value, run without the broker", async () => {
    const leaky: RandomQuery = { sql: "SELECT c.id, ASCII(SUBSTR(c.ssn, 1, 1)) AS d FROM demo.sales.customers c WHERE c.id <= 5 ORDER BY c.id", ordered: true };
    const rawDiff = differences(await raw(original, leaky.sql), await raw(changed.get("customer 1's SSN")!, leaky.sql), true);
    assert.match(rawDiff.join("\n"), /unmasked cells of row 0 differ: \[1,55\] vs \[1,49\]/);
    const viaBroker = [await ask(original, leaky.sql), await ask(changed.get("customer 1's SSN")!, leaky.sql)];
    assert.deepEqual(differences(viaBroker[0]!, viaBroker[1]!, true), [], "the broker refuses it the same way on both");
    assert.equal(viaBroker[0]!.status, 403);
    // A row-count oracle and an error oracle, raw: the row count and the failure depend on the value.
    const rows = "SELECT c.id FROM demo.sales.customers c, UNNEST(GENERATE_ARRAY(1, CAST(SUBSTR(c.ssn, 1, 1) AS INT64))) AS i WHERE c.id = 1";
    assert.match(differences(await raw(original, rows), await raw(changed.get("customer 1's SSN")!, rows), false).join(), /row_count: 7 vs 1/);
    const fails = "SELECT DIV(1, ASCII(SUBSTR(ssn, 1, 1)) - 55) AS x FROM demo.sales.customers WHERE id = 1";
    assert.match(differences(await raw(original, fails), await raw(changed.get("customer 1's SSN")!, fails), true).join(), /HTTP 422 vs 200/);
    // A projection differs raw, and only in its (masked) cells through the broker.
    const proj = "SELECT id, ssn FROM demo.sales.customers WHERE id <= 3 ORDER BY id";
    assert.notDeepEqual(differences(await raw(original, proj), await raw(changed.get("customer 1's SSN")!, proj), true), []);
    const [pa, pb] = [await ask(original, proj), await ask(changed.get("customer 1's SSN")!, proj)];
    assert.deepEqual(differences(pa, pb, true), []);
    assert.ok(maskedCellsDiffer(pa, pb), "the changed SSN shows in its masked cell (a different last four)");
    // The byte figure counts a masked column's stored size: raw it tells the shorter e-mail apart; the broker withholds it.
    const shorter = changed.get("customer 3's e-mail, shorter")!;
    const emails = "SELECT id, email FROM demo.sales.customers WHERE id <= 3 ORDER BY id";
    assert.match(differences(await raw(original, emails), await raw(shorter, emails), true).join(), /bytes_processed: \d+ vs \d+/);
    const [ea, eb] = [await ask(original, emails), await ask(shorter, emails)];
    assert.deepEqual(differences(ea, eb, true), []);
    assert.equal(ea.body.bytes_processed, null, "no byte figure for a statement that reads a masked column");
    const clear = await ask(shorter, "SELECT id, city FROM demo.sales.customers WHERE id <= 3 ORDER BY id");
    assert.equal(typeof clear.body.bytes_processed, "number", "statements that read no masked column keep their byte figure");
  });

  test("random queries: same decision, columns, rows, unmasked cells and errors on every variant", async (t) => {
    const started = Date.now();
    const stats = { allowed: 0, refused: 0, failed: 0, allowedWithMasked: 0, maskedCellsChanged: 0 };
    const problems: string[] = [];
    for (const [i, q] of queries.entries()) {
      const base = await ask(original, q.sql);
      stats[base.status === 200 ? "allowed" : base.status === 403 ? "refused" : "failed"]++;
      if (base.status === 200 && base.body.columns.some((c: { masked: boolean }) => c.masked)) stats.allowedWithMasked++;
      for (const [name, v] of Object.entries(VARIANTS)) {
        if (!v.reads.test(q.sql)) continue;
        const other = await ask(changed.get(name)!, q.sql);
        const d = differences(base, other, q.ordered);
        if (d.length) problems.push(`query ${i} (${name}): ${q.sql}\n    ${d.join("\n    ")}`);
        if (maskedCellsDiffer(base, other)) stats.maskedCellsChanged++;
      }
      if (problems.length >= 5) break;
    }
    const report = `seed ${SEED} (replay: JIT_PROPERTY_SEED=${SEED} node --test ${"test/broker/noninterference.test.ts"}); ${JSON.stringify(stats)}; ${Date.now() - started} ms`;
    t.diagnostic(report);
    assert.deepEqual(problems, [], `${problems.length} queries whose answers depend on a masked value outside masked cells; ${report}`);
    // The grammar must exercise both decisions and the changed values themselves, or the property says little.
    assert.ok(stats.allowed >= COUNT * 0.25 && stats.refused >= COUNT * 0.25, report);
    assert.ok(stats.allowedWithMasked >= COUNT * 0.05 && stats.maskedCellsChanged >= 3, report);
  });
});
