// The schema cache in front of a real warehouse (DuckDB demo): lookups reused within the TTL, dropped on invalidate()
// or expiry, never remembered when they fail; a column dropped under it is still refused, by the warehouse while the
// cache is stale and by the broker's analysis once it is fresh.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { analyseStatement } from "../../src/broker/plan.ts";
import type { BrokerDeps } from "../../src/broker/context.ts";
import { DEMO_POLICY_PATH } from "../../src/broker/dev.ts";
import { JitError } from "../../src/errors.ts";
import { loadPolicyFile } from "../../src/policy/load.ts";
import { openDemoWarehouse, type DemoWarehouse } from "../../src/warehouse/duckdb.ts";
import { withSchemaCache } from "../../src/warehouse/schema-cache.ts";
import { WarehouseQueryError, type TableRef, type Warehouse } from "../../src/warehouse/types.ts";

const CUSTOMERS: TableRef = { project: "demo", dataset: "sales", table: "customers" };

/** The real warehouse, counting the catalogue calls that reach it. */
function counting(inner: Warehouse) {
  const calls = { tableSchema: 0, listTables: 0 };
  const wh: Warehouse = {
    defaultProject: inner.defaultProject,
    dryRun: (sql) => inner.dryRun(sql),
    run: (sql, opts) => inner.run(sql, opts),
    listDatasets: () => inner.listDatasets(),
    listTables: (ds) => (calls.listTables++, inner.listTables(ds)),
    tableSchema: (t) => (calls.tableSchema++, inner.tableSchema(t)),
    close: () => inner.close(),
  };
  return { wh, calls };
}

async function setup(t: TestContext) {
  const demo = await openDemoWarehouse();
  t.after(() => demo.close());
  const { wh, calls } = counting(demo);
  let now = 1_000_000;
  const cached = withSchemaCache(wh, { ttlMs: 10_000, now: () => now });
  return { demo, cached, calls, advance: (ms: number) => { now += ms; } };
}

test("a schema is looked up once within the TTL, again after it expires or after invalidate()", async (t) => {
  const { cached, calls, advance } = await setup(t);
  const first = await cached.tableSchema(CUSTOMERS);
  await cached.tableSchema(CUSTOMERS);
  advance(9_999);
  assert.deepEqual(await cached.tableSchema(CUSTOMERS), first);
  assert.equal(calls.tableSchema, 1);
  advance(1);
  await cached.tableSchema(CUSTOMERS);
  assert.equal(calls.tableSchema, 2, "expired after the TTL");
  cached.invalidate();
  await cached.tableSchema(CUSTOMERS);
  assert.equal(calls.tableSchema, 3, "invalidate() drops it");
  // Table lists the same way (wildcard tables are expanded from them).
  assert.deepEqual(await cached.listTables("demo.sales"), ["customers", "orders"]);
  await cached.listTables("demo.sales");
  assert.equal(calls.listTables, 1);
  cached.invalidate();
  await cached.listTables("demo.sales");
  assert.equal(calls.listTables, 2);
});

test("concurrent lookups of one table share one call; each caller gets its own copy", async (t) => {
  const { cached, calls } = await setup(t);
  const schemas = await Promise.all(Array.from({ length: 20 }, () => cached.tableSchema(CUSTOMERS)));
  assert.equal(calls.tableSchema, 1);
  schemas[0]!.length = 0;
  (await cached.listTables("demo.sales")).push("injected");
  assert.equal((await cached.tableSchema(CUSTOMERS)).length, 8, "a caller's change does not reach the cache");
  assert.deepEqual(await cached.listTables("demo.sales"), ["customers", "orders"]);
});

test("a failed lookup is not remembered", async (t) => {
  const { cached, calls } = await setup(t);
  const missing = { ...CUSTOMERS, table: "nope" };
  for (let i = 0; i < 2; i++) {
    await assert.rejects(cached.tableSchema(missing), (e: unknown) => e instanceof WarehouseQueryError && e.reason === "notFound");
  }
  assert.equal(calls.tableSchema, 2);
});

async function refusal(p: Promise<unknown>): Promise<JitError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof JitError, `expected a JitError, got ${String(err)}`);
    return err;
  }
  assert.fail("the query was not refused");
}

test("a dropped column is refused: by the warehouse while the cache is stale, by the analysis once it is invalidated or expires", async (t) => {
  const { demo, cached, advance } = await setup(t);
  const policy = loadPolicyFile(DEMO_POLICY_PATH);
  const deps = { policy: () => policy, warehouse: cached } as unknown as BrokerDeps;
  const sql = "SELECT id, city FROM demo.sales.customers WHERE id = 1";
  assert.deepEqual((await analyseStatement(deps, sql)).columns.map((c) => c.name), ["id", "city"]);

  await (demo as DemoWarehouse).administer("ALTER TABLE demo.sales.customers DROP COLUMN city");
  // Stale: the analysis still sees `city`, and the dry run, which always reaches the warehouse, refuses it.
  const stale = await refusal(analyseStatement(deps, sql));
  assert.equal(stale.code, "query_failed");
  assert.equal((stale.details as { reason?: string } | undefined)?.reason, "invalidQuery");
  assert.match(stale.message, /city/);

  cached.invalidate();
  const fresh = await refusal(analyseStatement(deps, sql));
  assert.equal(fresh.code, "denied");
  assert.match(fresh.message, /unknown column city/);

  // Expiry has the same effect as invalidate().
  await analyseStatement(deps, "SELECT id, phone FROM demo.sales.customers WHERE id = 1");
  await (demo as DemoWarehouse).administer("ALTER TABLE demo.sales.customers DROP COLUMN phone");
  advance(10_000);
  const expired = await refusal(analyseStatement(deps, "SELECT id, phone FROM demo.sales.customers WHERE id = 1"));
  assert.equal(expired.code, "denied");
  assert.match(expired.message, /unknown column phone/);
});
