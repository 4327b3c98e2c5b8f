// The demo warehouse reuses what it can between statements: translations by statement text, connections through a pool.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { openDemoWarehouse, type DemoWarehouse } from "../../src/warehouse/duckdb.ts";
import type { Row } from "../../src/warehouse/types.ts";

let wh: DemoWarehouse;
before(async () => { wh = await openDemoWarehouse(); });
after(async () => { await wh?.close(); });

async function rows(sql: string, opts: { maxRows?: number; signal?: AbortSignal } = {}): Promise<Row[]> {
  const r = await wh.run(sql, { maxRows: opts.maxRows ?? 1000, signal: opts.signal });
  const out: Row[] = [];
  for await (const row of r.rows) out.push(row);
  await r.done();
  return out;
}

test("a statement is translated once for its dry run, its run and every repeat; another text gets its own translation", async () => {
  const sql = "SELECT id, city FROM `demo.sales.customers` WHERE id = 7";
  const start = wh.stats().translations;
  await wh.dryRun(sql);
  assert.deepEqual(await rows(sql), [{ id: 7, city: (await rows("SELECT city FROM demo.sales.customers WHERE id = 7"))[0]!.city }]);
  for (let i = 0; i < 5; i++) await rows(sql);
  assert.equal(wh.stats().translations - start, 2, "one translation per distinct text");
  // The cache is keyed by the exact text: a different literal is a different statement with its own answer.
  assert.deepEqual(await rows("SELECT id FROM `demo.sales.customers` WHERE id = 8"), [{ id: 8 }]);
  assert.equal(wh.stats().translations - start, 3);
});

test("a refused statement is refused every time, not cached as something else", async () => {
  for (let i = 0; i < 2; i++) {
    await assert.rejects(wh.dryRun("DELETE FROM demo.sales.customers WHERE true"), { name: "WarehouseQueryError", reason: "invalidQuery", message: /only queries run here, not DELETE/ });
  }
});

test("the dry run reports tables the caller may change without changing the next answer", async () => {
  const sql = "SELECT order_id FROM demo.sales.orders LIMIT 1";
  const first = await wh.dryRun(sql);
  first.referencedTables[0]!.table = "changed";
  assert.deepEqual((await wh.dryRun(sql)).referencedTables, [{ project: "demo", dataset: "sales", table: "orders" }]);
});

test("sequential dry runs and runs share pooled connections instead of opening one each", async () => {
  const start = wh.stats().connectionsOpened;
  for (let i = 0; i < 20; i++) {
    await wh.dryRun(`SELECT id FROM demo.sales.customers WHERE id = ${i}`);
    await rows(`SELECT id FROM demo.sales.customers WHERE id = ${i}`);
  }
  assert.ok(wh.stats().connectionsOpened - start <= 1, `opened ${wh.stats().connectionsOpened - start} connections for 40 statements`);
});

test("concurrent statements each get their own connection, and the pool keeps them for the next burst", async () => {
  const burst = () => Promise.all(Array.from({ length: 8 }, (_, i) => rows(`SELECT ${i} AS n, COUNT(*) AS c FROM demo.sales.orders`)));
  const first = await burst();
  assert.deepEqual(first.map((r) => r[0]!.n), [0, 1, 2, 3, 4, 5, 6, 7]);
  const opened = wh.stats().connectionsOpened;
  const second = await burst();
  assert.deepEqual(second.map((r) => r[0]!.n), [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.equal(wh.stats().connectionsOpened, opened, "the second burst reused the first burst's connections");
});

test("a connection whose result was stopped early (maxRows) answers the next statement correctly", async () => {
  const capped = await wh.run("SELECT order_id FROM demo.sales.orders ORDER BY order_id", { maxRows: 3 });
  const got: Row[] = [];
  for await (const row of capped.rows) got.push(row);
  assert.equal((await capped.done()).truncated, true);
  assert.deepEqual(got, [{ order_id: 100001 }, { order_id: 100002 }, { order_id: 100003 }]);
  const opened = wh.stats().connectionsOpened;
  assert.deepEqual(await rows("SELECT COUNT(*) AS n FROM demo.sales.orders"), [{ n: 6000 }]);
  assert.equal(wh.stats().connectionsOpened, opened, "the stopped connection was reused");
});

test("an interrupted or failed connection is closed, not reused: the next statement runs on a fresh one and succeeds", async (t) => {
  // A warehouse of its own, so the pool holds exactly the connections this test used.
  const own = await openDemoWarehouse();
  t.after(() => own.close());
  const drain = async (sql: string, signal?: AbortSignal) => {
    const r = await own.run(sql, { maxRows: 1_000_000, signal });
    const out: Row[] = [];
    for await (const row of r.rows) { out.push(row); if (signal && out.length === 1) stop.abort(); }
    return out;
  };
  const stop = new AbortController();
  await assert.rejects(drain("SELECT a.order_id FROM demo.sales.orders a CROSS JOIN demo.sales.orders b", stop.signal), { name: "WarehouseQueryError", reason: "stopped" });
  assert.equal(own.stats().connectionsOpened, 1);
  assert.deepEqual(await drain("SELECT COUNT(*) AS n FROM demo.sales.customers"), [{ n: 600 }]);
  assert.equal(own.stats().connectionsOpened, 2, "the interrupted connection was closed");
  await assert.rejects(drain("SELECT nope FROM demo.sales.orders"), { name: "WarehouseQueryError", reason: "invalidQuery" });
  assert.equal(own.stats().connectionsOpened, 2, "the healthy connection was reused for the failing statement");
  assert.deepEqual(await drain("SELECT 2 AS x"), [{ x: 2 }]);
  assert.equal(own.stats().connectionsOpened, 3, "the failed statement's connection was closed");
  assert.deepEqual(await drain("SELECT 3 AS x"), [{ x: 3 }]);
  assert.equal(own.stats().connectionsOpened, 3);
});

test("a repeated dry run is answered without preparing again, as a copy; a catalogue change makes DuckDB answer afresh", async (t) => {
  const own = await openDemoWarehouse();
  t.after(() => own.close());
  const sql = "SELECT id, city FROM demo.sales.customers WHERE id = 3";
  const first = await own.dryRun(sql);
  first.schema.pop();
  first.referencedTables.length = 0;
  const again = await own.dryRun(sql);
  assert.deepEqual(again.schema.map((f) => f.name), ["id", "city"], "the caller's change did not reach the cache");
  assert.deepEqual(again.referencedTables, [{ project: "demo", dataset: "sales", table: "customers" }]);
  assert.equal(own.stats().dryRunsPrepared, 1);
  await own.administer("ALTER TABLE demo.sales.customers DROP COLUMN city");
  await assert.rejects(own.dryRun(sql), { name: "WarehouseQueryError", reason: "invalidQuery", message: /city/ });
  assert.equal(own.stats().dryRunsPrepared, 2);
});
